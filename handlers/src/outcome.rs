//! What happened to the job, read from the Batch result or the caught error.
//!
//! The error handler must report every failure it is given, however odd the
//! `Cause`: a JSON job record (possibly truncated), Java-SDK style text from a
//! rejected `SubmitJob`, a Lambda error payload from the success handler, or
//! nothing at all. Classification never fails; it reports what it could read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{BatchJob, CaughtError};
use crate::json_prefix;
use crate::redact::EnvValues;

/// The closed set of failure kinds subscribers can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The Batch job ran (or tried to) and ended FAILED.
    JobFailed,
    /// A Step Functions, Batch or Lambda timeout.
    Timeout,
    /// Batch refused `SubmitJob`.
    SubmitRejected,
    /// A handler failed: the job succeeded but its success notification
    /// failed, or (in the last-resort notice) the error handler failed.
    HandlerFailed,
    /// Not a failure: the run started no job because an earlier one was
    /// still running (`overlap = "skip"`, status `SKIPPED`).
    Skipped,
    /// No run succeeded within `expect_success_within` (the missed-run
    /// alarm, status `FAILED`).
    Missed,
    /// Not a failure: a run succeeded again after a `missed` notification
    /// (status `SUCCEEDED`).
    Recovered,
    Other,
}

/// A failure as the notification reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The Step Functions error name, e.g. `States.TaskFailed`.
    pub error: String,
    pub kind: FailureKind,
    /// A short human summary.
    pub message: String,
    /// The job record, when the cause held one.
    pub job: Option<BatchJob>,
    /// A job id read from a cause too damaged to parse, for enrichment.
    pub job_id_hint: Option<String>,
}

const SUCCESS_HANDLER_FAILED: &str = "success handler failed";
const BATCH_TIMEOUT_REASON: &str = "Job attempt duration exceeded timeout";
const UNKNOWN_ERROR: &str = "Unknown";

impl Failure {
    /// Reads a caught error, withholding `env` and every environment the
    /// cause holds. Never fails.
    pub fn classify(caught: Option<&CaughtError>, env: &EnvValues) -> Failure {
        let error = caught
            .and_then(|c| c.error.clone())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| UNKNOWN_ERROR.to_string());
        let cause = caught.and_then(|c| c.cause.as_ref()).map(cause_text);
        let cause = cause.as_deref().unwrap_or("").trim();
        // Text such as `[ERROR] ...` starts like an array too.
        let array = || cause.starts_with('[') && serde_json::from_str::<Value>(cause).is_ok();
        if cause.starts_with('{') || array() {
            return Failure::from_json_cause(error, cause, env);
        }

