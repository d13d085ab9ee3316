//! The Batch job definition. Definitions are immutable revisions: a change
//! registers a new one and retires the old, an unchanged config registers
//! nothing. And the jobs `sjob status` reports with their runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use aws_sdk_batch::types::{
    AssignPublicIp, ContainerProperties, EphemeralStorage, EvaluateOnExit,
    FargatePlatformConfiguration, JobDefinition, JobDefinitionType, JobDetail, JobTimeout,
    KeyValuePair, KeyValuesPair, LogConfiguration, LogDriver, NetworkConfiguration,
    PlatformCapability, ResourceRequirement, ResourceType, RetryStrategy, RuntimePlatform, Secret,
};
use aws_sdk_batch::Client;

use super::error::AwsError;
use crate::model::{Identity, JobDefinitionSpec, Observed, RetryAction, RetryRule, Tags};

/// The operating system of every job definition that names its CPU
/// architecture (`runtimePlatform` needs both).
pub const OPERATING_SYSTEM_FAMILY: &str = "LINUX";

/// A job definition revision as DescribeJobDefinitions gives it: what
/// [`list_active`] lists and [`revisions`] reads.
pub type Definition = JobDefinition;

/// The revision that is live and every active revision (to retire).
#[derive(Debug, Clone, PartialEq)]
pub struct Revisions {
    pub latest: Observed<JobDefinitionSpec>,
    pub latest_arn: String,
    pub revision: i32,
    /// Each ACTIVE revision's ARN and owner: revisions carry their own
    /// tags, and only an owner's own are ever retired.
    pub active: Vec<(String, Identity)>,
}

impl Revisions {
    /// The ACTIVE revisions that belong to `owner`.
    pub fn owned_by(&self, owner: &Identity) -> Vec<String> {
        self.active
            .iter()
            .filter(|(_, o)| o == owner)
            .map(|(arn, _)| arn.clone())
            .collect()
    }
}

/// One job definition's ACTIVE revisions, read on their own.
pub async fn read(client: &Client, name: &str) -> Result<Option<Revisions>, AwsError> {
    let mut definitions: Vec<JobDefinition> = Vec::new();
    let mut pages = client
        .describe_job_definitions()
        .job_definition_name(name)
        .status("ACTIVE")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("DescribeJobDefinitions", name, e))?;
        definitions.extend(page.job_definitions().iter().cloned());
    }
    Ok(revisions(name, definitions))
}

/// Every ACTIVE job definition revision of the account, by name, when the
/// listing takes at most `max_pages` pages of 100; `None` when it would
/// take more (the caller then reads each definition on its own).
pub async fn list_active(
    client: &Client,
    max_pages: usize,
) -> Result<Option<BTreeMap<String, Vec<JobDefinition>>>, AwsError> {
    let mut definitions: BTreeMap<String, Vec<JobDefinition>> = BTreeMap::new();
    let mut token = None;
    for _ in 0..max_pages {
        let page = client
            .describe_job_definitions()
            .status("ACTIVE")
            .max_results(100) // the API's maximum
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call("DescribeJobDefinitions", "(all)", e))?;
        for definition in page.job_definitions() {
            if let Some(name) = &definition.job_definition_name {
                definitions
                    .entry(name.clone())
                    .or_default()
                    .push(definition.clone());
            }
        }
        token = page.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(Some(definitions));
        }
    }
    Ok(None)
}

/// The live revision of `name` among its ACTIVE `definitions`.
pub fn revisions(name: &str, mut definitions: Vec<JobDefinition>) -> Option<Revisions> {
    definitions.sort_by_key(|d| d.revision);
    let latest = definitions.last()?;
    let tags = latest
        .tags
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Some(Revisions {
        latest: Observed {
            owner: Identity::of(&tags),
            spec: spec_of(name, latest, tags),
        },
        latest_arn: latest.job_definition_arn.clone().unwrap_or_default(),
        revision: latest.revision.unwrap_or_default(),
        active: definitions
            .iter()
            .filter_map(|d| {
                let tags = d.tags.clone().unwrap_or_default().into_iter().collect();
                Some((d.job_definition_arn.clone()?, Identity::of(&tags)))
            })
            .collect(),
    })
}

