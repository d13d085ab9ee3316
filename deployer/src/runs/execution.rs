//! Executions: start one now (`sjob run`), follow it, and summarise recent
//! ones with their Batch jobs, outcome statistics and the next fire times
//! (`sjob status`).

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::aws::scheduler::ScheduleRecord;
use crate::aws::sfn::Execution;
use crate::aws::{self, AwsError};
use crate::config::Job;
use crate::plan::JOB_CONCURRENCY;
use crate::progress::Progress;
use crate::runs::output::{Reader, Sink};
use crate::schedule::parse_timezone;
use crate::session::Session;

#[derive(Debug, Clone, Serialize)]
pub struct ExecutionSummary {
    pub job: String,
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    /// The failure, when Step Functions recorded one.
    pub error: Option<String>,
    /// The run's Batch job, when `status` found it.
    pub batch_job_id: Option<String>,
    /// Its attempts, when `status` found it.
    pub attempts: Option<usize>,
}

impl ExecutionSummary {
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    fn new(job: &str, execution: Execution) -> ExecutionSummary {
        let (started, stopped) = (execution.started_at, execution.stopped_at);
        ExecutionSummary {
            job: job.to_string(),
            execution_arn: execution.arn,
            name: execution.name,
            status: execution.status,
            started_at: started,
            stopped_at: stopped,
            duration_seconds: duration(started, stopped),
            error: execution.error,
            batch_job_id: None,
            attempts: None,
        }
    }
}

impl fmt::Display for ExecutionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {:<9}", self.name, self.status)?;
        if let Some(started) = self.started_at {
            write!(
                f,
                "  started {}",
                started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
        if let Some(seconds) = self.duration_seconds {
            write!(f, "  {seconds:.1} s")?;
        }
        if let Some(attempts) = self.attempts {
            write!(f, "  {attempts} attempt(s)")?;
        }
        if let Some(id) = &self.batch_job_id {
            write!(f, "  batch {id}")?;
        }
        if let Some(error) = &self.error {
            write!(f, "  {error}")?;
        }
        Ok(())
    }
}

fn duration(started: Option<DateTime<Utc>>, stopped: Option<DateTime<Utc>>) -> Option<f64> {
    Some((stopped? - started?).num_milliseconds() as f64 / 1000.0)
}

/// An execution that cannot be found for a job.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FindError {
    #[error("job `{job}` has no executions")]
    #[diagnostic(
        code(sjob::runs::execution::none),
        help("start one with `sjob run {job}`, or wait for its schedule")
    )]
    NoExecutions { job: String },
    #[error(
        "--execution `{given}` is not an execution of job `{job}`, whose ARNs start `{prefix}`"
    )]
    #[diagnostic(code(sjob::runs::execution::other_job))]
    OtherJob {
        given: String,
        job: String,
        prefix: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
}

/// The ARN of the job's execution `given` (a name or an ARN), or of its
/// latest.
pub async fn find(session: &Session, job: &Job, given: Option<&str>) -> Result<String, FindError> {
    let names = session.render(job).names;
    let prefix = session
        .stack
        .target
        .arn("states", &format!("execution:{}:", names.job_name));
    match given {
        Some(arn) if arn.starts_with("arn:") => match arn.strip_prefix(&prefix) {
            Some(name) if !name.is_empty() && !name.contains(':') => Ok(arn.to_string()),
            _ => Err(FindError::OtherJob {
                given: arn.to_string(),
                job: job.batch_name.clone(),
                prefix,
            }),
        },
        Some(name) => Ok(format!("{prefix}{name}")),
        None => {
            let machine = session.stack.target.state_machine_arn(&names.job_name);
            let listed =
                aws::sfn::list_executions(&session.clients.sfn, &names.job_name, &machine, 1)
                    .await?;
            listed
                .into_iter()
                .next()
                .map(|e| e.arn)
                .ok_or_else(|| FindError::NoExecutions {
                    job: job.batch_name.clone(),
                })
        }
    }
}

