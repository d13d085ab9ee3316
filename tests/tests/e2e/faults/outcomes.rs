//! Every way a run ends (the README's table of outcomes), on the emulator's
//! Step Functions interpreter with the real handlers: the error the
//! execution ends with, and what reaches the topic. A notification that
//! fails is never reported as a job failure, and a run never ends unreported
//! while anything can still be sent.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};
use sjob_e2e::myapp::{config, ERROR_FUNCTION, SUCCESS_FUNCTION};
use sjob_e2e::{Fault, FaultPlan, JobOutcome, Sjob};

use super::Handlers;

const SECRET: &str = "hunter2-secret";
/// Every publish the handlers make, refused.
const EVERY_PUBLISH: std::ops::RangeInclusive<usize> = 1..=100;
/// The largest input the job can receive, in characters of its escaped
/// JSON text (`MAX_INPUT_CHARS` in the deployer).
const MAX_INPUT_CHARS: usize = 6144;

/// The crawler, with a secret in its environment, whose last resort goes
/// to the handlers' topic.
fn crawler(topic_arn: &str) -> String {
    format!(
        r#"
[jobs.crawler]
command = ["python", "-m", "crawler"]
schedule_expression = "rate(5 minutes)"
sfn_input = {{ source = "schedule" }}
env = {{ DB_PASSWORD = "{SECRET}" }}
notification_topic_arn = "{topic_arn}"
"#
    )
}

/// The handlers, a job queue and the crawler deployed; Retry waits cut to
/// a hundredth so exhausting six retries takes about a second.
struct Outcomes {
    stack: Handlers,
    sjob: Sjob,
}

/// How one execution ended.
#[derive(Debug)]
struct Ended {
    status: ExecutionStatus,
    error: Option<String>,
}

impl Outcomes {
    async fn deployed() -> Outcomes {
        let stack = Handlers::new("myapp-dev-job-notifications").await;
        let targets = stack.run_targets().await;
        stack.emulator.scale_retry_waits(0.01).await;
        let sjob = Sjob::at(&stack.emulator.endpoint());
        sjob.write_config(&config(&targets, &[&crawler(&stack.topic_arn)]));
        sjob.run_expecting(0, &["deploy"]).await;
        Outcomes { stack, sjob }
    }

    /// Runs the crawler to its end.
    async fn run(&self, extra: &[&str]) -> Ended {
        let mut args = vec!["run", "crawler", "--wait"];
        args.extend_from_slice(extra);
        let run = self.sjob.run(&args).await;
        let arn = run.stdout.lines().next().unwrap_or_default().to_string();
        assert!(arn.contains(":execution:"), "{run}");
        let described = self.stack.aws.execution(&arn).await;
        Ended {
            status: described.status().clone(),
            error: described.error().map(str::to_string),
        }
    }

    fn invocations_of<'a>(&self, invocations: &'a [Value], function: &str) -> Vec<&'a Value> {
        invocations
            .iter()
            .filter(|i| i["function_name"] == function)
            .collect()
    }
}

#[tokio::test]
async fn a_success_notification_that_keeps_failing_is_not_a_job_failure() {
    let outcomes = Outcomes::deployed().await;
    // The success handler's seven publishes are refused; the error
    // handler's goes through.
    outcomes.stack.proxy.set_plan(FaultPlan::none().on_calls(
        "sns:Publish",
        &(1..=7).collect::<Vec<_>>(),
        Fault::Denied,
    ));

    let ended = outcomes.run(&[]).await;

    assert_eq!(ended.status, ExecutionStatus::Failed, "{ended:?}");
    assert_eq!(ended.error.as_deref(), Some("sjob.NotificationFailed"));
    let messages = outcomes.stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let notification = &messages[0];
    assert_eq!(notification["status"], "FAILED", "{notification:#}");
    assert_eq!(notification["error"]["kind"], "handler_failed");
    assert_eq!(notification["error"]["error"], "PublishFailed");
    let message = notification["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.starts_with("the job succeeded; "), "{message}");
    assert_eq!(notification["batch_job"]["status"], "SUCCEEDED");
    assert_eq!(notification["batch_job"]["exit_code"], 0);
    assert!(
        notification["batch_job"]["id"].is_string(),
        "{notification:#}"
    );
    assert!(
        !notification.to_string().contains(SECRET),
        "{notification:#}"
    );

    let invocations = outcomes.stack.emulator.lambda_invocations().await;
    assert_eq!(
        outcomes
            .invocations_of(&invocations, SUCCESS_FUNCTION)
            .len(),
        7
    );
    let errors = outcomes.invocations_of(&invocations, ERROR_FUNCTION);
    assert_eq!(errors.len(), 1);
    let state = &errors[0]["event"]["state"];
    assert_eq!(state["batch"]["Status"], "SUCCEEDED", "{state:#}");
    assert_eq!(state["error"]["Error"], "PublishFailed", "{state:#}");
    // The input reaches the handlers once: not again in the context.
    let context = &errors[0]["event"]["context"];
    assert!(context["Execution"].get("Input").is_none(), "{context:#}");
    assert_eq!(context["Execution"]["RedriveCount"], 0, "{context:#}");
}

#[tokio::test]
async fn an_error_handler_that_keeps_failing_leaves_the_last_resort_notice_once() {
    let outcomes = Outcomes::deployed().await;
    outcomes
        .stack
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;
    outcomes.stack.proxy.set_plan(FaultPlan::none().on_calls(
        "sns:Publish",
        &EVERY_PUBLISH.collect::<Vec<_>>(),
        Fault::Denied,
    ));

    let ended = outcomes.run(&[]).await;

    assert_eq!(
        ended.error.as_deref(),
        Some("sjob.HandlersFailed"),
        "{ended:?}"
    );
    let messages = outcomes.stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let notice = &messages[0];
    assert_eq!(notice["version"], "1", "{notice:#}");
    assert_eq!(notice["status"], "FAILED");
    assert_eq!(
        (&notice["app_name"], &notice["stage"], &notice["batch_name"]),
        (&json!("myapp"), &json!("dev"), &json!("crawler"))
    );
    assert_eq!(notice["error"]["kind"], "handler_failed");
    assert_eq!(notice["error"]["error"], "States.TaskFailed");
    let message = notice["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the error handler failed (PublishFailed)"),
        "{message}"
    );
    let execution = &notice["execution"];
    let arn = execution["arn"].as_str().unwrap_or_default();
    assert!(
        arn.contains(":execution:myapp-dev-crawler-ScheduledJob:"),
        "{notice:#}"
    );
    assert!(
        execution["console_url"]
            .as_str()
            .is_some_and(|url| url.ends_with(arn) && url.starts_with("https://")),
        "{notice:#}"
    );
    assert!(notice["notification_id"]
        .as_str()
        .is_some_and(|id| id.len() == 36));
    assert_eq!(notice["batch_job"], Value::Null);
    assert!(!notice.to_string().contains(SECRET), "{notice:#}");
}

