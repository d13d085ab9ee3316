//! Reliability under injected faults. A [`FaultProxy`] sits between `sjob`
//! (or the handler binaries) and the emulator and answers some requests with
//! throttling, 429, 500/503, connection resets (before or after the request
//! took effect) or slow answers. The tests check that no deploy leaves a
//! half-built or duplicated stack and that no failure notification is lost
//! or falsely reported as sent:
//!
//! - a deploy with 20% faults ends in the same resources as a clean one, and
//!   a destroy with 20% faults leaves nothing;
//! - deploys killed (SIGKILL) at random points converge when re-run;
//! - two deploys at once end in a correct stack;
//! - the handlers retry SNS within their time budget, fail with
//!   `PublishFailed` when SNS keeps failing, notify a FIFO topic once when an
//!   answer is lost, and Step Functions retries a failed publish;
//! - every way a run ends sends what the README's table of outcomes says
//!   (`outcomes`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_batch::types::{
    ContainerProperties, JobDefinitionType, ResourceRequirement, ResourceType,
};
use serde_json::Value;
use sjob_e2e::myapp::{config, Targets, CRAWLER, REPORT, SUCCESS_FUNCTION};
use sjob_e2e::{
    fixture, handler_binary, snapshot_differences, trust_policy, Aws, Delivery, Emulator, Fault,
    FaultPlan, FaultProxy, Gate, HandlersBuilder, Sjob, SjobRun,
};

mod outcomes;

const DELIVERY_WAIT: Duration = Duration::from_secs(2);
/// The share of requests that fail in the "20% faults" tests.
const FAULT_RATE: f64 = 0.2;
const SLOW: Duration = Duration::from_millis(300);

/// Two jobs (16 resources) whose targets exist but never run a job
/// ([`with_targets`]).
fn two_jobs() -> String {
    config(&Targets::nowhere(), &[CRAWLER, REPORT])
}

/// An emulator with [`two_jobs`]'s targets in it.
async fn with_targets() -> (Emulator, Aws) {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    aws.create_targets(&Targets::nowhere()).await;
    (emulator, aws)
}

fn assert_code(run: &SjobRun, code: i32) {
    run.assert_code(code);
}

// ---------------------------------------------------------------------------
// What exists
// ---------------------------------------------------------------------------

/// A stack deployed without faults: what every faulty deploy must end in.
async fn reference_snapshot() -> BTreeMap<String, Value> {
    let (emulator, aws) = with_targets().await;
    let sjob = Sjob::at(&emulator.endpoint());
    sjob.write_config(&two_jobs());
    assert_code(&sjob.run(&["deploy"]).await, 0);
    let snapshot = aws.snapshot("myapp", "dev").await;
    assert_eq!(snapshot.len(), 18, "{snapshot:#?}");
    snapshot
}

/// An emulator, a proxy in front of it, `sjob` through the proxy and a
/// fault-free `sjob` for checking.
struct Faulty {
    /// Kept running for the test's lifetime.
    _emulator: Emulator,
    aws: Aws,
    proxy: FaultProxy,
    through_proxy: Sjob,
    direct: Sjob,
}

impl Faulty {
    async fn new(plan: FaultPlan) -> Faulty {
        let (emulator, aws) = with_targets().await;
        let proxy = FaultProxy::start(&emulator.endpoint(), plan).await;
        let through_proxy = Sjob::at(proxy.endpoint());
        let direct = Sjob::at(&emulator.endpoint());
        through_proxy.write_config(&two_jobs());
        direct.write_config(&two_jobs());
        Faulty {
            _emulator: emulator,
            aws,
            proxy,
            through_proxy,
            direct,
        }
    }

