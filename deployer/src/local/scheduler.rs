//! `sjob local schedule`: fires jobs' schedules in their timezones with the
//! Scheduler's semantics, runs each as `sjob local run` does, never runs two
//! of one job at once (the tick is skipped and logged), and on Ctrl-C waits
//! for running jobs up to a grace period before killing them.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::deliver::Delivery;
use super::{default_parallel, run, LocalError, LocalRun, SecretValues};
use crate::config::{Config, Job};
use crate::schedule::parse_timezone;

type Running = HashMap<String, JoinHandle<Result<LocalRun, LocalError>>>;

/// The longest grace period `sjob local schedule --grace` takes: 14 days,
/// the longest `timeout_seconds` a job may have, so no run outlives it.
pub const MAX_GRACE_SECONDS: u64 = 1_209_600;

/// Runs until Ctrl-C (or until no schedule will fire again).
pub async fn serve(config: &Config, jobs: Vec<Job>, delivery: Delivery, grace: Duration) {
    let started = Utc::now();
    let next_after = |job: &Job, after: DateTime<Utc>| {
        let tz = parse_timezone(&job.schedule.timezone).unwrap_or(chrono_tz::UTC);
        job.schedule.when.next_after(after, tz, started)
    };
    let mut next: Vec<(Option<DateTime<Utc>>, Job)> = jobs
        .into_iter()
        .map(|j| (next_after(&j, started), j))
        .collect();
    for (when, job) in &next {
        tracing::info!(job = %job.batch_name, schedule = %job.schedule.when, next = ?when, "scheduled");
    }
    let mut running: Running = HashMap::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let Some(index) = (0..next.len())
            .filter(|i| next[*i].0.is_some())
            .min_by_key(|i| next[*i].0)
        else {
            tracing::info!("no schedule fires again");
            break;
        };
        let when = next[index].0.expect("filtered to scheduled jobs");
        let wait = (when - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                let job = next[index].1.clone();
                fire(config, &job, &delivery, &mut running);
                next[index].0 = next_after(&job, when);
            }
            _ = &mut ctrl_c => {
                tracing::info!("interrupted: no new runs start");
                break;
            }
        }
        report_finished(&mut running).await;
    }
    shut_down(running, grace).await;
}

fn fire(config: &Config, job: &Job, delivery: &Delivery, running: &mut Running) {
    let name = job.batch_name.clone();
    if running.get(&name).is_some_and(|h| !h.is_finished()) {
        tracing::warn!(job = %name, "the previous run is still going: this tick is skipped");
        return;
    }
    tracing::info!(job = %name, "starting");
    let (config, job, delivery) = (config.clone(), job.clone(), delivery.clone());
    running.insert(
        name,
        tokio::spawn(async move {
            run(
                &config,
                &job,
                None,
                &delivery,
                &SecretValues::Environment,
                default_parallel(),
            )
            .await
        }),
    );
}

async fn report_finished(running: &mut Running) {
    let done: Vec<String> = running
        .iter()
        .filter(|(_, h)| h.is_finished())
        .map(|(n, _)| n.clone())
        .collect();
    for name in done {
        if let Some(handle) = running.remove(&name) {
            report(&name, handle.await);
        }
    }
}

fn report(name: &str, result: Result<Result<LocalRun, LocalError>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(run)) => {
            tracing::info!(job = %name, status = run.status, exit_code = ?run.exit_code, "run finished")
        }
        Ok(Err(err)) => tracing::error!(job = %name, error = %err, "run failed"),
        Err(err) => tracing::error!(job = %name, error = %err, "run was stopped"),
    }
}

/// Waits for running jobs up to `grace`, then kills what is left.
async fn shut_down(running: Running, grace: Duration) {
    if running.values().all(|h| h.is_finished()) {
        for (name, handle) in running {
            report(&name, handle.await);
        }
        return;
    }
    tracing::info!(
        jobs = running.len(),
        grace_seconds = grace.as_secs(),
        "waiting for running jobs"
    );
    // A grace period too long to add to the clock has no deadline.
    let deadline = tokio::time::Instant::now().checked_add(grace);
    for (name, mut handle) in running {
        tokio::select! {
            result = &mut handle => report(&name, result),
            _ = until(deadline) => {
                tracing::warn!(job = %name, "grace period over: killing the run");
                handle.abort();
                report(&name, handle.await);
            }
        }
    }
}

async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Instant::now() + Duration::MAX` panics: such a grace has no deadline.
    #[tokio::test]
    async fn a_grace_too_long_for_the_clock_waits_without_a_deadline() {
        let mut running = Running::new();
        running.insert(
            "job".to_string(),
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(LocalError::Log {
                    path: "job.log".to_string(),
                    source: std::io::Error::other("finished"),
                })
            }),
        );
        tokio::time::timeout(Duration::from_secs(10), shut_down(running, Duration::MAX))
            .await
            .expect("the run finishes within its grace");
    }
}
