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
use crate::model::{LogGroupSpec, Observed};
use crate::plan::{Action, Change, JobPlan, Plan, ResourceKind, EXTRA_REVISIONS, JOB_CONCURRENCY};
use crate::progress::Progress;
use crate::target::Target;

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

/// Applies the plan, each job done counted on `progress`.
/// `include_removals` is false for a plain `deploy`: jobs gone from the
/// config are then shown but kept.
pub async fn apply(
    clients: &Clients,
    plan: &Plan,
    include_removals: bool,
    progress: &Progress,
) -> Result<(), ApplyError> {
    refuse_conflicts(plan)?;
    if let Some(base) = &plan.base {
        base::converge(clients, &plan.target, base)
            .await
            .map_err(ApplyError::Base)?;
    }
    let jobs = plan.jobs_to_apply(include_removals);
    let total = jobs.len();
    let errors: Vec<JobError> = stream::iter(jobs)
        .map(|job| async move {
            let result = match &job.desired {
                Some(_) => converge_job(clients, &plan.target, job, include_removals).await,
                None => remove_job(clients, &plan.target, job).await,
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
        Some(base) if include_removals => base::remove(clients, &plan.target, base)
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

/// Whether `changes` create or update this resource.
fn pending(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes.iter().any(|c| {
        c.kind == kind
            && c.name == name
            && matches!(c.action, Action::Create | Action::Update { .. })
    })
}

/// Converges, at once, each log group of `desired` that `changes` create
/// or update; `actual` holds what exists.
async fn converge_log_groups<'a>(
    clients: &Clients,
    target: &Target,
    changes: &[Change],
    desired: impl IntoIterator<Item = &'a LogGroupSpec>,
    actual: &[Option<Observed<LogGroupSpec>>],
) -> Result<(), AwsError> {
    let groups = desired
        .into_iter()
        .filter(|g| pending(changes, ResourceKind::LogGroup, &g.name))
        .map(|group| {
            let current = actual
                .iter()
                .flatten()
                .map(|o| &o.spec)
                .find(|spec| spec.name == group.name);
            let arn = target.log_group_arn(&group.name);
            async move { aws::logs::converge(&clients.logs, group, &arn, current).await }
        });
    try_join_all(groups).await?;
    Ok(())
}

/// Whether `changes` delete this resource.
fn deleting(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes
        .iter()
        .any(|c| c.kind == kind && c.name == name && c.action == Action::Delete)
}

/// Whether `changes` delete this resource as replaced by another.
fn replaced(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes
        .iter()
        .any(|c| c.kind == kind && c.name == name && matches!(c.action, Action::Replaced { .. }))
}

/// Whether the job definition's only change is retiring extra ACTIVE
/// revisions of the desired content.
fn only_extra_revisions(job: &JobPlan) -> bool {
    job.changes.iter().any(|c| {
        c.kind == ResourceKind::JobDefinition
            && matches!(&c.action, Action::Update { fields } if fields == &[EXTRA_REVISIONS])
    })
}

/// Converges a job; with `include_removals`, the log group its state
/// machine no longer writes to goes once the state machine has moved.
async fn converge_job(
    clients: &Clients,
    target: &Target,
    job: &JobPlan,
    include_removals: bool,
) -> Result<(), AwsError> {
    let desired = job
        .desired
        .as_ref()
        .expect("converge_job is given a desired stack");
    let actual = &job.actual;

    let roles = try_join_all(
        desired
            .roles
            .iter()
            .enumerate()
            .filter(|(_, r)| pending(&job.changes, ResourceKind::Role, &r.name))
            .map(|(i, role)| {
                let current = actual
                    .roles
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(|o| &o.spec);
                aws::iam::converge(&clients.iam, role, current)
            }),
    );
    let log_groups = converge_log_groups(
        clients,
        target,
        &job.changes,
        &desired.log_groups,
        &actual.log_groups,
    );
    // Waits until the table is ACTIVE: the state machine claims in it.
    let claim_table = async {
        match desired
            .claim_table
            .as_ref()
            .filter(|t| pending(&job.changes, ResourceKind::ClaimTable, &t.name))
        {
            Some(table) => {
                let current = actual.claim_table.as_ref().map(|o| &o.spec);
                let arn = target.table_arn(&table.name);
                aws::dynamodb::converge(&clients.dynamodb, table, &arn, current).await
            }
            None => Ok(()),
        }
    };
    tokio::try_join!(roles, log_groups, claim_table)?;

    // The job definition names the roles, and the state machine needs its
    // role, its log group and its claim table; neither needs the other.
    let job_definition = async {
        if pending(
            &job.changes,
            ResourceKind::JobDefinition,
            &desired.job_definition.name,
        ) {
            let retire = actual
                .job_definition
                .as_ref()
                .map(|r| r.owned_by(&desired.identity))
                .unwrap_or_default();
            match (&actual.job_definition, only_extra_revisions(job)) {
                // The latest revision is right: retire the others only.
                (Some(revisions), true) => {
                    let extra = retire.iter().filter(|a| **a != revisions.latest_arn);
                    try_join_all(extra.map(|arn| aws::batch::deregister(&clients.batch, arn)))
                        .await?;
                }
                _ => {
                    aws::batch::register(&clients.batch, &desired.job_definition, &retire).await?;
                }
            }
        }
        Ok::<_, AwsError>(())
    };
    let machine = &desired.state_machine;
    let state_machine = async {
        if pending(&job.changes, ResourceKind::StateMachine, &machine.name) {
            let current = actual.state_machine.as_ref().map(|o| &o.spec);
            let arn = target.state_machine_arn(&machine.name);
            aws::sfn::converge(&clients.sfn, machine, &arn, current).await?;
        }
        Ok(())
    };
    tokio::try_join!(job_definition, state_machine)?;
    if include_removals {
        remove_log_groups(clients, job).await?;
    }

    // The schedule starts runs, so it comes when all they use is in place.
    let schedule = async {
        if pending(&job.changes, ResourceKind::Schedule, &desired.schedule.name) {
            aws::scheduler::converge(
                &clients.scheduler,
                &desired.schedule,
                &desired.identity,
                actual.schedule.is_some(),
            )
            .await?;
        }
        Ok(())
    };
    let alarm = async {
        if let Some(alarm) = desired
            .alarm
            .as_ref()
            .filter(|a| pending(&job.changes, ResourceKind::Alarm, &a.name))
        {
            let arn = target.alarm_arn(&alarm.name);
            let current = actual.alarm.as_ref().map(|o| &o.spec);
            aws::cloudwatch::converge(clients, alarm, &arn, current).await?;
        }
        // `expect_success_within` dropped from the job.
        remove_alarm(clients, job).await
    };
    // `overlap = "skip"` dropped: the state machine no longer claims.
    tokio::try_join!(schedule, alarm, remove_claim_table(clients, job))?;
    tracing::info!(job = %job.batch_name, "converged");
    Ok(())
}

/// Deletes the job's missed-run alarm when the plan says to.
async fn remove_alarm(clients: &Clients, job: &JobPlan) -> Result<(), AwsError> {
    match job
        .actual
        .alarm
        .as_ref()
        .filter(|a| deleting(&job.changes, ResourceKind::Alarm, &a.spec.name))
    {
        Some(alarm) => aws::cloudwatch::delete(clients, &alarm.spec).await,
        None => Ok(()),
    }
}

/// Deletes the job's log groups the plan says to.
async fn remove_log_groups(clients: &Clients, job: &JobPlan) -> Result<(), AwsError> {
    let groups = job
        .names
        .log_groups()
        .into_iter()
        .filter(|group| deleting(&job.changes, ResourceKind::LogGroup, group))
        .map(|group| aws::logs::delete(&clients.logs, group));
    try_join_all(groups).await?;
    Ok(())
}

/// Deletes the job's claim table when the plan says to.
async fn remove_claim_table(clients: &Clients, job: &JobPlan) -> Result<(), AwsError> {
    if deleting(
        &job.changes,
        ResourceKind::ClaimTable,
        &job.names.claim_table,
    ) {
        aws::dynamodb::delete(&clients.dynamodb, &job.names.claim_table).await?;
    }
    Ok(())
}

/// Deletes what sjob owns of a job, schedule first so nothing starts a
/// half-deleted stack.
async fn remove_job(clients: &Clients, target: &Target, job: &JobPlan) -> Result<(), AwsError> {
    let names = &job.names;
    let actual = &job.actual;
    let changes = &job.changes;
    let schedule = async {
        if deleting(changes, ResourceKind::Schedule, &names.schedule) {
            aws::scheduler::delete(&clients.scheduler, &names.schedule).await?;
        }
        Ok(())
    };
    tokio::try_join!(remove_alarm(clients, job), schedule)?;

    let state_machine = async {
        if deleting(changes, ResourceKind::StateMachine, &names.job_name) {
            let arn = target.state_machine_arn(&names.job_name);
            aws::sfn::delete(&clients.sfn, &names.job_name, &arn).await?;
        }
        Ok(())
    };
    let revisions = actual
        .job_definition
        .as_ref()
        .filter(|_| deleting(changes, ResourceKind::JobDefinition, &names.job_name))
        .map(|revisions| revisions.owned_by(&job.identity))
        .unwrap_or_default();
    let job_definition = try_join_all(
        revisions
            .iter()
            .map(|arn| aws::batch::deregister(&clients.batch, arn)),
    );
    tokio::try_join!(
        state_machine,
        job_definition,
        remove_log_groups(clients, job),
        remove_claim_table(clients, job)
    )?;

    // Last, so a run still in flight keeps its permissions to the end.
    let roles = actual
        .roles
        .iter()
        .flatten()
        .filter(|role| deleting(changes, ResourceKind::Role, &role.spec.name))
        .map(|role| aws::iam::delete(&clients.iam, &role.spec));
    try_join_all(roles).await?;
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
