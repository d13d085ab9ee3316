//! The notification document, schema version "1": the SNS message body for
//! machine subscribers (SQS, Lambda, HTTPS, Firehose). Its shape is the
//! contract documented in the README; fields are added, never renamed.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::alarm::AlarmChange;
use crate::event::{ArrayProperties, BatchJob, HandlerEvent};
use crate::links;
use crate::outcome::{Failure, FailureKind};
use crate::redact::EnvValues;

pub const SCHEMA_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Succeeded,
    Failed,
    /// The run started no job: an earlier one was still running.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Skipped => "SKIPPED",
        }
    }
}

/// The error name of a skipped run's notification.
pub const SKIPPED_ERROR: &str = "sjob.Skipped";
/// The error names of the missed-run alarm's notifications.
pub const MISSED_ERROR: &str = "sjob.Missed";
pub const RECOVERED_ERROR: &str = "sjob.Recovered";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub version: String,
    pub notification_id: String,
    pub status: Status,
    pub app_name: String,
    pub stage: String,
    pub batch_name: String,
    pub job_name: String,
    pub execution: Execution,
    pub batch_job: Option<BatchJobSummary>,
    pub error: Option<ErrorSummary>,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub started_at: Option<String>,
    pub state_machine: Option<String>,
    pub console_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchJobSummary {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub status_reason: Option<String>,
    pub exit_code: Option<i64>,
    pub attempts: usize,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub log_stream: Option<String>,
    pub log_url: Option<String>,
    /// An array job: what its children did. Absent for other jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<ArraySummary>,
}

/// The children of an array job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArraySummary {
    pub size: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Batch's count of children in each job status.
    pub status_summary: BTreeMap<String, u64>,
    /// The FAILED children's indexes, ascending; `null` when Batch could not
    /// be asked (enrichment off, or it did not answer in time). Only the
    /// first ones are listed when all would not fit SNS's message limit.
    pub failed_indexes: Option<Vec<u64>>,
}

impl ArraySummary {
    fn of(array: &ArrayProperties) -> ArraySummary {
        let failed = array.count("FAILED");
        ArraySummary {
            size: array.size.unwrap_or_default(),
            succeeded: array.count("SUCCEEDED"),
            failed,
            status_summary: array.status_summary.clone(),
            failed_indexes: (failed == 0).then(Vec::new),
        }
    }

    /// `2 of 3 succeeded, 1 failed (index 1)`, for people.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} of {} succeeded, {} failed",
            self.succeeded, self.size, self.failed
        );
        if let Some(indexes) = self.failed_indexes.as_deref().filter(|i| !i.is_empty()) {
            let label = if indexes.len() == 1 {
                "index"
            } else {
                "indexes"
            };
            text.push_str(&format!(" ({label} {})", ranges(indexes)));
        }
        text
    }
}

/// Ascending numbers as runs: `0, 2-4, 9`.
fn ranges(sorted: &[u64]) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &n in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub error: String,
    pub kind: FailureKind,
    pub message: String,
}

impl Notification {
    /// A success: the job record is the Batch task's result.
    pub fn succeeded(event: &HandlerEvent) -> Notification {
        Notification::build(event, Status::Succeeded, event.state.batch.as_ref(), None)
    }

    /// A run that started no job because an earlier one was running; the
    /// error names that execution.
    pub fn skipped(event: &HandlerEvent) -> Notification {
        let running = event
            .state
            .skipped
            .as_ref()
            .and_then(|s| s.running_execution.as_deref())
            .unwrap_or("unknown");
        let error = ErrorSummary {
            error: SKIPPED_ERROR.to_string(),
            kind: FailureKind::Skipped,
            message: format!("an earlier execution is still running: {running}"),
        };
        Notification::build(event, Status::Skipped, None, Some(error))
    }

