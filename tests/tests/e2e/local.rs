//! `sjob local` and `sjob simulate` as a user runs them: the job's command
//! as a local process, its outcome delivered in-process to the handlers'
//! library, the notification in the local outbox. No AWS and no emulator,
//! but for `--fetch-secrets`, which reads the emulator's secrets.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sjob_e2e::{Emulator, Sjob};

const CONFIG_HEAD: &str = r#"
app_name = "demo"
stage = "local"
region = "eu-west-1"
account_id = "123456789012"

[defaults]
batch_job_queue_arn = "arn:aws:batch:eu-west-1:123456789012:job-queue/demo-local-Batch"
success_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-BatchSuccessHandler"
error_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-BatchErrorHandler"
image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo"
env = { GREETING = "hello" }
"#;

/// A project whose config has one job `[jobs.job]` with these keys.
fn project(job_keys: &str) -> Sjob {
    let sjob = Sjob::offline();
    sjob.write_config(&format!(
        "{CONFIG_HEAD}\n[jobs.job]\nschedule_expression = \"rate(1 hour)\"\n{job_keys}\n"
    ));
    sjob
}

/// Every notification the local outbox holds.
fn outbox(sjob: &Sjob) -> Vec<Value> {
    let path = sjob.dir().join(".sjob/notifications.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_successful_run_notifies_success_and_keeps_the_log() {
    let sjob = project(
        r#"command = ["sh", "-c", "echo \"$GREETING from $AWS_BATCH_JQ_NAME\"; echo to-stderr >&2"]"#,
    );
    let run = sjob
        .run_expecting(0, &["--output", "json", "local", "run", "job"])
        .await;
    let report = run.json();
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["handler"], "success-handler");
    assert!(
        run.stderr.contains("[job] hello from demo-local-Batch"),
        "{run}"
    );
    assert!(run.stderr.contains("[job] to-stderr"), "{run}");
    let log = std::fs::read_to_string(report["log_file"].as_str().unwrap()).unwrap();
    assert_eq!(log, "hello from demo-local-Batch\nto-stderr\n");

    let sent = outbox(&sjob);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], "[demo/local] job SUCCEEDED");
    let n = &sent[0]["notification"];
    assert_eq!(n["status"], "SUCCEEDED");
    assert_eq!(n["job_name"], "demo-local-job-ScheduledJob");
    assert_eq!(n["batch_job"]["exit_code"], 0);
    assert_eq!(
        n["notification_id"],
        report["handler_response"]["notification_id"]
    );
    assert_eq!(n["execution"]["arn"], report["execution_arn"]);
}

#[tokio::test]
async fn a_failing_run_exits_with_the_jobs_code_after_its_retries() {
    let sjob = project(
        r#"command = ["sh", "-c", "echo attempt $AWS_BATCH_JOB_ATTEMPT; exit 7"]
retry_attempts = 2"#,
    );
    let run = sjob
        .run_expecting(7, &["--output", "json", "local", "run", "job"])
        .await;
    assert_eq!(run.json()["attempts"], 2);
    assert!(
        run.stderr.contains("[job] attempt 1") && run.stderr.contains("[job] attempt 2"),
        "{run}"
    );
    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["status"], "FAILED");
    assert_eq!(n["error"]["error"], "States.TaskFailed");
    assert_eq!(n["error"]["kind"], "job_failed");
    assert_eq!(
        n["error"]["message"],
        "Essential container in task exited; exit code 7"
    );
    assert_eq!(n["batch_job"]["attempts"], 2);
}

