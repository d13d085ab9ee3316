//! Optional enrichment: when a failure names a Batch job but the cause did not
//! carry its record (truncated or missing), ask Batch with `DescribeJobs`;
//! when an array job's children failed, ask which with `ListJobs`.
//! Enrichment is best effort and bounded in time; it never blocks the
//! notification.

use std::future::Future;
use std::time::Duration;

use aws_sdk_batch::config::retry::RetryConfig;
use aws_sdk_batch::config::timeout::TimeoutConfig;
use aws_sdk_batch::error::{DisplayErrorContext, SdkError};
use aws_sdk_batch::types::{ContainerDetail, JobDetail, JobStatus};

use crate::event::{ArrayProperties, Attempt, BatchJob, Container, LogConfiguration};
use crate::redact::EnvValues;

pub trait JobDescriber: Send + Sync {
    /// The job's record, or `None` when it cannot be had.
    fn describe(&self, job_id: &str) -> impl Future<Output = Option<BatchJob>> + Send;

    /// The indexes of the array job's FAILED children, ascending, or `None`
    /// when they cannot be had.
    fn failed_children(&self, array_job_id: &str) -> impl Future<Output = Option<Vec<u64>>> + Send;
}

/// No enrichment (`SJOB_ENRICH=false`, or a local run that knows nothing
/// more than its event).
impl JobDescriber for () {
    async fn describe(&self, _job_id: &str) -> Option<BatchJob> {
        None
    }

    async fn failed_children(&self, _array_job_id: &str) -> Option<Vec<u64>> {
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

    async fn failed_children(&self, array_job_id: &str) -> Option<Vec<u64>> {
        match self {
            Some(describer) => describer.failed_children(array_job_id).await,
            None => None,
        }
    }
}

/// Enrichment through `DescribeJobs` and `ListJobs`, each of which may take
/// at most `timeout` (one retry and every page included) so that a slow
/// Batch API only delays the notification by that much.
#[derive(Debug, Clone)]
pub struct BatchDescriber {
    client: aws_sdk_batch::Client,
    timeout: Duration,
}

/// Why a job record or an array's failed children could not be had.
#[derive(Debug, thiserror::Error)]
enum EnrichError {
    #[error("{0} did not answer within {millis} ms", millis = .1.as_millis())]
    TimedOut(&'static str, Duration),
    #[error("{0} failed: {1}")]
    Failed(&'static str, String),
}

/// The most children `ListJobs` lists per page.
const LIST_PAGE: i32 = 1000;

impl BatchDescriber {
    pub fn new(client: aws_sdk_batch::Client, timeout: Duration) -> Self {
        BatchDescriber { client, timeout }
    }

    /// One call's settings: at most `timeout`, one retry.
    fn bounded(&self) -> aws_sdk_batch::config::Builder {
        aws_sdk_batch::Config::builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(self.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2))
    }

    fn error<E>(&self, operation: &'static str) -> impl Fn(SdkError<E>) -> EnrichError + '_
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |err| match err {
            SdkError::TimeoutError(_) => EnrichError::TimedOut(operation, self.timeout),
            other => EnrichError::Failed(operation, DisplayErrorContext(other).to_string()),
        }
    }

    /// The job's record, `Ok(None)` when Batch does not know the job.
    async fn fetch(&self, job_id: &str) -> Result<Option<BatchJob>, EnrichError> {
        let output = self
            .client
            .describe_jobs()
            .jobs(job_id)
            .customize()
            .config_override(self.bounded())
            .send()
            .await
            .map_err(self.error("DescribeJobs"))?;
        Ok(output.jobs().first().map(from_sdk))
    }

    /// Every FAILED child's index, page by page, all within `timeout`.
    async fn list_failed(&self, array_job_id: &str) -> Result<Vec<u64>, EnrichError> {
        let pages = async {
            let mut indexes = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .list_jobs()
                    .array_job_id(array_job_id)
                    .job_status(JobStatus::Failed)
                    .max_results(LIST_PAGE)
                    .set_next_token(token)
                    .customize()
                    .config_override(self.bounded())
                    .send()
                    .await
                    .map_err(self.error("ListJobs"))?;
                indexes.extend(
                    page.job_summary_list()
                        .iter()
                        .filter_map(|child| child.array_properties.as_ref()?.index)
                        .filter_map(|index| u64::try_from(index).ok()),
                );
                token = page.next_token.filter(|t| !t.is_empty());
                if token.is_none() {
                    break;
                }
            }
            indexes.sort_unstable();
            indexes.dedup();
            Ok(indexes)
        };
        tokio::time::timeout(self.timeout, pages)
            .await
            .unwrap_or(Err(EnrichError::TimedOut("ListJobs", self.timeout)))
    }
}

impl JobDescriber for BatchDescriber {
    async fn describe(&self, job_id: &str) -> Option<BatchJob> {
        self.fetch(job_id)
            .await
            .inspect_err(|err| {
                tracing::warn!(job_id, error = %err, "notifying without enrichment");
            })
            .ok()
            .flatten()
    }

