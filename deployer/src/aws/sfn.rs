//! The Step Functions state machine. Step Functions checks a definition on
//! create and update; when it refuses one, `ValidateStateMachineDefinition`
//! says what is wrong and where.

use std::collections::BTreeSet;

use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput;
use aws_sdk_sfn::types::{
    CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration, StateMachineType, Tag,
    ValidateStateMachineDefinitionResultCode,
};
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::{error_code, AwsError};
use super::wait::{wait_for_role, Assumer};
use crate::model::{Identity, Observed, StateMachineSpec, Tags};

/// A state machine as DescribeStateMachine gives it: what [`describe`]
/// reads and [`observed`] makes a spec of.
pub type Described = DescribeStateMachineOutput;

const NOT_FOUND: &[&str] = &["StateMachineDoesNotExist", "ResourceNotFound"];

/// The names of the account's state machines.
pub async fn list_names(client: &Client) -> Result<BTreeSet<String>, AwsError> {
    let mut names = BTreeSet::new();
    let mut pages = client
        .list_state_machines()
        .max_results(1000) // the API's maximum: fewer pages
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListStateMachines", "(all)", e))?;
        names.extend(page.state_machines().iter().map(|m| m.name.clone()));
    }
    Ok(names)
}

/// One state machine as Step Functions describes it; `None` when it does
/// not exist.
pub async fn describe(
    client: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<DescribeStateMachineOutput>, AwsError> {
    match client
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(err) if error_code(&err).is_some_and(|c| NOT_FOUND.contains(&c)) => Ok(None),
        Err(err) => Err(AwsError::call("DescribeStateMachine", name, err)),
    }
}

/// The state machine `machine` describes. `listed_tags` are its tags when a
/// listing already holds them; otherwise they are read too.
pub async fn observed(
    client: &Client,
    name: &str,
    arn: &str,
    machine: DescribeStateMachineOutput,
    listed_tags: Option<&Tags>,
) -> Result<Observed<StateMachineSpec>, AwsError> {
    let tags = match listed_tags {
        Some(tags) => tags.clone(),
        None => read_tags(client, arn).await?,
    };
    let log_destination = machine
        .logging_configuration
        .as_ref()
        .and_then(|l| l.destinations().first())
        .and_then(|d| d.cloud_watch_logs_log_group.as_ref())
        .and_then(|g| g.log_group_arn.clone())
        .unwrap_or_default();
    Ok(Observed {
        owner: Identity::of(&tags),
        spec: StateMachineSpec {
            name: name.to_string(),
            definition: serde_json::from_str(&machine.definition)
                .unwrap_or(Value::String(machine.definition)),
            role_arn: machine.role_arn,
            log_destination,
            tags,
        },
    })
}

/// One state machine with the tags it carries; `None` when it does not
/// exist.
async fn read(
    client: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<Observed<StateMachineSpec>>, AwsError> {
    match describe(client, name, arn).await? {
        Some(machine) => observed(client, name, arn, machine, None).await.map(Some),
        None => Ok(None),
    }
}

async fn read_tags(client: &Client, arn: &str) -> Result<Tags, AwsError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::call("ListTagsForResource", arn, e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect())
}

/// When Step Functions refused `definition` (`InvalidDefinition`), asks
/// `ValidateStateMachineDefinition` why: the error then names each problem
/// and its place in the document. Any other failure is returned as it was.
async fn explain(client: &Client, name: &str, definition: &Value, refused: AwsError) -> AwsError {
    if refused.service_code() != Some("InvalidDefinition") {
        return refused;
    }
    let out = match client
        .validate_state_machine_definition()
        .definition(definition.to_string())
        .r#type(StateMachineType::Standard)
        .send()
        .await
    {
        Ok(out) if out.result != ValidateStateMachineDefinitionResultCode::Ok => out,
        _ => return refused,
    };
    let problems: Vec<String> = out
        .diagnostics()
        .iter()
        .map(|d| {
            format!(
                "{} at {}: {}",
                d.code,
                d.location.as_deref().unwrap_or("/"),
                d.message
            )
        })
        .collect();
    AwsError::other("ValidateStateMachineDefinition", name, problems.join("; "))
}

fn logging(destination: &str) -> LoggingConfiguration {
    LoggingConfiguration::builder()
        .level(LogLevel::All)
        .include_execution_data(true)
        .destinations(
            LogDestination::builder()
                .cloud_watch_logs_log_group(
                    CloudWatchLogsLogGroup::builder()
                        .log_group_arn(destination)
                        .build(),
                )
                .build(),
        )
        .build()
}

