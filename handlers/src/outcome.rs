//! What happened to the job, read from the Batch result or the caught error.
//!
//! The error handler must report every failure it is given, however odd the
//! `Cause`: a JSON job record (possibly truncated), Java-SDK style text from a
//! rejected `SubmitJob`, a Lambda error payload from the success handler, or
//! nothing at all. Classification never fails; it reports what it could read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{BatchJob, CaughtError};

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
    /// The job succeeded but the success handler failed.
    HandlerFailed,
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

const BATCH_TIMEOUT_REASON: &str = "Job attempt duration exceeded timeout";
const UNKNOWN_ERROR: &str = "Unknown";

impl Failure {
    /// Reads a caught error. Never fails.
    pub fn classify(caught: Option<&CaughtError>) -> Failure {
        let error = caught
            .and_then(|c| c.error.clone())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| UNKNOWN_ERROR.to_string());
        let cause = caught.and_then(|c| c.cause.as_ref()).map(cause_text);
        let cause = cause.as_deref().unwrap_or("").trim();

        if let Some(job) = parse_job_record(cause) {
            return Failure::from_job(error, job);
        }
        if let Some((error_type, message)) = parse_lambda_error(cause) {
            return Failure {
                kind: if is_timeout(&error) || is_timeout(&error_type) {
                    FailureKind::Timeout
                } else {
                    FailureKind::HandlerFailed
                },
                message: format!("success handler failed: {error_type}: {message}"),
                error,
                job: None,
                job_id_hint: None,
            };
        }
        if cause.starts_with('{') {
            // A job record cut short (Cause is capped at 32 KiB): salvage the
            // fields that matter and let enrichment fill in the rest.
            let job_id = string_field(cause, "JobId");
            if job_id.is_some() || string_field(cause, "Status").is_some() {
                let job = BatchJob {
                    job_id: job_id.clone(),
                    job_name: string_field(cause, "JobName"),
                    status: string_field(cause, "Status"),
                    status_reason: string_field(cause, "StatusReason"),
                    ..BatchJob::default()
                };
                let mut failure = Failure::from_job(error, job);
                failure.message = format!("{} (cause truncated)", failure.message);
                failure.job = None;
                failure.job_id_hint = job_id;
                return failure;
            }
        }

        let kind = if is_timeout(&error) {
            FailureKind::Timeout
        } else if error.starts_with("Batch.") {
            FailureKind::SubmitRejected
        } else if error.starts_with("Lambda.") {
            FailureKind::HandlerFailed
        } else {
            FailureKind::Other
        };
        let summary = strip_sdk_boilerplate(cause);
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

/// "status reason; container reason; exit code N", skipping what is absent.
pub fn job_summary(job: &BatchJob) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = job.status_reason.as_deref().filter(|r| !r.is_empty()) {
        parts.push(reason.to_string());
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

fn parse_job_record(cause: &str) -> Option<BatchJob> {
    let value: Value = serde_json::from_str(cause).ok()?;
    let object = value.as_object()?;
    if !(object.contains_key("JobId") || object.contains_key("JobArn")) {
        return None;
    }
    serde_json::from_value(value).ok()
}

fn parse_lambda_error(cause: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(cause).ok()?;
    let error_type = value.get("errorType")?.as_str()?.to_string();
    let message = value
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((error_type, message))
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

/// Reads `"Key":"value"` from JSON text that may not parse as a whole.
fn string_field(text: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\":\"");
    let start = text.find(&needle)? + needle.len();
    let mut out = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caught(error: &str, cause: &str) -> CaughtError {
        CaughtError {
            error: Some(error.into()),
            cause: Some(Value::String(cause.into())),
        }
    }

    #[test]
    fn sdk_text_is_stripped_to_its_message() {
        let f = Failure::classify(Some(&caught(
            "Batch.ClientException",
            "JobQueue q not found. (Service: AWSBatch; Status Code: 400; Error Code: ClientException; Request ID: 1; Proxy: null)",
        )));
        assert_eq!(f.kind, FailureKind::SubmitRejected);
        assert_eq!(f.message, "job submission rejected: JobQueue q not found.");
    }

    #[test]
    fn null_sdk_message_falls_back_to_the_error_code() {
        let f = Failure::classify(Some(&caught(
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
        let f = Failure::classify(Some(&caught("States.TaskFailed", cause)));
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
        let f = Failure::classify(None);
        assert_eq!(f.error, "Unknown");
        assert_eq!(f.kind, FailureKind::Other);
        assert_eq!(f.message, "Unknown (no cause given)");
    }

    #[test]
    fn non_string_cause_is_reported_as_json() {
        let f = Failure::classify(Some(&CaughtError {
            error: Some("Custom.Error".into()),
            cause: Some(json!({"detail": 1})),
        }));
        assert_eq!(f.kind, FailureKind::Other);
        assert_eq!(f.message, r#"{"detail":1}"#);
    }

    #[test]
    fn lambda_timeout_payload_is_a_timeout() {
        let f = Failure::classify(Some(&caught(
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
        let f = Failure::classify(Some(&caught("States.TaskFailed", &cause)));
        assert_eq!(f.kind, FailureKind::Timeout);
        assert_eq!(
            f.message,
            "Job attempt duration exceeded timeout; exit code 137"
        );
    }
}
