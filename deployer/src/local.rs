//! `sjob local`: a job, its schedule and its handlers on this machine, with
//! no AWS account. The job's command runs as a local process; the handler
//! event is built from the same rendered stack the state machine uses; the
//! handlers run in-process or behind a Lambda Invoke API.

pub mod deliver;
pub mod event;
pub mod process;
pub mod scheduler;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use chrono::Utc;
use handlers::HandlerKind;
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::pace::Pace;
use crate::config::{ArnRef, Config, Job};
use crate::model::JobStack;
use crate::render::definition::NOTIFY_SKIPPED_STATE;
use crate::secret::SecretSource;
use crate::target::Target;
use deliver::{deliver, Delivery, DeliveryError};
use event::{handler_event, new_id, Ending, Execution};

/// The account and region of local runs whose config names neither.
const LOCAL_ACCOUNT_ID: &str = "000000000000";
const LOCAL_REGION: &str = "us-east-1";

/// The target local runs pretend to be in: the config's account and region,
/// else those of an ARN the config gives the job, so local events carry the
/// ARNs the deployed stack would. A job that takes every ARN from the base of
/// a config without `account_id` or `region` gets placeholders.
pub fn local_target(config: &Config, job: &Job) -> Target {
    let given = [
        &job.run.batch_job_queue,
        &job.notification.success_handler,
        &job.notification.error_handler,
    ]
    .into_iter()
    .find_map(|arn| match arn {
        ArnRef::Given(arn) => Some(arn.split(':').map(str::to_string).collect::<Vec<_>>()),
        ArnRef::Base(_) => None,
    });
    let part = |i: usize, placeholder: &str| {
        given
            .as_ref()
            .map_or_else(|| placeholder.to_string(), |parts| parts[i].clone())
    };
    Target {
        account_id: config
            .account_id
            .clone()
            .unwrap_or_else(|| part(4, LOCAL_ACCOUNT_ID)),
        region: config
            .region
            .clone()
            .unwrap_or_else(|| part(3, LOCAL_REGION)),
    }
}

/// What `sjob local run` reports.
#[derive(Debug, Clone, Serialize)]
pub struct LocalRun {
    pub job: String,
    pub execution_arn: String,
    pub status: &'static str,
    /// The last attempt's exit code (an array job's: its first failed
    /// child's, else 0); `None` when the command never started.
    pub exit_code: Option<i32>,
    /// Every attempt, of every child of an array job.
    pub attempts: usize,
    /// The run's log file; an array job's directory of one log per child.
    pub log_file: String,
    /// An array job's children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array: Option<LocalArray>,
    pub handler: &'static str,
    pub handler_response: Value,
    /// The notification as people read it, when it went to the local outbox.
    pub notification_text: Option<String>,
}

