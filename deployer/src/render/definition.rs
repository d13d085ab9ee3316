//! The state machine: the seed's shape, so the handlers receive what the
//! seed's did, with its defects fixed:
//!
//! - the execution input reaches the container as `SJOB_INPUT` (JSON text),
//!   not as a Batch parameter (those must be a string map);
//! - `OnSuccess` retries transient Lambda errors and failed publishes before
//!   anything is reported as a failure;
//! - after `ErrorHandler` the execution ends in a `Fail` state, so Step
//!   Functions' own metrics and alarms count the failure.

use serde_json::{json, Value};

use handlers::event::Metadata;

use super::names::JobNames;
use super::Target;
use crate::config::Job;

/// The container variable holding the execution input as JSON text.
pub const INPUT_ENV: &str = "SJOB_INPUT";
/// The container variable holding the execution ARN.
pub const EXECUTION_ENV: &str = "SJOB_EXECUTION_ARN";
/// The error the final `Fail` state raises.
pub const JOB_FAILED_ERROR: &str = "sjob.JobFailed";

/// Errors worth retrying when invoking a handler: Lambda's transient ones and
/// the handlers' own `PublishFailed` (SNS unreachable after its retries).
const RETRYABLE_HANDLER_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "PublishFailed",
];

/// What `ExtractInputParameters` records about the job.
pub fn metadata(app_name: &str, stage: &str, job: &Job, names: &JobNames) -> Metadata {
    Metadata {
        app_name: app_name.to_string(),
        stage: stage.to_string(),
        batch_name: job.batch_name.clone(),
        job_name: names.job_name.clone(),
        command: job.command.clone(),
        vcpus: Some(job.vcpus.clone()),
        memory: Some(job.memory.clone()),
        image_uri: Some(job.image_uri.clone()),
        image_tag: Some(job.image_tag.clone()),
        env: job.env.clone(),
    }
}

/// The Amazon States Language document for one job.
pub fn definition(app_name: &str, stage: &str, job: &Job, target: &Target) -> Value {
    let names = JobNames::new(app_name, stage, &job.batch_name);
    let metadata =
        serde_json::to_value(metadata(app_name, stage, job, &names)).expect("metadata serialises");
    json!({
        "Comment": format!("sjob scheduled job {} ({app_name}/{stage})", job.batch_name),
        "StartAt": "ExtractInputParameters",
        "States": {
            "ExtractInputParameters": {
                "Type": "Pass",
                "Parameters": { "metadata": metadata, "input.$": "$" },
                "ResultPath": "$",
                "Next": "BatchGroup"
            },
            "BatchGroup": {
                "Type": "Parallel",
                "Branches": [{
                    "StartAt": "Batch",
                    "States": {
                        "Batch": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::batch:submitJob.sync",
                            "Parameters": {
                                "JobName": names.job_name,
                                "JobDefinition": target.job_definition_arn(&names.job_name),
                                "JobQueue": job.queue_arn(target),
                                "ContainerOverrides": {
                                    "Environment": [
                                        { "Name": INPUT_ENV, "Value.$": "States.JsonToString($.input)" },
                                        { "Name": EXECUTION_ENV, "Value.$": "$$.Execution.Id" }
                                    ]
                                }
                            },
                            "ResultPath": "$.batch",
                            "Next": "OnSuccess"
                        },
                        "OnSuccess": handler_task(&job.success_handler_arn(target), "$.success_handler", json!({"End": true}))
                    }
                }],
                "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ErrorHandler" }],
                "End": true
            },
            "ErrorHandler": handler_task(&job.error_handler_arn(target), "$.error_handler", json!({"Next": "JobFailed"})),
            "JobFailed": {
                "Type": "Fail",
                "Error": JOB_FAILED_ERROR,
                "Cause": "The job failed; the error handler sent the failure notification."
            }
        }
    })
}

/// A `lambda:invoke` of a handler with the seed's payload
/// `{"state.$": "$", "context.$": "$$"}`.
fn handler_task(function_arn: &str, result_path: &str, transition: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": { "state.$": "$", "context.$": "$$" }
        },
        "ResultSelector": { "Payload.$": "$.Payload" },
        "ResultPath": result_path,
        "Retry": [{
            "ErrorEquals": RETRYABLE_HANDLER_ERRORS,
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2
        }]
    });
    let object = task.as_object_mut().expect("a task is an object");
    object.extend(transition.as_object().cloned().unwrap_or_default());
    task
}
