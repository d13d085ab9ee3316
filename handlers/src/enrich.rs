//! Optional enrichment: when a failure names a Batch job but the cause did not
//! carry its record (truncated or missing), ask Batch with `DescribeJobs`.
//! Enrichment is best effort; it never blocks the notification.

use std::future::Future;

use aws_sdk_batch::error::DisplayErrorContext;
use aws_sdk_batch::types::{ContainerDetail, JobDetail};

use crate::event::{Attempt, BatchJob, Container, LogConfiguration};

pub trait JobDescriber: Send + Sync {
    /// The job's record, or `None` when it cannot be had.
    fn describe(&self, job_id: &str) -> impl Future<Output = Option<BatchJob>> + Send;
}

/// No enrichment (the local runner, or `SJOB_ENRICH=false`).
impl JobDescriber for () {
    async fn describe(&self, _job_id: &str) -> Option<BatchJob> {
        None
    }
}

impl<D: JobDescriber> JobDescriber for Option<D> {
    async fn describe(&self, job_id: &str) -> Option<BatchJob> {
        match self {
            Some(describer) => describer.describe(job_id).await,
            None => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BatchDescriber {
    client: aws_sdk_batch::Client,
}

impl BatchDescriber {
    pub fn new(client: aws_sdk_batch::Client) -> Self {
        BatchDescriber { client }
    }
}

impl JobDescriber for BatchDescriber {
    async fn describe(&self, job_id: &str) -> Option<BatchJob> {
        match self.client.describe_jobs().jobs(job_id).send().await {
            Ok(output) => output.jobs().first().map(from_sdk),
            Err(err) => {
                tracing::warn!(job_id, error = %DisplayErrorContext(err), "DescribeJobs failed; notifying without enrichment");
                None
            }
        }
    }
}

fn from_sdk(job: &JobDetail) -> BatchJob {
    BatchJob {
        job_id: job.job_id.clone(),
        job_name: job.job_name.clone(),
        job_arn: job.job_arn.clone(),
        job_queue: job.job_queue.clone(),
        job_definition: job.job_definition.clone(),
        status: job.status.as_ref().map(|s| s.as_str().to_string()),
        status_reason: job.status_reason.clone(),
        attempts: job
            .attempts()
            .iter()
            .map(|a| Attempt {
                container: a.container.as_ref().map(|c| Container {
                    exit_code: c.exit_code.map(i64::from),
                    reason: c.reason.clone(),
                    log_stream_name: c.log_stream_name.clone(),
                    log_configuration: None,
                }),
                started_at: a.started_at,
                stopped_at: a.stopped_at,
                status_reason: a.status_reason.clone(),
            })
            .collect(),
        container: job.container.as_ref().map(container_from_sdk),
        created_at: job.created_at,
        started_at: job.started_at,
        stopped_at: job.stopped_at,
    }
}

fn container_from_sdk(c: &ContainerDetail) -> Container {
    Container {
        exit_code: c.exit_code.map(i64::from),
        reason: c.reason.clone(),
        log_stream_name: c.log_stream_name.clone(),
        log_configuration: c.log_configuration.as_ref().map(|l| LogConfiguration {
            log_driver: l.log_driver.as_ref().map(|d| d.as_str().to_string()),
            options: l.options.clone().unwrap_or_default().into_iter().collect(),
        }),
    }
}