    /// The stack is exactly the reference: `plan --detailed-exitcode` on a
    /// clean path exits 0 and the resources match one by one.
    async fn assert_converged(&self, reference: &BTreeMap<String, Value>, context: &str) {
        let plan = self.direct.run(&["plan", "--detailed-exitcode"]).await;
        assert_eq!(
            plan.code,
            Some(0),
            "{context}: the stack has not converged:\n{plan}"
        );
        let found = self.aws.snapshot("myapp", "dev").await;
        assert!(
            &found == reference,
            "{context}: the resources differ from a clean deploy's:\n{}",
            snapshot_differences(reference, &found)
        );
    }

    /// Runs a no-change `plan` through the proxy; the calls it made, by
    /// action.
    async fn no_change_plan_calls(&self) -> BTreeMap<String, usize> {
        let before = self.proxy.calls().len();
        let plan = self
            .through_proxy
            .run(&["plan", "--detailed-exitcode"])
            .await;
        assert_eq!(plan.code, Some(0), "{plan}");
        let mut calls: BTreeMap<String, usize> = BTreeMap::new();
        for call in &self.proxy.calls()[before..] {
            *calls.entry(call.action.clone()).or_default() += 1;
        }
        calls
    }

    async fn assert_empty(&self, context: &str) {
        let found = self.aws.snapshot("myapp", "dev").await;
        assert!(
            found.is_empty(),
            "{context}: left behind: {:#?}",
            found.keys()
        );
    }
}

// ---------------------------------------------------------------------------
// Deploy and destroy
// ---------------------------------------------------------------------------

#[tokio::test]
async fn deploy_and_destroy_with_20_percent_faults_match_a_clean_run() {
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(FaultPlan::none()));
    for seed in [1u64, 2, 3] {
        let mix = Fault::all(SLOW);
        faulty
            .proxy
            .set_plan(FaultPlan::random(seed, FAULT_RATE, mix.clone()));
        let before = faulty.proxy.faulted().len();
        let started = Instant::now();
        let deploy = faulty.through_proxy.run(&["deploy"]).await;
        let faults = faulty.proxy.faulted().len() - before;
        assert_eq!(
            deploy.code,
            Some(0),
            "seed {seed}, {faults} faults:\n{deploy}"
        );
        eprintln!(
            "seed {seed}: deploy with {faults} of {} calls faulted took {:?}",
            faulty.proxy.calls().len(),
            started.elapsed()
        );
        assert!(faults > 0, "seed {seed}: no fault was injected");
        faulty
            .assert_converged(&reference, &format!("seed {seed}"))
            .await;

        // An unchanged config through the faults changes nothing.
        let redeploy = faulty.through_proxy.run(&["deploy"]).await;
        assert_eq!(redeploy.code, Some(0), "{redeploy}");
        faulty
            .assert_converged(&reference, &format!("seed {seed}, redeploy"))
            .await;

        let destroy = faulty.through_proxy.run(&["destroy", "--yes"]).await;
        assert_eq!(destroy.code, Some(0), "seed {seed}:\n{destroy}");
        faulty.assert_empty(&format!("seed {seed}, destroy")).await;
    }
}