/// `array_size`: every index runs with `AWS_BATCH_JOB_ARRAY_INDEX`, at most
/// `--parallel` at a time, each with its own log; the run fails when a
/// child fails, and the notification says which.
#[tokio::test]
async fn an_array_job_runs_every_index_and_reports_its_failed_children() {
    // Each child records how many children run beside it (counting the
    // files a glob finds, which no other child's `rm` can race).
    let sjob = project(
        r#"command = ["sh", "-c", "touch running.$AWS_BATCH_JOB_ARRAY_INDEX; sleep 0.3; set -- running.*; echo child $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ID beside $#; rm running.$AWS_BATCH_JOB_ARRAY_INDEX; [ $AWS_BATCH_JOB_ARRAY_INDEX != 1 ]"]
array_size = 3"#,
    );
    let run = sjob
        .run_expecting(
            1,
            &["--output", "json", "local", "run", "job", "--parallel", "2"],
        )
        .await;
    let report = run.json();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["attempts"], 3);
    assert_eq!(
        report["array"],
        json!({"size": 3, "succeeded": 2, "failed": 1, "failed_indexes": [1]})
    );
    let logs = std::path::Path::new(report["log_file"].as_str().unwrap());
    for index in 0..3 {
        let log = std::fs::read_to_string(logs.join(format!("{index}.log"))).unwrap();
        assert!(log.starts_with(&format!("child {index} of ")), "{log}");
        assert!(log.contains(&format!(":{index} beside ")), "{log}");
        let beside: usize = log.trim().rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            (1..=2).contains(&beside),
            "--parallel 2 ran {beside} at once"
        );
        assert!(
            run.stderr
                .contains(&format!("[job:{index}] child {index} of ")),
            "{run}"
        );
    }

    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["status"], "FAILED");
    assert_eq!(n["error"]["kind"], "job_failed");
    assert_eq!(
        n["error"]["message"],
        "Array Child Job failed; 1 of 3 children failed"
    );
    assert_eq!(n["batch_job"]["array"]["size"], 3);
    assert_eq!(n["batch_job"]["array"]["succeeded"], 2);
    assert_eq!(n["batch_job"]["array"]["failed_indexes"], json!([1]));

    // One at a time, all succeeding: the summary says so.
    let sjob = project(
        r#"command = ["sh", "-c", "touch running.$AWS_BATCH_JOB_ARRAY_INDEX; sleep 0.1; set -- running.*; echo $#; rm running.$AWS_BATCH_JOB_ARRAY_INDEX"]
array_size = 2"#,
    );
    let run = sjob
        .run_expecting(0, &["local", "run", "job", "--parallel", "1"])
        .await;
    assert!(
        run.stderr.contains("[job:0] 1") && run.stderr.contains("[job:1] 1"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("Children:   2 of 2 succeeded, 0 failed"),
        "{run}"
    );
}

/// `simulate --outcome missed|recovered` gives what CloudWatch sends the
/// error handler for a job's missed-run alarm, and needs one.
#[tokio::test]
async fn simulate_gives_the_missed_run_alarms_event() {
    let sjob = project(
        r#"command = ["true"]
expect_success_within = "45m""#,
    );
    let event = sjob
        .run_expecting(0, &["simulate", "job", "--outcome", "missed"])
        .await
        .json();
    assert_eq!(event["source"], "aws.cloudwatch");
    assert_eq!(
        event["alarmArn"],
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:demo-local-job-ScheduledJob-Missed"
    );
    assert_eq!(event["alarmData"]["state"]["value"], "ALARM");
    let metric = &event["alarmData"]["configuration"]["metrics"][0]["metricStat"];
    assert_eq!(metric["period"], 60);
    assert_eq!(
        metric["metric"]["dimensions"]["StateMachineArn"],
        "arn:aws:states:eu-west-1:123456789012:stateMachine:demo-local-job-ScheduledJob"
    );

    let sjob = project(r#"command = ["true"]"#);
    let run = sjob
        .run_expecting(1, &["simulate", "job", "--outcome", "recovered"])
        .await;
    assert!(
        run.stderr.contains("job `job` has no missed-run alarm"),
        "{run}"
    );
    assert!(run.stderr.contains("expect_success_within"), "{run}");
}

/// `retry_on` decides as Batch's `evaluateOnExit` would: exit code 2
/// matches no rule and is retried, exit code 3 matches `exit` and ends the
/// run with one attempt left.
#[tokio::test]
async fn retry_on_rules_decide_which_failures_are_retried() {
    let sjob = project(
        r#"command = ["sh", "-c", "echo attempt $AWS_BATCH_JOB_ATTEMPT; exit $((AWS_BATCH_JOB_ATTEMPT + 1))"]
retry_attempts = 3
retry_on = [{ exit_code = "3", action = "exit" }, { status_reason = "Host EC2*", action = "retry" }]"#,
    );
    let run = sjob
        .run_expecting(3, &["--output", "json", "local", "run", "job"])
        .await;
    assert_eq!(run.json()["attempts"], 2, "{run}");
    assert!(!run.stderr.contains("[job] attempt 3"), "{run}");
    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["batch_job"]["attempts"], 2);
    assert_eq!(n["batch_job"]["exit_code"], 3);

    // The job record the error handler gets carries the rules as Batch shows them.
    let event = sjob
        .run_expecting(0, &["simulate", "job", "--outcome", "failed"])
        .await
        .json();
    assert_eq!(
        event["state"]["error"]["Cause"]
            .as_str()
            .map(|cause| serde_json::from_str::<Value>(cause).unwrap()["RetryStrategy"].clone()),
        Some(serde_json::json!({
            "Attempts": 3,
            "EvaluateOnExit": [
                {"Action": "EXIT", "OnExitCode": "3"},
                {"Action": "RETRY", "OnStatusReason": "Host EC2*"}
            ]
        }))
    );
}