    async fn failed_children(&self, array_job_id: &str) -> Option<Vec<u64>> {
        self.list_failed(array_job_id)
            .await
            .inspect_err(|err| {
                tracing::warn!(array_job_id, error = %err, "notifying without the failed children's indexes");
            })
            .ok()
    }
}

/// The record of a described job, with its environment's values redacted
/// from every string it keeps.
fn from_sdk(job: &JobDetail) -> BatchJob {
    let env = EnvValues::new(
        job.container()
            .map(ContainerDetail::environment)
            .unwrap_or_default()
            .iter()
            .filter_map(|variable| variable.value.clone()),
    );
    let text = |s: &Option<String>| s.as_deref().map(|s| env.redact(s));
    BatchJob {
        job_id: text(&job.job_id),
        job_name: text(&job.job_name),
        job_arn: text(&job.job_arn),
        job_queue: text(&job.job_queue),
        job_definition: text(&job.job_definition),
        status: job.status.as_ref().map(|s| s.as_str().to_string()),
        status_reason: text(&job.status_reason),
        attempts: job
            .attempts()
            .iter()
            .map(|a| Attempt {
                container: a.container.as_ref().map(|c| Container {
                    exit_code: c.exit_code.map(i64::from),
                    reason: text(&c.reason),
                    log_stream_name: text(&c.log_stream_name),
                    log_configuration: None,
                }),
                started_at: a.started_at,
                stopped_at: a.stopped_at,
                status_reason: text(&a.status_reason),
            })
            .collect(),
        container: job.container.as_ref().map(|c| Container {
            exit_code: c.exit_code.map(i64::from),
            reason: text(&c.reason),
            log_stream_name: text(&c.log_stream_name),
            log_configuration: c.log_configuration.as_ref().map(|l| LogConfiguration {
                log_driver: l.log_driver.as_ref().map(|d| d.as_str().to_string()),
                options: l
                    .options
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), env.redact(v)))
                    .collect(),
            }),
        }),
        array_properties: job.array_properties.as_ref().map(|a| ArrayProperties {
            size: a.size.and_then(|s| u64::try_from(s).ok()),
            status_summary: a
                .status_summary
                .iter()
                .flatten()
                .filter_map(|(status, count)| Some((status.clone(), u64::try_from(*count).ok()?)))
                .collect(),
            index: a.index.and_then(|i| u64::try_from(i).ok()),
        }),
        created_at: job.created_at,
        started_at: job.started_at,
        stopped_at: job.stopped_at,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_sdk_batch::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_batch::types::{AttemptDetail, JobStatus, KeyValuePair};

    use super::*;
    use crate::http::TlsOnFirstUse;

    /// A Batch endpoint that accepts connections and never answers; the
    /// count is of connections accepted.
    async fn silent_batch() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(socket);
            }
        });
        (endpoint, accepted)
    }

    fn client(endpoint: &str) -> aws_sdk_batch::Client {
        let config = aws_sdk_batch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .endpoint_url(endpoint)
            .http_client(TlsOnFirstUse::new())
            .build();
        aws_sdk_batch::Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_batch_api_that_never_answers_is_given_up_after_the_timeout() {
        let (endpoint, accepted) = silent_batch().await;
        let timeout = Duration::from_millis(300);
        let describer = BatchDescriber::new(client(&endpoint), timeout);

        // Without its own timeout the call would wait for the Lambda's.
        let outcome = tokio::time::timeout(Duration::from_secs(30), describer.fetch("job-1"))
            .await
            .expect("DescribeJobs outlived the enrichment timeout");

        assert!(
            matches!(outcome, Err(EnrichError::TimedOut(_, t)) if t == timeout),
            "{outcome:?}"
        );
        assert!(
            accepted.load(Ordering::SeqCst) >= 1,
            "the request never reached Batch"
        );
        let described = tokio::time::timeout(Duration::from_secs(30), describer.describe("job-1"))
            .await
            .expect("describe outlived the enrichment timeout");
        assert_eq!(described, None);
    }

    #[test]
    fn a_described_job_keeps_no_environment_value() {
        const SECRET: &str = "hunter2-secret";
        let job = JobDetail::builder()
            .job_id("job-1")
            .job_name("acme-prod-job")
            .job_queue("q")
            .job_definition("d")
            .status(JobStatus::Failed)
            .status_reason(format!("login refused for {SECRET}"))
            .started_at(1)
            .attempts(
                AttemptDetail::builder()
                    .status_reason(format!("attempt: {SECRET}"))
                    .build(),
            )
            .container(
                ContainerDetail::builder()
                    .exit_code(1)
                    .reason(format!("container: {SECRET}"))
                    .environment(
                        KeyValuePair::builder()
                            .name("DB_PASSWORD")
                            .value(SECRET)
                            .build(),
                    )
                    .build(),
            )
            .build();

        let record = from_sdk(&job);

        assert_eq!(
            record.status_reason.as_deref(),
            Some("login refused for [redacted]")
        );
        assert_eq!(record.container_reason(), Some("container: [redacted]"));
        assert!(!format!("{record:?}").contains(SECRET), "{record:?}");
    }
}