/// Throttling slows a deploy down and never fails it, even with the SDK's
/// own retries off: each service's gate halves its limit and sends the
/// throttled call again, and says so in its debug report.
#[tokio::test]
async fn throttled_deploys_slow_down_and_finish() {
    let throttled = [
        ("iam:CreateRole", 6, Fault::Throttle),
        ("iam:PutRolePolicy", 6, Fault::Throttle),
        ("logs:CreateLogGroup", 3, Fault::Throttle),
        ("states:CreateStateMachine", 3, Fault::Throttle),
        ("scheduler:CreateSchedule", 2, Fault::TooManyRequests),
    ];
    let plan = throttled
        .iter()
        .fold(FaultPlan::none(), |plan, (action, calls, fault)| {
            let calls: Vec<usize> = (1..=*calls).collect();
            plan.on_calls(action, &calls, fault.clone())
        });
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(plan));
    let sjob = Sjob::at(faulty.proxy.endpoint())
        .with_env("AWS_MAX_ATTEMPTS", "1")
        .with_env("SJOB_LOG", "warn,sjob::aws::pace=debug");
    sjob.write_config(&two_jobs());
    let deploy = sjob.run(&["--output", "json", "deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");
    faulty
        .assert_converged(&reference, "throttled deploy")
        .await;

    let reports: BTreeMap<String, Value> = deploy
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "pace")
        .map(|line| {
            let fields = &line["fields"];
            (
                fields["service"].as_str().unwrap().to_string(),
                fields.clone(),
            )
        })
        .collect();
    for (service, faults) in [("iam", 12), ("logs", 3), ("states", 3), ("scheduler", 2)] {
        let report = &reports[service];
        assert_eq!(report["throttled"], faults, "{service}: {report}");
        let path: Vec<(u64, usize)> = serde_json::from_str(report["path"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{service}'s path is not JSON ({e}): {report}"));
        assert_eq!(path[0].1, 8, "{service} starts at 8: {report}");
        assert!(
            path.windows(2).any(|w| w[1].1 == w[0].1 / 2),
            "{service}'s limit never halved: {report}"
        );
    }
    assert_eq!(
        faulty.proxy.count("CreateRole"),
        8 + 6,
        "each throttled CreateRole was sent again"
    );
}

/// A create whose answer is lost took effect; the SDK sends it again. Each
/// such retry must converge, not fail or create a second resource.
#[tokio::test]
async fn lost_answers_to_create_calls_create_nothing_twice() {
    let creates = [
        "CreateRole",
        "PutRolePolicy",
        "CreateLogGroup",
        "RegisterJobDefinition",
        "CreateStateMachine",
        "CreateSchedule",
    ];
    let plan = creates.iter().fold(FaultPlan::none(), |plan, action| {
        plan.on_calls(action, &[1], Fault::ResetAfterForward)
    });
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(plan));

    let deploy = faulty.through_proxy.run(&["deploy"]).await;

    assert_eq!(deploy.code, Some(0), "{deploy}");
    let lost: BTreeSet<String> = faulty
        .proxy
        .faulted()
        .into_iter()
        .map(|c| c.action.to_ascii_lowercase())
        .collect();
    let expected: BTreeSet<String> = creates.iter().map(|a| a.to_ascii_lowercase()).collect();
    assert_eq!(lost, expected, "every create lost one answer");
    faulty
        .assert_converged(&reference, "lost create answers")
        .await;

    // The same for deletes.
    let deletes = [
        "DeleteSchedule",
        "DeleteStateMachine",
        "DeregisterJobDefinition",
        "DeleteLogGroup",
        "DeleteRolePolicy",
        "DetachRolePolicy",
        "DeleteRole",
    ];
    faulty
        .proxy
        .set_plan(deletes.iter().fold(FaultPlan::none(), |plan, action| {
            plan.on_calls(action, &[1], Fault::ResetAfterForward)
        }));
    let destroy = faulty.through_proxy.run(&["destroy", "--yes"]).await;
    assert_eq!(destroy.code, Some(0), "{destroy}");
    faulty.assert_empty("lost delete answers").await;
}

