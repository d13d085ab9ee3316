//! The commands on a deployed job's executions: `run`, `status` and `logs`.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use miette::Result;
use serde::Serialize;
use sjob::progress::Progress;
use sjob::runs::execution::{self, ExecutionSummary, JobStatus};
use sjob::runs::output::{LogLine, Reader, Selection};

use super::context::{parse_input, Context, Done, Output, Report};

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
    /// With --wait: stream the container's output to stderr as it runs.
    #[arg(long, requires = "wait")]
    logs: bool,
}

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The job whose container output to print.
    job: String,
    /// The execution (its name or ARN); the latest by default.
    #[arg(long, value_name = "NAME|ARN")]
    execution: Option<String>,
    /// Only this attempt's output (from 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    attempt: Option<u32>,
    /// Only lines written since then: a duration back from now (`90s`,
    /// `15m`, `2h`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIME", value_parser = since)]
    since: Option<DateTime<Utc>>,
    /// Keep printing while the execution runs, then exit 0 when it
    /// succeeded and 3 when it did not.
    #[arg(long, short)]
    follow: bool,
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
        let job = session.config.select(std::slice::from_ref(&self.job))?[0];
        let arn = execution::start(&session, job, parse_input(&self.input)?).await?;
        tracing::info!(execution = %arn, "started");
        let summary = if self.wait {
            let progress = Progress::spinner(&job.batch_name, super::context::stderr_color());
            let mut reader = Reader::new(Selection::default());
            let output = ctx.output;
            let mut sink = |line: &LogLine| progress.println(&render_line(line, output));
            let streamed = self
                .logs
                .then_some((&mut reader, &mut sink as &mut dyn FnMut(&LogLine)));
            execution::wait(&session, &job.batch_name, &arn, &progress, streamed).await?
        } else {
            execution::describe(&session, &job.batch_name, &arn).await?
        };
        Ok(Started {
            summary,
            waited: self.wait,
        })
    }
}

impl LogsArgs {
    /// Prints the lines as they are read; the exit code.
    pub async fn run(&self, ctx: &Context) -> Result<Done> {
        let session = ctx.session().await?;
        let job = session.config.select(std::slice::from_ref(&self.job))?[0];
        let arn = execution::find(&session, job, self.execution.as_deref()).await?;
        tracing::info!(execution = %arn, "container output");
        let mut reader = Reader::new(Selection {
            attempt: self.attempt.map(|a| a as usize),
            since: self.since,
        });
        let output = ctx.output;
        let mut sink = |line: &LogLine| {
            // A reader that went away (`sjob logs | head`) ends nothing.
            let _ = writeln!(std::io::stdout().lock(), "{}", render_line(line, output));
        };
        if !self.follow {
            execution::output(&session, &arn, &mut reader, &mut sink).await?;
            return Ok(Done(ExitCode::SUCCESS));
        }
        let progress = Progress::spinner(&job.batch_name, super::context::stderr_color());
        let summary = execution::wait(
            &session,
            &job.batch_name,
            &arn,
            &progress,
            Some((&mut reader, &mut sink)),
        )
        .await?;
        Ok(Done(exit_code(&summary)))
    }
}

/// A line as text, or as one JSON object with `--output json`.
fn render_line(line: &LogLine, output: Output) -> String {
    match output {
        Output::Text => line.to_string(),
        Output::Json => serde_json::to_string(line).expect("lines serialise"),
    }
}

/// `--since`: a duration back from now, or a time.
fn since(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    sjob::duration::seconds(text, "smhd")
        .and_then(|s| i64::try_from(s).ok())
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .ok_or_else(|| SINCE_HELP.to_string())
}

const SINCE_HELP: &str =
    "expected a duration (a whole number and s, m, h or d: `15m`) or an RFC 3339 time";

/// 0 when the execution succeeded, 3 otherwise.
fn exit_code(summary: &ExecutionSummary) -> ExitCode {
    if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_JOB_FAILED)
    }
}

impl StatusArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Statuses> {
        let session = ctx.session().await?;
        let jobs = session.config.select(self.job.as_slice())?;
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
        if self.waited {
            exit_code(&self.summary)
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