fn spec_of(name: &str, definition: &JobDefinition, tags: Tags) -> JobDefinitionSpec {
    let container = definition
        .container_properties
        .clone()
        .unwrap_or_else(|| ContainerProperties::builder().build());
    let requirement = |kind: ResourceType| {
        container
            .resource_requirements()
            .iter()
            .find(|r| r.r#type.as_ref() == Some(&kind))
            .and_then(|r| r.value.clone())
            .unwrap_or_default()
    };
    JobDefinitionSpec {
        name: name.to_string(),
        image: container.image.clone().unwrap_or_default(),
        command: container.command.clone().unwrap_or_default(),
        environment: container
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone().unwrap_or_default())))
            .collect::<BTreeMap<_, _>>(),
        secrets: container
            .secrets()
            .iter()
            .filter_map(|s| Some((s.name.clone()?, s.value_from.clone()?)))
            .collect(),
        vcpus: requirement(ResourceType::Vcpu),
        memory: requirement(ResourceType::Memory),
        job_role_arn: container.job_role_arn.clone().unwrap_or_default(),
        execution_role_arn: container.execution_role_arn.clone().unwrap_or_default(),
        assign_public_ip: container
            .network_configuration
            .as_ref()
            .and_then(|n| n.assign_public_ip.as_ref())
            == Some(&AssignPublicIp::Enabled),
        log_options: container
            .log_configuration
            .as_ref()
            .filter(|l| l.log_driver == Some(LogDriver::Awslogs))
            .and_then(|l| l.options.clone())
            .map(|options| options.into_iter().collect())
            .unwrap_or_default(),
        cpu_architecture: container
            .runtime_platform
            .as_ref()
            .and_then(|p| p.cpu_architecture.clone()),
        ephemeral_storage_gib: container
            .ephemeral_storage
            .as_ref()
            .and_then(|s| s.size_in_gib)
            .map(|gib| gib as u32),
        platform_version: container
            .fargate_platform_configuration
            .as_ref()
            .and_then(|f| f.platform_version.clone())
            .unwrap_or_default(),
        attempts: definition
            .retry_strategy
            .as_ref()
            .and_then(|r| r.attempts)
            .unwrap_or(1) as u32,
        retry_on: definition
            .retry_strategy
            .as_ref()
            .map(|r| r.evaluate_on_exit().iter().filter_map(rule_of).collect())
            .unwrap_or_default(),
        timeout_seconds: definition
            .timeout
            .as_ref()
            .and_then(|t| t.attempt_duration_seconds)
            .map(|s| s as u32),
        tags,
    }
}

/// A rule as read. Batch takes the action in either case and may answer in
/// either.
fn rule_of(rule: &EvaluateOnExit) -> Option<RetryRule> {
    Some(RetryRule {
        on_exit_code: rule.on_exit_code.clone(),
        on_reason: rule.on_reason.clone(),
        on_status_reason: rule.on_status_reason.clone(),
        action: RetryAction::from_batch_name(rule.action.as_ref()?.as_str())?,
    })
}

fn evaluate_on_exit(rule: &RetryRule) -> EvaluateOnExit {
    EvaluateOnExit::builder()
        .set_on_exit_code(rule.on_exit_code.clone())
        .set_on_reason(rule.on_reason.clone())
        .set_on_status_reason(rule.on_status_reason.clone())
        .action(rule.action.batch_name().into())
        .build()
}