#[tokio::test]
async fn deploys_killed_at_random_points_converge_when_rerun() {
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(FaultPlan::none()));
    // How many calls a whole deploy makes, from an empty account.
    let deploy = faulty.through_proxy.run(&["deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");
    let deploy_calls = faulty.proxy.calls().len();
    let destroy = faulty.through_proxy.run(&["destroy", "--yes"]).await;
    assert_eq!(destroy.code, Some(0), "{destroy}");
    let destroy_calls = faulty.proxy.calls().len() - deploy_calls;
    faulty.assert_empty("after the counting destroy").await;

    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..3 {
        // Several deploys in a row, each killed part-way: each starts from
        // what the one before left.
        let mut killed_at = Vec::new();
        for _ in 0..4 {
            let at = rng.usize(1..deploy_calls);
            kill_after(&faulty, &["deploy"], at).await;
            killed_at.push(at);
        }
        let rerun = faulty.through_proxy.run(&["deploy"]).await;
        assert_eq!(
            rerun.code,
            Some(0),
            "round {round}, killed at {killed_at:?}:\n{rerun}"
        );
        faulty
            .assert_converged(
                &reference,
                &format!("round {round}, killed at {killed_at:?}"),
            )
            .await;

        let at = rng.usize(1..destroy_calls);
        kill_after(&faulty, &["destroy", "--yes"], at).await;
        let destroy = faulty.through_proxy.run(&["destroy", "--yes"]).await;
        assert_eq!(
            destroy.code,
            Some(0),
            "round {round}, destroy killed at {at}:\n{destroy}"
        );
        faulty
            .assert_empty(&format!("round {round}, destroy killed at call {at}"))
            .await;
    }
}

/// Starts `sjob <args>` through the proxy and SIGKILLs it once `calls` more
/// requests have reached the proxy (or it ended by itself).
async fn kill_after(faulty: &Faulty, args: &[&str], calls: usize) {
    let base = faulty.proxy.calls().len();
    let mut child = faulty.through_proxy.spawn(args);
    tokio::select! {
        _ = faulty.proxy.wait_for_calls(base + calls, Duration::from_secs(60)) => {
            child.start_kill().expect("SIGKILL sjob");
        }
        status = child.wait() => {
            eprintln!("sjob {args:?} ended before call {calls}: {status:?}");
        }
    }
    let _ = child.wait().await;
}

/// A deploy that fails part way ends with "Re-run to finish" only when a
/// re-run can get past its errors: a service that was unavailable, yes; a
/// denied call, no, it fails the same way until the permission is granted.
#[tokio::test]
async fn a_failed_deploy_advises_a_rerun_only_when_one_can_pass() {
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(FaultPlan::none()));
    let sjob = Sjob::at(faulty.proxy.endpoint()).with_env("AWS_MAX_ATTEMPTS", "1");
    sjob.write_config(&two_jobs());
    for (fault, rerun) in [(Fault::Denied, false), (Fault::Unavailable, true)] {
        faulty.proxy.set_plan(
            FaultPlan::random(3, 1.0, vec![fault.clone()]).only(&["logs:CreateLogGroup"]),
        );
        let failed = sjob.run_expecting(1, &["deploy"]).await;
        assert!(
            failed.stderr_says("failed to converge"),
            "{fault:?}: {failed}"
        );
        assert_eq!(
            failed.stderr_says("Re-run to finish"),
            rerun,
            "{fault:?}: {failed}"
        );
        assert_eq!(
            failed.stderr_says("A re-run fails the same way until what the error names is fixed"),
            !rerun,
            "{fault:?}: {failed}"
        );
    }
    faulty.proxy.set_plan(FaultPlan::none());
    sjob.run_expecting(0, &["deploy"]).await;
    faulty
        .assert_converged(&reference, "after the faults")
        .await;
}

#[tokio::test]
async fn two_deploys_at_once_end_in_a_correct_stack() {
    // Slow answers on a third of the calls interleave the two deploys.
    let plan = || FaultPlan::random(11, 0.3, vec![Fault::Slow(Duration::from_millis(150))]);
    let (reference, faulty) = tokio::join!(reference_snapshot(), Faulty::new(plan()));
    for round in 0..3 {
        let (first, second) = tokio::join!(
            faulty.through_proxy.run(&["deploy"]),
            faulty.through_proxy.run(&["deploy"])
        );
        for run in [&first, &second] {
            assert!(
                run.code == Some(0) || (run.code == Some(1) && run.stderr.contains("Re-run")),
                "round {round}: a concurrent deploy neither succeeded nor refused clearly:\n{run}"
            );
        }
        assert!(
            first.code == Some(0) || second.code == Some(0),
            "round {round}: both concurrent deploys failed:\n{first}\n{second}"
        );
        faulty
            .assert_converged(&reference, &format!("round {round}"))
            .await;
        let (first, second) = tokio::join!(
            faulty.through_proxy.run(&["destroy", "--yes"]),
            faulty.through_proxy.run(&["destroy", "--yes"])
        );
        assert!(
            first.code == Some(0) || second.code == Some(0),
            "round {round}: both concurrent destroys failed:\n{first}\n{second}"
        );
        faulty
            .assert_empty(&format!("round {round}, destroy"))
            .await;
    }
}