    /// The missed-run alarm changed state: no run succeeded within the
    /// window (FAILED, `missed`), or one did again (SUCCEEDED, `recovered`).
    /// There is no execution or job to report.
    pub fn alarm(change: &AlarmChange) -> Notification {
        let identity = &change.identity;
        let (status, error, kind, message) = if change.missed {
            (
                Status::Failed,
                MISSED_ERROR,
                FailureKind::Missed,
                format!("no successful run within {}", identity.window),
            )
        } else {
            (
                Status::Succeeded,
                RECOVERED_ERROR,
                FailureKind::Recovered,
                format!(
                    "a run succeeded again after none did within {}",
                    identity.window
                ),
            )
        };
        let mut hasher = Sha256::new();
        for part in [
            change.alarm_arn.as_deref().unwrap_or(&identity.job_name),
            &change.changed_at,
            status.as_str(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update(b"\n");
        }
        Notification {
            version: SCHEMA_VERSION.to_string(),
            notification_id: uuid_shaped(&hasher.finalize()[..16]),
            status,
            app_name: identity.app_name.clone(),
            stage: identity.stage.clone(),
            batch_name: identity.batch_name.clone(),
            job_name: identity.job_name.clone(),
            execution: Execution {
                arn: None,
                name: None,
                started_at: None,
                state_machine: change.state_machine_arn.clone(),
                console_url: None,
            },
            batch_job: None,
            error: Some(ErrorSummary {
                error: error.to_string(),
                kind,
                message: format!("{message} ({})", change.reason),
            }),
            input: Value::Null,
        }
    }

    pub fn failed(event: &HandlerEvent, failure: &Failure) -> Notification {
        let error = ErrorSummary {
            error: failure.error.clone(),
            kind: failure.kind,
            message: failure.message.clone(),
        };
        Notification::build(event, Status::Failed, failure.job.as_ref(), Some(error))
    }

    fn build(
        event: &HandlerEvent,
        status: Status,
        job: Option<&BatchJob>,
        error: Option<ErrorSummary>,
    ) -> Notification {
        let metadata = &event.state.metadata;
        let context = event.context.clone().unwrap_or_default();
        let execution = context.execution.unwrap_or_default();
        let arn = execution.id;
        let region = arn
            .as_deref()
            .or(job.and_then(|j| j.job_arn.as_deref()))
            .and_then(links::arn_region)
            .map(str::to_string);
        Notification {
            version: SCHEMA_VERSION.to_string(),
            notification_id: notification_id(event, arn.as_deref(), status),
            status,
            app_name: metadata.app_name.clone(),
            stage: metadata.stage.clone(),
            batch_name: metadata.batch_name.clone(),
            job_name: metadata.job_name.clone(),
            execution: Execution {
                console_url: arn.as_deref().and_then(links::execution_url),
                arn,
                name: execution.name,
                started_at: execution.start_time,
                state_machine: context.state_machine.and_then(|m| m.id.or(m.name)),
            },
            batch_job: job.map(|j| {
                let env = EnvValues::new(metadata.env.values().cloned());
                summarize(j, region.as_deref(), &env)
            }),
            error,
            input: event.state.input.clone(),
        }
    }
}

/// Same execution, redrive and outcome, same id: a retried invocation (or
/// the FIFO deduplication id built from it) never looks like a second event,
/// while a redriven execution that ends again does. An execution never
/// redriven keeps the id it had before redrives counted.
fn notification_id(event: &HandlerEvent, execution_arn: Option<&str>, status: Status) -> String {
    let mut hasher = Sha256::new();
    match execution_arn {
        Some(arn) => hasher.update(arn.as_bytes()),
        None => hasher.update(serde_json::to_vec(&event.state).unwrap_or_default()),
    }
    hasher.update(b"\n");
    hasher.update(status.as_str().as_bytes());
    let redrives = event
        .context
        .as_ref()
        .and_then(|c| c.execution.as_ref())
        .and_then(|e| e.redrive_count)
        .unwrap_or(0);
    if redrives > 0 {
        hasher.update(format!("\nredrive {redrives}").as_bytes());
    }
    uuid_shaped(&hasher.finalize()[..16])
}

/// 16 bytes written the way AWS writes ids: `8-4-4-4-12` hex digits.
pub fn uuid_shaped(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The job record's summary; its free text (`status_reason`, which Batch
/// writes and may quote a failing command with its environment) has the
/// job's environment values withheld, as the error's text has.
fn summarize(job: &BatchJob, region: Option<&str>, env: &EnvValues) -> BatchJobSummary {
    let started = job.started_at();
    let stopped = job.stopped_at();
    let log_stream = job.log_stream().map(str::to_string);
    BatchJobSummary {
        id: job.job_id.clone(),
        name: job.job_name.clone(),
        status: job.status.clone(),
        status_reason: job.status_reason.as_deref().map(|r| env.redact(r)),
        exit_code: job.exit_code(),
        attempts: job.attempts.len(),
        started_at: started.and_then(rfc3339),
        stopped_at: stopped.and_then(rfc3339),
        duration_seconds: match (started, stopped) {
            (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1000.0),
            _ => None,
        },
        log_url: match (region, log_stream.as_deref()) {
            (Some(region), Some(stream)) => {
                Some(links::log_stream_url(region, job.log_group(), stream))
            }
            _ => None,
        },
        log_stream,
        array: job.array_parent().map(ArraySummary::of),
    }
}

fn rfc3339(millis: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::message::{render, BodyFormat};

    fn failed_execution(redrive_count: Option<u64>) -> Notification {
        let mut execution =
            json!({"Id": "arn:aws:states:eu-west-1:1:execution:m:e1", "Name": "e1"});
        if let Some(count) = redrive_count {
            execution["RedriveCount"] = json!(count);
        }
        let event = HandlerEvent::from_value(json!({
            "state": {
                "metadata": {"app_name": "a", "stage": "s", "batch_name": "b", "job_name": "a-s-b"},
                "error": {"Error": "States.TaskFailed", "Cause": ""}
            },
            "context": {"Execution": execution}
        }))
        .unwrap();
        Notification::failed(
            &event,
            &Failure::classify(event.state.error.as_ref(), &Default::default()),
        )
    }

    #[test]
    fn a_retried_invocation_keeps_its_id() {
        assert_eq!(
            failed_execution(Some(2)).notification_id,
            failed_execution(Some(2)).notification_id
        );
        assert_eq!(
            failed_execution(None).notification_id,
            failed_execution(Some(0)).notification_id
        );
        // The id an execution had before redrives counted.
        let unchanged = Sha256::digest(b"arn:aws:states:eu-west-1:1:execution:m:e1\nFAILED");
        assert_eq!(
            failed_execution(Some(0)).notification_id,
            uuid_shaped(&unchanged[..16])
        );
    }

    /// The Batch result reaches the success notification, and the
    /// notification the error handler sends when the success handler
    /// failed: neither may quote the job's environment.
    #[test]
    fn the_batch_results_status_reason_withholds_the_job_environment() {
        let event = HandlerEvent::from_value(json!({
            "state": {
                "metadata": {
                    "app_name": "a", "stage": "s", "batch_name": "b", "job_name": "a-s-b",
                    "env": {"DB_PASSWORD": "hunter2-s3cr3t"}
                },
                "batch": {
                    "JobId": "j-1", "Status": "SUCCEEDED",
                    "StatusReason": "Essential container exited: psql -p hunter2-s3cr3t"
                }
            },
            "context": {"Execution": {"Id": "arn:aws:states:eu-west-1:1:execution:m:e1"}}
        }))
        .unwrap();
        let notification = Notification::succeeded(&event);
        let reason = notification.batch_job.unwrap().status_reason.unwrap();
        assert_eq!(reason, "Essential container exited: psql -p [redacted]");
    }

    #[test]
    fn failed_children_read_as_runs_of_indexes() {
        let mut array = ArraySummary {
            size: 10,
            succeeded: 5,
            failed: 5,
            status_summary: BTreeMap::new(),
            failed_indexes: Some(vec![0, 2, 3, 4, 9]),
        };
        assert_eq!(
            array.describe(),
            "5 of 10 succeeded, 5 failed (indexes 0, 2-4, 9)"
        );
        array.failed_indexes = None;
        assert_eq!(array.describe(), "5 of 10 succeeded, 5 failed");
    }

    #[test]
    fn a_redriven_execution_that_fails_again_is_a_new_alert() {
        let first = failed_execution(Some(0));
        let redriven = failed_execution(Some(1));
        let again = failed_execution(Some(2));
        assert_ne!(first.notification_id, redriven.notification_id);
        assert_ne!(redriven.notification_id, again.notification_id);
        let dedup = |n: &Notification| render(n, BodyFormat::Document).deduplication_id;
        assert_ne!(dedup(&first), dedup(&redriven));
        assert_eq!(dedup(&redriven), dedup(&failed_execution(Some(1))));
    }
}
