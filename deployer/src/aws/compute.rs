//! The Fargate compute environment and its job queue. Batch applies
//! changes to both asynchronously (status CREATING, UPDATING, DELETING), so
//! every change waits until Batch reports the outcome.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use aws_sdk_batch::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_batch::types::{
    CeState, CeStatus, CeType, ComputeEnvironmentDetail, ComputeEnvironmentOrder, ComputeResource,
    ComputeResourceUpdate, CrType, JobQueueDetail, JqState, JqStatus,
};
use aws_sdk_batch::Client;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;

use super::error::AwsError;
use super::wait;
use crate::model::{ComputeEnvironmentSpec, JobQueueSpec};
use crate::model::{Identity, Observed, Tags};

/// A compute environment can take minutes to create or delete.
const LIMIT: Duration = Duration::from_secs(600);

pub async fn read_compute_environment(
    client: &Client,
    name: &str,
) -> Result<Option<Observed<ComputeEnvironmentSpec>>, AwsError> {
    let Some(environment) = describe_environment(client, name)
        .await?
        .filter(|e| !is_leaving(e.status.as_ref().map(|s| s.as_str())))
    else {
        return Ok(None);
    };
    let resources = environment
        .compute_resources
        .unwrap_or_else(|| ComputeResource::builder().build());
    let tags: Tags = environment.tags.unwrap_or_default().into_iter().collect();
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: ComputeEnvironmentSpec {
            name: name.to_string(),
            resource_type: resources
                .r#type
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            max_vcpus: resources.maxv_cpus.unwrap_or_default(),
            subnets: resources.subnets.unwrap_or_default().into_iter().collect(),
            security_group_ids: resources
                .security_group_ids
                .unwrap_or_default()
                .into_iter()
                .collect(),
            enabled: environment.state == Some(CeState::Enabled),
            tags,
        },
    }))
}

/// Creates the compute environment (managed, enabled, with Batch's
/// service-linked role) or updates what differs, then waits until it is
/// VALID. Its capacity type is fixed at creation, so changing it is an error.
pub async fn converge_compute_environment(
    client: &Client,
    desired: &ComputeEnvironmentSpec,
    actual: Option<&ComputeEnvironmentSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let Some(actual) = actual else {
        BatchResource::Environment
            .not_deleting(client, name)
            .await?;
        let create = async {
            client
                .create_compute_environment()
                .compute_environment_name(name)
                .r#type(CeType::Managed)
                .state(CeState::Enabled)
                .compute_resources(
                    ComputeResource::builder()
                        .r#type(CrType::from(desired.resource_type.as_str()))
                        .maxv_cpus(desired.max_vcpus)
                        .set_subnets(Some(desired.subnets.iter().cloned().collect()))
                        .set_security_group_ids(Some(
                            desired.security_group_ids.iter().cloned().collect(),
                        ))
                        .build(),
                )
                .set_tags(Some(desired.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::call("CreateComputeEnvironment", name, e))?;
            BatchResource::Environment
                .valid(client, name)
                .await
                .map(|_| ())
        };
        return super::converge::create_or_adopt(
            "Batch compute environment",
            name,
            &Identity::of(&desired.tags),
            create,
            || read_compute_environment(client, name),
            |found| async move {
                Box::pin(converge_compute_environment(client, desired, Some(&found))).await
            },
        )
        .await;
    };
    if desired.resource_type != actual.resource_type {
        return Err(AwsError::other(
            "UpdateComputeEnvironment",
            name.to_string(),
            format!(
                "Batch cannot change a compute environment from {} to {}: destroy it (remove \
                 [base.compute] and deploy, after the jobs using its queue) and deploy again",
                actual.resource_type, desired.resource_type
            ),
        ));
    }
    if desired.max_vcpus != actual.max_vcpus
        || desired.subnets != actual.subnets
        || desired.security_group_ids != actual.security_group_ids
        || desired.enabled != actual.enabled
    {
        client
            .update_compute_environment()
            .compute_environment(name)
            .state(CeState::Enabled)
            .compute_resources(
                ComputeResourceUpdate::builder()
                    .maxv_cpus(desired.max_vcpus)
                    .set_subnets(Some(desired.subnets.iter().cloned().collect()))
                    .set_security_group_ids(Some(
                        desired.security_group_ids.iter().cloned().collect(),
                    ))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::call("UpdateComputeEnvironment", name, e))?;
    }
    let arn = BatchResource::Environment.valid(client, name).await?;
    sync_tags(client, name, &arn, &desired.tags, &actual.tags).await
}

/// Disables the compute environment, deletes it and waits until it is gone
/// (its job queue must be deleted first).
pub async fn delete_compute_environment(client: &Client, name: &str) -> Result<(), AwsError> {
    BatchResource::Environment.delete(client, name).await
}

pub async fn read_job_queue(
    client: &Client,
    name: &str,
) -> Result<Option<Observed<JobQueueSpec>>, AwsError> {
    let Some(queue) = describe_queue(client, name)
        .await?
        .filter(|q| !is_leaving(q.status.as_ref().map(|s| s.as_str())))
    else {
        return Ok(None);
    };
    let tags: Tags = queue.tags.unwrap_or_default().into_iter().collect();
    let mut order = queue.compute_environment_order.unwrap_or_default();
    order.sort_by_key(|o| o.order);
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: JobQueueSpec {
            name: name.to_string(),
            priority: queue.priority.unwrap_or_default(),
            compute_environment_arn: order
                .into_iter()
                .find_map(|o| o.compute_environment)
                .unwrap_or_default(),
            enabled: queue.state == Some(JqState::Enabled),
            tags,
        },
    }))
}