// ---------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------

/// An emulator with a topic and a raw SQS subscriber, and handler functions
/// whose SNS calls go through a proxy.
struct Handlers {
    emulator: Emulator,
    aws: Aws,
    proxy: FaultProxy,
    topic_arn: String,
    queue: String,
}

impl Handlers {
    async fn new(topic: &str) -> Handlers {
        let emulator = Emulator::start().await;
        let aws = Aws::new(&emulator.sdk_config());
        let proxy = FaultProxy::start(&emulator.endpoint(), FaultPlan::none()).await;
        let topic_arn = aws.create_topic(topic).await;
        let queue_name = if topic.ends_with(".fifo") {
            "subscriber.fifo"
        } else {
            "subscriber"
        };
        let queue = aws
            .subscribe_queue(&topic_arn, queue_name, Delivery::Raw)
            .await;
        Handlers {
            emulator,
            aws,
            proxy,
            topic_arn,
            queue,
        }
    }

    /// The two `myapp-dev` handler functions, publishing through the proxy,
    /// and a job queue: a deployed job's targets.
    async fn run_targets(&self) -> Targets {
        HandlersBuilder::new(&self.emulator, &self.aws)
            .existing_topic(&self.topic_arn)
            .env("AWS_ENDPOINT_URL", self.proxy.endpoint())
            .env("SJOB_ENRICH", "false")
            .build()
            .await
            .targets
    }

    /// A function running `binary`, publishing through the proxy.
    async fn deploy(&self, function: &str, binary: &str, timeout: Duration) {
        self.aws
            .create_function(
                function,
                &[
                    ("SNS_TOPIC_ARN", &self.topic_arn),
                    ("AWS_ENDPOINT_URL", self.proxy.endpoint()),
                    ("SJOB_ENRICH", "false"),
                ],
                timeout,
            )
            .await;
        self.emulator
            .register_lambda(function, &handler_binary(binary))
            .await;
    }

    async fn messages(&self) -> Vec<Value> {
        self.aws
            .take_messages(&self.queue, DELIVERY_WAIT)
            .await
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or_default()).unwrap())
            .collect()
    }

    fn publishes(&self) -> Vec<Option<Fault>> {
        self.proxy
            .calls()
            .into_iter()
            .filter(|c| c.action == "Publish")
            .map(|c| c.fault)
            .collect()
    }
}

#[tokio::test]
async fn transient_sns_faults_are_retried_within_the_time_budget() {
    const TIMEOUT: Duration = Duration::from_secs(10);
    let stack = Handlers::new("job-notifications").await;
    stack
        .deploy("error-handler", "error-handler", TIMEOUT)
        .await;
    stack.proxy.set_plan(
        FaultPlan::none()
            .on_calls("sns:Publish", &[1], Fault::Throttle)
            .on_calls("sns:Publish", &[2], Fault::Unavailable)
            .on_calls("sns:Publish", &[3], Fault::Reset),
    );

    let started = Instant::now();
    let invocation = stack
        .aws
        .invoke("error-handler", &fixture("failed_oom"))
        .await;
    let elapsed = started.elapsed();

    let response = invocation.succeeded().clone();
    assert!(elapsed < TIMEOUT, "took {elapsed:?}");
    assert_eq!(
        stack.publishes(),
        [
            Some(Fault::Throttle),
            Some(Fault::Unavailable),
            Some(Fault::Reset),
            None
        ]
    );
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["notification_id"], response["notification_id"]);
    assert_eq!(messages[0]["status"], "FAILED");
}

