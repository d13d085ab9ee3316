//! The execution input: how it reaches the job (`SJOB_INPUT`, JSON text in
//! a container override) and how large it may be to get there. `validate`,
//! `run`, `local run` and `simulate` refuse larger inputs before anything
//! starts.

use serde_json::Value;

/// The container variable holding the execution input as JSON text.
pub const INPUT_ENV: &str = "SJOB_INPUT";
/// The container variable holding the execution ARN.
pub const EXECUTION_ENV: &str = "SJOB_EXECUTION_ARN";

/// ECS's limit on a task's container overrides, which Batch on Fargate
/// passes `SJOB_INPUT` through: "A total of 8192 characters are allowed for
/// overrides. This limit includes the JSON formatting characters of the
/// override structure" (ECS API reference, `RunTask`).
pub const ECS_OVERRIDES_MAX_CHARS: usize = 8192;
/// What the overrides hold besides `SJOB_INPUT`'s value: their structure,
/// `SJOB_EXECUTION_ARN` (at most 80-character machine and execution names)
/// and the `AWS_BATCH_*` variables Batch adds to every task.
pub const OVERRIDES_RESERVED_CHARS: usize = 2048;
/// The largest execution input, in characters of its JSON text as the
/// overrides carry it (escaped inside a JSON string). Step Functions' own
/// limit (256 KiB per state) is far above: the handlers' payload carries the
/// input twice at most (`state.input`, and `SJOB_INPUT` in the job record).
pub const MAX_INPUT_CHARS: usize = ECS_OVERRIDES_MAX_CHARS - OVERRIDES_RESERVED_CHARS;

/// An execution input too large to reach the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the execution input is {chars} characters as the job receives it (`{INPUT_ENV}`, JSON-escaped); \
     at most {MAX_INPUT_CHARS} fit: ECS allows {ECS_OVERRIDES_MAX_CHARS} characters of container \
     overrides per task, and Batch and sjob need {OVERRIDES_RESERVED_CHARS} of them"
)]
pub struct InputTooLarge {
    pub chars: usize,
}

/// What to do about an input over the limit.
pub const INPUT_HELP: &str =
    "pass large data by reference: put it in S3 and give the job its URI in the input";

/// Refuses an execution input that would not fit the job's container
/// overrides: Batch would reject the run only after it started.
pub fn check_input(input: &Value) -> Result<(), InputTooLarge> {
    let escaped = Value::String(input.to_string()).to_string();
    let chars = escaped.chars().count() - 2;
    if chars > MAX_INPUT_CHARS {
        return Err(InputTooLarge { chars });
    }
    Ok(())
}
