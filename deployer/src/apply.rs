//! Carries out a [`Plan`]: jobs concurrently (bounded; the calls are paced
//! per service by [`crate::aws::pace`]), and within a job the resources in
//! dependency order, each step's independent calls at once: roles, log
//! groups and claim table, then job definition and state machine, then
//! schedule and alarm; the reverse to delete. Only resources with a change are touched. Every
//! step is idempotent, so a re-run after an interruption converges.

pub mod adopt;
mod base;

use futures::future::try_join_all;
use futures::stream::{self, StreamExt};

use crate::aws::{self, AwsError, Clients};
use crate::plan::{Action, Context, JobPlan, Plan, JOB_CONCURRENCY};
use crate::progress::Progress;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    #[error("{count} resource(s) exist under this stack's names but are not its own: {names}")]
    #[diagnostic(
        code(sjob::apply::conflict),
        help("nothing was changed. Another stack's: rename a job, the app or the stage (see Ownership in the README). Not sjob's: delete or rename it, or `sjob adopt` it")
    )]
    Conflicts { count: usize, names: String },
    #[error("{failed} of {total} job(s) failed to converge; the others are done. {next}")]
    #[diagnostic(code(sjob::apply::failed))]
    Failed {
        failed: usize,
        total: usize,
        next: NextStep,
        #[related]
        errors: Vec<JobError>,
    },
    #[error("the shared base did not converge, so no job was touched. {}", NextStep::after([.0]))]
    #[diagnostic(code(sjob::apply::base))]
    Base(
        #[source]
        #[diagnostic_source]
        AwsError,
    ),
    #[error("the jobs are removed, but the shared base was not. {}", NextStep::after([.0]))]
    #[diagnostic(code(sjob::apply::base_removal))]
    BaseRemoval(
        #[source]
        #[diagnostic_source]
        AwsError,
    ),
}

/// What to do after an apply failed part way: run it again only when a
/// re-run can get past every error ([`AwsError::can_pass_on_rerun`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Rerun,
    Fix,
}

impl NextStep {
    pub fn after<'a>(errors: impl IntoIterator<Item = &'a AwsError>) -> NextStep {
        if errors.into_iter().all(AwsError::can_pass_on_rerun) {
            NextStep::Rerun
        } else {
            NextStep::Fix
        }
    }
}

impl std::fmt::Display for NextStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NextStep::Rerun => "Re-run to finish",
            NextStep::Fix => {
                "A re-run fails the same way until what the error names is fixed; then deploy again"
            }
        })
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("job `{job}`")]
pub struct JobError {
    pub job: String,
    #[source]
    #[diagnostic_source]
    pub source: AwsError,
}

/// Applies the plan, each job done counted on `progress`. Removals are
/// carried out as the plan's [`crate::plan::Removals`] says.
pub async fn apply(clients: &Clients, plan: &Plan, progress: &Progress) -> Result<(), ApplyError> {
    refuse_conflicts(plan)?;
    let cx = Context {
        clients,
        stack: &plan.stack,
    };
    let removals = plan.removals.deleted();
    if let Some(base) = &plan.base {
        base::converge(cx, base).await.map_err(ApplyError::Base)?;
    }
    let jobs = plan.jobs_to_apply();
    let total = jobs.len();
    let errors: Vec<JobError> = stream::iter(jobs)
        .map(|job| async move {
            let result = match job.wanted {
                true => converge_job(cx, job, removals).await,
                false => remove_job(cx, job).await,
            };
            progress.job_done(&job.batch_name);
            result.map_err(|source| JobError {
                job: job.batch_name.clone(),
                source,
            })
        })
        .buffer_unordered(JOB_CONCURRENCY)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await;
    progress.finish();
    if !errors.is_empty() {
        return Err(ApplyError::Failed {
            failed: errors.len(),
            total,
            next: NextStep::after(errors.iter().map(|e| &e.source)),
            errors,
        });
    }
    match &plan.base {
        Some(base) if removals => base::remove(cx, base)
            .await
            .map_err(ApplyError::BaseRemoval),
        _ => Ok(()),
    }
}