/// How an array job's children ended.
#[derive(Debug, Clone, Serialize)]
pub struct LocalArray {
    pub size: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub failed_indexes: Vec<u64>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LocalError {
    #[error("cannot write the run's log {path}: {source}")]
    #[diagnostic(code(sjob::local::log))]
    Log {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Delivery(#[from] DeliveryError),
    #[error("job `{job}` has secrets with no value here: {}", names.join(", "))]
    #[diagnostic(
        code(sjob::local::secrets),
        help("a local run takes each secret from the variable of the same name in your environment: export {} before running it, or read them from AWS with --fetch-secrets", names.join(", "))
    )]
    MissingSecrets { job: String, names: Vec<String> },
    #[error("cannot read secret {name} from AWS")]
    #[diagnostic(code(sjob::local::fetch_secret))]
    FetchSecret {
        name: String,
        #[source]
        #[diagnostic_source]
        source: crate::aws::AwsError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Settings(#[from] crate::aws::SdkOptionsError),
    #[error("job `{job}` has no missed-run alarm")]
    #[diagnostic(
        code(sjob::local::no_alarm),
        help("set expect_success_within on the job (or in [defaults]), as \"26h\"")
    )]
    NoAlarm { job: String },
}

/// Where a local run takes its secrets' values from.
#[derive(Debug, Clone)]
pub enum SecretValues {
    /// The caller's variable of the same name.
    Environment,
    /// Secrets Manager and SSM, as the task would (`--fetch-secrets`).
    Aws(crate::aws::SdkOptions),
}

/// Each secret's value.
async fn secret_values(
    config: &Config,
    job: &Job,
    from: &SecretValues,
) -> Result<BTreeMap<String, String>, LocalError> {
    let mut values = BTreeMap::new();
    match from {
        SecretValues::Environment => {
            let mut missing = Vec::new();
            for name in job.container.secrets.keys() {
                match std::env::var(name) {
                    Ok(value) => {
                        values.insert(name.clone(), value);
                    }
                    Err(_) => missing.push(name.clone()),
                }
            }
            if !missing.is_empty() {
                return Err(LocalError::MissingSecrets {
                    job: job.batch_name.clone(),
                    names: missing,
                });
            }
        }
        SecretValues::Aws(settings) => {
            if job.container.secrets.is_empty() {
                return Ok(values);
            }
            let client = crate::aws::secrets::Client::new(
                &settings
                    .sdk_config(config.region.as_deref(), &Pace::default())
                    .await?,
            );
            for (name, arn) in &job.container.secrets {
                let source = SecretSource::parse(arn).expect("validated secret ARN");
                let value =
                    client
                        .read(name, &source)
                        .await
                        .map_err(|source| LocalError::FetchSecret {
                            name: name.clone(),
                            source,
                        })?;
                values.insert(name.clone(), value);
            }
        }
    }
    Ok(values)
}

/// How many children of an array job run at once unless told: one per CPU.
pub fn default_parallel() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// What Batch's `ListJobs` would answer about a local array run: the
/// indexes of its failed children, for the notification.
struct LocalChildren<'a> {
    array_job_id: &'a str,
    failed: &'a [u64],
}

impl handlers::enrich::JobDescriber for LocalChildren<'_> {
    async fn describe(&self, _job_id: &str) -> Option<handlers::event::BatchJob> {
        None
    }

    async fn failed_children(&self, array_job_id: &str) -> Option<Vec<u64>> {
        (array_job_id == self.array_job_id).then(|| self.failed.to_vec())
    }
}

