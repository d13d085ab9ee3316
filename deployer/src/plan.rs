//! Desired versus actual: read what exists for each job and the base, and
//! decide a typed [`Step`] for each resource (desired spec, observed
//! resource, action). Pure after the reads; `plan` never writes, `deploy`
//! hands the plan to `apply`, which carries the steps out. [`Change`]s are
//! only the report's view of the steps.

use std::fmt;
use std::future::Future;

use serde::Serialize;

pub mod base;
pub mod build;
pub mod inventory;
pub mod jobs;

use crate::aws::{AwsError, Clients};
use crate::model::{Diff, Identity, Observed};
use crate::stack::StackRef;
pub use build::PlanError;
pub use inventory::Inventory;
pub use jobs::{ActualJob, JobPlan, JobSteps};

/// How many jobs are read or applied at once: enough to fill every
/// service's gate at its largest. The gates ([`crate::aws::pace`]) set how
/// many calls are in flight, adapting to each service's rate limits; this
/// only keeps jobs finishing one after another, not all at the end.
pub const JOB_CONCURRENCY: usize = crate::aws::pace::MAX;

/// How [`Action::RetireRevisions`] reads in a plan: an update of this field.
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
    /// The latest revision of a job definition is as desired but older ones
    /// of the same content are still ACTIVE: applying deregisters them.
    /// Two deploys at once, or a register whose answer was lost and
    /// retried, leave them. Reported as an update of [`EXTRA_REVISIONS`].
    #[serde(rename = "update", serialize_with = "retire_revisions")]
    RetireRevisions,
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

fn retire_revisions<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut update = serializer.serialize_struct("Update", 1)?;
    update.serialize_field("fields", &[EXTRA_REVISIONS])?;
    update.end()
}

impl Action {
    /// Whether applying creates or updates the resource.
    pub fn converges(&self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update { .. } | Action::RetireRevisions
        )
    }
}

/// A resource kind of a plan, by its desired spec (which diffs itself
/// against what AWS holds, [`Diff`]).
pub trait Resource {
    const KIND: ResourceKind;
}

/// A resource kind apply creates, updates and deletes one way, through
/// `aws` ([`Inventory`] reads it). The other kinds' apply has more to it: a
/// job definition's revisions, a schedule's owner, a function's package, a
/// security group's id, a subscription's record.
pub trait Converge: Resource {
    /// Creates or updates the resource to `self`; `current` is what exists.
    fn converge(
        &self,
        cx: Context<'_>,
        current: Option<&Self>,
    ) -> impl Future<Output = Result<(), AwsError>>;

    /// Deletes the resource read as `self`.
    fn delete(&self, cx: Context<'_>) -> impl Future<Output = Result<(), AwsError>>;
}

/// How a resource kind's read holds its [`Observed`] spec (a job
/// definition's revisions hold their latest's, a schedule's record its own).
pub trait Reading<T> {
    fn observed(&self) -> &Observed<T>;
    fn observed_mut(&mut self) -> &mut Observed<T>;
}

impl<T> Reading<T> for Observed<T> {
    fn observed(&self) -> &Observed<T> {
        self
    }

    fn observed_mut(&mut self) -> &mut Observed<T> {
        self
    }
}

/// One resource of a plan: what is wanted, what exists, and what applying
/// does to it (`None`: neither wanted nor this stack's, nothing to do).
#[derive(Debug, Clone)]
pub struct Step<T, O = Observed<T>> {
    pub name: String,
    pub desired: Option<T>,
    pub observed: Option<O>,
    pub action: Option<Action>,
}

impl<T: Resource + Diff, O: Reading<T>> Step<T, O> {
    /// Decides the step: the resource is this stack's only when its
    /// identity is `ours`, every tag of it.
    pub fn new(name: &str, desired: Option<T>, observed: Option<O>, ours: &Identity) -> Self {
        let mut step = Step {
            name: name.to_string(),
            desired,
            observed,
            action: None,
        };
        step.decide(ours);
        step
    }

