//! `overlap = "skip"` is exact: runs started in the same instant run one
//! job; a run started right after the running one was stopped takes its
//! claim over; every way a run ends releases the claim; and the claim
//! table lives and goes with the job.

use std::time::{Duration, Instant};

use aws_sdk_batch::types::JobStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::Value;
use sjob_e2e::myapp::{config, CRAWLER};
use sjob_e2e::{Aws, JobOutcome};

use super::{crawler_input, Live};

/// How many runs start together.
const TOGETHER: usize = 20;
/// How long the runs of a test may take to reach what it waits for.
const SETTLE: Duration = Duration::from_secs(60);

fn skipping_crawler() -> String {
    format!("{CRAWLER}overlap = \"skip\"\n")
}

impl Live {
    /// The crawler's claim table.
    fn claim_table(&self) -> String {
        format!("{}-Claim", self.crawler.job)
    }

    /// The execution holding the crawler's claim, if any.
    async fn claim_holder(&self) -> Option<String> {
        self.fixture
            .emulator
            .claim_holder(&self.claim_table(), &self.crawler.job)
            .await
    }

    /// Starts the crawler's state machine `count` times at once, with the
    /// schedule's input; the executions' ARNs.
    async fn start_together(&self, count: usize) -> Vec<String> {
        let starts: Vec<_> = (0..count)
            .map(|_| {
                let start = self
                    .fixture
                    .aws
                    .sfn
                    .start_execution()
                    .state_machine_arn(self.crawler.state_machine_arn())
                    .input(crawler_input().to_string());
                tokio::spawn(start.send())
            })
            .collect();
        let mut executions = Vec::new();
        for start in starts {
            let started = start.await.expect("the start ran");
            executions.push(
                started
                    .unwrap_or_else(|e| panic!("StartExecution: {}", DisplayErrorContext(e)))
                    .execution_arn,
            );
        }
        executions
    }
}

/// The states the execution entered, in order.
async fn entered(aws: &Aws, execution: &str) -> Vec<String> {
    aws.sfn
        .get_execution_history()
        .execution_arn(execution)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetExecutionHistory: {}", DisplayErrorContext(e)))
        .events()
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details()
                .map(|d| d.name().to_string())
        })
        .collect()
}

/// Each execution's status, once `done` holds for the statuses, or at the
/// deadline (which fails the test).
async fn statuses_once(
    aws: &Aws,
    executions: &[String],
    done: impl Fn(&[ExecutionStatus]) -> bool,
) -> Vec<ExecutionStatus> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut statuses = Vec::new();
        for execution in executions {
            statuses.push(aws.execution(execution).await.status().clone());
        }
        if done(&statuses) {
            return statuses;
        }
        assert!(Instant::now() < deadline, "never settled: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn running(statuses: &[ExecutionStatus]) -> usize {
    statuses
        .iter()
        .filter(|s| **s == ExecutionStatus::Running)
        .count()
}

/// Twenty runs started in the same instant while the job runs on: exactly
/// one claims the job and submits it; the nineteen others end SUCCEEDED
/// without a job, each naming the one that runs.
#[tokio::test]
async fn runs_started_together_submit_exactly_one_job() {
    let live = Live::deployed_with(&skipping_crawler()).await;
    let (aws, emulator) = (&live.fixture.aws, &live.fixture.emulator);
    let table = emulator
        .table(&live.claim_table())
        .await
        .expect("deploy creates the claim table");
    assert_eq!(
        table["TableStatus"], "ACTIVE",
        "deploy waits until the table is ACTIVE: {table:#}"
    );
    emulator.set_job_outcome(JobOutcome::Running).await;

    let executions = live.start_together(TOGETHER).await;
    let statuses =
        statuses_once(aws, &executions, |s| running(s) <= 1 && s.len() == TOGETHER).await;
    // Those still running would have had time to go wrong.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let statuses = statuses_once(aws, &executions, |s| s == statuses.as_slice()).await;

    assert_eq!(running(&statuses), 1, "{statuses:?}");
    let winner = &executions[statuses
        .iter()
        .position(|s| *s == ExecutionStatus::Running)
        .expect("one run goes on")];
    assert!(entered(aws, winner).await.contains(&"Batch".to_string()));
    assert_eq!(
        aws.jobs(&live.queue, JobStatus::Running).await.len(),
        1,
        "exactly one Batch job was submitted"
    );
    assert_eq!(live.claim_holder().await.as_ref(), Some(winner));
    for execution in executions.iter().filter(|e| *e != winner) {
        let described = aws.execution(execution).await;
        assert_eq!(described.status(), &ExecutionStatus::Succeeded);
        let output: Value = serde_json::from_str(described.output().unwrap_or("null")).unwrap();
        assert_eq!(
            output["skipped"]["running_execution"],
            winner.as_str(),
            "{output:#}"
        );
        let states = entered(aws, execution).await;
        assert!(!states.contains(&"Batch".to_string()), "{states:?}");
        assert_eq!(states.last().map(String::as_str), Some("Skipped"));
    }
}