/// Registers a new revision and deregisters the ones it replaces.
pub async fn register(
    client: &Client,
    desired: &JobDefinitionSpec,
    retire: &[String],
) -> Result<String, AwsError> {
    let requirement = |kind: ResourceType, value: &str| {
        ResourceRequirement::builder()
            .r#type(kind)
            .value(value)
            .build()
    };
    let container = ContainerProperties::builder()
        .image(&desired.image)
        .set_command(Some(desired.command.clone()))
        .set_environment(Some(
            desired
                .environment
                .iter()
                .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                .collect(),
        ))
        .set_secrets((!desired.secrets.is_empty()).then(|| {
            desired
                .secrets
                .iter()
                .map(|(name, arn)| Secret::builder().name(name).value_from(arn).build())
                .collect()
        }))
        .resource_requirements(requirement(ResourceType::Vcpu, &desired.vcpus))
        .resource_requirements(requirement(ResourceType::Memory, &desired.memory))
        .job_role_arn(&desired.job_role_arn)
        .execution_role_arn(&desired.execution_role_arn)
        .fargate_platform_configuration(
            FargatePlatformConfiguration::builder()
                .platform_version(&desired.platform_version)
                .build(),
        )
        .set_log_configuration((!desired.log_options.is_empty()).then(|| {
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .set_options(Some(desired.log_options.clone().into_iter().collect()))
                .build()
        }))
        .network_configuration(
            NetworkConfiguration::builder()
                .assign_public_ip(if desired.assign_public_ip {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                })
                .build(),
        )
        .set_runtime_platform(desired.cpu_architecture.as_ref().map(|architecture| {
            RuntimePlatform::builder()
                .operating_system_family(OPERATING_SYSTEM_FAMILY)
                .cpu_architecture(architecture)
                .build()
        }))
        .set_ephemeral_storage(
            desired
                .ephemeral_storage_gib
                .map(|gib| EphemeralStorage::builder().size_in_gib(gib as i32).build()),
        )
        .build();
    let mut request = client
        .register_job_definition()
        .job_definition_name(&desired.name)
        .r#type(JobDefinitionType::Container)
        .platform_capabilities(PlatformCapability::Fargate)
        .container_properties(container)
        .retry_strategy(
            RetryStrategy::builder()
                .attempts(desired.attempts as i32)
                .set_evaluate_on_exit(
                    (!desired.retry_on.is_empty())
                        .then(|| desired.retry_on.iter().map(evaluate_on_exit).collect()),
                )
                .build(),
        )
        .propagate_tags(true)
        .set_tags(Some(desired.tags.clone().into_iter().collect()));
    if let Some(seconds) = desired.timeout_seconds {
        request = request.timeout(
            JobTimeout::builder()
                .attempt_duration_seconds(seconds as i32)
                .build(),
        );
    }
    let registered = request
        .send()
        .await
        .map_err(|e| AwsError::call("RegisterJobDefinition", &desired.name, e))?;
    let arn = registered.job_definition_arn.unwrap_or_default();
    // A concurrent deploy, or a register the SDK sent again after its answer
    // was lost, may have added ACTIVE revisions since the plan read them:
    // retire every revision of this stack's older than ours, so exactly one
    // stays ACTIVE. Revision 1 is the first there has ever been: nothing is
    // older.
    let ours = revision_of(&arn);
    let mut stale: Vec<String> = retire.to_vec();
    if ours != Some(1) {
        if let Some(now) = read(client, &desired.name).await? {
            stale.extend(
                now.owned_by(&Identity::of(&desired.tags))
                    .into_iter()
                    .filter(|a| ours.is_some_and(|ours| revision_of(a).is_some_and(|r| r < ours))),
            );
        }
    }
    stale.sort();
    stale.dedup();
    for old in stale.iter().filter(|old| **old != arn) {
        deregister(client, old).await?;
    }
    Ok(arn)
}

/// The revision number at the end of a job definition ARN (`...:name:3`).
fn revision_of(arn: &str) -> Option<u64> {
    arn.rsplit(':').next().and_then(|r| r.parse().ok())
}

pub async fn deregister(client: &Client, arn: &str) -> Result<(), AwsError> {
    client
        .deregister_job_definition()
        .job_definition(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("DeregisterJobDefinition", arn, e))
}

/// Sets `tags` on a job definition revision (others it has stay).
pub async fn tag(client: &Client, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("TagResource", arn, e))
}

/// A Batch job as `ListJobs` summarises it.
#[derive(Debug, Clone)]
pub struct ListedJob {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// The jobs of the queue whose names match `pattern` (`prefix*`), every
/// status (a name filter lists them all), without array children.
pub async fn list_named(
    client: &Client,
    queue: &str,
    pattern: &str,
) -> Result<Vec<ListedJob>, AwsError> {
    let filter = KeyValuesPair::builder()
        .name("JOB_NAME")
        .values(pattern)
        .build();
    let mut pages = client
        .list_jobs()
        .job_queue(queue)
        .filters(filter)
        .into_paginator()
        .send();
    let mut jobs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListJobs", queue, e))?;
        jobs.extend(page.job_summary_list().iter().filter_map(|j| {
            let id = j.job_id().filter(|id| !id.contains(':'))?;
            Some(ListedJob {
                id: id.to_string(),
                name: j.job_name().unwrap_or_default().to_string(),
                created_at: DateTime::from_timestamp_millis(j.created_at()?)?,
            })
        }));
    }
    Ok(jobs)
}