/// Runs the job's command (an array job's children, at most `parallel` at
/// a time), then delivers the event its outcome produces.
pub async fn run(
    config: &Config,
    job: &Job,
    input: Option<Value>,
    delivery: &Delivery,
    secrets: &SecretValues,
    parallel: NonZeroUsize,
) -> Result<LocalRun, LocalError> {
    let secrets = secret_values(config, job, secrets).await?;
    let target = local_target(config, job);
    let stack = JobStack::render(config, job, &target);
    let execution = Execution::new(
        &stack,
        &target,
        new_id(),
        input.unwrap_or_else(|| job.schedule.input.clone()),
        Utc::now(),
    );
    let job_id = new_id();
    let logs = process::state_dir(&config.path)
        .join("logs")
        .join(&job.batch_name);

    let mut env = stack.job_definition.environment.clone();
    env.extend(secrets);
    env.extend([
        (
            crate::input::INPUT_ENV.to_string(),
            execution.input.to_string(),
        ),
        (
            crate::input::EXECUTION_ENV.to_string(),
            execution.arn.clone(),
        ),
        ("AWS_BATCH_JOB_ID".to_string(), job_id.clone()),
        (
            "AWS_BATCH_JQ_NAME".to_string(),
            job.queue_arn(&target)
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
    ]);
    let launch = process::Launch {
        job: job.batch_name.clone(),
        command: job.container.command.clone(),
        env,
        timeout: job
            .container
            .timeout_seconds
            .map(|s| Duration::from_secs(s.into())),
        deadline: job
            .run
            .run_timeout_seconds
            .map(|s| Instant::now() + Duration::from_secs(s.into())),
        attempts: job.retry.attempts,
        retry_on: job.retry.on.clone(),
        dir: config
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        log_file: logs.join(format!("{}.log", execution.name)),
    };
    let created_at = Utc::now();
    let log_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| LocalError::Log { path, source }
    };
    let (runs, log_file) = match job.run.array_size {
        None => {
            let run = process::run(&launch)
                .await
                .map_err(log_error(&launch.log_file))?;
            (vec![run], launch.log_file.clone())
        }
        Some(size) => {
            let dir = logs.join(&execution.name);
            let children = (0..size).map(|index| child(&launch, &job_id, index, &dir));
            let runs: Vec<_> = futures::stream::iter(children)
                .map(|launch| async move { (process::run(&launch).await, launch.log_file) })
                .buffered(parallel.get())
                .collect()
                .await;
            let runs = runs
                .into_iter()
                .map(|(run, log_file)| run.map_err(log_error(&log_file)))
                .collect::<Result<Vec<_>, _>>()?;
            (runs, dir)
        }
    };
    let attempts = runs.iter().map(|r| r.attempts.len()).sum();
    let failed_indexes: Vec<u64> = (0u64..)
        .zip(&runs)
        .filter(|(_, run)| !event::succeeded(&run.attempts))
        .map(|(index, _)| index)
        .collect();
    let exit_code = match failed_indexes.first() {
        Some(&index) => runs[index as usize]
            .attempts
            .last()
            .and_then(|a| a.exit_code),
        None => Some(0),
    };
    // As on AWS: the capped Batch task fails with States.Timeout and no job
    // record.
    let ending = if runs.iter().any(|r| r.timed_out) {
        Ending::TaskError {
            error: "States.Timeout".into(),
            cause: String::new(),
        }
    } else if job.run.array_size.is_some() {
        Ending::Array {
            job_id: job_id.clone(),
            created_at,
            children: runs.iter().map(|r| r.attempts.clone()).collect(),
        }
    } else {
        Ending::Batch {
            job_id: job_id.clone(),
            created_at,
            attempts: runs[0].attempts.clone(),
        }
    };
    let kind = if ending.succeeded() {
        HandlerKind::Success
    } else {
        HandlerKind::Error
    };
    let event = handler_event(config, job, &target, &execution, &ending, Utc::now());
    let children = LocalChildren {
        array_job_id: &job_id,
        failed: &failed_indexes,
    };
    let delivered = deliver(delivery, kind, event, &children).await?;
    Ok(LocalRun {
        job: job.batch_name.clone(),
        execution_arn: execution.arn,
        status: if ending.succeeded() {
            "SUCCEEDED"
        } else {
            "FAILED"
        },
        exit_code,
        attempts,
        log_file: log_file.display().to_string(),
        array: job.run.array_size.map(|size| LocalArray {
            size: size as usize,
            succeeded: size as usize - failed_indexes.len(),
            failed: failed_indexes.len(),
            failed_indexes,
        }),
        handler: deliver::function_name(kind),
        handler_response: delivered.response,
        notification_text: delivered.text,
    })
}

/// The launch of an array job's child `index`: Batch's variables for it,
/// its own log file, its index in its output's prefix.
fn child(launch: &process::Launch, job_id: &str, index: u32, logs: &Path) -> process::Launch {
    let mut child = launch.clone();
    child.job = format!("{}:{index}", launch.job);
    child.env.extend([
        ("AWS_BATCH_JOB_ID".to_string(), format!("{job_id}:{index}")),
        ("AWS_BATCH_JOB_ARRAY_INDEX".to_string(), index.to_string()),
    ]);
    child.log_file = logs.join(format!("{index}.log"));
    child
}

/// The outcomes `sjob simulate` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimulatedOutcome {
    /// The job exited 0: the success handler's event.
    Success,
    /// The job exited 1: `States.TaskFailed` with the job record.
    Failed,
    /// The task timed out: `States.Timeout`.
    Timeout,
    /// Batch rejected `SubmitJob`: `Batch.ClientException`.
    Rejected,
    /// The job exited 0 and the success handler failed for good
    /// (`PublishFailed`): the error handler's event, with the Batch result.
    NotificationFailed,
    /// An earlier execution was still running (`overlap = "skip"`): the
    /// success handler's event for the SKIPPED notification.
    Skipped,
    /// No run succeeded within `expect_success_within`: what CloudWatch
    /// sends the error handler when the missed-run alarm fires.
    Missed,
    /// A run succeeded again: the alarm's return to OK.
    Recovered,
}

