//! The handler over every committed example event, with a recording
//! publisher in place of SNS: what subscribers would receive, field by field.

use std::sync::Mutex;

use handlers::enrich::JobDescriber;
use handlers::event::BatchJob;
use handlers::message::{BodyFormat, Publication, SNS_MAX_MESSAGE_BYTES};
use handlers::notification::Notification;
use handlers::publish::{PublishError, Publisher};
use handlers::{handle, HandlerError, HandlerKind};
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Publication>>,
    fail: bool,
}

impl Publisher for Recorder {
    async fn publish(&self, publication: &Publication) -> Result<String, PublishError> {
        if self.fail {
            return Err(PublishError::Sns {
                topic_arn: "arn:aws:sns:eu-west-1:1:t".into(),
                reason: "connection refused".into(),
            });
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(publication.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

struct KnownJob(BatchJob);

impl JobDescriber for KnownJob {
    async fn describe(&self, job_id: &str) -> Option<BatchJob> {
        (self.0.job_id.as_deref() == Some(job_id)).then(|| self.0.clone())
    }

    async fn failed_children(&self, _array_job_id: &str) -> Option<Vec<u64>> {
        None
    }
}

/// What `ListJobs` would answer for one array job.
struct FailedChildren {
    array_job_id: &'static str,
    indexes: Vec<u64>,
}

impl JobDescriber for FailedChildren {
    async fn describe(&self, _job_id: &str) -> Option<BatchJob> {
        None
    }

    async fn failed_children(&self, array_job_id: &str) -> Option<Vec<u64>> {
        (array_job_id == self.array_job_id).then(|| self.indexes.clone())
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Runs the handler and returns the publication and the document it carries.
async fn publish_with<D: JobDescriber>(
    kind: HandlerKind,
    payload: Value,
    describer: &D,
    format: BodyFormat,
) -> (Publication, Notification) {
    let recorder = Recorder::default();
    let response = handle(kind, payload, &recorder, describer, format)
        .await
        .unwrap();
    let publication = recorder.sent.lock().unwrap().pop().unwrap();
    assert_eq!(response.message_id, "msg-1");
    let envelope = envelope_of(&publication);
    let document: Notification = serde_json::from_str(envelope["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(response.notification_id, document.notification_id);
    assert_eq!(response.status, document.status);
    (publication, document)
}

/// The `MessageStructure=json` envelope a publication carries.
fn envelope_of(publication: &Publication) -> Value {
    serde_json::from_str(&publication.message).unwrap()
}

/// The AWS Chatbot card in an envelope's `https` body.
fn chat_card(envelope: &Value) -> Value {
    serde_json::from_str(envelope["https"].as_str().unwrap()).unwrap()
}

async fn failure(name: &str) -> (Publication, Notification) {
    publish_with(HandlerKind::Error, fixture(name), &(), BodyFormat::Document).await
}

#[tokio::test]
async fn success_reports_the_job_record() {
    let (publication, n) = publish_with(
        HandlerKind::Success,
        fixture("success"),
        &(),
        BodyFormat::Document,
    )
    .await;
    assert_eq!(publication.subject, "[acme/prod] nightly-report SUCCEEDED");
    assert_eq!(n.version, "1");
    assert_eq!((n.app_name.as_str(), n.stage.as_str()), ("acme", "prod"));
    assert_eq!(n.job_name, "acme-prod-nightly-report-ScheduledJob");
    assert!(n.error.is_none());
    let job = n.batch_job.unwrap();
    assert_eq!(
        job.id.as_deref(),
        Some("7c1e5a02-93d4-4b8e-a1f6-2d0c9b7e4f31")
    );
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(job.attempts, 1);
    assert_eq!(job.started_at.as_deref(), Some("2025-11-28T01:00:05.123Z"));
    assert_eq!(job.duration_seconds, Some(372.418));
    assert_eq!(
        job.log_url.as_deref(),
        Some("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob/log-events/acme-prod-nightly-report-ScheduledJob$252Fdefault$252F0f3e2d1c0b9a8")
    );
    assert_eq!(
        n.execution.console_url.as_deref(),
        Some("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:210987654321:execution:acme-prod-nightly-report-ScheduledJob:c0a8e1f2-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
    );
    assert_eq!(
        n.execution.started_at.as_deref(),
        Some("2026-11-28T01:00:02.412Z")
    );
    assert_eq!(n.input["report_date"], "2026-11-27");
    assert_eq!(
        publication.attributes,
        vec![
            ("status".to_string(), "SUCCEEDED".to_string()),
            ("app_name".to_string(), "acme".to_string()),
            ("stage".to_string(), "prod".to_string()),
            ("batch_name".to_string(), "nightly-report".to_string()),
        ]
    );
}

/// An array job whose children all succeeded: the summary says so without
/// asking Batch anything.
#[tokio::test]
async fn an_array_jobs_success_carries_its_childrens_summary() {
    let (publication, n) = publish_with(
        HandlerKind::Success,
        fixture("success_array"),
        &(),
        BodyFormat::Document,
    )
    .await;
    let job = n.batch_job.unwrap();
    assert_eq!(job.attempts, 0);
    assert_eq!(job.exit_code, None);
    let array = job.array.unwrap();
    assert_eq!((array.size, array.succeeded, array.failed), (3, 3, 0));
    assert_eq!(array.failed_indexes, Some(vec![]));
    assert_eq!(array.status_summary["SUCCEEDED"], 3);
    let envelope = envelope_of(&publication);
    assert!(
        envelope["default"]
            .as_str()
            .unwrap()
            .contains("Children:   3 of 3 succeeded, 0 failed"),
        "{}",
        envelope["default"]
    );
    // Other jobs' documents do not change.
    let (_, plain) = publish_with(
        HandlerKind::Success,
        fixture("success"),
        &(),
        BodyFormat::Document,
    )
    .await;
    assert!(plain.batch_job.unwrap().array.is_none());
}

/// Some children failed: the counts come from the parent's record, the
/// indexes from Batch (`ListJobs`) when it answers, and people read both.
#[tokio::test]
async fn an_array_jobs_failure_names_its_failed_children() {
    let listed = FailedChildren {
        array_job_id: "5d2c8e14-7a3b-4f61-9e0d-3b8a1c6f2e47",
        indexes: vec![1],
    };
    let (publication, n) = publish_with(
        HandlerKind::Error,
        fixture("failed_array_children"),
        &listed,
        BodyFormat::Document,
    )
    .await;
    assert_eq!(
        publication.subject,
        "[acme/prod] nightly-report FAILED: Array Child Job failed; 1 of 3 children failed"
    );
    let error = n.error.unwrap();
    assert_eq!(serde_json::to_value(error.kind).unwrap(), "job_failed");
    assert_eq!(
        error.message,
        "Array Child Job failed; 1 of 3 children failed"
    );
    let array = n.batch_job.unwrap().array.unwrap();
    assert_eq!((array.size, array.succeeded, array.failed), (3, 2, 1));
    assert_eq!(array.failed_indexes, Some(vec![1]));
    let envelope = envelope_of(&publication);
    assert!(
        envelope["default"]
            .as_str()
            .unwrap()
            .contains("Children:   2 of 3 succeeded, 1 failed (index 1)"),
        "{}",
        envelope["default"]
    );

    // Without an answer from Batch the indexes are unknown, not empty.
    let (_, n) = failure("failed_array_children").await;
    assert_eq!(n.batch_job.unwrap().array.unwrap().failed_indexes, None);

    let (publication, _) = publish_with(
        HandlerKind::Error,
        fixture("failed_array_children"),
        &listed,
        BodyFormat::Chatbot,
    )
    .await;
    let envelope = envelope_of(&publication);
    let chat = chat_card(&envelope);
    assert!(
        chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("*Children*: 2 of 3 succeeded, 1 failed (index 1)"),
        "{chat}"
    );
}

/// The missed-run alarm's action: no run succeeded within the window, so
/// the error handler says so, in the same schema as a failed run; the
/// return to OK says the job recovered. A retried invocation keeps its id.
#[tokio::test]
async fn the_missed_run_alarm_notifies_missed_then_recovered() {
    let (publication, n) = publish_with(
        HandlerKind::Error,
        fixture("alarm_missed"),
        &(),
        BodyFormat::Document,
    )
    .await;
    assert_eq!(
        publication.subject,
        "[acme/prod] nightly-report FAILED: no successful run within 26h"
    );
    assert_eq!(n.status.as_str(), "FAILED");
    assert_eq!(n.job_name, "acme-prod-nightly-report-ScheduledJob");
    assert_eq!(
        n.execution.state_machine.as_deref(),
        Some("arn:aws:states:eu-west-1:210987654321:stateMachine:acme-prod-nightly-report-ScheduledJob")
    );
    assert!(n.batch_job.is_none());
    let error = n.error.clone().unwrap();
    assert_eq!(error.error, "sjob.Missed");
    assert_eq!(serde_json::to_value(error.kind).unwrap(), "missed");
    assert!(
        error
            .message
            .starts_with("no successful run within 26h (Threshold Crossed: "),
        "{}",
        error.message
    );
    assert!(publication
        .attributes
        .contains(&("error_kind".to_string(), "missed".to_string())));
    let (_, again) = failure("alarm_missed").await;
    assert_eq!(again.notification_id, n.notification_id);

    let (publication, recovered) = publish_with(
        HandlerKind::Error,
        fixture("alarm_recovered"),
        &(),
        BodyFormat::Chatbot,
    )
    .await;
    assert_eq!(recovered.status.as_str(), "SUCCEEDED");
    assert_eq!(
        serde_json::to_value(recovered.error.unwrap().kind).unwrap(),
        "recovered"
    );
    assert_ne!(recovered.notification_id, n.notification_id);
    let envelope = envelope_of(&publication);
    let chat = chat_card(&envelope);
    assert_eq!(
        chat["content"]["title"],
        ":white_check_mark: [prod] acme / nightly-report recovered (a run succeeded again after none did within 26h)"
    );
}

/// A new alarm whose first evaluation finds the job running well goes to
/// OK without having fired: there is nothing to recover from, so nothing is
/// published.
#[tokio::test]
async fn an_alarm_ok_without_having_fired_publishes_nothing() {
    let mut event = fixture("alarm_recovered");
    event["alarmData"]["previousState"]["value"] = json!("INSUFFICIENT_DATA");
    let recorder = Recorder::default();
    let response = handle(
        HandlerKind::Error,
        event,
        &recorder,
        &(),
        BodyFormat::Document,
    )
    .await
    .unwrap();
    assert!(recorder.sent.lock().unwrap().is_empty());
    assert_eq!(response.message_id, "");
}

/// An alarm that is not an sjob job's is refused with a stable error type,
/// not turned into a notification about nothing.
#[tokio::test]
async fn an_alarm_of_no_sjob_job_is_an_invalid_event() {
    let mut event = fixture("alarm_missed");
    event["alarmData"]["configuration"]["description"] = json!("made by hand");
    let err = handle(
        HandlerKind::Error,
        event,
        &Recorder::default(),
        &(),
        BodyFormat::Document,
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
    assert!(
        err.to_string().contains("does not name an sjob job"),
        "{err}"
    );
}

/// A run `overlap = "skip"` ended: SKIPPED, no job record, the running
/// execution named, and a subject, text and chat card that say so.
#[tokio::test]
async fn a_skipped_run_names_the_execution_still_running() {
    let running = "arn:aws:states:eu-west-1:210987654321:execution:acme-prod-nightly-report-ScheduledJob:0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
    let (publication, n) = publish_with(
        HandlerKind::Success,
        fixture("skipped"),
        &(),
        BodyFormat::Document,
    )
    .await;
    assert_eq!(
        publication.subject,
        "[acme/prod] nightly-report SKIPPED: an earlier run is still running"
    );
    assert_eq!(n.status.as_str(), "SKIPPED");
    assert!(n.batch_job.is_none());
    let error = n.error.unwrap();
    assert_eq!(error.error, "sjob.Skipped");
    assert_eq!(
        error.message,
        format!("an earlier execution is still running: {running}")
    );
    assert!(publication
        .attributes
        .contains(&("error_kind".to_string(), "skipped".to_string())));
    let envelope = envelope_of(&publication);
    assert!(envelope["default"].as_str().unwrap().contains(running));

    let (publication, _) = publish_with(
        HandlerKind::Success,
        fixture("skipped"),
        &(),
        BodyFormat::Chatbot,
    )
    .await;
    let envelope = envelope_of(&publication);
    let chat = chat_card(&envelope);
    assert_eq!(
        chat["content"]["title"],
        ":fast_forward: [prod] acme / nightly-report skipped (an earlier run is still running)"
    );
    assert_eq!(chat["metadata"]["eventType"], "BatchJobSkipped");
}

#[tokio::test]
async fn every_failure_shape_gets_its_kind_message_and_subject() {
    let cases = [
        ("failed_nonzero_exit", "job_failed", "Essential container in task exited; exit code 2", "[acme/prod] nightly-report FAILED: exit 2"),
        ("failed_oom", "job_failed", "Essential container in task exited; OutOfMemoryError: Container killed due to memory usage; exit code 137", "[acme/prod] nightly-report FAILED: exit 137 (OutOfMemoryError)"),
        ("failed_attempt_timeout", "timeout", "Job attempt duration exceeded timeout; exit code 137", "[acme/prod] nightly-report FAILED: exit 137 (Job attempt duration exceeded timeout)"),
        ("failed_image_pull", "job_failed", "Task failed to start; CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 210987654321.dkr.ecr.eu-west-1.amazonaws.com/acme:2026.11.3: not found", "[acme/prod] nightly-report FAILED: Task failed to start; CannotPullContainerError"),
        ("failed_cancelled_no_attempts", "job_failed", "Cancelled by the operator before placement", "[acme/prod] nightly-report FAILED: Cancelled by the operator before placement"),
        ("failed_retried_twice", "job_failed", "Essential container in task exited; exit code 1", "[acme/prod] nightly-report FAILED: exit 1"),
        ("submit_rejected", "submit_rejected", "job submission rejected: Job definition acme-prod-nightly-report-ScheduledJob:3 is INACTIVE.", "[acme/prod] nightly-report FAILED: submit rejected (Batch.ClientException)"),
        ("submit_throttled_null_message", "submit_rejected", "job submission rejected: TooManyRequestsException (no message)", "[acme/prod] nightly-report FAILED: submit rejected (Batch.AWSBatchException)"),
        ("task_timeout", "timeout", "the task timed out", "[acme/prod] nightly-report FAILED: timed out"),
        ("success_handler_failed", "handler_failed", "the job succeeded; success handler failed: PublishFailed: publishing to arn:aws:sns:eu-west-1:210987654321:acme-prod-job-notifications failed: service error", "[acme/prod] nightly-report FAILED: notification failed (PublishFailed)"),
        ("lambda_unknown", "handler_failed", "The cause could not be determined because Lambda did not return an error type. Returned payload: {\"message\":\"boom\"}", "[acme/prod] nightly-report FAILED: notification failed (Lambda.Unknown)"),
        ("failed_truncated_cause", "job_failed", "Essential container in task exited (cause truncated)", "[acme/prod] nightly-report FAILED: Essential container in task exited (cause truncated)"),
        ("failed_no_cause", "other", "States.TaskFailed (no cause given)", "[acme/prod] nightly-report FAILED: States.TaskFailed"),
    ];
    for (name, kind, message, subject) in cases {
        let (publication, n) = failure(name).await;
        let error = n.error.as_ref().unwrap();
        assert_eq!(serde_json::to_value(error.kind).unwrap(), kind, "{name}");
        assert_eq!(error.message, message, "{name}");
        assert_eq!(publication.subject, subject, "{name}");
        assert!(
            publication.subject.len() < 100
                && publication
                    .subject
                    .chars()
                    .all(|c| c.is_ascii_graphic() || c == ' ')
        );
        assert_eq!(n.status.as_str(), "FAILED");
        assert!(publication
            .attributes
            .contains(&("error_kind".to_string(), kind.to_string())));
    }
}

/// The success notification failed for good: the error handler gets the
/// Batch result beside the error, and the job is not blamed.
#[tokio::test]
async fn a_failed_success_notification_reports_the_job_that_succeeded() {
    let (_, n) = failure("success_handler_failed").await;
    let job = n.batch_job.expect("the Batch result is reported");
    assert_eq!(job.status.as_deref(), Some("SUCCEEDED"));
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(
        job.id.as_deref(),
        Some("7c1e5a02-93d4-4b8e-a1f6-2d0c9b7e4f31")
    );
    let error = n.error.expect("an error");
    assert_eq!(error.error, "PublishFailed");
    assert_eq!(n.status.as_str(), "FAILED");
}

#[tokio::test]
async fn failed_job_details_come_from_the_cause() {
    let (_, n) = failure("failed_retried_twice").await;
    let job = n.batch_job.unwrap();
    assert_eq!(job.attempts, 3);
    assert_eq!(job.exit_code, Some(1));
    assert_eq!(job.started_at.as_deref(), Some("2025-11-28T01:13:25.123Z"));
    assert_eq!(
        job.log_stream.as_deref(),
        Some("acme-prod-nightly-report-ScheduledJob/default/2f3e2d1c0b9a8")
    );
    let (_, n) = failure("failed_image_pull").await;
    let job = n.batch_job.unwrap();
    assert_eq!(
        (job.exit_code, job.log_url, job.duration_seconds),
        (None, None, None)
    );
    let (_, n) = failure("failed_cancelled_no_attempts").await;
    assert_eq!(n.batch_job.unwrap().attempts, 0);
}

#[tokio::test]
async fn a_truncated_cause_is_enriched_from_batch() {
    let full = fixture("failed_nonzero_exit");
    let record: BatchJob =
        serde_json::from_str(full["state"]["error"]["Cause"].as_str().unwrap()).unwrap();
    let (_, n) = publish_with(
        HandlerKind::Error,
        fixture("failed_truncated_cause"),
        &KnownJob(record),
        BodyFormat::Document,
    )
    .await;
    let error = n.error.unwrap();
    assert_eq!(
        error.message,
        "Essential container in task exited; exit code 2"
    );
    assert_eq!(n.batch_job.unwrap().exit_code, Some(2));
}

#[tokio::test]
async fn the_same_execution_and_outcome_give_the_same_id() {
    let (_, first) = failure("failed_oom").await;
    let (_, again) = failure("failed_oom").await;
    assert_eq!(first.notification_id, again.notification_id);
    let (_, other) = failure("failed_nonzero_exit").await;
    assert_ne!(first.notification_id, other.notification_id);
    let mut succeeded = fixture("failed_oom");
    succeeded["state"]["error"] = Value::Null;
    let (_, success) =
        publish_with(HandlerKind::Success, succeeded, &(), BodyFormat::Document).await;
    assert_ne!(first.notification_id, success.notification_id);
}

#[tokio::test]
async fn people_get_text_and_machines_get_the_document() {
    let (publication, n) = failure("failed_oom").await;
    let envelope = envelope_of(&publication);
    let text = envelope["default"].as_str().unwrap();
    assert_eq!(envelope["email"], envelope["default"]);
    assert!(text.starts_with("[acme/prod] nightly-report FAILED: exit 137 (OutOfMemoryError)\n"));
    assert!(text.contains("Reason:     Essential container in task exited; OutOfMemoryError"));
    assert!(text.contains(&format!("notification_id: {}", n.notification_id)));
    for key in ["sqs", "lambda", "https", "firehose"] {
        assert_eq!(envelope[key], envelope["sqs"], "{key}");
    }
    assert_eq!(
        publication.group_id,
        "acme-prod-nightly-report-ScheduledJob"
    );
    assert_eq!(publication.deduplication_id, n.notification_id);
}

#[tokio::test]
async fn chatbot_format_follows_the_custom_notification_schema() {
    let (publication, n) = publish_with(
        HandlerKind::Error,
        fixture("failed_nonzero_exit"),
        &(),
        BodyFormat::Chatbot,
    )
    .await;
    let envelope = envelope_of(&publication);
    let chat = chat_card(&envelope);
    assert_eq!(envelope["default"], envelope["https"]);
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["id"], n.notification_id.as_str());
    assert_eq!(chat["content"]["textType"], "client-markdown");
    assert_eq!(
        chat["content"]["title"],
        ":x: [prod] acme / nightly-report failed (exit 2)"
    );
    assert_eq!(chat["metadata"]["eventType"], "BatchJobFailed");
    assert_eq!(chat["metadata"]["additionalContext"]["exitCode"], "2");
    assert!(envelope["email"]
        .as_str()
        .unwrap()
        .starts_with("[acme/prod]"));
}

#[tokio::test]
async fn oversized_input_is_cut_with_a_marker_and_the_message_fits() {
    let mut event = fixture("failed_oom");
    event["state"]["input"] = json!({"blob": "x".repeat(400 * 1024)});
    let (publication, n) = publish_with(HandlerKind::Error, event, &(), BodyFormat::Document).await;
    assert!(
        publication.size() <= SNS_MAX_MESSAGE_BYTES,
        "{}",
        publication.size()
    );
    assert_eq!(n.input["truncated"], true);
    assert!(n.input["original_bytes"].as_u64().unwrap() > 400 * 1024);
    assert!(n.input["preview"]
        .as_str()
        .unwrap()
        .ends_with("...[truncated]"));
    assert_eq!(
        n.error.unwrap().kind,
        handlers::outcome::FailureKind::JobFailed
    );
}

#[tokio::test]
async fn environment_values_never_reach_the_notification() {
    let mut event = fixture("failed_oom");
    event["state"]["metadata"]["env"]["DB_PASSWORD"] = json!("hunter2-s3cr3t");
    let recorder = Recorder::default();
    handle(
        HandlerKind::Error,
        event,
        &recorder,
        &(),
        BodyFormat::Chatbot,
    )
    .await
    .unwrap();
    let publication = recorder.sent.lock().unwrap().pop().unwrap();
    assert!(!publication.message.contains("hunter2-s3cr3t"));
    assert!(!publication.message.contains("acme-prod-reports"));
}

const SECRET: &str = "hunter2-secret";

/// Everything of a publication a subscriber can see.
fn visible(publication: &Publication) -> String {
    let attributes: Vec<String> = publication
        .attributes
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "{}\n{}\n{}\n{}\n{}",
        publication.subject,
        publication.message,
        attributes.join("\n"),
        publication.group_id,
        publication.deduplication_id
    )
}

/// `failed_nonzero_exit` with `DB_PASSWORD` in its cause's container
/// environment (and not in the event's `env`), cut at `cut` bytes.
fn failure_with_secret_cut_at(cut: Option<usize>) -> (Value, usize) {
    let mut event = fixture("failed_nonzero_exit");
    let cause = event["state"]["error"]["Cause"].as_str().unwrap().replacen(
        r#""Environment":["#,
        &format!(r#""Environment":[{{"Name":"DB_PASSWORD","Value":"{SECRET}"}},"#),
        1,
    );
    let len = cause.len();
    event["state"]["error"]["Cause"] = json!(cause[..cut.unwrap_or(len)]);
    (event, len)
}

#[tokio::test]
async fn a_cause_cut_anywhere_never_publishes_its_container_environment() {
    let (event, len) = failure_with_secret_cut_at(None);
    let cause = event["state"]["error"]["Cause"]
        .as_str()
        .unwrap()
        .to_string();
    let environment = cause.find(r#""Environment""#).unwrap();
    let value = cause.find(SECRET).unwrap();
    let mut inside_the_value = 0;
    for cut in environment..=len {
        inside_the_value += usize::from((value + 1..value + SECRET.len()).contains(&cut));
        let (event, _) = failure_with_secret_cut_at(Some(cut));
        for format in [BodyFormat::Document, BodyFormat::Chatbot] {
            let (publication, n) =
                publish_with(HandlerKind::Error, event.clone(), &(), format).await;
            let seen = visible(&publication);
            // Not even the part of the value before the cut.
            assert!(
                !seen.contains(&SECRET[..4]),
                "cut at {cut}, {format:?}:\n{seen}"
            );
            let error = n.error.unwrap();
            assert!(
                error
                    .message
                    .starts_with("Essential container in task exited"),
                "{}",
                error.message
            );
        }
    }
    assert_eq!(inside_the_value, SECRET.len() - 1);
}

#[tokio::test]
async fn reasons_that_quote_an_environment_value_are_redacted() {
    for cut_inside_the_value in [false, true] {
        let mut event = fixture("failed_nonzero_exit");
        event["state"]["metadata"]["env"]["DB_PASSWORD"] = json!(SECRET);
        let cause = event["state"]["error"]["Cause"]
            .as_str()
            .unwrap()
            .replace(
                "Essential container in task exited",
                &format!("bad password {SECRET}"),
            )
            .replacen(
                r#""Environment":["#,
                &format!(r#""Environment":[{{"Name":"DB_PASSWORD","Value":"{SECRET}"}},"#),
                1,
            );
        let end = if cut_inside_the_value {
            cause.find(&format!(r#""Value":"{SECRET}"#)).unwrap() + 12
        } else {
            cause.len()
        };
        event["state"]["error"]["Cause"] = json!(cause[..end]);
        for format in [BodyFormat::Document, BodyFormat::Chatbot] {
            let (publication, n) =
                publish_with(HandlerKind::Error, event.clone(), &(), format).await;
            let seen = visible(&publication);
            assert!(!seen.contains(&SECRET[..4]), "{format:?}:\n{seen}");
            assert!(
                n.error
                    .unwrap()
                    .message
                    .starts_with("bad password [redacted]"),
                "{seen}"
            );
        }
    }
}

#[tokio::test]
async fn a_success_record_never_publishes_its_container_environment() {
    let mut event = fixture("success");
    event["state"]["batch"]["Container"]["Environment"] =
        json!([{"Name": "DB_PASSWORD", "Value": SECRET}]);
    event["state"]["metadata"]["env"]["DB_PASSWORD"] = json!(SECRET);
    for format in [BodyFormat::Document, BodyFormat::Chatbot] {
        let (publication, _) = publish_with(HandlerKind::Success, event.clone(), &(), format).await;
        assert!(!visible(&publication).contains(SECRET), "{format:?}");
    }
}

#[tokio::test]
async fn a_malformed_environment_is_rejected_without_quoting_it() {
    for (env, path) in [
        (json!(SECRET), "state.metadata.env"),
        (
            json!({"DB_PASSWORD": [SECRET]}),
            "state.metadata.env.DB_PASSWORD",
        ),
    ] {
        let mut event = fixture("failed_oom");
        event["state"]["metadata"]["env"] = env;
        let err = handle(
            HandlerKind::Error,
            event,
            &Recorder::default(),
            &(),
            BodyFormat::Document,
        )
        .await
        .unwrap_err();
        let message = Diagnostic::from(err).error_message;
        assert_eq!(
            message,
            format!("invalid handler event at `{path}`: expected a map of names to string values (the value is withheld)")
        );
    }
}

#[tokio::test]
async fn malformed_events_name_what_is_wrong() {
    let cases = [
        (json!({"context": {}}), "InvalidEvent", "invalid handler event at `(root)`: missing field `state`"),
        (json!({"state": {"input": {}}}), "InvalidEvent", "invalid handler event at `state`: missing field `metadata`"),
        (json!({"state": {"metadata": {"app_name": 7, "stage": "s", "batch_name": "b", "job_name": "j"}}}),
            "InvalidEvent", "invalid handler event at `state.metadata.app_name`: invalid type: integer `7`, expected a string"),
        (json!({"state": {"metadata": {"app_name": "a", "stage": "s", "batch_name": "b", "job_name": "j"}, "batch": {"Attempts": "x"}}}),
            "InvalidEvent", "invalid handler event at `state.batch.Attempts`: invalid type: string \"x\", expected a sequence"),
        (json!("not an object"), "InvalidEvent", "invalid handler event at `(root)`: invalid type: string \"not an object\", expected struct HandlerEvent"),
    ];
    for (payload, error_type, message) in cases {
        let recorder = Recorder::default();
        let err = handle(
            HandlerKind::Success,
            payload,
            &recorder,
            &(),
            BodyFormat::Document,
        )
        .await
        .unwrap_err();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, error_type);
        assert_eq!(diagnostic.error_message, message);
        assert!(recorder.sent.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_failed_publish_is_an_error_never_a_success() {
    let recorder = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let err = handle(
        HandlerKind::Error,
        fixture("failed_oom"),
        &recorder,
        &(),
        BodyFormat::Document,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, HandlerError::Publish(_)));
    assert_eq!(Diagnostic::from(err).error_type, "PublishFailed");
}

#[test]
fn every_run_fixture_round_trips_through_the_typed_event() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if handlers::alarm::is_alarm(&raw) {
            continue;
        }
        let event = handlers::event::HandlerEvent::from_value(raw.clone()).unwrap();
        let again =
            handlers::event::HandlerEvent::from_value(serde_json::to_value(&event).unwrap())
                .unwrap();
        assert_eq!(event.state.metadata, again.state.metadata, "{path:?}");
        assert_eq!(event.state.batch, again.state.batch, "{path:?}");
        assert_eq!(
            raw["state"]["metadata"]["job_name"],
            event.state.metadata.job_name.as_str()
        );
    }
}