/// Which of `arns` name a job queue that exists and is not being deleted:
/// one call for up to a hundred queues (DescribeJobQueues answers only
/// those it has, with no error for the others).
pub async fn existing_job_queues(
    client: &Client,
    arns: &[String],
) -> Result<BTreeSet<String>, AwsError> {
    let mut found = BTreeSet::new();
    for chunk in arns.chunks(100) {
        let out = client
            .describe_job_queues()
            .set_job_queues(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("DescribeJobQueues", chunk.join(", "), e))?;
        found.extend(
            out.job_queues
                .unwrap_or_default()
                .into_iter()
                .filter(|q| {
                    q.status != Some(JqStatus::Deleted)
                        && !is_leaving(q.status.as_ref().map(|s| s.as_str()))
                })
                .filter_map(|q| q.job_queue_arn),
        );
    }
    Ok(found)
}

/// Creates the queue (enabled, on the one compute environment) or updates
/// what differs, then waits until it is VALID.
pub async fn converge_job_queue(
    client: &Client,
    desired: &JobQueueSpec,
    actual: Option<&JobQueueSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let order = ComputeEnvironmentOrder::builder()
        .order(1)
        .compute_environment(&desired.compute_environment_arn)
        .build();
    let Some(actual) = actual else {
        BatchResource::Queue.not_deleting(client, name).await?;
        let create = async {
            client
                .create_job_queue()
                .job_queue_name(name)
                .priority(desired.priority)
                .state(JqState::Enabled)
                .compute_environment_order(order.clone())
                .set_tags(Some(desired.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::call("CreateJobQueue", name, e))?;
            BatchResource::Queue.valid(client, name).await.map(|_| ())
        };
        return super::converge::create_or_adopt(
            "Batch job queue",
            name,
            &Identity::of(&desired.tags),
            create,
            || read_job_queue(client, name),
            |found| async move { Box::pin(converge_job_queue(client, desired, Some(&found))).await },
        )
        .await;
    };
    if desired.priority != actual.priority
        || desired.compute_environment_arn != actual.compute_environment_arn
        || desired.enabled != actual.enabled
    {
        client
            .update_job_queue()
            .job_queue(name)
            .priority(desired.priority)
            .state(JqState::Enabled)
            .compute_environment_order(order)
            .send()
            .await
            .map_err(|e| AwsError::call("UpdateJobQueue", name, e))?;
    }
    let arn = BatchResource::Queue.valid(client, name).await?;
    sync_tags(client, name, &arn, &desired.tags, &actual.tags).await
}

/// Disables the queue, deletes it and waits until it is gone.
pub async fn delete_job_queue(client: &Client, name: &str) -> Result<(), AwsError> {
    BatchResource::Queue.delete(client, name).await
}

/// The compute environment of that name, unless deleted (Batch lists
/// deleted ones for a while).
async fn describe_environment(
    client: &Client,
    name: &str,
) -> Result<Option<ComputeEnvironmentDetail>, AwsError> {
    let out = client
        .describe_compute_environments()
        .compute_environments(name)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeComputeEnvironments", name, e))?;
    Ok(out
        .compute_environments
        .unwrap_or_default()
        .into_iter()
        .find(|e| {
            e.compute_environment_name.as_deref() == Some(name)
                && e.status != Some(CeStatus::Deleted)
        }))
}

/// The job queue of that name, unless deleted.
async fn describe_queue(client: &Client, name: &str) -> Result<Option<JobQueueDetail>, AwsError> {
    let out = client
        .describe_job_queues()
        .job_queues(name)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeJobQueues", name, e))?;
    Ok(out
        .job_queues
        .unwrap_or_default()
        .into_iter()
        .find(|q| q.job_queue_name.as_deref() == Some(name) && q.status != Some(JqStatus::Deleted)))
}

/// Where Batch is with a compute environment or job queue.
struct Status {
    arn: String,
    /// `CREATING`, `UPDATING`, `DELETING`, `VALID` or `INVALID`.
    status: String,
    reason: Option<String>,
}

impl Status {
    fn is(&self, statuses: &[&str]) -> bool {
        statuses.contains(&self.status.as_str())
    }
}

/// Compute environments and job queues share their life cycle: the waits
/// and the delete are written once, over this.
#[derive(Debug, Clone, Copy)]
enum BatchResource {
    Environment,
    Queue,
}

impl BatchResource {
    fn label(self) -> &'static str {
        match self {
            BatchResource::Environment => "compute environment",
            BatchResource::Queue => "job queue",
        }
    }

    async fn status(self, client: &Client, name: &str) -> Result<Option<Status>, AwsError> {
        Ok(match self {
            BatchResource::Environment => {
                describe_environment(client, name).await?.map(|d| Status {
                    arn: d.compute_environment_arn.unwrap_or_default(),
                    status: d.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                    reason: d.status_reason,
                })
            }
            BatchResource::Queue => describe_queue(client, name).await?.map(|d| Status {
                arn: d.job_queue_arn.unwrap_or_default(),
                status: d.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                reason: d.status_reason,
            }),
        })
    }

    /// Waits until Batch has applied the last change, and gives the ARN if
    /// that left it VALID.
    async fn valid(self, client: &Client, name: &str) -> Result<String, AwsError> {
        let status = self.settled(client, name).await?;
        match status {
            Some(status) if status.is(&["VALID"]) => Ok(status.arn),
            Some(status) => Err(AwsError::other(
                "wait",
                name.to_string(),
                format!(
                    "Batch reports the {} {}: {}",
                    self.label(),
                    status.status,
                    status
                        .reason
                        .unwrap_or_else(|| "no reason given".to_string())
                ),
            )),
            None => Err(AwsError::other(
                "wait",
                name.to_string(),
                format!("the {} disappeared", self.label()),
            )),
        }
    }

    /// Waits out CREATING and UPDATING.
    async fn settled(self, client: &Client, name: &str) -> Result<Option<Status>, AwsError> {
        self.poll("CREATING or UPDATING", name, || async {
            let status = self.status(client, name).await?;
            Ok(match status {
                Some(s) if s.is(&["CREATING", "UPDATING"]) => None,
                other => Some(other),
            })
        })
        .await
    }

    /// Waits while one of this name is being deleted: until it is gone,
    /// creating the name fails.
    async fn not_deleting(self, client: &Client, name: &str) -> Result<(), AwsError> {
        self.poll("DELETING", name, || async {
            let status = self.status(client, name).await?;
            Ok((!status.is_some_and(|s| s.is(&["DELETING"]))).then_some(()))
        })
        .await
    }

    /// Waits until there is none of this name, not even one being deleted.
    async fn gone(self, client: &Client, name: &str) -> Result<(), AwsError> {
        self.poll("there (being deleted)", name, || async {
            Ok(self.status(client, name).await?.is_none().then_some(()))
        })
        .await
    }

    async fn poll<T, F, Fut>(self, what: &str, name: &str, poll: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, AwsError>>,
    {
        let resource = format!("{} {name}", self.label());
        wait::until(what, &resource, LIMIT, poll).await
    }

    /// Batch deletes only a disabled resource, and only once it is not
    /// updating; a resource already gone is success.
    async fn delete(self, client: &Client, name: &str) -> Result<(), AwsError> {
        match self.status(client, name).await? {
            None => return Ok(()),
            Some(status) if status.is(&["DELETING"]) => return self.gone(client, name).await,
            Some(_) => {}
        }
        self.settled(client, name).await?;
        let disabled = match self {
            BatchResource::Environment => client
                .update_compute_environment()
                .compute_environment(name)
                .state(CeState::Disabled)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| gone_is_ok("UpdateComputeEnvironment", name, e)),
            BatchResource::Queue => client
                .update_job_queue()
                .job_queue(name)
                .state(JqState::Disabled)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| gone_is_ok("UpdateJobQueue", name, e)),
        };
        disabled?;
        self.settled(client, name).await?;
        let deleted = match self {
            BatchResource::Environment => client
                .delete_compute_environment()
                .compute_environment(name)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| gone_is_ok("DeleteComputeEnvironment", name, e)),
            BatchResource::Queue => client
                .delete_job_queue()
                .job_queue(name)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| gone_is_ok("DeleteJobQueue", name, e)),
        };
        deleted?;
        self.gone(client, name).await
    }
}

/// A resource being deleted reads as absent: it will be gone, and a create
/// of the same name waits for that.
fn is_leaving(status: Option<&str>) -> bool {
    status == Some("DELETING")
}

/// Whether Batch's answer says `words` (Batch answers every client error
/// with `ClientException`, told apart only by its message).
fn said<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, Response>,
    words: &str,
) -> bool {
    DisplayErrorContext(err).to_string().contains(words)
}

fn gone_is_ok<E>(
    action: &'static str,
    name: &str,
    err: SdkError<E, Response>,
) -> Result<(), AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if said(&err, "does not exist") {
        Ok(())
    } else {
        Err(AwsError::call(action, name, err))
    }
}

async fn sync_tags(
    client: &Client,
    name: &str,
    arn: &str,
    desired: &Tags,
    actual: &Tags,
) -> Result<(), AwsError> {
    super::converge::sync_resource_tags!(
        client,
        resource_arn,
        arn,
        name,
        desired,
        actual,
        desired.clone().into_iter().collect()
    )
    .await
}
