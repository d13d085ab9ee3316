//! The state machine: the seed's shape (Pass, then a Parallel of the Batch
//! job and the success handler, whose Catch leads to the error handler), so
//! the handlers receive what the seed's did, with its defects fixed:
//!
//! - the execution input reaches the container as `SJOB_INPUT` (JSON text),
//!   not as a Batch parameter (those must be a string map), and is bounded so
//!   every payload downstream stays within AWS's limits
//!   ([`crate::input::check_input`]);
//! - a success notification that fails for good is caught inside the branch,
//!   where the Batch result still is: the error handler reports "the job
//!   succeeded, its notification did not", and the execution fails with
//!   [`NOTIFICATION_FAILED_ERROR`], never [`JOB_FAILED_ERROR`];
//! - if the error handler fails too, Step Functions publishes a short
//!   schema-v1 notice to the topic itself (the last resort), so a run never
//!   ends unreported while anything can still be sent;
//! - handlers are retried on transient Lambda errors and, a bounded few
//!   times, on crashes (`Lambda.Unknown`: a timeout or running out of memory);
//! - the handlers get the context object without `Execution.Input`: the input
//!   reaches them once, in `state.input`;
//! - every run ends in a `Succeed` or a `Fail` state whose error names the
//!   outcome, so Step Functions' own metrics and alarms count failures;
//! - `run_timeout_seconds` caps the Batch task, queue time included: its
//!   `States.Timeout` is caught like any job failure (a cap on the whole
//!   state machine could not be caught, and no one would be told), and Step
//!   Functions stops the job whose task ended;
//! - `array_size` submits an array job: `.sync` waits for the parent, which
//!   fails when any child fails, so one notification covers every child.
//!
//! Uncatchable errors (`States.DataLimitExceeded`, `States.Runtime`) are
//! avoided by construction: inputs are bounded, and every path the definition
//! reads exists on the path that reads it.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use handlers::event::Metadata;
use handlers::notification::{ErrorSummary, Execution, Notification, Status, SCHEMA_VERSION};
use handlers::outcome::FailureKind;

use crate::config::{Job, Overlap};
use crate::input::{EXECUTION_ENV, INPUT_ENV};
use crate::model::{CLAIM_HOLDER, CLAIM_KEY};
use crate::names::JobNames;
use crate::target::Target;

/// The job failed; the error handler sent the failure notification.
pub const JOB_FAILED_ERROR: &str = "sjob.JobFailed";
/// The job succeeded but its success notification failed; the error handler
/// sent a `handler_failed` notification saying so.
pub const NOTIFICATION_FAILED_ERROR: &str = "sjob.NotificationFailed";
/// The error handler failed; Step Functions published the last-resort notice.
pub const HANDLERS_FAILED_ERROR: &str = "sjob.HandlersFailed";
/// Nothing could be sent: the error handler failed, and the last resort
/// failed too or has no topic to publish to.
pub const UNNOTIFIED_ERROR: &str = "sjob.Unnotified";

/// The state that invokes the success handler for a skipped run.
pub const NOTIFY_SKIPPED_STATE: &str = "NotifySkipped";

/// The state a skipped run ends in: SUCCEEDED, holding no claim.
const SKIPPED_STATE: &str = "Skipped";

/// The error of a DynamoDB write whose condition was false.
const CONDITION_FAILED: &str = "DynamoDB.ConditionalCheckFailedException";
/// DescribeExecution's error for an execution it does not know.
const HOLDER_UNKNOWN: &str = "Sfn.ExecutionDoesNotExistException";

/// Transient Lambda errors (AWS's recommended Retry list) and the handlers'
/// own `PublishFailed` (SNS unreachable after its retries).
const TRANSIENT_HANDLER_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "PublishFailed",
];

/// A handler that crashed: timed out or ran out of memory. Worth a retry or
/// two, not six.
const CRASHED_HANDLER_ERRORS: &[&str] = &[
    "Lambda.Unknown",
    "Lambda.ClientExecutionTimeoutException",
    "Sandbox.Timedout",
];

/// What `ExtractInputParameters` records about the job.
pub fn metadata(app_name: &str, stage: &str, job: &Job, names: &JobNames) -> Metadata {
    Metadata {
        app_name: app_name.to_string(),
        stage: stage.to_string(),
        batch_name: job.batch_name.clone(),
        job_name: names.job_name.clone(),
        command: job.container.command.clone(),
        vcpus: Some(job.container.vcpus.to_string()),
        memory: Some(job.container.memory_mib.to_string()),
        image_uri: Some(job.container.image_uri.clone()),
        image_tag: Some(job.container.image_tag.clone()),
        env: job.container.env.clone(),
    }
}