        let kind = kind_of(&error);
        let summary = env.redact(&strip_sdk_boilerplate(cause));
        let message = match (kind, summary.is_empty()) {
            (FailureKind::Timeout, true) => "the task timed out".to_string(),
            (_, true) => format!("{error} (no cause given)"),
            (FailureKind::SubmitRejected, false) => format!("job submission rejected: {summary}"),
            (_, false) => summary,
        };
        Failure {
            error,
            kind,
            message,
            job: None,
            job_id_hint: None,
        }
    }

    /// A cause in JSON: a job record or a Lambda error payload, whole or cut
    /// short. Its text is never shown as it is, since it may hold the
    /// container's environment.
    fn from_json_cause(error: String, cause: &str, env: &EnvValues) -> Failure {
        let (tree, complete, cut_env_value) = match serde_json::from_str::<Value>(cause) {
            Ok(tree) => (tree, true, None),
            Err(_) => {
                let prefix = json_prefix::parse(cause);
                (
                    prefix.value.unwrap_or_default(),
                    false,
                    prefix.cut_env_value,
                )
            }
        };
        let env = env.with_tree(&tree, cut_env_value);
        let tree = env.scrub(tree);

        if complete {
            if let Some(job) = job_record(&tree) {
                return Failure::from_job(error, job);
            }
            if let Some((error_type, message)) = lambda_error(&tree) {
                return Failure {
                    kind: if is_timeout(&error) || is_timeout(&error_type) {
                        FailureKind::Timeout
                    } else {
                        FailureKind::HandlerFailed
                    },
                    message: format!("{SUCCESS_HANDLER_FAILED}: {error_type}: {message}"),
                    error,
                    job: None,
                    job_id_hint: None,
                };
            }
        }
        let damage = if complete {
            "cause unreadable"
        } else {
            "cause truncated"
        };
        if let Some(job) = salvaged_job(&tree) {
            // Enrichment fills in the rest when the job id survived.
            let mut failure = Failure::from_job(error, job);
            failure.message = format!("{} ({damage})", failure.message);
            failure.job = None;
            return failure;
        }
        let message = if complete {
            tree.to_string()
        } else {
            format!("{error} ({damage} before any job detail)")
        };
        Failure {
            kind: kind_of(&error),
            error,
            message,
            job: None,
            job_id_hint: None,
        }
    }

    /// A failure described by a Batch job record.
    pub fn from_job(error: String, job: BatchJob) -> Failure {
        let timed_out = job
            .status_reason
            .as_deref()
            .is_some_and(|r| r.contains(BATCH_TIMEOUT_REASON));
        Failure {
            error,
            kind: if timed_out {
                FailureKind::Timeout
            } else {
                FailureKind::JobFailed
            },
            message: job_summary(&job),
            job_id_hint: job.job_id.clone(),
            job: Some(job),
        }
    }

    /// The job succeeded (`job` is its record) and this is why its success
    /// notification failed for good: the job is not blamed.
    pub fn after_success(self, job: BatchJob) -> Failure {
        let message = if self.message.starts_with(SUCCESS_HANDLER_FAILED) {
            self.message
        } else {
            format!("{SUCCESS_HANDLER_FAILED}: {}", self.message)
        };
        Failure {
            error: self.error,
            kind: FailureKind::HandlerFailed,
            message: format!("the job succeeded; {message}"),
            job_id_hint: job.job_id.clone(),
            job: Some(job),
        }
    }

    /// Replaces a salvaged or missing job record with a described one.
    pub fn enrich(&mut self, job: BatchJob) {
        let enriched = Failure::from_job(self.error.clone(), job);
        if self.kind == FailureKind::JobFailed || self.kind == FailureKind::Timeout {
            self.kind = enriched.kind;
            self.message = enriched.message;
        }
        self.job = enriched.job;
    }

    /// Whether a `DescribeJobs` call could tell more than the cause did.
    pub fn wants_enrichment(&self) -> Option<&str> {
        match &self.job {
            Some(job) if job.status.is_some() => None,
            _ => self.job_id_hint.as_deref(),
        }
    }
}

/// "status reason; container reason; exit code N" (an array job's:
/// "status reason; F of N children failed"), skipping what is absent.
pub fn job_summary(job: &BatchJob) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = job.status_reason.as_deref().filter(|r| !r.is_empty()) {
        parts.push(reason.to_string());
    }
    if let Some(array) = job.array_parent() {
        parts.push(format!(
            "{} of {} children failed",
            array.count("FAILED"),
            array.size.unwrap_or_default()
        ));
    }
    if let Some(reason) = job.container_reason() {
        if !parts.iter().any(|p| p == reason) {
            parts.push(reason.to_string());
        }
    }
    if let Some(code) = job.exit_code() {
        parts.push(format!("exit code {code}"));
    }
    if parts.is_empty() {
        parts.push(format!(
            "job ended {}",
            job.status.as_deref().unwrap_or("without a status")
        ));
    }
    parts.join("; ")
}

fn is_timeout(error: &str) -> bool {
    matches!(
        error,
        "States.Timeout" | "States.HeartbeatTimeout" | "Sandbox.Timedout"
    )
}