pub async fn converge(
    client: &Client,
    desired: &StateMachineSpec,
    arn: &str,
    actual: Option<&StateMachineSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let Some(actual) = actual else {
        let create = async {
            let tags = sfn_tags(&desired.tags);
            let created = wait_for_role(Assumer::StepFunctions, "CreateStateMachine", name, || {
                client
                    .create_state_machine()
                    .name(name)
                    .definition(desired.definition.to_string())
                    .role_arn(&desired.role_arn)
                    .r#type(StateMachineType::Standard)
                    .logging_configuration(logging(&desired.log_destination))
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await;
            match created {
                Ok(_) => Ok(()),
                Err(err) if err.is_already_exists() => Err(err),
                Err(err) => Err(explain(client, name, &desired.definition, err).await),
            }
        };
        return super::converge::create_or_adopt(
            "state machine",
            name,
            &Identity::of(&desired.tags),
            create,
            || read(client, name, arn),
            |found| async move { Box::pin(converge(client, desired, arn, Some(&found))).await },
        )
        .await;
    };
    if desired.definition != actual.definition
        || desired.role_arn != actual.role_arn
        || desired.log_destination != actual.log_destination
    {
        let updated = wait_for_role(Assumer::StepFunctions, "UpdateStateMachine", name, || {
            client
                .update_state_machine()
                .state_machine_arn(arn)
                .definition(desired.definition.to_string())
                .role_arn(&desired.role_arn)
                .logging_configuration(logging(&desired.log_destination))
                .send()
        })
        .await;
        if let Err(err) = updated {
            return Err(explain(client, name, &desired.definition, err).await);
        }
    }
    super::converge::sync_resource_tags!(
        client,
        resource_arn,
        arn,
        name,
        &desired.tags,
        &actual.tags,
        sfn_tags(&desired.tags)
    )
    .await?;
    Ok(())
}

pub async fn delete(client: &Client, name: &str, arn: &str) -> Result<(), AwsError> {
    match client
        .delete_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Err(err) if !error_code(&err).is_some_and(|c| NOT_FOUND.contains(&c)) => {
            Err(AwsError::call("DeleteStateMachine", name, err))
        }
        _ => Ok(()),
    }
}

/// Sets `tags` on the state machine (others it has stay).
pub async fn tag(client: &Client, name: &str, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(sfn_tags(tags)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("TagResource", name, e))
}

/// An execution as Step Functions lists or describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED` or
    /// `PENDING_REDRIVE`.
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// The failure (`error: cause`), when described and it recorded one.
    pub error: Option<String>,
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// The state machine's most recent executions, newest first, `max` at most.
pub async fn list_executions(
    client: &Client,
    job_name: &str,
    machine_arn: &str,
    max: i32,
) -> Result<Vec<Execution>, AwsError> {
    let listed = client
        .list_executions()
        .state_machine_arn(machine_arn)
        .max_results(max)
        .send()
        .await
        .map_err(|e| AwsError::call("ListExecutions", job_name, e))?;
    Ok(listed
        .executions
        .into_iter()
        .map(|e| Execution {
            started_at: time(Some(&e.start_date)),
            stopped_at: time(e.stop_date.as_ref()),
            arn: e.execution_arn,
            name: e.name,
            status: e.status.as_str().to_string(),
            error: None,
        })
        .collect())
}

/// Starts an execution with `input`; its ARN.
pub async fn start_execution(
    client: &Client,
    job_name: &str,
    machine_arn: &str,
    input: &Value,
) -> Result<String, AwsError> {
    let started = client
        .start_execution()
        .state_machine_arn(machine_arn)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| AwsError::call("StartExecution", job_name, e))?;
    Ok(started.execution_arn)
}

pub async fn describe_execution(client: &Client, arn: &str) -> Result<Execution, AwsError> {
    let out = client
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeExecution", arn, e))?;
    let error = match (out.error, out.cause) {
        (Some(e), Some(c)) if !c.is_empty() => Some(format!("{e}: {c}")),
        (Some(e), _) => Some(e),
        _ => None,
    };
    Ok(Execution {
        arn: arn.to_string(),
        name: out.name.unwrap_or_default(),
        status: out.status.as_str().to_string(),
        started_at: time(Some(&out.start_date)),
        stopped_at: time(out.stop_date.as_ref()),
        error,
    })
}

/// The ids of the Batch jobs the execution submitted, in order, from its
/// history's `TaskSubmitted` events; none before there is one.
pub async fn submitted_jobs(client: &Client, arn: &str) -> Result<Vec<String>, AwsError> {
    let mut pages = client
        .get_execution_history()
        .execution_arn(arn)
        .include_execution_data(true)
        .into_paginator()
        .send();
    let mut jobs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("GetExecutionHistory", arn, e))?;
        jobs.extend(
            page.events()
                .iter()
                .filter_map(|e| e.task_submitted_event_details())
                .filter(|d| d.resource_type() == "batch")
                .filter_map(|d| serde_json::from_str::<Value>(d.output()?).ok())
                .filter_map(|output| output["JobId"].as_str().map(str::to_string)),
        );
    }
    Ok(jobs)
}

fn sfn_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