/// Starts an execution with the schedule's input, or `input` if given.
pub async fn start(session: &Session, job: &Job, input: Option<Value>) -> Result<String, AwsError> {
    let names = session.render(job).names;
    let arn = session.stack.target.state_machine_arn(&names.job_name);
    let input = input.unwrap_or_else(|| job.schedule.input.clone());
    aws::sfn::start_execution(&session.clients.sfn, &names.job_name, &arn, &input).await
}

pub async fn describe(
    session: &Session,
    job: &str,
    execution_arn: &str,
) -> Result<ExecutionSummary, AwsError> {
    let execution = aws::sfn::describe_execution(&session.clients.sfn, execution_arn).await?;
    Ok(ExecutionSummary::new(job, execution))
}

/// How long followed output waits, after the execution ended, for its
/// Batch job to stop writing.
const JOB_STOP_WAIT: Duration = Duration::from_secs(60);

/// Polls until the execution leaves RUNNING, showing each status its Batch
/// job reaches (SUBMITTED, RUNNABLE, STARTING, RUNNING, ...) on `progress`,
/// and with `output`, handing its sink each line the job's containers
/// write, as they write them.
pub async fn wait(
    session: &Session,
    job: &str,
    execution_arn: &str,
    progress: &Progress,
    mut output: Option<(&mut Reader, Sink<'_>)>,
) -> Result<ExecutionSummary, AwsError> {
    let mut delay = Duration::from_millis(250);
    let mut batch_jobs: Vec<String> = Vec::new();
    let mut shown: Option<String> = None;
    let mut ended_at: Option<Instant> = None;
    loop {
        let summary = describe(session, job, execution_arn).await?;
        let ended = !matches!(summary.status.as_str(), "RUNNING" | "PENDING_REDRIVE");
        // Followed output reads every job the execution submits (a redrive
        // submits another).
        let mut jobs_stopped = true;
        if batch_jobs.is_empty() || output.is_some() {
            let found = aws::sfn::submitted_jobs(&session.clients.sfn, execution_arn).await;
            batch_jobs = shown_unless_following(found, output.is_some(), "Batch job not shown")?;
        }
        if !batch_jobs.is_empty() {
            let described = aws::batch::describe_jobs(&session.clients.batch, &batch_jobs).await;
            let described =
                shown_unless_following(described, output.is_some(), "Batch status not shown")?;
            if let Some(last) = described.last() {
                let status = last.status.clone();
                if status.is_some() && status != shown {
                    let id = &last.id;
                    progress.state(&format!(
                        "Batch job {id}: {}",
                        status.as_deref().unwrap_or_default()
                    ));
                    shown = status;
                }
            }
            jobs_stopped = described.iter().all(|j| j.has_stopped());
            if let Some((reader, sink)) = output.as_mut() {
                reader.track(session, &described).await?;
                reader.read(session, &mut **sink).await?;
            }
        }
        // An execution stopped by its run cap ends while its Batch job is
        // still stopping and writing: followed output waits for the job, a
        // while.
        if ended {
            let since = *ended_at.get_or_insert_with(Instant::now);
            let job_may_write =
                output.is_some() && !jobs_stopped && since.elapsed() < JOB_STOP_WAIT;
            if !job_may_write {
                progress.finish();
                return Ok(summary);
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(if output.is_some() { 2 } else { 5 }));
    }
}

/// What the progress shows, or nothing, with a warning, when it cannot be
/// read (a missing permission, say); followed output needs it, so there the
/// error ends the wait.
fn shown_unless_following<T: Default>(
    read: Result<T, AwsError>,
    following: bool,
    warning: &str,
) -> Result<T, AwsError> {
    match read {
        Err(err) if !following => {
            tracing::warn!(error = %err, "{warning}");
            Ok(T::default())
        }
        read => read,
    }
}

/// Every line the execution's Batch jobs have written so far, to `sink`.
pub async fn output(
    session: &Session,
    execution_arn: &str,
    reader: &mut Reader,
    sink: Sink<'_>,
) -> Result<(), AwsError> {
    let jobs = aws::sfn::submitted_jobs(&session.clients.sfn, execution_arn).await?;
    let described = aws::batch::describe_jobs(&session.clients.batch, &jobs).await?;
    reader.track(session, &described).await?;
    reader.read(session, sink).await
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub schedule_expression: String,
    pub timezone: String,
    pub enabled: bool,
    pub deployed: bool,
    pub next_fire_times: Vec<DateTime<Utc>>,
    /// Newest first.
    pub recent_executions: Vec<ExecutionSummary>,
    /// Of the recent executions that ended: how many succeeded, 0 to 1.
    pub success_rate: Option<f64>,
    /// The median and 95th percentile duration of the recent executions
    /// that ended (nearest rank).
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
}

impl JobStatus {
    fn new(
        job: &Job,
        deployed: Option<&ScheduleRecord>,
        recent_executions: Vec<ExecutionSummary>,
    ) -> JobStatus {
        let now = Utc::now();
        let anchor = deployed.and_then(|s| s.created).unwrap_or(now);
        let tz = parse_timezone(&job.schedule.timezone).unwrap_or(chrono_tz::UTC);
        let ended: Vec<&ExecutionSummary> = recent_executions
            .iter()
            .filter(|e| e.stopped_at.is_some())
            .collect();
        let succeeded = ended.iter().filter(|e| e.succeeded()).count();
        let mut durations: Vec<f64> = ended.iter().filter_map(|e| e.duration_seconds).collect();
        durations.sort_by(f64::total_cmp);
        JobStatus {
            job: job.batch_name.clone(),
            schedule_expression: job.schedule.when.expression.clone(),
            timezone: job.schedule.timezone.clone(),
            enabled: deployed.map_or(job.schedule.enabled, |s| s.observed.spec.enabled),
            deployed: deployed.is_some(),
            next_fire_times: job.schedule.when.upcoming(now, tz, anchor, 3),
            success_rate: (!ended.is_empty()).then(|| succeeded as f64 / ended.len() as f64),
            p50_seconds: percentile(&durations, 50),
            p95_seconds: percentile(&durations, 95),
            recent_executions,
        }
    }

    /// One mark per recent run, oldest first: `+` succeeded, `x` failed,
    /// timed out or aborted, `>` still running.
    fn history(&self) -> String {
        self.recent_executions
            .iter()
            .rev()
            .map(|e| match e.status.as_str() {
                "SUCCEEDED" => '+',
                "RUNNING" | "PENDING_REDRIVE" => '>',
                _ => 'x',
            })
            .collect()
    }

    /// The recent runs' durations, oldest first, as bars scaled to the
    /// longest; a run without one (still running) is a space.
    fn sparkline(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let longest = self
            .recent_executions
            .iter()
            .filter_map(|e| e.duration_seconds)
            .fold(0.0_f64, f64::max);
        self.recent_executions
            .iter()
            .rev()
            .map(|e| match e.duration_seconds {
                Some(d) if longest > 0.0 => {
                    BARS[((d / longest) * (BARS.len() - 1) as f64).round() as usize]
                }
                Some(_) => BARS[0],
                None => ' ',
            })
            .collect()
    }
}

/// The nearest-rank `p`th percentile of ascending `sorted`.
fn percentile(sorted: &[f64], p: usize) -> Option<f64> {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (self.deployed, self.enabled) {
            (false, _) => "not deployed",
            (true, true) => "enabled",
            (true, false) => "disabled",
        };
        writeln!(
            f,
            "{}  {} ({})  {state}",
            self.job, self.schedule_expression, self.timezone
        )?;
        if let Some(rate) = self.success_rate {
            let seconds = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.1} s"));
            writeln!(
                f,
                "  runs  {}  {}  {:.0}% succeeded  p50 {}  p95 {}",
                self.history(),
                self.sparkline(),
                rate * 100.0,
                seconds(self.p50_seconds),
                seconds(self.p95_seconds)
            )?;
        }
        let tz = parse_timezone(&self.timezone).unwrap_or(chrono_tz::UTC);
        for t in &self.next_fire_times {
            writeln!(f, "  next  {}", t.with_timezone(&tz).to_rfc3339())?;
        }
        if self.recent_executions.is_empty() {
            writeln!(f, "  no executions yet")?;
        }
        for e in &self.recent_executions {
            writeln!(f, "  ran   {e}")?;
        }
        Ok(())
    }
}