fn cause_text(cause: &Value) -> String {
    match cause {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn kind_of(error: &str) -> FailureKind {
    if is_timeout(error) {
        FailureKind::Timeout
    } else if error.starts_with("Batch.") {
        FailureKind::SubmitRejected
    } else if error.starts_with("Lambda.") {
        FailureKind::HandlerFailed
    } else {
        FailureKind::Other
    }
}

fn job_record(tree: &Value) -> Option<BatchJob> {
    let object = tree.as_object()?;
    if !(object.contains_key("JobId") || object.contains_key("JobArn")) {
        return None;
    }
    serde_json::from_value(tree.clone()).ok()
}

fn lambda_error(tree: &Value) -> Option<(String, String)> {
    let error_type = tree.get("errorType")?.as_str()?.to_string();
    let message = tree
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((error_type, message))
}

/// The fields that matter of a job record that did not read whole: its id
/// (for enrichment), name, status and reason (the last attempt's, when the
/// job's own was cut off).
fn salvaged_job(tree: &Value) -> Option<BatchJob> {
    let text =
        |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let last_attempt = tree
        .get("Attempts")
        .and_then(Value::as_array)
        .and_then(|attempts| attempts.last());
    let job = BatchJob {
        job_id: text(tree, "JobId"),
        job_name: text(tree, "JobName"),
        status: text(tree, "Status"),
        status_reason: text(tree, "StatusReason")
            .or_else(|| last_attempt.and_then(|a| text(a, "StatusReason"))),
        ..BatchJob::default()
    };
    (job.job_id.is_some() || job.status.is_some() || job.status_reason.is_some()).then_some(job)
}

/// Drops the `(Service: ...; Status Code: ...; Request ID: ...)` suffix the
/// Java SDK appends inside Step Functions, and a literal `null` message.
fn strip_sdk_boilerplate(cause: &str) -> String {
    let Some(start) = cause.rfind(" (Service: ") else {
        return cause.to_string();
    };
    let message = cause[..start].trim();
    if message.is_empty() || message == "null" {
        let code = cause[start..]
            .split(';')
            .find_map(|part| part.trim().strip_prefix("Error Code: "))
            .unwrap_or("unknown error");
        return format!("{code} (no message)");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify(caught: Option<&CaughtError>) -> Failure {
        Failure::classify(caught, &EnvValues::default())
    }

    fn caught(error: &str, cause: &str) -> CaughtError {
        CaughtError {
            error: Some(error.into()),
            cause: Some(Value::String(cause.into())),
        }
    }

    #[test]
    fn sdk_text_is_stripped_to_its_message() {
        let f = classify(Some(&caught(
            "Batch.ClientException",
            "JobQueue q not found. (Service: AWSBatch; Status Code: 400; Error Code: ClientException; Request ID: 1; Proxy: null)",
        )));
        assert_eq!(f.kind, FailureKind::SubmitRejected);
        assert_eq!(f.message, "job submission rejected: JobQueue q not found.");
    }

    #[test]
    fn null_sdk_message_falls_back_to_the_error_code() {
        let f = classify(Some(&caught(
            "Batch.AWSBatchException",
            "null (Service: AWSBatch; Status Code: 429; Error Code: TooManyRequestsException; Request ID: 1; Proxy: null)",
        )));
        assert_eq!(
            f.message,
            "job submission rejected: TooManyRequestsException (no message)"
        );
    }

    #[test]
    fn truncated_job_record_keeps_the_job_id() {
        let cause = r#"{"Attempts":[],"JobId":"abc-1","JobName":"j","Status":"FAILED","StatusReason":"Task failed to start","Container":{"Command":["x"#;
        let f = classify(Some(&caught("States.TaskFailed", cause)));
        assert_eq!(f.kind, FailureKind::JobFailed);
        assert_eq!(f.job_id_hint.as_deref(), Some("abc-1"));
        assert!(
            f.message.starts_with("Task failed to start"),
            "{}",
            f.message
        );
        assert!(f.job.is_none());
        assert_eq!(f.wants_enrichment(), Some("abc-1"));
    }

    #[test]
    fn missing_error_and_cause_are_reported_not_fatal() {
        let f = classify(None);
        assert_eq!(f.error, "Unknown");
        assert_eq!(f.kind, FailureKind::Other);
        assert_eq!(f.message, "Unknown (no cause given)");
    }

    #[test]
    fn non_string_cause_is_reported_as_json() {
        let f = classify(Some(&CaughtError {
            error: Some("Custom.Error".into()),
            cause: Some(json!({"detail": 1})),
        }));
        assert_eq!(f.kind, FailureKind::Other);
        assert_eq!(f.message, r#"{"detail":1}"#);
    }

    #[test]
    fn lambda_timeout_payload_is_a_timeout() {
        let f = classify(Some(&caught(
            "Sandbox.Timedout",
            r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 1 Error: Task timed out after 3.00 seconds"}"#,
        )));
        assert_eq!(f.kind, FailureKind::Timeout);
    }

    #[test]
    fn batch_attempt_timeout_is_a_timeout() {
        let cause = json!({"JobId": "j1", "Status": "FAILED",
            "StatusReason": "Job attempt duration exceeded timeout",
            "Attempts": [{"Container": {"ExitCode": 137}}]})
        .to_string();
        let f = classify(Some(&caught("States.TaskFailed", &cause)));
        assert_eq!(f.kind, FailureKind::Timeout);
        assert_eq!(
            f.message,
            "Job attempt duration exceeded timeout; exit code 137"
        );
    }

    const SECRET: &str = "hunter2-secret";

    /// A failed job's record as Batch writes it (keys in order), holding
    /// `DB_PASSWORD` in its container environment.
    fn record_with_secret(reason: &str) -> String {
        json!({
            "Attempts": [{"Container": {"ExitCode": 1}, "StatusReason": reason}],
            "Container": {"Command": ["python", "job.py"],
                          "Environment": [{"Name": "DB_PASSWORD", "Value": SECRET},
                                          {"Name": "STAGE", "Value": "prod"}],
                          "ExitCode": 1},
            "JobId": "job-1", "JobName": "acme-prod-job", "Status": "FAILED",
            "StatusReason": reason
        })
        .to_string()
    }

    #[test]
    fn a_record_cut_inside_the_environment_is_read_but_never_shown() {
        let record = record_with_secret("Essential container in task exited");
        let inside_value = record.find(SECRET).unwrap() + 7;
        let f = classify(Some(&caught("States.TaskFailed", &record[..inside_value])));
        assert_eq!(
            f.message,
            "Essential container in task exited (cause truncated)"
        );
        assert_eq!(f.kind, FailureKind::JobFailed);
        assert_eq!(f.job_id_hint, None);

        let before_attempts =
            r#"{"Container":{"Environment":[{"Name":"DB_PASSWORD","Value":"hunter2-secret"}],"Ima"#;
        let f = classify(Some(&caught("States.TaskFailed", before_attempts)));
        assert_eq!(
            f.message,
            "States.TaskFailed (cause truncated before any job detail)"
        );
        assert_eq!(f.kind, FailureKind::Other);
    }

    #[test]
    fn a_reason_quoting_an_environment_value_is_redacted() {
        let reason = format!("login refused for {SECRET}");
        let record = record_with_secret(&reason);
        let f = classify(Some(&caught("States.TaskFailed", &record)));
        assert_eq!(f.message, "login refused for [redacted]; exit code 1");
        assert_eq!(
            f.job
                .unwrap()
                .last_attempt()
                .unwrap()
                .status_reason
                .as_deref(),
            Some("login refused for [redacted]")
        );

        // Cut inside the value: the part read is redacted, and the whole
        // value too when the job's configured environment names it.
        let value = record.find(r#""Value":"hunter2"#).unwrap() + r#""Value":""#.len();
        let cut = &record[..value + 11];
        let f = classify(Some(&caught("States.TaskFailed", cut)));
        assert_eq!(
            f.message,
            "login refused for [redacted]ret (cause truncated)"
        );
        let configured = EnvValues::new([SECRET]);
        let f = Failure::classify(Some(&caught("States.TaskFailed", cut)), &configured);
        assert_eq!(f.message, "login refused for [redacted] (cause truncated)");
    }

    #[test]
    fn text_that_only_starts_like_json_is_still_reported() {
        let f = classify(Some(&caught("Custom.Error", "[ERROR] KeyError: 'x'")));
        assert_eq!(f.message, "[ERROR] KeyError: 'x'");
        let f = classify(Some(&caught("Custom.Error", r#"[{"a":1}]"#)));
        assert_eq!(f.message, r#"[{"a":1}]"#);
    }

    #[test]
    fn text_and_whole_json_causes_withhold_the_environment() {
        let configured = EnvValues::new([SECRET]);
        let f = Failure::classify(
            Some(&caught(
                "Batch.ClientException",
                &format!("Bad override {SECRET}. (Service: AWSBatch; Status Code: 400; Error Code: ClientException; Request ID: 1)"),
            )),
            &configured,
        );
        assert_eq!(
            f.message,
            "job submission rejected: Bad override [redacted]."
        );

        let f = classify(Some(&CaughtError {
            error: Some("Custom.Error".into()),
            cause: Some(json!({"detail": SECRET, "environment": [{"name": "X", "value": SECRET}]})),
        }));
        assert_eq!(f.message, r#"{"detail":"[redacted]"}"#);

        let lambda = json!({"errorType": "PublishFailed", "errorMessage": format!("no {SECRET}")});
        let f = Failure::classify(
            Some(&caught("States.TaskFailed", &lambda.to_string())),
            &configured,
        );
        assert_eq!(
            f.message,
            "success handler failed: PublishFailed: no [redacted]"
        );
    }
}
