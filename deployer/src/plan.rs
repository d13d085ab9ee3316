//! Desired versus actual: read what exists for each job, compare it with the
//! rendered stack, and list the changes. Pure after the reads; `plan` never
//! writes, `deploy` hands the plan to `apply`.

use std::collections::BTreeSet;
use std::fmt;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

pub mod base;
pub mod inventory;

use crate::aws::batch::Revisions;
use crate::aws::scheduler::ScheduleRecord;
use crate::aws::{AwsError, Clients};
use crate::model::{
    AlarmSpec, ClaimTableSpec, Diff, Identity, JobStack, LogGroupSpec, Observed, RoleSpec,
    StateMachineSpec,
};
use crate::names::JobNames;
use crate::target::Target;
pub use inventory::Inventory;

/// How many jobs are read or applied at once: enough to fill every
/// service's gate at its largest. The gates ([`crate::aws::pace`]) set how
/// many calls are in flight, adapting to each service's rate limits; this
/// only keeps jobs finishing one after another, not all at the end.
pub const JOB_CONCURRENCY: usize = crate::aws::pace::MAX;

/// The update field of a job definition whose latest revision is as desired
/// but older revisions are still ACTIVE: applying deregisters them.
pub const EXTRA_REVISIONS: &str = "extra_active_revisions";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Role,
    LogGroup,
    JobDefinition,
    StateMachine,
    Schedule,
    Topic,
    Subscription,
    Function,
    SecurityGroup,
    ComputeEnvironment,
    JobQueue,
    Alarm,
    ClaimTable,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Role => "role",
            ResourceKind::LogGroup => "log group",
            ResourceKind::JobDefinition => "job definition",
            ResourceKind::StateMachine => "state machine",
            ResourceKind::Schedule => "schedule",
            ResourceKind::Topic => "topic",
            ResourceKind::Subscription => "subscription",
            ResourceKind::Function => "function",
            ResourceKind::SecurityGroup => "security group",
            ResourceKind::ComputeEnvironment => "compute env",
            ResourceKind::JobQueue => "job queue",
            ResourceKind::Alarm => "alarm",
            ResourceKind::ClaimTable => "claim table",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    Update {
        fields: Vec<String>,
    },
    Delete,
    NoOp,
    /// Exists under sjob's name but is not this stack's: `owner` is what its
    /// identity tags say.
    Conflict {
        owner: String,
    },
    /// Not wanted, but kept: deleting it would delete what is not sjob's.
    Kept {
        reason: String,
    },
    /// Deleted because this deploy replaces it with `by`, once that is in
    /// use: part of the deploy, not a removal waiting for `--prune`.
    Replaced {
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `None` for the shared base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    pub kind: ResourceKind,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
}

/// What exists for one job.
#[derive(Debug, Clone, Default)]
pub struct ActualJob {
    /// In [`JobNames::roles`] order.
    pub roles: Vec<Option<Observed<RoleSpec>>>,
    /// Those of [`JobNames::log_groups`] that exist.
    pub log_groups: Vec<Option<Observed<LogGroupSpec>>>,
    pub job_definition: Option<Revisions>,
    pub state_machine: Option<Observed<StateMachineSpec>>,
    pub schedule: Option<ScheduleRecord>,
    pub alarm: Option<Observed<AlarmSpec>>,
    pub claim_table: Option<Observed<ClaimTableSpec>>,
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub batch_name: String,
    pub names: JobNames,
    /// The identity this job's resources carry.
    pub identity: Identity,
    /// `None`: the job is to be removed (pruned or destroyed).
    pub desired: Option<JobStack>,
    pub actual: ActualJob,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub app_name: String,
    pub stage: String,
    pub target: Target,
    /// `None` when the command leaves the base alone (`destroy <job>`).
    pub base: Option<base::BasePlan>,
    pub jobs: Vec<JobPlan>,
}

impl Plan {
    /// The base's changes first, then each job's.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.base
            .iter()
            .flat_map(|b| b.changes.iter())
            .chain(self.jobs.iter().flat_map(|j| j.changes.iter()))
    }

    /// The deletes applying makes; with `include_removals` false (a plain
    /// `deploy`), those of jobs and base parts gone from the config are kept.
    pub fn deletes(&self, include_removals: bool) -> Vec<&Change> {
        self.changes()
            .filter(|c| c.action == Action::Delete)
            .filter(|c| include_removals || !self.is_removal(c))
            .collect()
    }

    /// The jobs applying with `include_removals` touches.
    pub fn jobs_to_apply(&self, include_removals: bool) -> Vec<&JobPlan> {
        self.jobs
            .iter()
            .filter(|j| j.desired.is_some() || include_removals)
            .filter(|j| j.changes.iter().any(|c| c.action != Action::NoOp))
            .collect()
    }

    /// Whether applying with `include_removals` would change anything.
    pub fn has_changes(&self, include_removals: bool) -> bool {
        self.changes().any(|c| match c.action {
            Action::Create | Action::Update { .. } | Action::Replaced { .. } => true,
            Action::Delete => include_removals || !self.is_removal(c),
            Action::NoOp | Action::Conflict { .. } | Action::Kept { .. } => false,
        })
    }

    /// A delete that only `--prune` (or `destroy`) carries out: of a job
    /// gone from the config, of a base part `[base]` no longer asks for, or
    /// of a log group a job no longer writes to (it holds the history).
    pub fn is_removal(&self, change: &Change) -> bool {
        match &change.job {
            Some(_) if change.kind == ResourceKind::LogGroup => true,
            Some(job) => self
                .jobs
                .iter()
                .any(|j| &j.batch_name == job && j.desired.is_none()),
            None => true,
        }
    }
}