/// `run_timeout_seconds` caps every attempt together: the second attempt
/// is killed when the run reaches the cap, and the error handler gets
/// `States.Timeout`, as from the capped Batch task on AWS.
#[tokio::test]
async fn the_run_cap_ends_the_run_across_attempts() {
    let sjob = project(
        r#"command = ["sh", "-c", "echo attempt $AWS_BATCH_JOB_ATTEMPT; if [ $AWS_BATCH_JOB_ATTEMPT = 1 ]; then sleep 45; exit 1; fi; sleep 600"]
retry_attempts = 3
run_timeout_seconds = 60"#,
    );
    let started = std::time::Instant::now();
    let run = sjob
        .run_expecting(137, &["--output", "json", "local", "run", "job"])
        .await;
    let took = started.elapsed();
    assert!(
        (60..90).contains(&took.as_secs()),
        "the cap is 60 s across attempts; the run took {took:?}"
    );
    assert_eq!(run.json()["status"], "FAILED", "{run}");
    assert!(run.stderr.contains("[job] attempt 2"), "{run}");
    assert!(!run.stderr.contains("[job] attempt 3"), "{run}");
    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["status"], "FAILED");
    assert_eq!(n["error"]["error"], "States.Timeout");
    assert_eq!(n["error"]["kind"], "timeout");
}