/// An error naming every resource in conflict and its owner, if any is:
/// then nothing at all is applied.
pub fn refuse_conflicts(plan: &Plan) -> Result<(), ApplyError> {
    let conflicts: Vec<String> = plan
        .changes()
        .into_iter()
        .filter_map(|c| match &c.action {
            Action::Conflict { owner } => Some(format!("{} {} ({owner})", c.kind, c.name)),
            _ => None,
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Conflicts {
        count: conflicts.len(),
        names: conflicts.join(", "),
    })
}

/// Converges a job; with `removals`, the log group its state machine no
/// longer writes to goes once the state machine has moved.
async fn converge_job(cx: Context<'_>, job: &JobPlan, removals: bool) -> Result<(), AwsError> {
    let steps = &job.steps;
    tokio::try_join!(
        try_join_all(steps.roles.iter().map(|step| step.converge(cx))),
        try_join_all(steps.log_groups.iter().map(|step| step.converge(cx))),
        steps.claim_table.converge(cx),
    )?;

    // The job definition names the roles, and the state machine needs its
    // role, its log group and its claim table; neither needs the other.
    let job_definition = async {
        let step = &steps.job_definition;
        let Some(definition) = step.to_converge() else {
            return Ok(());
        };
        let retire = step
            .observed
            .as_ref()
            .map(|r| r.owned_by(&job.identity))
            .unwrap_or_default();
        match (&step.observed, &step.action) {
            // The latest revision is right: retire the others only.
            (Some(revisions), Some(Action::RetireRevisions)) => {
                let extra = retire.iter().filter(|a| **a != revisions.latest_arn);
                try_join_all(extra.map(|arn| aws::batch::deregister(&cx.clients.batch, arn)))
                    .await?;
            }
            _ => {
                aws::batch::register(&cx.clients.batch, definition, &retire).await?;
            }
        }
        Ok::<_, AwsError>(())
    };
    tokio::try_join!(job_definition, steps.state_machine.converge(cx))?;
    if removals {
        remove_log_groups(cx, job).await?;
    }

    // The schedule starts runs, so it comes when all they use is in place.
    let schedule = async {
        let step = &steps.schedule;
        if let Some(schedule) = step.to_converge() {
            aws::scheduler::converge(
                &cx.clients.scheduler,
                schedule,
                &job.identity,
                step.observed.is_some(),
            )
            .await?;
        }
        Ok(())
    };
    // The alarm goes when `expect_success_within` is dropped from the job,
    // the claim table when `overlap = "skip"` is: the state machine no
    // longer claims.
    let alarm = async {
        steps.alarm.converge(cx).await?;
        steps.alarm.delete(cx).await
    };
    tokio::try_join!(schedule, alarm, steps.claim_table.delete(cx))?;
    tracing::info!(job = %job.batch_name, "converged");
    Ok(())
}

/// Deletes the job's log groups the plan says to.
async fn remove_log_groups(cx: Context<'_>, job: &JobPlan) -> Result<(), AwsError> {
    try_join_all(job.steps.log_groups.iter().map(|step| step.delete(cx))).await?;
    Ok(())
}

/// Deletes what sjob owns of a job, schedule first so nothing starts a
/// half-deleted stack.
async fn remove_job(cx: Context<'_>, job: &JobPlan) -> Result<(), AwsError> {
    let steps = &job.steps;
    let schedule = async {
        if steps.schedule.to_delete().is_some() {
            aws::scheduler::delete(&cx.clients.scheduler, &steps.schedule.name).await?;
        }
        Ok(())
    };
    tokio::try_join!(steps.alarm.delete(cx), schedule)?;

    let revisions = steps
        .job_definition
        .to_delete()
        .map(|revisions| revisions.owned_by(&job.identity))
        .unwrap_or_default();
    let job_definition = try_join_all(
        revisions
            .iter()
            .map(|arn| aws::batch::deregister(&cx.clients.batch, arn)),
    );
    tokio::try_join!(
        steps.state_machine.delete(cx),
        job_definition,
        remove_log_groups(cx, job),
        steps.claim_table.delete(cx)
    )?;

    // Last, so a run still in flight keeps its permissions to the end.
    try_join_all(steps.roles.iter().map(|step| step.delete(cx))).await?;
    tracing::info!(job = %job.batch_name, "removed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: &str) -> AwsError {
        AwsError::Call {
            action: "CreateStateMachine",
            resource: "myapp-dev-crawler".into(),
            message: format!("{code}: ..."),
            code: Some(code.into()),
        }
    }

    #[test]
    fn a_rerun_is_advised_only_when_every_error_can_pass_on_one() {
        let waiting = AwsError::StillWaiting {
            resource: "myapp-dev-Batch".into(),
            what: "CREATING or UPDATING".into(),
            seconds: 600,
        };
        let unanswered = AwsError::Unanswered {
            action: "CreateRole",
            resource: "r".into(),
            message: "dispatch failure".into(),
        };
        let throttled = answered("ThrottlingException");
        let unavailable = answered("ServiceUnavailable");
        assert_eq!(
            NextStep::after([&throttled, &unavailable, &waiting, &unanswered]),
            NextStep::Rerun
        );
        for refused in [
            answered("ResourceNotFoundException"),
            answered("ValidationException"),
            answered("InvalidSubnetID.NotFound"),
            answered("AccessDeniedException"),
            AwsError::other(
                "DescribeKey",
                "alias/x",
                "the answer has no KeyMetadata.Arn",
            ),
        ] {
            assert_eq!(
                NextStep::after([&throttled, &refused]),
                NextStep::Fix,
                "{refused}"
            );
        }
        let base = ApplyError::Base(answered("ValidationException")).to_string();
        assert!(!base.contains("Re-run"), "{base}");
        let base = ApplyError::Base(throttled).to_string();
        assert!(base.ends_with("Re-run to finish"), "{base}");
    }
}