/// Each job's recent executions (newest first, `count` at most) and next
/// fire times, with their Batch jobs and attempts. The calls do not grow
/// with `count`: per job one ListExecutions and one GetSchedule, then per
/// job queue one listing of the app and stage's Batch jobs (ListJobs by
/// name, paged) and one DescribeJobs per 100 runs matched.
pub async fn statuses(
    session: &Session,
    jobs: &[&Job],
    count: i32,
) -> Result<Vec<JobStatus>, AwsError> {
    let read = stream::iter(jobs.iter().copied())
        .map(|job| async move {
            let names = session.render(job).names;
            let (recent, schedule) = tokio::try_join!(
                recent_executions(session, job, &names.job_name, count),
                aws::scheduler::read(&session.clients.scheduler, &names.schedule),
            )?;
            Ok::<_, AwsError>((job, names.job_name, recent, schedule))
        })
        .buffered(JOB_CONCURRENCY)
        .try_collect::<Vec<_>>();
    let mut read = read.await?;
    let queues: BTreeSet<String> = jobs
        .iter()
        .map(|j| j.queue_arn(&session.stack.target))
        .collect();
    let prefix = format!("{}*", session.stack.job_prefix());
    let mut batch_jobs = Vec::new();
    for queue in &queues {
        match aws::batch::list_named(&session.clients.batch, queue, &prefix).await {
            Ok(listed) => batch_jobs.extend(listed),
            // A queue not created yet has no jobs; the runs are still shown.
            Err(err)
                if err.service_code() == Some("ClientException")
                    && err.to_string().contains("does not exist") =>
            {
                tracing::warn!(queue, error = %err, "runs shown without their Batch jobs");
            }
            Err(err) => return Err(err),
        }
    }
    let mut matched = Vec::new();
    for (_, job_name, recent, _) in read.iter_mut() {
        for run in recent.iter_mut().rev() {
            // The first job of its name created while the run went on:
            // runs oldest first, so overlapping runs each get their own.
            let found = batch_jobs
                .iter()
                .enumerate()
                .filter(|(_, b)| {
                    b.name == *job_name
                        && run
                            .started_at
                            .is_some_and(|s| b.created_at >= s - chrono::Duration::seconds(1))
                        && run.stopped_at.is_none_or(|s| b.created_at <= s)
                })
                .min_by_key(|(_, b)| b.created_at)
                .map(|(i, _)| i);
            if let Some(found) = found {
                let batch = batch_jobs.remove(found);
                matched.push(batch.id.clone());
                run.batch_job_id = Some(batch.id);
            }
        }
    }
    let attempts = aws::batch::attempts(&session.clients.batch, &matched).await?;
    Ok(read
        .into_iter()
        .map(|(job, _, mut recent, schedule)| {
            for run in &mut recent {
                run.attempts = run
                    .batch_job_id
                    .as_ref()
                    .and_then(|id| attempts.get(id).copied());
            }
            JobStatus::new(job, schedule.as_ref(), recent)
        })
        .collect())
}

/// The job's most recent executions, newest first; none when its state
/// machine does not exist.
async fn recent_executions(
    session: &Session,
    job: &Job,
    job_name: &str,
    count: i32,
) -> Result<Vec<ExecutionSummary>, AwsError> {
    let arn = session.stack.target.state_machine_arn(job_name);
    let listed = aws::sfn::list_executions(&session.clients.sfn, job_name, &arn, count).await;
    match listed {
        Ok(executions) => Ok(executions
            .into_iter()
            .map(|e| ExecutionSummary::new(&job.batch_name, e))
            .collect()),
        Err(err) if err.service_code() == Some("StateMachineDoesNotExist") => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}