/// A local run takes each secret from the caller's variable of the same
/// name: the job gets the value, and nothing sjob writes shows it. A secret
/// with no value stops the run before anything starts, naming it.
#[tokio::test]
async fn secrets_come_from_the_callers_environment_and_are_never_written() {
    const VALUE: &str = "s3cr3t-Value-9f2c";
    let keys = r#"command = ["sh", "-c", "printf %s \"$DB_PASSWORD\" > password.txt"]
secrets = { DB_PASSWORD = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/db-Ab12Cd:password::" }"#;
    let missing = project(keys).without_env("DB_PASSWORD");
    let refused = missing.run_expecting(1, &["local", "run", "job"]).await;
    assert!(
        refused
            .stderr
            .contains("job `job` has secrets with no value here: DB_PASSWORD"),
        "{refused}"
    );
    assert!(outbox(&missing).is_empty(), "nothing ran: {refused}");

    let sjob = project(keys).with_env("DB_PASSWORD", VALUE);
    let run = sjob
        .run_expecting(0, &["--output", "json", "local", "run", "job"])
        .await;
    assert_eq!(
        std::fs::read_to_string(sjob.dir().join("password.txt")).unwrap(),
        VALUE,
        "the job gets the value"
    );
    let simulated = sjob
        .run_expecting(0, &["simulate", "job", "--outcome", "failed"])
        .await;
    let rendered = sjob.run_expecting(0, &["render", "job"]).await;
    let written = [
        run.stdout.clone(),
        run.stderr.clone(),
        simulated.stdout.clone(),
        rendered.stdout.clone(),
        std::fs::read_to_string(sjob.dir().join(".sjob/notifications.jsonl")).unwrap(),
        std::fs::read_to_string(run.json()["log_file"].as_str().unwrap()).unwrap(),
    ];
    assert!(
        written.iter().all(|text| !text.contains(VALUE)),
        "the secret's value was written: {written:#?}"
    );
    assert!(
        simulated.stdout.contains("demo/db-Ab12Cd:password::"),
        "the job record names the secret's ARN: {simulated}"
    );
}

/// `--fetch-secrets` reads each value as the task would: a JSON key of a
/// Secrets Manager secret, and an SSM parameter, decrypted. A secret that
/// does not exist stops the run, naming the variable.
#[tokio::test]
async fn fetch_secrets_reads_them_from_aws() {
    let emulator = Emulator::start().await;
    let secret = emulator
        .create_secret(
            "demo/db",
            r#"{"password":"from-secrets-manager","port":5432}"#,
        )
        .await;
    let parameter = emulator.put_parameter("/demo/token", "from-ssm").await;
    let sjob = Sjob::new(&emulator);
    sjob.write_config(&format!(
        "{CONFIG_HEAD}\n[jobs.job]\nschedule_expression = \"rate(1 hour)\"\n{}",
        format_args!(
            r#"command = ["sh", "-c", "printf '%s %s' \"$DB_PASSWORD\" \"$TOKEN\" > values.txt"]
secrets = {{ DB_PASSWORD = "{secret}:password::", TOKEN = "{parameter}" }}
"#
        )
    ));
    let run = sjob
        .run_expecting(0, &["local", "run", "job", "--fetch-secrets"])
        .await;
    assert_eq!(
        std::fs::read_to_string(sjob.dir().join("values.txt")).unwrap(),
        "from-secrets-manager from-ssm",
        "{run}"
    );
    assert!(!run.stderr.contains("from-secrets-manager"), "{run}");

    sjob.write_config(&format!(
        "{CONFIG_HEAD}\n[jobs.job]\nschedule_expression = \"rate(1 hour)\"\ncommand = [\"true\"]\nsecrets = {{ GONE = \"{}\" }}\n",
        secret.replace("demo/db", "demo/gone")
    ));
    let refused = sjob
        .run_expecting(1, &["local", "run", "job", "--fetch-secrets"])
        .await;
    assert!(
        refused.stderr.contains("cannot read secret GONE from AWS"),
        "{refused}"
    );
    assert!(
        refused.stderr.contains("ResourceNotFoundException"),
        "{refused}"
    );
}

/// `simulate --outcome skipped` gives the event the state machine sends
/// the success handler for a skipped run: no job record, the execution that
/// was still running.
#[tokio::test]
async fn simulate_gives_the_event_of_a_skipped_run() {
    let sjob = project(
        r#"command = ["true"]
overlap = "skip"
notify_on_skip = true"#,
    );
    let event = sjob
        .run_expecting(0, &["simulate", "job", "--outcome", "skipped"])
        .await
        .json();
    let state = &event["state"];
    assert_eq!(state.get("batch"), None, "{event:#}");
    let running = state["skipped"]["running_execution"].as_str().unwrap();
    assert!(
        running.starts_with(
            "arn:aws:states:eu-west-1:123456789012:execution:demo-local-job-ScheduledJob:"
        ),
        "{event:#}"
    );
    assert_ne!(Some(running), event["context"]["Execution"]["Id"].as_str());
}

#[tokio::test]
async fn a_command_that_cannot_start_is_a_clear_failure() {
    let sjob = project(r#"command = ["/no/such/program", "--flag"]"#);
    let run = sjob.run_expecting(127, &["local", "run", "job"]).await;
    assert!(
        run.stderr.contains(
            "CannotStartContainerError: cannot start `/no/such/program`: No such file or directory"
        ),
        "{run}"
    );
    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["status"], "FAILED");
    assert_eq!(
        n["error"]["message"],
        "Task failed to start; CannotStartContainerError: cannot start `/no/such/program`: No such file or directory (os error 2)"
    );
    assert_eq!(n["batch_job"]["exit_code"], Value::Null);
}

#[tokio::test]
async fn the_execution_input_reaches_the_job_as_on_aws() {
    let sjob = project(
        r#"command = ["sh", "-c", "printf '%s' \"$SJOB_INPUT\" > input.json; printf '%s' \"$SJOB_EXECUTION_ARN\" > execution.txt"]
sfn_input = { from = "schedule" }"#,
    );
    sjob.run_expecting(0, &["local", "run", "job"]).await;
    let read = |name: &str| std::fs::read_to_string(sjob.dir().join(name)).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&read("input.json")).unwrap(),
        json!({"from": "schedule"})
    );
    let run = sjob
        .run_expecting(
            0,
            &[
                "--output",
                "json",
                "local",
                "run",
                "job",
                "--input",
                r#"{"day": 3}"#,
            ],
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&read("input.json")).unwrap(),
        json!({"day": 3})
    );
    assert_eq!(
        read("execution.txt"),
        run.json()["execution_arn"].as_str().unwrap()
    );
    assert_eq!(outbox(&sjob)[1]["notification"]["input"], json!({"day": 3}));
}

