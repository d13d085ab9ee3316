//! Executions: start one now (`sjob run`), follow it, and summarise recent
//! ones with the next fire times (`sjob status`).

use std::fmt;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::aws::{self, AwsError};
use crate::config::Job;
use crate::progress::Progress;
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
}

impl ExecutionSummary {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded.as_str()
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
        if let Some(error) = &self.error {
            write!(f, "  {error}")?;
        }
        Ok(())
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn duration(started: Option<DateTime<Utc>>, stopped: Option<DateTime<Utc>>) -> Option<f64> {
    Some((stopped? - started?).num_milliseconds() as f64 / 1000.0)
}

/// Starts an execution with the schedule's input, or `input` if given.
pub async fn start(session: &Session, job: &Job, input: Option<Value>) -> Result<String, AwsError> {
    let names = session.render(job).names;
    let arn = session.target.state_machine_arn(&names.job_name);
    let input = input.unwrap_or_else(|| job.sfn_input.clone());
    let started = session
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(&arn)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| AwsError::call("StartExecution", &names.job_name, e))?;
    Ok(started.execution_arn)
}

pub async fn describe(
    session: &Session,
    job: &str,
    execution_arn: &str,
) -> Result<ExecutionSummary, AwsError> {
    let out = session
        .clients
        .sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeExecution", execution_arn, e))?;
    let started = time(Some(&out.start_date));
    let stopped = time(out.stop_date.as_ref());
    let error = match (out.error, out.cause) {
        (Some(e), Some(c)) if !c.is_empty() => Some(format!("{e}: {c}")),
        (Some(e), _) => Some(e),
        _ => None,
    };
    Ok(ExecutionSummary {
        job: job.to_string(),
        execution_arn: execution_arn.to_string(),
        name: out.name.unwrap_or_default(),
        status: out.status.as_str().to_string(),
        started_at: started,
        stopped_at: stopped,
        duration_seconds: duration(started, stopped),
        error,
    })
}

/// Polls until the execution leaves RUNNING, showing each status its Batch
/// job reaches (SUBMITTED, RUNNABLE, STARTING, RUNNING, ...) on `progress`.
pub async fn wait(
    session: &Session,
    job: &str,
    execution_arn: &str,
    progress: &Progress,
) -> Result<ExecutionSummary, AwsError> {
    let mut delay = Duration::from_millis(250);
    let mut batch_job: Option<String> = None;
    let mut shown: Option<String> = None;
    loop {
        let summary = describe(session, job, execution_arn).await?;
        if batch_job.is_none() {
            batch_job = submitted_job(session, execution_arn).await?;
        }
        if let Some(id) = &batch_job {
            let status = batch_status(session, id).await?;
            if status.is_some() && status != shown {
                let status = status.unwrap_or_default();
                progress.state(&format!("Batch job {id}: {status}"));
                shown = Some(status);
            }
        }
        if summary.status != ExecutionStatus::Running.as_str()
            && summary.status != ExecutionStatus::PendingRedrive.as_str()
        {
            progress.finish();
            return Ok(summary);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The id of the Batch job the execution submitted, from its history's
/// `TaskSubmitted` event; `None` before there is one.
async fn submitted_job(session: &Session, execution_arn: &str) -> Result<Option<String>, AwsError> {
    let history = session
        .clients
        .sfn
        .get_execution_history()
        .execution_arn(execution_arn)
        .reverse_order(true)
        .include_execution_data(true)
        .send()
        .await
        .map_err(|e| AwsError::call("GetExecutionHistory", execution_arn, e))?;
    Ok(history
        .events()
        .iter()
        .filter_map(|e| e.task_submitted_event_details())
        .filter(|d| d.resource_type() == "batch")
        .filter_map(|d| serde_json::from_str::<Value>(d.output()?).ok())
        .find_map(|output| output["JobId"].as_str().map(str::to_string)))
}

/// The Batch job's status, `None` when Batch no longer knows it.
async fn batch_status(session: &Session, job_id: &str) -> Result<Option<String>, AwsError> {
    let described = session
        .clients
        .batch
        .describe_jobs()
        .jobs(job_id)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeJobs", job_id, e))?;
    Ok(described
        .jobs()
        .first()
        .and_then(|j| j.status.as_ref())
        .map(|s| s.as_str().to_string()))
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub schedule_expression: String,
    pub timezone: String,
    pub enabled: bool,
    pub deployed: bool,
    pub next_fire_times: Vec<DateTime<Utc>>,
    pub recent_executions: Vec<ExecutionSummary>,
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

/// Recent executions (newest first) and the next fire times of one job.
pub async fn status(session: &Session, job: &Job, count: i32) -> Result<JobStatus, AwsError> {
    let names = session.render(job).names;
    let arn = session.target.state_machine_arn(&names.job_name);
    let listed = session
        .clients
        .sfn
        .list_executions()
        .state_machine_arn(&arn)
        .max_results(count)
        .send()
        .await;
    let executions = match listed {
        Ok(out) => out.executions().to_vec(),
        Err(err) if aws::error_code(&err) == Some("StateMachineDoesNotExist") => Vec::new(),
        Err(err) => return Err(AwsError::call("ListExecutions", &names.job_name, err)),
    };
    let mut recent = Vec::new();
    for e in executions {
        let (started, stopped) = (time(Some(&e.start_date)), time(e.stop_date.as_ref()));
        recent.push(ExecutionSummary {
            job: job.batch_name.clone(),
            execution_arn: e.execution_arn.clone(),
            name: e.name.clone(),
            status: e.status.as_str().to_string(),
            started_at: started,
            stopped_at: stopped,
            duration_seconds: duration(started, stopped),
            error: None,
        });
    }
    let deployed = aws::scheduler::read(&session.clients.scheduler, &names.schedule).await?;
    let now = Utc::now();
    let anchor = deployed.as_ref().and_then(|s| s.created).unwrap_or(now);
    let tz = parse_timezone(&job.schedule_timezone).unwrap_or(chrono_tz::UTC);
    Ok(JobStatus {
        job: job.batch_name.clone(),
        schedule_expression: job.schedule.expression.clone(),
        timezone: job.schedule_timezone.clone(),
        enabled: deployed
            .as_ref()
            .map_or(job.enabled, |s| s.observed.spec.enabled),
        deployed: deployed.is_some(),
        next_fire_times: job.schedule.upcoming(now, tz, anchor, 3),
        recent_executions: recent,
    })
}