/// A choice of the job's that decides which states and members its state
/// machine has, not only their values. A job makes each or not
/// ([`Shape::of`]); the Terraform module's one template holds every
/// combination, each part under the condition the module decides it by
/// (`crate::terraform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Choice {
    /// `overlap = "skip"`: the claim states, and a release before every end.
    Skip,
    /// `notify_on_skip`: a skipped run notifies through the success handler.
    NotifyOnSkip,
    /// A FIFO topic: the last resort's publish names a message group and a
    /// deduplication id.
    FifoTopic,
}

impl Choice {
    /// Every choice, in the order the template branches on them.
    pub const ALL: [Choice; 3] = [Choice::Skip, Choice::NotifyOnSkip, Choice::FifoTopic];
}

/// The choices one state machine makes.
#[derive(Debug)]
pub struct Shape(BTreeSet<Choice>);

impl Shape {
    /// The choices `job` makes.
    pub fn of(job: &Job, target: &Target) -> Shape {
        let fifo_topic = job
            .notification_topic_arn(target)
            .is_some_and(|topic| topic.ends_with(".fifo"));
        [
            (Choice::Skip, job.run.overlap == Overlap::Skip),
            (Choice::NotifyOnSkip, job.notification.notify_on_skip),
            (Choice::FifoTopic, fifo_topic),
        ]
        .into_iter()
        .filter_map(|(choice, made)| made.then_some(choice))
        .collect()
    }

    fn has(&self, choice: Choice) -> bool {
        self.0.contains(&choice)
    }
}

impl FromIterator<Choice> for Shape {
    fn from_iter<I: IntoIterator<Item = Choice>>(choices: I) -> Shape {
        Shape(choices.into_iter().collect())
    }
}

/// The Amazon States Language document for one job.
pub fn definition(app_name: &str, stage: &str, job: &Job, target: &Target) -> Value {
    definition_of_shape(app_name, stage, job, target, &Shape::of(job, target))
}