/// The exact event the state machine (or, for the missed-run alarm,
/// CloudWatch) would send a handler for `outcome`, and which handler gets
/// it.
pub fn simulate(
    config: &Config,
    job: &Job,
    outcome: SimulatedOutcome,
    input: Option<Value>,
) -> Result<(HandlerKind, Value), LocalError> {
    let target = local_target(config, job);
    let stack = JobStack::render(config, job, &target);
    let now = Utc::now();
    if let SimulatedOutcome::Missed | SimulatedOutcome::Recovered = outcome {
        let alarm = stack.alarm.as_ref().ok_or_else(|| LocalError::NoAlarm {
            job: job.batch_name.clone(),
        })?;
        let missed = outcome == SimulatedOutcome::Missed;
        return Ok((
            HandlerKind::Error,
            event::alarm_event(alarm, &target, missed, now),
        ));
    }
    let execution = Execution::new(
        &stack,
        &target,
        new_id(),
        input.unwrap_or_else(|| job.schedule.input.clone()),
        now,
    );
    let attempt = |exit_code: i32| event::Attempt {
        started_at: Some(now),
        stopped_at: now,
        exit_code: Some(exit_code),
        container_reason: None,
        status_reason: process::EXITED.to_string(),
        log_stream: Some(stack.job_definition.log_stream(&new_id().replace('-', ""))),
    };
    // Every child of an array job ends alike.
    let batch = |exit_code: i32| match job.run.array_size {
        None => Ending::Batch {
            job_id: new_id(),
            created_at: now,
            attempts: vec![attempt(exit_code)],
        },
        Some(size) => Ending::Array {
            job_id: new_id(),
            created_at: now,
            children: (0..size).map(|_| vec![attempt(exit_code)]).collect(),
        },
    };
    let ending = match outcome {
        SimulatedOutcome::Success
        | SimulatedOutcome::NotificationFailed
        | SimulatedOutcome::Skipped
        | SimulatedOutcome::Missed
        | SimulatedOutcome::Recovered => batch(0),
        SimulatedOutcome::Failed => batch(1),
        SimulatedOutcome::Timeout => Ending::TaskError { error: "States.Timeout".into(), cause: String::new() },
        SimulatedOutcome::Rejected => Ending::TaskError {
            error: "Batch.ClientException".into(),
            cause: format!(
                "JobQueue {} not found. (Service: AWSBatch; Status Code: 400; Error Code: ClientException; Request ID: {}; Proxy: null)",
                job.queue_arn(&target),
                new_id()
            ),
        },
    };
    let event = handler_event(config, job, &target, &execution, &ending, now);
    match outcome {
        SimulatedOutcome::NotificationFailed => {
            let cause = json!({
                "errorType": "PublishFailed",
                "errorMessage": format!(
                    "publishing to {} failed: service error",
                    job.notification_topic_arn(&target)
                        .unwrap_or_else(|| "the topic".to_string())
                ),
            });
            Ok((
                HandlerKind::Error,
                event::notification_failed(event, "PublishFailed", &cause.to_string()),
            ))
        }
        SimulatedOutcome::Skipped => {
            // What the state machine's SkipReason state passes on: the
            // metadata, the input and the execution still running.
            let earlier = format!(
                "{}:{}",
                execution.arn.rsplit_once(':').map_or("", |(m, _)| m),
                new_id()
            );
            let mut event = event;
            let state = event["state"]
                .as_object_mut()
                .expect("the state is an object");
            state.remove("batch");
            state.insert("skipped".into(), json!({ "running_execution": earlier }));
            event["context"]["State"]["Name"] = json!(NOTIFY_SKIPPED_STATE);
            Ok((HandlerKind::Success, event))
        }
        _ if ending.succeeded() => Ok((HandlerKind::Success, event)),
        _ => Ok((HandlerKind::Error, event)),
    }
}