/// A Batch job as DescribeJobs gives it: what `sjob status` and the output
/// reader use of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchJob {
    pub id: String,
    /// `SUBMITTED` ... `SUCCEEDED` or `FAILED`.
    pub status: Option<String>,
    /// The size of an array job (a child has it too, with its index).
    pub array_size: Option<i32>,
    /// A child's index in its array job.
    pub array_index: Option<i32>,
    /// The attempts Batch recorded (a running one is not among them yet).
    pub attempts: Vec<Attempt>,
    /// The container's log stream: the running attempt's, or the last's.
    pub stream: Option<String>,
    /// The job definition's `awslogs-group`, when it names one.
    pub log_group: Option<String>,
}

/// One recorded attempt of a Batch job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    pub stream: Option<String>,
    pub ended: bool,
}

impl BatchJob {
    /// Whether its container may be writing: it is starting or running.
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_deref(), Some("STARTING" | "RUNNING"))
    }

    /// Whether it has stopped for good.
    pub fn has_stopped(&self) -> bool {
        matches!(self.status.as_deref(), Some("SUCCEEDED" | "FAILED"))
    }
}

fn batch_job(job: JobDetail) -> BatchJob {
    let array = job.array_properties.as_ref();
    BatchJob {
        id: job.job_id().unwrap_or_default().to_string(),
        status: job.status.as_ref().map(|s| s.as_str().to_string()),
        array_size: array.and_then(|a| a.size),
        array_index: array.and_then(|a| a.index),
        attempts: job
            .attempts()
            .iter()
            .map(|a| Attempt {
                stream: a.container.as_ref().and_then(|c| c.log_stream_name.clone()),
                ended: a.stopped_at.is_some(),
            })
            .collect(),
        stream: job
            .container
            .as_ref()
            .and_then(|c| c.log_stream_name.clone()),
        log_group: job
            .container
            .as_ref()
            .and_then(|c| c.log_configuration.as_ref())
            .and_then(|l| l.options.as_ref())
            .and_then(|o| o.get("awslogs-group").cloned()),
    }
}

/// These jobs as DescribeJobs gives them, in the order of `ids` (those
/// Batch still knows); it takes 100 ids a call.
pub async fn describe_jobs(client: &Client, ids: &[String]) -> Result<Vec<BatchJob>, AwsError> {
    let mut jobs = Vec::new();
    for chunk in ids.chunks(100) {
        let described = client
            .describe_jobs()
            .set_jobs(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("DescribeJobs", chunk.join(", "), e))?;
        let mut found = described.jobs.unwrap_or_default();
        found.sort_by_key(|j| chunk.iter().position(|id| Some(id.as_str()) == j.job_id()));
        jobs.extend(found.into_iter().map(batch_job));
    }
    Ok(jobs)
}

/// How many attempts each of these jobs made, by id.
pub async fn attempts(
    client: &Client,
    ids: &[String],
) -> Result<BTreeMap<String, usize>, AwsError> {
    // An array job's parent makes no attempts of its own.
    Ok(describe_jobs(client, ids)
        .await?
        .into_iter()
        .filter(|j| j.array_size.is_none())
        .map(|j| (j.id, j.attempts.len()))
        .collect())
}

#[cfg(test)]
mod tests {
    use aws_sdk_batch::types::{
        AttemptContainerDetail, AttemptDetail, ContainerDetail, JobStatus, LogConfiguration,
        LogDriver,
    };

    use super::*;

    #[test]
    fn a_described_job_reads_with_its_attempts_stream_and_log_group() {
        let described = JobDetail::builder()
            .job_id("j")
            .status(JobStatus::Running)
            .attempts(
                AttemptDetail::builder()
                    .container(
                        AttemptContainerDetail::builder()
                            .log_stream_name("p/default/a")
                            .build(),
                    )
                    .stopped_at(1)
                    .build(),
            )
            .container(
                ContainerDetail::builder()
                    .log_stream_name("p/default/b")
                    .log_configuration(
                        LogConfiguration::builder()
                            .log_driver(LogDriver::Awslogs)
                            .options("awslogs-group", "a/dev/batch/x")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            batch_job(described),
            BatchJob {
                id: "j".to_string(),
                status: Some("RUNNING".to_string()),
                array_size: None,
                array_index: None,
                attempts: vec![Attempt {
                    stream: Some("p/default/a".to_string()),
                    ended: true,
                }],
                stream: Some("p/default/b".to_string()),
                log_group: Some("a/dev/batch/x".to_string()),
            }
        );
        assert_eq!(batch_job(JobDetail::builder().build()), BatchJob::default());
    }
}