#[tokio::test]
async fn when_nothing_can_be_published_the_run_ends_unnotified() {
    let outcomes = Outcomes::deployed().await;
    outcomes
        .stack
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;
    outcomes
        .stack
        .aws
        .sns
        .delete_topic()
        .topic_arn(&outcomes.stack.topic_arn)
        .send()
        .await
        .expect("DeleteTopic");

    let ended = outcomes.run(&[]).await;

    // With a topic configured, only the last resort's own failure ends here.
    assert_eq!(ended.error.as_deref(), Some("sjob.Unnotified"), "{ended:?}");
    assert!(outcomes.stack.messages().await.is_empty());
}

#[tokio::test]
async fn a_crashed_handler_is_retried_and_notifies_once() {
    let outcomes = Outcomes::deployed().await;
    // A timeout or out-of-memory crash: no errorType, so Lambda.Unknown.
    outcomes
        .stack
        .emulator
        .fail_next_invocations(
            SUCCESS_FUNCTION,
            vec![json!({"errorMessage": "RequestId: 1 Error: Runtime exited with error: signal: killed"})],
        )
        .await;

    let ended = outcomes.run(&[]).await;

    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let messages = outcomes.stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["status"], "SUCCEEDED");
    let invocations = outcomes.stack.emulator.lambda_invocations().await;
    let success = outcomes.invocations_of(&invocations, SUCCESS_FUNCTION);
    assert_eq!(success.len(), 2, "{success:#?}");
    assert_eq!(success[0]["injected"], true);
    assert!(outcomes
        .invocations_of(&invocations, ERROR_FUNCTION)
        .is_empty());
}

#[tokio::test]
async fn the_largest_input_runs_end_to_end_and_a_larger_one_starts_nothing() {
    let outcomes = Outcomes::deployed().await;
    // `{"data":"xx..."}`: 11 characters around the string, escaped as `{\"data\":\"...\"}`.
    let largest = json!({ "data": "x".repeat(MAX_INPUT_CHARS - 15) }).to_string();

    let ended = outcomes.run(&["--input", &largest]).await;

    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let messages = outcomes.stack.messages().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["input"].to_string(), largest);

    let larger = json!({ "data": "x".repeat(MAX_INPUT_CHARS - 14) }).to_string();
    let refused = outcomes
        .sjob
        .run_expecting(1, &["run", "crawler", "--input", &larger])
        .await;
    assert!(
        refused.stderr_says(&format!(
            "the execution input is {} characters",
            MAX_INPUT_CHARS + 1
        )),
        "{refused}"
    );
    assert!(refused.stderr_says("at most 6144 fit"), "{refused}");
    let executions = outcomes
        .stack
        .aws
        .sfn
        .list_executions()
        .state_machine_arn(format!(
            "arn:aws:states:{}:{}:stateMachine:myapp-dev-crawler-ScheduledJob",
            sjob_e2e::REGION,
            sjob_e2e::myapp::ACCOUNT
        ))
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(executions.executions().len(), 1, "nothing else was started");
}
