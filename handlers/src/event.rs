//! Typed view of the payload Step Functions sends to the handlers.
//!
//! Types are lenient on purpose: AWS adds fields over time and several of them
//! are only present for some outcomes, so everything the Pass state does not
//! guarantee is an `Option` and unknown keys are ignored. Structure is still
//! checked: a field of the wrong type is an error naming its path.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The Lambda event: `{"state.$": "$", "context.$": "$$"}` in the state machine.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HandlerEvent {
    pub state: State,
    #[serde(default)]
    pub context: Option<ExecutionContext>,
}

/// The state machine's data at the handler: what `ExtractInputParameters`
/// built, plus the Batch result (success) or the caught error (failure).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct State {
    pub metadata: Metadata,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
    /// Set when the run did not start its job (`overlap = "skip"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skipped>,
}

/// Why a run was skipped: the earlier execution still running.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Skipped {
    #[serde(default)]
    pub running_execution: Option<String>,
}

/// The job's static description, as the Pass state `ExtractInputParameters`
/// writes it. The deployer serialises this same type into the state machine,
/// so the two sides cannot drift.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Metadata {
    pub app_name: String,
    pub stage: String,
    pub batch_name: String,
    pub job_name: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub vcpus: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub memory: Option<String>,
    #[serde(default)]
    pub image_uri: Option<String>,
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What a Catch with `ResultPath: $.error` stores.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    /// Usually a string (JSON job record, SDK text, Lambda error payload or
    /// empty); kept as a value so an unexpected shape is still reported.
    #[serde(rename = "Cause", default)]
    pub cause: Option<Value>,
}

/// The `$$` context object.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionContext {
    #[serde(default)]
    pub execution: Option<ExecutionInfo>,
    #[serde(default)]
    pub state_machine: Option<StateMachineInfo>,
    #[serde(default)]
    pub state: Option<StateInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub redrive_count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachineInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub entered_time: Option<String>,
    #[serde(default)]
    pub retry_count: Option<u64>,
}

/// A Batch `DescribeJobs` record as Step Functions returns it: PascalCase
/// members, times as epoch milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchJob {
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub job_name: Option<String>,
    #[serde(default)]
    pub job_arn: Option<String>,
    #[serde(default)]
    pub job_queue: Option<String>,
    #[serde(default)]
    pub job_definition: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub container: Option<Container>,
    /// Set on an array job's parent (its size and its children's statuses)
    /// and on each child (its index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_properties: Option<ArrayProperties>,
    #[serde(default, deserialize_with = "epoch_millis")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "epoch_millis")]
    pub started_at: Option<i64>,
    #[serde(default, deserialize_with = "epoch_millis")]
    pub stopped_at: Option<i64>,
}

/// Batch's `ArrayPropertiesDetail`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArrayProperties {
    /// How many children the parent has.
    #[serde(default)]
    pub size: Option<u64>,
    /// How many children are in each job status (`SUCCEEDED`, `FAILED`, ...).
    #[serde(default)]
    pub status_summary: BTreeMap<String, u64>,
    /// A child's index.
    #[serde(default)]
    pub index: Option<u64>,
}

impl ArrayProperties {
    /// How many children are in `status`.
    pub fn count(&self, status: &str) -> u64 {
        self.status_summary.get(status).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attempt {
    #[serde(default)]
    pub container: Option<Container>,
    #[serde(default, deserialize_with = "epoch_millis")]
    pub started_at: Option<i64>,
    #[serde(default, deserialize_with = "epoch_millis")]
    pub stopped_at: Option<i64>,
    #[serde(default)]
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub log_stream_name: Option<String>,
    #[serde(default)]
    pub log_configuration: Option<LogConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfiguration {
    #[serde(default)]
    pub log_driver: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Why an event could not be read: the JSON path and what was wrong there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid handler event at `{path}`: {reason}")]
pub struct InvalidEvent {
    pub path: String,
    pub reason: String,
}

const ENV_PATH: &str = "state.metadata.env";

/// Where Batch sends a container's output when its job definition names no
/// log group.
pub const DEFAULT_BATCH_LOG_GROUP: &str = "/aws/batch/job";

impl HandlerEvent {
    /// Parses a raw Lambda payload, naming the offending path on failure.
    pub fn from_value(payload: Value) -> Result<Self, InvalidEvent> {
        serde_path_to_error::deserialize(payload).map_err(|err| {
            let path = err.path().to_string();
            // Serde quotes the offending value, and the handler logs and
            // returns this message: an environment value must not be in it.
            let reason = if path == ENV_PATH || path.starts_with(&format!("{ENV_PATH}.")) {
                "expected a map of names to string values (the value is withheld)".to_string()
            } else {
                err.into_inner().to_string()
            };
            InvalidEvent {
                path: if path == "." { "(root)".into() } else { path },
                reason,
            }
        })
    }
}

impl BatchJob {
    /// The last attempt: with retries, it holds the outcome that counted.
    pub fn last_attempt(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// The container detail of the last attempt, or the job's top-level one.
    pub fn last_container(&self) -> Option<&Container> {
        self.last_attempt()
            .and_then(|a| a.container.as_ref())
            .or(self.container.as_ref())
    }

    pub fn exit_code(&self) -> Option<i64> {
        self.last_container()
            .and_then(|c| c.exit_code)
            .or_else(|| self.container.as_ref().and_then(|c| c.exit_code))
    }

    pub fn container_reason(&self) -> Option<&str> {
        self.last_container()
            .and_then(|c| c.reason.as_deref())
            .or_else(|| self.container.as_ref().and_then(|c| c.reason.as_deref()))
            .filter(|r| !r.is_empty())
    }

    pub fn log_stream(&self) -> Option<&str> {
        self.last_container()
            .and_then(|c| c.log_stream_name.as_deref())
            .or_else(|| {
                self.container
                    .as_ref()
                    .and_then(|c| c.log_stream_name.as_deref())
            })
    }

    /// The log group the job writes to: Batch's default unless the job
    /// definition set `awslogs-group`.
    pub fn log_group(&self) -> &str {
        self.container
            .as_ref()
            .and_then(|c| c.log_configuration.as_ref())
            .and_then(|l| l.options.get("awslogs-group"))
            .map(String::as_str)
            .unwrap_or(DEFAULT_BATCH_LOG_GROUP)
    }

    /// The parent of an array job: what its children did.
    pub fn array_parent(&self) -> Option<&ArrayProperties> {
        self.array_properties.as_ref().filter(|a| a.size.is_some())
    }

    pub fn started_at(&self) -> Option<i64> {
        self.last_attempt()
            .and_then(|a| a.started_at)
            .or(self.started_at)
    }

    pub fn stopped_at(&self) -> Option<i64> {
        self.last_attempt()
            .and_then(|a| a.stopped_at)
            .or(self.stopped_at)
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

/// Batch times are epoch milliseconds; accept numeric strings and RFC 3339
/// too, since hand-written and emulated events vary.
fn epoch_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(match value {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.parse::<i64>().ok().or_else(|| {
            chrono::DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(|t| t.timestamp_millis())
        }),
        _ => None,
    })
}