/// The running run is stopped by hand (it never releases its claim), and a
/// run starts at once: it takes the claim over and runs its job.
#[tokio::test]
async fn a_run_started_right_after_a_stop_takes_the_claim_over() {
    let live = Live::deployed_with(&skipping_crawler()).await;
    let aws = &live.fixture.aws;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Running)
        .await;
    let first = live.start_together(1).await.remove(0);
    let deadline = Instant::now() + SETTLE;
    while live.claim_holder().await.as_ref() != Some(&first) {
        assert!(Instant::now() < deadline, "the first run never claimed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    aws.sfn
        .stop_execution()
        .execution_arn(&first)
        .send()
        .await
        .unwrap_or_else(|e| panic!("StopExecution: {}", DisplayErrorContext(e)));
    let next = live.start_together(1).await.remove(0);

    let deadline = Instant::now() + SETTLE;
    while live.claim_holder().await.as_ref() != Some(&next) {
        let described = aws.execution(&next).await;
        assert_eq!(
            described.status(),
            &ExecutionStatus::Running,
            "the run after the stop did not go on: {:?}",
            described.output()
        );
        assert!(Instant::now() < deadline, "the next run never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + SETTLE;
    while !entered(aws, &next).await.contains(&"Batch".to_string()) {
        assert!(
            Instant::now() < deadline,
            "the next run never submitted its job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(entered(aws, &next).await.contains(&"TakeOver".to_string()));
    assert_eq!(
        aws.execution(&next).await.status(),
        &ExecutionStatus::Running,
        "its job runs on"
    );
}

/// A run that succeeds and one whose job fails (through the error handler)
/// each release the claim; the table goes when the job stops skipping, and
/// comes back, and `destroy` removes it.
#[tokio::test]
async fn every_end_releases_the_claim_and_the_table_follows_the_config() {
    let live = Live::deployed_with(&skipping_crawler()).await;
    let (emulator, sjob) = (&live.fixture.emulator, &live.fixture.sjob);

    let (succeeded, _) = live.run_crawler(0, &[]).await;
    assert!(entered(&live.fixture.aws, &succeeded)
        .await
        .contains(&"ReleaseSucceeded".to_string()));
    assert_eq!(live.claim_holder().await, None, "released after a success");
    emulator.set_job_outcome(JobOutcome::Failed).await;
    let (failed, _) = live.run_crawler(3, &[]).await;
    assert!(entered(&live.fixture.aws, &failed)
        .await
        .contains(&"ReleaseJobFailed".to_string()));
    assert_eq!(live.claim_holder().await, None, "released after a failure");

    let table = live.claim_table();
    let arn = emulator.table(&table).await.expect("the table")["TableArn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    let tags = emulator.table_tags(&arn).await;
    assert!(
        tags.iter()
            .any(|t| t["Key"] == "sjob:job" && t["Value"] == "crawler"),
        "{tags:?}"
    );

    sjob.write_config(&config(&live.targets, &[CRAWLER]));
    let plan = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    let change = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["kind"] == "claim_table")
        .cloned();
    assert_eq!(
        change.map(|c| (c["name"].clone(), c["action"].clone())),
        Some((Value::from(table.as_str()), Value::from("delete")))
    );
    // Deleting it is deploy's, but, as every delete, only with --yes.
    sjob.run_expecting(0, &["deploy", "--yes"]).await;
    assert_eq!(emulator.table(&table).await, None);

    sjob.write_config(&config(&live.targets, &[&skipping_crawler()]));
    sjob.run_expecting(0, &["deploy"]).await;
    assert!(emulator.table(&table).await.is_some());
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
    sjob.run_expecting(0, &["destroy", "--yes"]).await;
    assert_eq!(emulator.table(&table).await, None);
}