#[tokio::test]
async fn sns_failing_for_good_fails_the_invocation_never_a_false_success() {
    const TIMEOUT: Duration = Duration::from_secs(4);
    let stack = Handlers::new("job-notifications").await;
    stack
        .deploy("error-handler", "error-handler", TIMEOUT)
        .await;
    stack
        .deploy("success-handler", "success-handler", TIMEOUT)
        .await;
    let cases: [(&str, &str, Fault); 4] = [
        ("error-handler", "failed_oom", Fault::Denied),
        ("error-handler", "failed_oom", Fault::Throttle),
        ("success-handler", "success", Fault::InternalError),
        // Answers slower than the function's timeout: the handler gives up
        // before Lambda kills it.
        (
            "success-handler",
            "success",
            Fault::Slow(Duration::from_secs(30)),
        ),
    ];
    for (function, event, fault) in cases {
        stack
            .proxy
            .set_plan(FaultPlan::random(5, 1.0, vec![fault.clone()]).only(&["sns:Publish"]));
        let started = Instant::now();
        let invocation = stack.aws.invoke(function, &fixture(event)).await;
        let elapsed = started.elapsed();

        let (error_type, message) = invocation.failed();
        assert_eq!(error_type, "PublishFailed", "{fault:?}: {message}");
        assert!(message.contains(&stack.topic_arn), "{fault:?}: {message}");
        assert!(
            elapsed < TIMEOUT,
            "{fault:?}: took {elapsed:?}, the timeout is {TIMEOUT:?}"
        );
        if fault != Fault::Denied && !matches!(fault, Fault::Slow(_)) {
            assert!(
                stack.publishes().len() > 1,
                "{fault:?}: a transient fault was not retried"
            );
        }
        let messages = stack.messages().await;
        assert!(messages.is_empty(), "{fault:?}: {messages:#?}");
    }
    let invocations = stack.emulator.lambda_invocations().await;
    assert!(
        invocations.iter().all(|i| i.get("response").is_none()),
        "an invocation reported success: {invocations:#?}"
    );
}

#[tokio::test]
async fn a_lost_answer_and_a_retried_invocation_notify_a_fifo_topic_once() {
    let stack = Handlers::new("job-notifications.fifo").await;
    stack
        .deploy("error-handler", "error-handler", Duration::from_secs(10))
        .await;
    // The first Publish reaches SNS but its answer is lost: the SDK sends
    // it again, with the same deduplication id.
    stack
        .proxy
        .set_plan(FaultPlan::none().on_calls("sns:Publish", &[1], Fault::ResetAfterForward));
    let event = fixture("failed_oom");

    let first = stack
        .aws
        .invoke("error-handler", &event)
        .await
        .succeeded()
        .clone();
    // Step Functions retrying the invocation (say, after a Lambda timeout).
    let retry = stack
        .aws
        .invoke("error-handler", &event)
        .await
        .succeeded()
        .clone();

    assert_eq!(
        stack.publishes(),
        [Some(Fault::ResetAfterForward), None, None]
    );
    assert_eq!(first["notification_id"], retry["notification_id"]);
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["notification_id"], first["notification_id"]);
    assert!(stack.messages().await.is_empty());
}

