//! `scripts/aws-acceptance.sh`, the maintainers' acceptance run on a real
//! account, run against the emulator so that the script itself keeps
//! working: the same commands and checks as on AWS, with the handler zips
//! built here instead of by `sjob package`, the handler functions running
//! the real binaries, and each Batch job running its own busybox-style
//! command on this machine, so one succeeds and one fails as on AWS.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use sjob_e2e::myapp::ACCOUNT;
use sjob_e2e::{
    handler_binary, workspace_root, zip_bootstrap, Aws, Emulator, JobOutcome, Sjob, REGION,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

/// The app the script deploys, and the stage the tests give it.
const APP: &str = "sjob-accept";
const STAGE: &str = "ci";
/// The base's handler functions (after `{app}-{stage}-`), with the binary each runs.
const HANDLERS: [(&str, &str); 2] = [
    ("BatchSuccessHandler", "success-handler"),
    ("BatchErrorHandler", "error-handler"),
];
/// Longer than a whole run takes against the emulator on a busy machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// An emulator whose Batch jobs run their commands, with the stack's
/// handler functions registered to the real binaries, and the script's
/// environment: `sjob`, the emulator's endpoint and the zips it deploys.
struct Acceptance {
    emulator: Emulator,
    aws: Aws,
    sjob: Sjob,
}

/// How one run of the script ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Acceptance {
    async fn new() -> Acceptance {
        let emulator = Emulator::start().await;
        emulator.set_job_outcome(JobOutcome::RunsCommand).await;
        let sjob = Sjob::new(&emulator);
        for (function, binary) in HANDLERS {
            emulator
                .register_lambda(
                    &format!("{APP}-{STAGE}-{function}"),
                    &handler_binary(binary),
                )
                .await;
            zip_bootstrap(
                &handler_binary(binary),
                &sjob.dir().join(format!("zips/{binary}/bootstrap.zip")),
            );
        }
        let aws = Aws::new(&emulator.sdk_config());
        Acceptance {
            emulator,
            aws,
            sjob,
        }
    }

    /// `scripts/aws-acceptance.sh <args>`, not yet started. Its work
    /// directory, which it keeps when something is left, goes in the
    /// scratch directory.
    fn script(&self, args: &[&str]) -> Command {
        let mut command = self.sjob.script(&script_path(), args);
        command
            .env("SJOB_ACCEPTANCE_HANDLER_ZIPS", self.sjob.dir().join("zips"))
            .env("TMPDIR", self.sjob.dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs the script to its end.
    async fn run(&self, args: &[&str]) -> Ended {
        let output = tokio::time::timeout(RUN_TIMEOUT, self.script(args).output())
            .await
            .unwrap_or_else(|_| panic!("the acceptance run did not end within {RUN_TIMEOUT:?}"))
            .expect("run bash");
        Ended {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// What of the stack exists: roles, state machines, schedules, log
    /// groups and active job definitions under its names, its functions, its
    /// topic, and every queue.
    async fn remains(&self) -> Vec<String> {
        let mut left: Vec<String> = self.aws.snapshot(APP, STAGE).await.into_keys().collect();
        let functions = self
            .aws
            .lambda
            .list_functions()
            .send()
            .await
            .expect("ListFunctions");
        left.extend(
            functions
                .functions()
                .iter()
                .filter_map(|f| f.function_name())
                .map(|name| format!("function {name}")),
        );
        let topics = self.aws.sns.list_topics().send().await.expect("ListTopics");
        left.extend(
            topics
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .map(|arn| format!("topic {arn}")),
        );
        let queues = self.aws.sqs.list_queues().send().await.expect("ListQueues");
        left.extend(queues.queue_urls().iter().map(|url| format!("queue {url}")));
        left
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exit code {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

fn script_path() -> PathBuf {
    workspace_root().join("scripts/aws-acceptance.sh")
}

#[tokio::test]
async fn the_acceptance_run_passes_and_leaves_nothing_behind() {
    let acceptance = Acceptance::new().await;
    let ended = acceptance
        .run(&["--account", ACCOUNT, "--region", REGION, "--stage", STAGE])
        .await;
    assert_eq!(ended.code, Some(0), "{ended}");
    for check in [
        "Estimated cost: $0.00",
        "succeeds: SUCCEEDED notification",
        "fails: FAILED notification",
        "sjob logs succeeds shows \"acceptance: done\"",
        "sjob logs fails shows \"acceptance: failing on purpose\"",
        "sjob status lists the 2 runs",
        "nothing of sjob-accept/ci is left",
    ] {
        assert!(ended.stdout.contains(check), "no `{check}` in {ended}");
    }
    // Both notifications came from the real handlers, one run each.
    let invoked: Vec<String> = acceptance
        .emulator
        .lambda_invocations()
        .await
        .iter()
        .map(|i| i["function_name"].as_str().unwrap_or_default().to_string())
        .collect();
    let handlers = HANDLERS.map(|(function, _)| format!("{APP}-{STAGE}-{function}"));
    assert_eq!(invoked, handlers, "{ended}");
    assert_eq!(acceptance.remains().await, Vec::<String>::new(), "{ended}");
}

#[tokio::test]
async fn the_acceptance_run_refuses_an_account_that_is_not_the_callers() {
    let acceptance = Acceptance::new().await;
    let ended = acceptance
        .run(&["--account", "210987654321", "--region", REGION])
        .await;
    assert_eq!(ended.code, Some(1), "{ended}");
    assert!(
        ended.stderr.contains(&format!(
            "refusing to run: the credentials are for account {ACCOUNT}, not 210987654321"
        )),
        "{ended}"
    );
    assert!(!ended.stdout.contains("Estimated cost"), "{ended}");
    assert_eq!(acceptance.remains().await, Vec::<String>::new(), "{ended}");
}

/// Ctrl-C while the stack deploys: the script destroys what it deployed and
/// deletes its queue, and a resource of the stack's identity that survives
/// the destroy (here one sjob never manages) is named, and left alone.
#[tokio::test]
async fn ctrl_c_during_the_deploy_cleans_up_and_names_what_is_left() {
    let acceptance = Acceptance::new().await;
    let (stray, stray_arn) = acceptance
        .aws
        .create_queue(&format!("{APP}-{STAGE}-stray"))
        .await;
    acceptance
        .aws
        .sqs
        .tag_queue()
        .queue_url(&stray)
        .tags("sjob:managed-by", "sjob")
        .tags("sjob:app", APP)
        .tags("sjob:stage", STAGE)
        .tags("sjob:region", REGION)
        .tags("sjob:part", "base")
        .send()
        .await
        .unwrap_or_else(|e| panic!("TagQueue: {}", DisplayErrorContext(e)));

    let mut script = acceptance.script(&[
        "--account",
        ACCOUNT,
        "--region",
        REGION,
        "--stage",
        STAGE,
        "--settle",
        "0",
    ]);
    // Its own process group, which Ctrl-C on a terminal signals whole.
    script.process_group(0);
    let mut child = script.spawn().expect("run bash");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut seen = String::new();
    let deploying = tokio::time::timeout(RUN_TIMEOUT, async {
        while let Some(line) = stderr.next_line().await.expect("read stderr") {
            seen.push_str(&line);
            seen.push('\n');
            // The plan is printed: the deploy is writing.
            if line.contains(" to create, ") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(deploying, "the deploy did not start:\n{seen}");
    let group = child.id().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on the process group this test created.
    unsafe { libc::kill(-group, libc::SIGINT) };

    let mut stdout = String::new();
    let mut out = child.stdout.take().expect("piped");
    let rest = async {
        while let Some(line) = stderr.next_line().await.expect("read stderr") {
            seen.push_str(&line);
            seen.push('\n');
        }
        out.read_to_string(&mut stdout).await.expect("read stdout");
        child.wait().await.expect("wait for bash")
    };
    let status = tokio::time::timeout(RUN_TIMEOUT, rest)
        .await
        .expect("the script ends after Ctrl-C");
    let ended = Ended {
        code: status.code(),
        stdout,
        stderr: seen,
    };
    assert_eq!(ended.code, Some(130), "{ended}");
    assert!(ended.stderr.contains("cleaning up"), "{ended}");
    assert!(ended.stderr.contains("could not delete:"), "{ended}");
    assert!(ended.stderr.contains(&stray_arn), "{ended}");
    assert_eq!(
        acceptance.remains().await,
        [format!("queue {stray}")],
        "only the stray queue is left: {ended}"
    );
}