#[tokio::test]
async fn the_timeout_kills_the_job_and_reports_it() {
    let sjob = project(
        r#"command = ["sh", "-c", "echo started; sleep 300"]
timeout_seconds = 60"#,
    );
    let started = Instant::now();
    let run = sjob.run_expecting(137, &["local", "run", "job"]).await;
    assert!(started.elapsed() < Duration::from_secs(120), "{run}");
    let n = &outbox(&sjob)[0]["notification"];
    assert_eq!(n["error"]["kind"], "timeout");
    assert_eq!(
        n["error"]["message"],
        "Job attempt duration exceeded timeout; exit code 137"
    );
}

#[tokio::test]
async fn simulate_prints_the_event_of_each_outcome() {
    let sjob = project(r#"command = ["true"]"#);
    let event = |outcome: &str| {
        let sjob = &sjob;
        let outcome = outcome.to_string();
        async move {
            sjob.run_expecting(0, &["simulate", "job", "--outcome", &outcome])
                .await
                .json()
        }
    };
    let success = event("success").await;
    assert_eq!(
        success["state"]["metadata"]["job_name"],
        "demo-local-job-ScheduledJob"
    );
    assert_eq!(success["state"]["batch"]["Status"], "SUCCEEDED");
    assert_eq!(success["context"]["State"]["Name"], "OnSuccess");
    let failed = event("failed").await;
    assert_eq!(failed["state"]["error"]["Error"], "States.TaskFailed");
    let record: Value =
        serde_json::from_str(failed["state"]["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(record["Attempts"][0]["Container"]["ExitCode"], 1);
    assert_eq!(failed["context"]["State"]["Name"], "ErrorHandler");
    assert_eq!(
        event("timeout").await["state"]["error"],
        json!({"Error": "States.Timeout", "Cause": ""})
    );
    let rejected = event("rejected").await;
    assert_eq!(rejected["state"]["error"]["Error"], "Batch.ClientException");
    assert!(rejected["state"]["error"]["Cause"]
        .as_str()
        .unwrap()
        .contains("(Service: AWSBatch; Status Code: 400;"));
    // The success handler failed for good: the error handler gets the Batch
    // result beside the error, and the context never repeats the input.
    let notification_failed = event("notification-failed").await;
    assert_eq!(notification_failed["state"]["batch"]["Status"], "SUCCEEDED");
    assert_eq!(
        notification_failed["state"]["error"]["Error"],
        "PublishFailed"
    );
    assert_eq!(
        notification_failed["context"]["State"]["Name"],
        "ErrorHandler"
    );
    assert!(notification_failed["context"]["Execution"]
        .get("Input")
        .is_none());
}

/// Collects a child's stderr as it comes, to wait for what it says.
struct Transcript {
    text: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Transcript {
    fn follow(child: &mut tokio::process::Child) -> Transcript {
        use tokio::io::AsyncBufReadExt;
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = text.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Transcript { text }
    }

    fn says(&self, what: &str) -> bool {
        self.text.lock().unwrap().contains(what)
    }

    async fn wait_for(&self, what: &str, within: Duration) {
        let started = Instant::now();
        while !self.says(what) {
            assert!(
                started.elapsed() < within,
                "no `{what}` within {within:?}:\n{}",
                self.text.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn interrupt(child: &tokio::process::Child) {
    // SAFETY: kill(2) sends SIGINT to the child this test started.
    unsafe { libc::kill(child.id().unwrap() as libc::pid_t, libc::SIGINT) };
}

/// Whether a process whose command line contains `marker` is alive.
fn process_alive(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(marker)
            })
            .unwrap_or(false)
    })
}

/// `sjob local schedule --grace <grace>` over a job running `command` at
/// the start of every minute.
fn scheduled_every_minute(command: &str, grace: &str) -> (Sjob, tokio::process::Child, Transcript) {
    let sjob = project(&format!("command = {command}"));
    let config = std::fs::read_to_string(sjob.config_path()).unwrap();
    sjob.write_config(&config.replace("rate(1 hour)", "cron(* * * * ? *)"));
    let mut scheduler = sjob.spawn(&["local", "schedule", "--grace", grace]);
    let transcript = Transcript::follow(&mut scheduler);
    (sjob, scheduler, transcript)
}

/// A tick that comes while the job still runs is skipped; Ctrl-C after the
/// grace period kills the run and its children.
#[tokio::test]
async fn the_scheduler_never_overlaps_a_job_and_kills_it_after_the_grace_period() {
    // A sleep no other test run on this machine uses, to find its process.
    let sleep = format!("sleep {}", 100_000 + std::process::id());
    let (_project, mut scheduler, transcript) =
        scheduled_every_minute(&format!(r#"["sh", "-c", "echo tick; {sleep}"]"#), "2");

    transcript
        .wait_for("[job] tick", Duration::from_secs(75))
        .await;
    transcript
        .wait_for(
            "the previous run is still going: this tick is skipped",
            Duration::from_secs(75),
        )
        .await;
    assert!(process_alive(&sleep));
    interrupt(&scheduler);
    let status = tokio::time::timeout(Duration::from_secs(20), scheduler.wait())
        .await
        .expect("the scheduler stops")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(transcript.says("grace period over: killing the run"));
    assert!(
        !process_alive(&sleep),
        "the job's processes were left running"
    );
}

/// Ctrl-C while a run is going: no new run starts, the running one finishes
/// within the grace period and its notification is delivered.
#[tokio::test]
async fn ctrl_c_lets_a_running_job_finish_within_the_grace_period() {
    let (sjob, mut scheduler, transcript) =
        scheduled_every_minute(r#"["sh", "-c", "echo begin; sleep 3; echo end"]"#, "30");

    transcript
        .wait_for("[job] begin", Duration::from_secs(75))
        .await;
    interrupt(&scheduler);
    let status = tokio::time::timeout(Duration::from_secs(20), scheduler.wait())
        .await
        .expect("the scheduler stops")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(transcript.says("interrupted: no new runs start"));
    assert!(transcript.says("[job] end"));
    let sent = outbox(&sjob);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["notification"]["status"], "SUCCEEDED");
}