/// The whole path: Step Functions invokes the success handler, whose first
/// invocation cannot publish; its `PublishFailed` is retried by the state
/// machine and the job's one notification arrives.
#[tokio::test]
async fn step_functions_retries_a_failed_publish_and_notifies_once() {
    let stack = Handlers::new("myapp-dev-job-notifications").await;
    let targets = stack.run_targets().await;
    let sjob = Sjob::at(&stack.emulator.endpoint());
    sjob.write_config(&config(&targets, &[CRAWLER]));
    assert_code(&sjob.run(&["deploy"]).await, 0);
    // The first invocation's Publish is refused (not retryable by the SDK).
    stack
        .proxy
        .set_plan(FaultPlan::none().on_calls("sns:Publish", &[1], Fault::Denied));

    let run = sjob.run(&["run", "crawler", "--wait"]).await;

    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(stack.publishes(), [Some(Fault::Denied), None]);
    let invocations: Vec<Value> = stack
        .emulator
        .lambda_invocations()
        .await
        .into_iter()
        .filter(|i| i["function_name"] == SUCCESS_FUNCTION)
        .collect();
    assert_eq!(invocations.len(), 2, "{invocations:#?}");
    assert!(
        invocations[0]["error"]
            .to_string()
            .contains("PublishFailed"),
        "{:#}",
        invocations[0]
    );
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["status"], "SUCCEEDED");
}