    /// Decides again, after the observed resource changed (adoption).
    pub fn decide(&mut self, ours: &Identity) {
        self.action = action(
            self.desired.as_ref(),
            self.observed.as_ref().map(Reading::observed),
            ours,
        );
    }
}

impl<T: Resource, O> Step<T, O> {
    /// The desired spec, when applying creates or updates the resource.
    pub fn to_converge(&self) -> Option<&T> {
        self.desired
            .as_ref()
            .filter(|_| self.action.as_ref().is_some_and(Action::converges))
    }

    /// What exists, when applying deletes it.
    pub fn to_delete(&self) -> Option<&O> {
        self.observed
            .as_ref()
            .filter(|_| self.action == Some(Action::Delete))
    }

    /// The step as the report shows it, `job` `None` for the base's.
    pub fn change(&self, job: Option<&str>) -> Option<Change> {
        Some(Change {
            job: job.map(str::to_string),
            kind: T::KIND,
            name: self.name.clone(),
            action: self.action.clone()?,
        })
    }
}

impl<T: Converge> Step<T> {
    /// Creates or updates the resource, when the step says to.
    pub async fn converge(&self, cx: Context<'_>) -> Result<(), AwsError> {
        match self.to_converge() {
            Some(desired) => {
                let current = self.observed.as_ref().map(|o| &o.spec);
                desired.converge(cx, current).await
            }
            None => Ok(()),
        }
    }

    /// Deletes the resource, when the step says to.
    pub async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        match self.to_delete() {
            Some(observed) => observed.spec.delete(cx).await,
            None => Ok(()),
        }
    }
}

/// What a command does with what the config no longer has: jobs gone from
/// it, base parts `[base]` no longer asks for, a log group a job no longer
/// writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Removals {
    /// `plan`, or `deploy` without `--prune`: shown, kept.
    Keep,
    /// `deploy --prune`: deleted.
    Prune,
    /// `destroy`: every job in the plan is deleted.
    Destroy,
}

impl Removals {
    pub fn prune(prune: bool) -> Removals {
        if prune {
            Removals::Prune
        } else {
            Removals::Keep
        }
    }

    /// Whether applying deletes removals.
    pub fn deleted(self) -> bool {
        self != Removals::Keep
    }
}

/// What planning and applying work with: the clients and the stack.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub clients: &'a Clients,
    pub stack: &'a StackRef,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: StackRef,
    pub removals: Removals,
    /// `None` when the command leaves the base alone (`destroy <job>`).
    pub base: Option<base::BasePlan>,
    pub jobs: Vec<JobPlan>,
}

impl Plan {
    /// The report's view: the base's changes first, then each job's.
    pub fn changes(&self) -> Vec<Change> {
        self.base
            .iter()
            .flat_map(base::BasePlan::changes)
            .chain(self.jobs.iter().flat_map(JobPlan::changes))
            .collect()
    }

    /// The deletes applying makes; with removals kept (a plain `deploy`),
    /// those of jobs and base parts gone from the config are not.
    pub fn deletes(&self) -> Vec<Change> {
        self.changes()
            .into_iter()
            .filter(|c| c.action == Action::Delete)
            .filter(|c| self.removals.deleted() || !self.is_removal(c))
            .collect()
    }

    /// The jobs applying touches.
    pub fn jobs_to_apply(&self) -> Vec<&JobPlan> {
        self.jobs
            .iter()
            .filter(|j| j.wanted || self.removals.deleted())
            .filter(|j| j.changes().iter().any(|c| c.action != Action::NoOp))
            .collect()
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.changes().iter().any(|c| match c.action {
            Action::Create
            | Action::Update { .. }
            | Action::RetireRevisions
            | Action::Replaced { .. } => true,
            Action::Delete => self.removals.deleted() || !self.is_removal(c),
            Action::NoOp | Action::Conflict { .. } | Action::Kept { .. } => false,
        })
    }

    /// A delete that only `--prune` (or `destroy`) carries out: of a job
    /// gone from the config, of a base part `[base]` no longer asks for, or
    /// of a log group a job no longer writes to (it holds the history).
    pub fn is_removal(&self, change: &Change) -> bool {
        match &change.job {
            Some(_) if change.kind == ResourceKind::LogGroup => true,
            Some(job) => self.jobs.iter().any(|j| &j.batch_name == job && !j.wanted),
            None => true,
        }
    }
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