/// Reads and diffs each job. `removed` are jobs sjob deployed that are to go.
pub async fn plan(
    clients: &Clients,
    inventory: &Inventory,
    app_name: &str,
    stage: &str,
    target: &Target,
    desired: Vec<JobStack>,
    removed: BTreeSet<String>,
) -> Result<Plan, AwsError> {
    let wanted = desired
        .into_iter()
        .map(|stack| (stack.batch_name.clone(), Some(stack)));
    let gone = removed.into_iter().map(|name| (name, None));
    let jobs: Vec<JobPlan> = stream::iter(wanted.chain(gone))
        .map(|(batch_name, stack)| async move {
            let names = JobNames::new(app_name, stage, &batch_name);
            let identity = Identity::job(app_name, stage, &target.region, &batch_name);
            let actual = inventory.read_job(clients, target, &names).await?;
            let changes = diff(&batch_name, &names, &identity, stack.as_ref(), &actual);
            Ok::<_, AwsError>(JobPlan {
                batch_name,
                names,
                identity,
                desired: stack,
                actual,
                changes,
            })
        })
        .buffered(JOB_CONCURRENCY)
        .try_collect()
        .await?;
    // A removal candidate none of whose resources is this stack's is
    // someone else's job.
    let jobs = jobs
        .into_iter()
        .filter(|j| j.desired.is_some() || !j.changes.is_empty())
        .collect();
    Ok(Plan {
        app_name: app_name.to_string(),
        stage: stage.to_string(),
        target: target.clone(),
        base: None,
        jobs,
    })
}

/// The changes for one job, in apply order (deletes in reverse).
pub fn diff(
    job: &str,
    names: &JobNames,
    ours: &Identity,
    desired: Option<&JobStack>,
    actual: &ActualJob,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |kind: ResourceKind, name: &str, action: Option<Action>| {
        if let Some(action) = action {
            changes.push(Change {
                job: Some(job.to_string()),
                kind,
                name: name.to_string(),
                action,
            });
        }
    };
    for (i, role) in names.roles().into_iter().enumerate() {
        let desired_role = desired.map(|d| &d.roles[i]);
        push(
            ResourceKind::Role,
            role,
            action(
                desired_role,
                actual.roles.get(i).and_then(Option::as_ref),
                ours,
            ),
        );
    }
    for group in names.log_groups() {
        push(
            ResourceKind::LogGroup,
            group,
            action(
                desired.and_then(|d| d.log_groups.iter().find(|g| g.name == group)),
                actual
                    .log_groups
                    .iter()
                    .flatten()
                    .find(|o| o.spec.name == group),
                ours,
            ),
        );
    }
    push(
        ResourceKind::ClaimTable,
        &names.claim_table,
        action(
            desired.and_then(|d| d.claim_table.as_ref()),
            actual.claim_table.as_ref(),
            ours,
        ),
    );
    push(
        ResourceKind::JobDefinition,
        &names.job_name,
        match action(
            desired.map(|d| &d.job_definition),
            actual.job_definition.as_ref().map(|r| &r.latest),
            ours,
        ) {
            // Two deploys at once, or a register whose answer was lost and
            // retried, leave several ACTIVE revisions of the same content.
            Some(Action::NoOp)
                if actual
                    .job_definition
                    .as_ref()
                    .is_some_and(|r| r.owned_by(ours).len() > 1) =>
            {
                Some(Action::Update {
                    fields: vec![EXTRA_REVISIONS.to_string()],
                })
            }
            other => other,
        },
    );
    push(
        ResourceKind::StateMachine,
        &names.job_name,
        action(
            desired.map(|d| &d.state_machine),
            actual.state_machine.as_ref(),
            ours,
        ),
    );
    push(
        ResourceKind::Schedule,
        &names.schedule,
        action(
            desired.map(|d| &d.schedule),
            actual.schedule.as_ref().map(|s| &s.observed),
            ours,
        ),
    );
    push(
        ResourceKind::Alarm,
        &names.missed_alarm,
        action(
            desired.and_then(|d| d.alarm.as_ref()),
            actual.alarm.as_ref(),
            ours,
        ),
    );
    if desired.is_none() {
        changes.reverse();
    }
    changes
}

/// The change for one resource: a resource is this stack's only when its
/// identity is `ours`, every tag of it.
fn action<T: Diff>(
    desired: Option<&T>,
    actual: Option<&Observed<T>>,
    ours: &Identity,
) -> Option<Action> {
    match (desired, actual) {
        (Some(_), None) => Some(Action::Create),
        (Some(_), Some(actual)) if actual.owner != *ours => Some(Action::Conflict {
            owner: actual.owner.to_string(),
        }),
        (Some(desired), Some(actual)) => {
            let fields = desired.diff(&actual.spec);
            Some(if fields.is_empty() {
                Action::NoOp
            } else {
                Action::Update { fields }
            })
        }
        (None, Some(actual)) if actual.owner == *ours => Some(Action::Delete),
        _ => None,
    }
}