/// [`definition`] in `shape`, whatever choices the job makes: the
/// Terraform template is made from every shape of one job.
pub fn definition_of_shape(
    app_name: &str,
    stage: &str,
    job: &Job,
    target: &Target,
    shape: &Shape,
) -> Value {
    let names = JobNames::new(app_name, stage, &job.batch_name);
    let metadata = metadata(app_name, stage, job, &names);
    let topic = job.notification_topic_arn(target);
    let metadata_value = serde_json::to_value(&metadata).expect("metadata serialises");
    let mut states = json!({
        "ExtractInputParameters": {
            "Type": "Pass",
            "Parameters": { "metadata": metadata_value, "input.$": "$" },
            "ResultPath": "$",
            "Next": if shape.has(Choice::Skip) { "Claim" } else { "BatchGroup" }
        },
        "BatchGroup": {
            "Type": "Parallel",
            "Branches": [{
                "StartAt": "Batch",
                "States": {
                    "Batch": {
                        "Type": "Task",
                        "Resource": target.integration("batch:submitJob.sync"),
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
                    "OnSuccess": handler_task(
                        target,
                        &job.success_handler_arn(target),
                        "$.success_handler",
                        json!({ "Catch": [catch_all("$.error", "SuccessNotificationFailed")], "End": true })
                    ),
                    // Ends the branch with the Batch result and the caught
                    // error side by side, for the error handler.
                    "SuccessNotificationFailed": { "Type": "Pass", "End": true }
                }
            }],
            "OutputPath": "$[0]",
            "Catch": [catch_all("$.error", "ErrorHandler")],
            "Next": "Notified"
        },
        "Notified": {
            "Type": "Choice",
            "Choices": [{ "Variable": "$.error", "IsPresent": true, "Next": "ErrorHandler" }],
            "Default": "Succeeded"
        },
        "Succeeded": { "Type": "Succeed" },
        "ErrorHandler": handler_task(
            target,
            &job.error_handler_arn(target),
            "$.error_handler",
            json!({
                "Catch": [catch_all(
                    "$.notification_error",
                    if topic.is_some() { "ComposeNotice" } else { "Unnotified" }
                )],
                "Next": "WhatFailed"
            })
        ),
        "WhatFailed": {
            "Type": "Choice",
            "Choices": [{ "Variable": "$.batch", "IsPresent": true, "Next": "NotificationFailed" }],
            "Default": "JobFailed"
        },
        "JobFailed": fail(JOB_FAILED_ERROR, "The job failed; the error handler sent the failure notification."),
        "NotificationFailed": fail(
            NOTIFICATION_FAILED_ERROR,
            "The job succeeded but its success notification failed; the error handler sent a notification saying so."
        ),
        "Unnotified": fail(
            UNNOTIFIED_ERROR,
            "The error handler failed and no notice could be published: no one was told of this run."
        )
    });
    let batch = &mut states["BatchGroup"]["Branches"][0]["States"]["Batch"];
    if let Some(seconds) = job.run.run_timeout_seconds {
        batch["TimeoutSeconds"] = json!(seconds);
    }
    if let Some(size) = job.run.array_size {
        batch["Parameters"]["ArrayProperties"] = json!({ "Size": size });
    }
    if let Some(topic) = topic {
        let object = states.as_object_mut().expect("states are an object");
        let fifo = shape.has(Choice::FifoTopic);
        object.extend(last_resort(&metadata, &topic, fifo, target));
    }
    if shape.has(Choice::Skip) {
        let object = states.as_object_mut().expect("states are an object");
        release_before_every_end(object, &names, target);
        let notify = shape.has(Choice::NotifyOnSkip);
        object.extend(claim_or_skip(job, notify, &names, target));
    }
    json!({
        "Comment": format!("sjob scheduled job {} ({app_name}/{stage})", job.batch_name),
        "StartAt": "ExtractInputParameters",
        "States": states
    })
}

/// `overlap = "skip"`: before the job, the run claims it, and after, on
/// every way it ends but the skip, it releases the claim.
///
/// The claim is one item in a DynamoDB table of the job's own
/// ([`JobNames::claim_table`]), naming the execution that holds it.
/// It is exact because every step that decides rests on a strongly
/// consistent, atomic DynamoDB operation, never on a listing:
///
/// - `Claim` writes the item only if there is none (or it already names
///   this run: a retried write whose answer was lost). DynamoDB applies
///   conditional writes to one item one at a time, so of runs started in
///   the same instant exactly one writes it; the others get
///   `DynamoDB.ConditionalCheckFailedException`.
/// - Those read the holder (`ReadClaim`, a consistent read) and its
///   execution (`ReadHolder`, DescribeExecution). A holder that is RUNNING
///   (or about to run again, PENDING_REDRIVE) means this run is skipped: it
///   ends SUCCEEDED, recording the holder as `skipped.running_execution`,
///   after a `SKIPPED` notification with `notify_on_skip` (`notify`).
/// - A holder that is no longer running (stopped by hand, or ended by an
///   error no Catch sees, so it never released) is taken over at once
///   (`TakeOver`): the item is replaced only if it still names that holder,
///   so of two runs taking over, one wins and the other reads the winner
///   again. A claim that has been released since the read is claimed
///   again. Each such loop means another run changed the claim between two
///   of this run's reads, so it ends as soon as runs stop starting.
/// - A holder DescribeExecution does not know is retried for 14 s first:
///   DescribeExecution is eventually consistent, and a run that has just
///   claimed may not be visible yet. One still unknown then (its history
///   expired, 90 days after it ended) is taken over.
///
/// No expiry is needed, and none could be computed (JSONPath has no
/// clock): a run's claim lasts exactly while its execution runs. An
/// execution that ends in any way either releases (below) or stops being
/// RUNNING, and then the next run takes the claim over; so a claim never
/// blocks a run once its holder has ended. The one window left is
/// DescribeExecution's own eventual consistency right after a stop: a run
/// started in that instant can read the stopped holder as RUNNING and be
/// skipped, never run beside it.
///
/// The release deletes the item only if it names this run. It comes before
/// each `Succeed` and `Fail` state but `Skipped`: after the job and its
/// notification, after the error handler, and on the last resort's paths.
/// A release that fails (after its retries) does not change how the run
/// ends: the error is kept in the run's state (`release_error`, in the
/// execution's history and a successful run's output), and the claim, whose
/// holder has then ended, is taken over by the next run. A run that never
/// held the claim (its claim failed and went to the error handler) finds
/// the condition false and ends as it would have.
fn claim_or_skip(job: &Job, notify: bool, names: &JobNames, target: &Target) -> Map<String, Value> {
    let skipped_next = if notify {
        NOTIFY_SKIPPED_STATE
    } else {
        SKIPPED_STATE
    };
    let table = &names.claim_table;
    let key = json!({ CLAIM_KEY: { "S": names.job_name } });
    let claimed_by_this_run = json!({
        CLAIM_KEY: { "S": names.job_name },
        CLAIM_HOLDER: { "S.$": "$$.Execution.Id" }
    });
    let holder_name = json!({ "#holder": CLAIM_HOLDER });
    let this_run = json!({ ":this": { "S.$": "$$.Execution.Id" } });
    let claim_write = |condition: &str, values: Value, next: &str| {
        json!({
            "Type": "Task",
            "Resource": target.integration("dynamodb:putItem"),
            "Parameters": {
                "TableName": table,
                "Item": claimed_by_this_run,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": holder_name,
                "ExpressionAttributeValues": values
            },
            "ResultPath": null,
            "Retry": dynamodb_retry(),
            "Catch": [
                { "ErrorEquals": [CONDITION_FAILED], "ResultPath": null, "Next": "ReadClaim" },
                catch_all("$.error", "ErrorHandler")
            ],
            "Next": next
        })
    };
    let mut taken_over_values = this_run.clone();
    taken_over_values[":holder"] = json!({ "S.$": "$.claim.Item.holder.S" });
    let mut states = json!({
        "Claim": claim_write(
            "attribute_not_exists(#holder) OR #holder = :this",
            this_run.clone(),
            "Claimed"
        ),
        "ReadClaim": {
            "Type": "Task",
            "Resource": target.integration("dynamodb:getItem"),
            "Parameters": {
                "TableName": table,
                "Key": key,
                "ConsistentRead": true,
                "ProjectionExpression": "#holder",
                "ExpressionAttributeNames": holder_name
            },
            "ResultPath": "$.claim",
            "Retry": dynamodb_retry(),
            "Catch": [catch_all("$.error", "ErrorHandler")],
            "Next": "ClaimHeld"
        },
        // Released since the claim failed: claim again.
        "ClaimHeld": {
            "Type": "Choice",
            "Choices": [{ "Variable": "$.claim.Item.holder.S", "IsPresent": true, "Next": "ReadHolder" }],
            "Default": "Claim"
        },
        "ReadHolder": {
            "Type": "Task",
            "Resource": target.integration("aws-sdk:sfn:describeExecution"),
            "Parameters": { "ExecutionArn.$": "$.claim.Item.holder.S" },
            "ResultSelector": { "Status.$": "$.Status" },
            "ResultPath": "$.claim.holder_execution",
            "Retry": [
                { "ErrorEquals": [HOLDER_UNKNOWN], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2 },
                { "ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2 }
            ],
            "Catch": [
                { "ErrorEquals": [HOLDER_UNKNOWN], "ResultPath": null, "Next": "TakeOver" },
                catch_all("$.error", "ErrorHandler")
            ],
            "Next": "HolderRunning"
        },
        "HolderRunning": {
            "Type": "Choice",
            "Choices": [{
                "Or": [
                    { "Variable": "$.claim.holder_execution.Status", "StringEquals": "RUNNING" },
                    { "Variable": "$.claim.holder_execution.Status", "StringEquals": "PENDING_REDRIVE" }
                ],
                "Next": "SkipReason"
            }],
            "Default": "TakeOver"
        },
        "TakeOver": claim_write(
            "#holder = :holder OR #holder = :this",
            taken_over_values,
            "Claimed"
        ),
        // The run goes on with the state it had before the claim: the
        // handlers get what they get without `overlap`.
        "Claimed": {
            "Type": "Pass",
            "Parameters": { "metadata.$": "$.metadata", "input.$": "$.input" },
            "ResultPath": "$",
            "Next": "BatchGroup"
        },
        "SkipReason": {
            "Type": "Pass",
            "Parameters": {
                "metadata.$": "$.metadata",
                "input.$": "$.input",
                "skipped": { "running_execution.$": "$.claim.Item.holder.S" }
            },
            "ResultPath": "$",
            "Next": skipped_next
        },
        SKIPPED_STATE: { "Type": "Succeed" }
    });
    if notify {
        states[NOTIFY_SKIPPED_STATE] = handler_task(
            target,
            &job.success_handler_arn(target),
            "$.success_handler",
            json!({ "Next": SKIPPED_STATE }),
        );
    }
    states.as_object().cloned().expect("states are an object")
}

/// Puts a release of the claim before every `Succeed` and `Fail` state
/// but [`SKIPPED_STATE`]: each transition to one goes to
/// `Release{state}` instead, which then goes on to it.
fn release_before_every_end(states: &mut Map<String, Value>, names: &JobNames, target: &Target) {
    let ends: Vec<String> = states
        .iter()
        .filter(|(name, state)| {
            *name != SKIPPED_STATE && matches!(state["Type"].as_str(), Some("Succeed" | "Fail"))
        })
        .map(|(name, _)| name.clone())
        .collect();
    let release_name = |end: &str| format!("Release{end}");
    for state in states.values_mut() {
        for next in transitions(state) {
            if let Some(end) = next.as_str().filter(|n| ends.iter().any(|e| e == n)) {
                *next = Value::String(release_name(end));
            }
        }
    }
    for end in &ends {
        let release = json!({
            "Type": "Task",
            "Resource": target.integration("dynamodb:deleteItem"),
            "Parameters": {
                "TableName": names.claim_table,
                "Key": { CLAIM_KEY: { "S": names.job_name } },
                "ConditionExpression": "#holder = :this",
                "ExpressionAttributeNames": { "#holder": CLAIM_HOLDER },
                "ExpressionAttributeValues": { ":this": { "S.$": "$$.Execution.Id" } }
            },
            "ResultPath": null,
            "Retry": dynamodb_retry(),
            "Catch": [catch_all("$.release_error", end)],
            "Next": end
        });
        states.insert(release_name(end), release);
    }
}

/// Every place a state names the state that follows it: `Next`,
/// `Default`, and the `Next` of each choice and catcher.
fn transitions(state: &mut Value) -> Vec<&mut Value> {
    let Some(state) = state.as_object_mut() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (key, value) in state.iter_mut() {
        match key.as_str() {
            "Next" | "Default" => found.push(value),
            "Choices" | "Catch" => found.extend(
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter_map(|rule| rule.get_mut("Next")),
            ),
            _ => {}
        }
    }
    found
}

/// Retries of a DynamoDB call: none for a condition that failed (that is
/// an answer), a few for anything else (throttling, a service error).
fn dynamodb_retry() -> Value {
    json!([
        { "ErrorEquals": [CONDITION_FAILED], "MaxAttempts": 0 },
        { "ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2 }
    ])
}

/// A `lambda:invoke` of a handler: the state once, and of the context
/// object what the notification reads (not `Execution.Input`, which is the
/// state's `input` again).
fn handler_task(
    target: &Target,
    function_arn: &str,
    result_path: &str,
    transition: Value,
) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": target.integration("lambda:invoke"),
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                "state.$": "$",
                "context": {
                    "Execution": {
                        "Id.$": "$$.Execution.Id",
                        "Name.$": "$$.Execution.Name",
                        "StartTime.$": "$$.Execution.StartTime",
                        "RedriveCount.$": "$$.Execution.RedriveCount"
                    },
                    "StateMachine": { "Id.$": "$$.StateMachine.Id", "Name.$": "$$.StateMachine.Name" },
                    "State": {
                        "Name.$": "$$.State.Name",
                        "EnteredTime.$": "$$.State.EnteredTime",
                        "RetryCount.$": "$$.State.RetryCount"
                    }
                }
            }
        },
        "ResultSelector": { "Payload.$": "$.Payload" },
        "ResultPath": result_path,
        "Retry": [
            { "ErrorEquals": TRANSIENT_HANDLER_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2 },
            { "ErrorEquals": CRASHED_HANDLER_ERRORS, "IntervalSeconds": 5, "MaxAttempts": 2, "BackoffRate": 2 }
        ]
    });
    let object = task.as_object_mut().expect("a task is an object");
    object.extend(transition.as_object().cloned().unwrap_or_default());
    task
}

