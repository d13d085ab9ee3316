//! Runs a job's command as a local process, the way Batch runs the container:
//! the job's environment plus what the state machine and Batch add, the
//! attempt timeout enforced, and a failed attempt retried up to
//! `retry_attempts` when the job's `retry_on` rules say Batch would.
//! Output is streamed to stderr with a `[job]` prefix and kept in a log file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::Mutex;

use super::event::Attempt;
use crate::model::{decide, FailedAttempt, RetryAction, RetryRule};

/// Batch's reasons, so local notifications read like real ones.
pub const EXITED: &str = "Essential container in task exited";
pub const TIMED_OUT: &str = "Job attempt duration exceeded timeout";
pub const FAILED_TO_START: &str = "Task failed to start";
/// The status reason of the attempt the run's cap ended (on AWS, Step
/// Functions stops the job, naming its execution).
const RUN_TIMED_OUT: &str = "The Task state managing this job timed out (run_timeout_seconds)";
/// What a container killed by SIGKILL exits with.
const KILLED_EXIT_CODE: i32 = 137;

#[derive(Debug, Clone)]
pub struct Launch {
    pub job: String,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
    /// When the whole run's cap (`run_timeout_seconds`) ends it, every
    /// attempt (and, for an array job, every child) included.
    pub deadline: Option<Instant>,
    pub attempts: u32,
    pub retry_on: Vec<RetryRule>,
    pub log_file: PathBuf,
    /// Working directory: the config file's directory.
    pub dir: PathBuf,
}

/// The attempts of one run, and whether the run's own cap ended it.
#[derive(Debug)]
pub struct Run {
    pub attempts: Vec<Attempt>,
    pub timed_out: bool,
}

/// Runs attempts until one exits 0, a `retry_on` rule says exit, attempts
/// run out, or the run's cap is reached.
pub async fn run(launch: &Launch) -> std::io::Result<Run> {
    if let Some(parent) = launch.log_file.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let log = Mutex::new(tokio::fs::File::create(&launch.log_file).await?);
    let deadline = launch.deadline;
    let mut attempts = Vec::new();
    let mut timed_out = false;
    let limit = launch.attempts.max(1);
    for number in 1..=limit {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            // The run ended before this attempt (a queued child) started.
            timed_out = true;
            break;
        }
        let (attempt, capped) = run_attempt(launch, number, &log, deadline).await;
        if capped {
            tracing::warn!(job = %launch.job, "the run reached run_timeout_seconds; killed");
            attempts.push(attempt);
            timed_out = true;
            break;
        }
        let failed = FailedAttempt {
            exit_code: attempt.exit_code,
            reason: attempt.container_reason.as_deref(),
            status_reason: &attempt.status_reason,
        };
        // A container that never started is retried too, as Batch does,
        // unless a rule on its reason says exit.
        let done =
            attempt.exit_code == Some(0) || decide(&launch.retry_on, &failed) == RetryAction::Exit;
        attempts.push(attempt);
        if done || number == limit {
            break;
        }
        tracing::warn!(job = %launch.job, attempt = number, of = limit, "attempt failed; retrying");
    }
    log.lock().await.flush().await?;
    Ok(Run {
        attempts,
        timed_out,
    })
}

/// One attempt, and whether the run's `deadline` (not the attempt's own
/// timeout) ended it.
async fn run_attempt(
    launch: &Launch,
    number: u32,
    log: &Mutex<tokio::fs::File>,
    deadline: Option<Instant>,
) -> (Attempt, bool) {
    let mut command = Command::new(&launch.command[0]);
    command
        .args(&launch.command[1..])
        .envs(&launch.env)
        .env("AWS_BATCH_JOB_ATTEMPT", number.to_string())
        .current_dir(&launch.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            let reason = format!(
                "CannotStartContainerError: cannot start `{}`: {err}",
                launch.command[0]
            );
            tracing::error!(job = %launch.job, "{reason}");
            let attempt = Attempt {
                started_at: None,
                stopped_at: Utc::now(),
                exit_code: None,
                container_reason: Some(reason),
                status_reason: FAILED_TO_START.to_string(),
                log_stream: None,
            };
            return (attempt, false);
        }
    };
    let started_at = Utc::now();
    let group = child.id();
    let _group = GroupGuard(group);
    let prefix = format!("[{}] ", launch.job);
    let stdout = pump(child.stdout.take(), &prefix, log);
    let stderr = pump(child.stderr.take(), &prefix, log);
    let wait = async {
        let (status, _, _) = tokio::join!(child.wait(), stdout, stderr);
        status
    };
    let run_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let capped = match (launch.timeout, run_left) {
        (Some(attempt), Some(run)) => run <= attempt,
        (None, Some(_)) => true,
        (_, None) => false,
    };
    let outcome = match [launch.timeout, run_left].into_iter().flatten().min() {
        Some(limit) => tokio::time::timeout(limit, wait).await.ok(),
        None => Some(wait.await),
    };
    let ended_by_limit = outcome.is_none();
    let (exit_code, status_reason) = match outcome {
        Some(Ok(status)) => (Some(status.code().unwrap_or(KILLED_EXIT_CODE)), EXITED),
        Some(Err(err)) => {
            tracing::error!(job = %launch.job, error = %err, "lost the process");
            (None, EXITED)
        }
        None => {
            kill_group(group);
            if !capped {
                tracing::warn!(job = %launch.job, "attempt timed out; killed");
            }
            (
                Some(KILLED_EXIT_CODE),
                if capped { RUN_TIMED_OUT } else { TIMED_OUT },
            )
        }
    };
    let attempt = Attempt {
        started_at: Some(started_at),
        stopped_at: Utc::now(),
        exit_code,
        container_reason: None,
        status_reason: status_reason.to_string(),
        // The output is in the local log file, not in CloudWatch.
        log_stream: None,
    };
    (attempt, capped && ended_by_limit)
}

/// Kills the attempt's process group when the attempt ends or is abandoned
/// (a scheduler shutting down drops it), as a container's end kills all of
/// its processes.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Kills the attempt's whole process group, so a shell's children go too.
pub fn kill_group(group: Option<u32>) {
    if let Some(id) = group.and_then(|id| i32::try_from(id).ok()) {
        // SAFETY: kill(2) with a negative pid signals a process group; it has
        // no memory effects.
        unsafe {
            libc::kill(-id, libc::SIGKILL);
        }
    }
}

/// Copies lines to stderr (prefixed) and to the log file (as they are).
async fn pump<R: AsyncRead + Unpin>(source: Option<R>, prefix: &str, log: &Mutex<tokio::fs::File>) {
    let Some(source) = source else { return };
    let mut lines = BufReader::new(source).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{prefix}{line}");
        let mut file = log.lock().await;
        let _ = file.write_all(line.as_bytes()).await;
        let _ = file.write_all(b"\n").await;
    }
}

/// The directory local state lives in: `.sjob/` beside the config.
pub fn state_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".sjob")
}