/// A plan reads each job's state machine and schedule as soon as their
/// listings name them, while the longer listings (roles, log groups, tags,
/// job definitions) are still paging: here those are held until both
/// jobs' reads have arrived, and the plan then finishes clean.
#[tokio::test]
async fn plans_read_each_job_while_the_long_listings_page() {
    let faulty = Faulty::new(FaultPlan::none()).await;
    let deploy = faulty.direct.run(&["deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");

    let gate = Gate::default();
    let held = Fault::Hold(gate.clone());
    let every: Vec<usize> = (1..=20).collect();
    faulty.proxy.set_plan(
        FaultPlan::none()
            .on_calls("GetAccountAuthorizationDetails", &every, held.clone())
            .on_calls("DescribeLogGroups", &every, held.clone())
            .on_calls("GetResources", &every, held.clone())
            .on_calls("describejobdefinitions", &every, held),
    );
    let plan = faulty.through_proxy.run(&["plan", "--detailed-exitcode"]);
    let reads_while_held = async {
        let within = Duration::from_secs(30);
        let read = faulty
            .proxy
            .wait_for_action("DescribeStateMachine", 2, within)
            .await
            && faulty.proxy.wait_for_action("GetSchedule", 2, within).await;
        gate.open();
        read
    };
    let (plan, read) = tokio::join!(plan, reads_while_held);
    assert!(
        read,
        "the jobs' reads waited for the held listings: {:?}",
        faulty.proxy.calls()
    );
    assert_eq!(plan.code, Some(0), "{plan}");
}

/// A plan reads every role with one paged `GetAccountAuthorizationDetails`
/// listing and every log group's, state machine's and alarm's tags with one
/// `tag:GetResources` listing per service. Credentials without those
/// permissions still plan, deploy and destroy: sjob then reads each role
/// and each resource's tags on its own.
#[tokio::test]
async fn plans_list_roles_and_tags_and_read_each_one_when_they_may_not_list() {
    // Each command lists the roles once and the tags once per service (log
    // groups, state machines, alarms): allowed for the deploy and the first
    // plan, denied from the second plan on.
    let denied_roles: Vec<usize> = (3..=20).collect();
    let denied_tags: Vec<usize> = (7..=60).collect();
    let (reference, faulty) = tokio::join!(
        reference_snapshot(),
        Faulty::new(
            FaultPlan::none()
                .on_calls(
                    "iam:GetAccountAuthorizationDetails",
                    &denied_roles,
                    Fault::Denied
                )
                .on_calls("tagging:GetResources", &denied_tags, Fault::Denied)
        )
    );
    let deploy = faulty.through_proxy.run(&["deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");
    faulty.assert_converged(&reference, "deploy").await;

    let listed = faulty.no_change_plan_calls().await;
    assert!(faulty.proxy.faulted().is_empty(), "{listed:?}");
    assert_eq!(count(&listed, "GetRole"), 0, "{listed:?}");
    assert_eq!(count(&listed, "ListTagsForResource"), 0, "{listed:?}");
    assert_eq!(
        count(&listed, "GetResources"),
        3,
        "one tag listing per service: {listed:?}"
    );
    assert_eq!(
        count(&listed, "describejobdefinitions"),
        1,
        "one listing of the account's job definitions: {listed:?}"
    );

    let one_by_one = faulty.no_change_plan_calls().await;
    let denied_listings: BTreeSet<String> = faulty
        .proxy
        .faulted()
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(
        denied_listings,
        BTreeSet::from([
            "GetAccountAuthorizationDetails".to_string(),
            "GetResources".to_string()
        ]),
    );
    assert_eq!(
        count(&one_by_one, "GetRole"),
        9,
        "2 jobs' 4 roles each and the handlers' role, read on their own: {one_by_one:?}"
    );
    assert_eq!(
        count(&one_by_one, "ListTagsForResource"),
        6,
        "2 jobs' two log groups' and state machine's tags, read on their own: {one_by_one:?}"
    );

    let destroy = faulty.through_proxy.run(&["destroy", "--yes"]).await;
    assert_eq!(destroy.code, Some(0), "{destroy}");
    faulty.assert_empty("destroy").await;
}

/// In an account with more ACTIVE job definitions than a plan may page
/// through (one page of 100 per 10 jobs, at least one), the plan reads each
/// job's definition on its own, and plans the same.
#[tokio::test]
async fn plans_read_each_job_definition_in_an_account_with_many_others() {
    let faulty = Faulty::new(FaultPlan::none()).await;
    for i in 0..120 {
        faulty
            .aws
            .batch
            .register_job_definition()
            .job_definition_name(format!("another-team-{i}"))
            .r#type(JobDefinitionType::Container)
            .container_properties(
                ContainerProperties::builder()
                    .image("busybox")
                    .resource_requirements(requirement(ResourceType::Vcpu, "1"))
                    .resource_requirements(requirement(ResourceType::Memory, "128"))
                    .build(),
            )
            .send()
            .await
            .expect("RegisterJobDefinition");
    }
    let deploy = faulty.through_proxy.run(&["deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");

    let calls = faulty.no_change_plan_calls().await;
    assert_eq!(
        count(&calls, "describejobdefinitions"),
        3,
        "one page of the listing, then each of the 2 jobs' definitions: {calls:?}"
    );
}

/// In an account with more roles than one page of the role listing holds
/// (1,000), a plan pages through it and finds the job's roles on the
/// second page: the plan after a deploy is clean.
#[tokio::test]
async fn plans_page_through_an_account_with_many_roles() {
    let faulty = Faulty::new(FaultPlan::none()).await;
    let trust = trust_policy("ecs-tasks.amazonaws.com").to_string();
    for batch in 0..20 {
        let mut creates = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (iam, trust) = (faulty.aws.iam.clone(), trust.clone());
            creates.spawn(async move {
                iam.create_role()
                    .role_name(format!("another-team-{batch}-{i}"))
                    .assume_role_policy_document(trust)
                    .send()
                    .await
                    .expect("CreateRole");
            });
        }
        while let Some(created) = creates.join_next().await {
            created.expect("CreateRole ran");
        }
    }
    let deploy = faulty.through_proxy.run(&["deploy"]).await;
    assert_eq!(deploy.code, Some(0), "{deploy}");

    let calls = faulty.no_change_plan_calls().await;
    assert_eq!(
        count(&calls, "GetAccountAuthorizationDetails"),
        2,
        "two pages of 1,000 roles: {calls:?}"
    );
    assert_eq!(count(&calls, "GetRole"), 0, "{calls:?}");
}

fn requirement(kind: ResourceType, value: &str) -> ResourceRequirement {
    ResourceRequirement::builder()
        .r#type(kind)
        .value(value)
        .build()
}

fn count(calls: &BTreeMap<String, usize>, action: &str) -> usize {
    calls.get(action).copied().unwrap_or_default()
}
