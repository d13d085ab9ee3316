//! The plan of a whole stack: its base and its jobs, and what applying it
//! does with removals.

use super::base::BasePlan;
use super::jobs::JobPlan;
use super::step::{Action, Change, Removals, ResourceKind};
use crate::stack::StackRef;

#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: StackRef,
    pub removals: Removals,
    /// `None` when the command leaves the base alone (`destroy <job>`).
    pub base: Option<BasePlan>,
    pub jobs: Vec<JobPlan>,
}

impl Plan {
    /// The report's view: the base's changes first, then each job's.
    pub fn changes(&self) -> Vec<Change> {
        self.base
            .iter()
            .flat_map(BasePlan::changes)
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