fn catch_all(result_path: &str, next: &str) -> Value {
    json!({ "ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next })
}

fn fail(error: &str, cause: &str) -> Value {
    json!({ "Type": "Fail", "Error": error, "Cause": cause })
}

/// The last resort: a schema-v1 notice that Step Functions publishes itself
/// when the error handler failed for good. It carries the job's names, the
/// execution, the error names and a console link; nothing from the job's
/// environment, and `batch_job` is null. A FIFO topic (`fifo`) needs a
/// message group and a deduplication id.
fn last_resort(
    metadata: &Metadata,
    topic_arn: &str,
    fifo: bool,
    target: &Target,
) -> Map<String, Value> {
    let template = Notification {
        version: SCHEMA_VERSION.to_string(),
        notification_id: String::new(),
        status: Status::Failed,
        app_name: metadata.app_name.clone(),
        stage: metadata.stage.clone(),
        batch_name: metadata.batch_name.clone(),
        job_name: metadata.job_name.clone(),
        execution: Execution {
            arn: None,
            name: None,
            started_at: None,
            state_machine: None,
            console_url: None,
        },
        batch_job: None,
        error: Some(ErrorSummary {
            error: "ErrorHandler".to_string(),
            kind: FailureKind::HandlerFailed,
            message: String::new(),
        }),
        input: Value::Null,
    };
    let console_url = format!(
        "States.Format('{}', $$.Execution.Id)",
        handlers::links::execution_url_in(&target.region, "{}")
    );
    let mut document = serde_json::to_value(&template).expect("a notification serialises");
    for (path, expression) in [
        (&["notification_id"][..], "States.UUID()"),
        (&["execution", "arn"], "$$.Execution.Id"),
        (&["execution", "name"], "$$.Execution.Name"),
        (&["execution", "started_at"], "$$.Execution.StartTime"),
        (&["execution", "state_machine"], "$$.StateMachine.Id"),
        (&["execution", "console_url"], &console_url),
        (&["error", "error"], "$.error.Error"),
        (
            &["error", "message"],
            "States.Format('the error handler failed ({}); Step Functions sent this notice itself', $.notification_error.Error)",
        ),
        (&["input"], "$.input"),
    ] {
        from_run(&mut document, path, expression);
    }

    let subject = handlers::message::subject(&template);
    let text = format!(
        "States.Format('{subject}. The error handler could not send the notification of this run ({{}}), \
         so Step Functions sent this notice itself. Job: {job}. Error: {{}}. Execution: {{}}. \
         notification_id: {{}}', $.notification_error.Error, $.error.Error, \
         $.notice.execution.console_url, $.notice.notification_id)",
        job = metadata.job_name
    );
    let document_text = "States.JsonToString($.notice)";
    let attributes: Map<String, Value> = handlers::message::attributes(&template)
        .into_iter()
        .map(|(name, value)| (name, json!({ "DataType": "String", "StringValue": value })))
        .collect();
    let mut publish = json!({
        "TopicArn": topic_arn,
        "Subject": subject,
        "MessageStructure": "json",
        "Message.$": "States.JsonToString($.notice_message)",
        "MessageAttributes": attributes
    });
    if fifo {
        publish["MessageGroupId"] = json!(handlers::message::fifo_id(&metadata.job_name));
        publish["MessageDeduplicationId.$"] = json!("$.notice.notification_id");
    }
    json!({
        "ComposeNotice": {
            "Type": "Pass",
            "Parameters": document,
            "ResultPath": "$.notice",
            "Next": "ComposeNoticeMessage"
        },
        "ComposeNoticeMessage": {
            "Type": "Pass",
            "Parameters": {
                "default.$": text,
                "email.$": text,
                "sqs.$": document_text,
                "lambda.$": document_text,
                "https.$": document_text,
                "firehose.$": document_text
            },
            "ResultPath": "$.notice_message",
            "Next": "NotifyDirectly"
        },
        "NotifyDirectly": {
            "Type": "Task",
            "Resource": target.integration("sns:publish"),
            "Parameters": publish,
            "ResultPath": null,
            "Retry": [{ "ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2 }],
            "Catch": [catch_all("$.notice_error", "Unnotified")],
            "Next": "HandlersFailed"
        },
        "HandlersFailed": fail(
            HANDLERS_FAILED_ERROR,
            "The error handler failed; Step Functions published a short notice to the topic itself."
        )
    })
    .as_object()
    .cloned()
    .expect("states are an object")
}

/// Replaces the template's value at `path` with one the run fills in:
/// `key.$` holding a path or an intrinsic function.
fn from_run(document: &mut Value, path: &[&str], expression: &str) {
    let (key, parents) = path.split_last().expect("a non-empty path");
    let object = parents
        .iter()
        .fold(document, |value, parent| &mut value[*parent])
        .as_object_mut()
        .expect("the notification schema has this object");
    assert!(
        object.remove(*key).is_some(),
        "the notification schema has no `{}`",
        path.join(".")
    );
    object.insert(format!("{key}.$"), Value::String(expression.to_string()));
}
