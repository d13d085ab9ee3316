//! The commands that run on this machine: `local run`, `local schedule`
//! and `simulate`.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use miette::Result;
use serde::Serialize;
use sjob::config::Config;
use sjob::local::deliver::{self, Delivery};
use sjob::local::{self, process, scheduler, LocalRun, SecretValues, SimulatedOutcome};

use super::context::{parse_input, Context, Document, Output, Report};

/// Exit code of `local run` when the command could not start (as a shell's).
const EXIT_CANNOT_START: u8 = 127;
const LAMBDA_WATCH_ENDPOINT: &str = "http://127.0.0.1:9000";

#[derive(Subcommand)]
pub enum LocalCommand {
    /// Run a job's command here, then deliver the event its outcome produces
    /// to the matching handler. Exits with the job's exit code.
    Run(LocalRunArgs),
    /// Fire the jobs' schedules in the foreground until Ctrl-C.
    Schedule(LocalScheduleArgs),
}

#[derive(clap::Args)]
pub struct LocalRunArgs {
    /// The job to run.
    job: String,
    /// Execution input (JSON); the schedule's input by default.
    #[arg(long)]
    input: Option<String>,
    /// Read the job's secrets from Secrets Manager and SSM (AWS settings
    /// and AWS_ENDPOINT_URL apply) instead of from the variables of the
    /// same names in this environment.
    #[arg(long)]
    fetch_secrets: bool,
    /// How many children of an array job (`array_size`) run at once; one
    /// per CPU by default.
    #[arg(long, value_name = "N")]
    parallel: Option<NonZeroUsize>,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

#[derive(clap::Args)]
pub struct LocalScheduleArgs {
    /// Jobs whose schedules to fire (all by default).
    jobs: Vec<String>,
    /// Seconds to wait for running jobs after Ctrl-C before killing them,
    /// 0 to 1209600 (14 days, the longest job timeout).
    #[arg(
        long,
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=scheduler::MAX_GRACE_SECONDS)
    )]
    grace: u64,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The job whose handler event to build.
    job: String,
    /// The run's outcome, which picks the handler and the event.
    #[arg(long, value_enum)]
    outcome: SimulatedOutcome,
    /// Execution input (JSON); the schedule's input by default.
    #[arg(long)]
    input: Option<String>,
    /// Invoke the handler through the Lambda Invoke API at this endpoint
    /// (`cargo lambda watch` serves http://127.0.0.1:9000).
    #[arg(long, num_args = 0..=1, default_missing_value = LAMBDA_WATCH_ENDPOINT)]
    invoke: Option<String>,
}

/// Where `sjob local` sends the handler event.
#[derive(clap::Args)]
struct DeliveryArgs {
    /// Invoke the handler binaries through the Lambda Invoke API at this
    /// endpoint instead of in-process (`cargo lambda watch`'s by default).
    #[arg(long, num_args = 0..=1, default_missing_value = LAMBDA_WATCH_ENDPOINT)]
    lambda_endpoint: Option<String>,
    /// Publish to this SNS topic (AWS settings and AWS_ENDPOINT_URL apply)
    /// instead of the local outbox.
    #[arg(long, env = "SNS_TOPIC_ARN")]
    topic_arn: Option<String>,
    /// The local outbox (JSON lines); `.sjob/notifications.jsonl` beside the config by default.
    #[arg(long)]
    outbox: Option<PathBuf>,
}

impl DeliveryArgs {
    fn delivery(&self, ctx: &Context, config: &Config) -> Delivery {
        match (&self.lambda_endpoint, &self.topic_arn) {
            (Some(endpoint), _) => Delivery::Lambda(endpoint.clone()),
            (None, Some(topic)) => Delivery::Sns(topic.clone(), ctx.aws.clone()),
            (None, None) => {
                Delivery::Outbox(self.outbox.clone().unwrap_or_else(|| {
                    process::state_dir(&config.path).join("notifications.jsonl")
                }))
            }
        }
    }
}

/// A local run: the notification's text (or all of it as JSON), and the
/// job's exit code as the process's.
#[derive(Serialize)]
#[serde(transparent)]
pub struct LocalRunReport(LocalRun);

impl LocalCommand {
    pub async fn run(&self, ctx: &Context) -> Result<ExitCode> {
        match self {
            LocalCommand::Run(args) => ctx.emit(args.run(ctx).await?),
            LocalCommand::Schedule(args) => args.run(ctx).await,
        }
    }
}

impl LocalRunArgs {
    pub async fn run(&self, ctx: &Context) -> Result<LocalRunReport> {
        let config = ctx.load()?;
        let job = config.select(std::slice::from_ref(&self.job))?[0];
        let delivery = self.delivery.delivery(ctx, &config);
        let secrets = if self.fetch_secrets {
            SecretValues::Aws(ctx.aws.clone())
        } else {
            SecretValues::Environment
        };
        let parallel = self.parallel.unwrap_or_else(local::default_parallel);
        let input = parse_input(&self.input)?;
        let run = local::run(&config, job, input, &delivery, &secrets, parallel).await?;
        if ctx.output == Output::Text {
            let children = run.array.as_ref().map_or(String::new(), |a| {
                let failed = if a.failed_indexes.is_empty() {
                    String::new()
                } else {
                    format!(" (failed: {:?})", a.failed_indexes)
                };
                format!("; {} of {} children succeeded{failed}", a.succeeded, a.size)
            });
            eprintln!(
                "{} {} after {} attempt(s){children}; log: {}; {} answered {}",
                run.job, run.status, run.attempts, run.log_file, run.handler, run.handler_response
            );
        }
        Ok(LocalRunReport(run))
    }
}

impl LocalScheduleArgs {
    pub async fn run(&self, ctx: &Context) -> Result<ExitCode> {
        let config = ctx.load()?;
        let selected = config.select(&self.jobs)?.into_iter().cloned().collect();
        let delivery = self.delivery.delivery(ctx, &config);
        scheduler::serve(&config, selected, delivery, Duration::from_secs(self.grace)).await;
        Ok(ExitCode::SUCCESS)
    }
}

impl SimulateArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Document> {
        let config = ctx.load()?;
        let job = config.select(std::slice::from_ref(&self.job))?[0];
        let (kind, event) = local::simulate(&config, job, self.outcome, parse_input(&self.input)?)?;
        Ok(Document(match &self.invoke {
            None => event,
            Some(endpoint) => {
                deliver::invoke(endpoint, deliver::function_name(kind), event).await?
            }
        }))
    }
}

impl fmt::Display for LocalRunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.notification_text {
            Some(text) => write!(f, "{text}"),
            None => Ok(()),
        }
    }
}

impl Report for LocalRunReport {
    fn exit_code(&self) -> ExitCode {
        match self.0.exit_code {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::from(EXIT_CANNOT_START),
        }
    }
}
