//! The commands on a deployed job's executions: `run` and `status`.

use std::fmt;
use std::process::ExitCode;

use deployer::execution::{self, ExecutionSummary, JobStatus};
use deployer::progress::Progress;
use miette::Result;
use serde::Serialize;

use super::{parse_input, Context, Report};

/// Exit code for `run --wait` when the execution did not succeed.
const EXIT_JOB_FAILED: u8 = 3;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The job to start.
    job: String,
    /// Execution input (JSON); the schedule's input by default.
    #[arg(long)]
    input: Option<String>,
    /// Follow the execution to its end; exit 3 when it did not succeed.
    #[arg(long)]
    wait: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The job to show (every job by default).
    job: Option<String>,
    /// How many recent executions to list, 1 to 1000 (ListExecutions' limit).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=1000))]
    count: i32,
}

/// The execution `run` started: as it is now, or as it ended with `--wait`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Started {
    summary: ExecutionSummary,
    #[serde(skip)]
    waited: bool,
}

/// Each job's schedule and recent executions.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Statuses(Vec<JobStatus>);

impl RunArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Started> {
        let session = ctx.session().await?;
        let job = session.select(std::slice::from_ref(&self.job))?[0];
        let arn = execution::start(&session, job, parse_input(&self.input)?).await?;
        tracing::info!(execution = %arn, "started");
        let summary = if self.wait {
            let progress = Progress::spinner(&job.batch_name, super::stderr_color());
            execution::wait(&session, &job.batch_name, &arn, &progress).await?
        } else {
            execution::describe(&session, &job.batch_name, &arn).await?
        };
        Ok(Started {
            summary,
            waited: self.wait,
        })
    }
}

impl StatusArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Statuses> {
        let session = ctx.session().await?;
        let jobs = session.select(self.job.as_slice())?;
        Ok(Statuses(
            execution::statuses(&session, &jobs, self.count).await?,
        ))
    }
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}\n{}", self.summary.execution_arn, self.summary)
    }
}

impl Report for Started {
    fn exit_code(&self) -> ExitCode {
        if self.waited && !self.summary.succeeded() {
            ExitCode::from(EXIT_JOB_FAILED)
        } else {
            ExitCode::SUCCESS
        }
    }
}

impl fmt::Display for Statuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|status| write!(f, "{status}"))
    }
}

impl Report for Statuses {}
