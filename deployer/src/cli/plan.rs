//! How plans print: `Display` for people, `Serialize` for `--output json`
//! (the wire format documented in the README's CLI reference).

use std::fmt;

use serde::Serialize;

use sjob::plan::{Action, Change, Plan, Removals, EXTRA_REVISIONS};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub conflict: usize,
    /// Deletes of jobs and base parts gone from the config that this run
    /// keeps (no `--prune`).
    pub kept: usize,
}

/// A plan as reported.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport<'a> {
    pub app_name: &'a str,
    pub stage: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    pub changes: Vec<Change>,
    /// Jobs deployed by sjob that the config no longer has.
    pub removed_jobs: Vec<&'a str>,
    /// What the plan is shown for; it decides how removals read.
    pub mode: Removals,
    pub summary: Summary,
}

impl<'a> PlanReport<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        let mode = plan.removals;
        let changes = plan.changes();
        let mut summary = Summary::default();
        for change in &changes {
            match change.action {
                Action::Create => summary.create += 1,
                Action::Update { .. } | Action::RetireRevisions => summary.update += 1,
                Action::Delete if mode == Removals::Keep && plan.is_removal(change) => {
                    summary.kept += 1
                }
                Action::Delete | Action::Replaced { .. } => summary.delete += 1,
                Action::NoOp => summary.unchanged += 1,
                Action::Conflict { .. } => summary.conflict += 1,
                Action::Kept { .. } => summary.unchanged += 1,
            }
        }
        PlanReport {
            app_name: &plan.stack.app_name,
            stage: &plan.stack.stage,
            region: &plan.stack.target.region,
            account_id: &plan.stack.target.account_id,
            changes,
            removed_jobs: plan
                .jobs
                .iter()
                .filter(|j| !j.wanted)
                .map(|j| j.batch_name.as_str())
                .collect(),
            mode,
            summary,
        }
    }
}

impl fmt::Display for PlanReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}/{} in {} (account {})",
            self.app_name, self.stage, self.region, self.account_id
        )?;
        // Changes come grouped: the base's, then each job's.
        let mut current: Option<Option<&str>> = None;
        for change in self.changes.iter().filter(|c| c.action != Action::NoOp) {
            let group = change.job.as_deref();
            if current != Some(group) {
                current = Some(group);
                let removed = group.is_some_and(|job| self.removed_jobs.contains(&job));
                let note = match (self.mode, removed) {
                    (_, false) => "",
                    (Removals::Keep, true) => "  (not in the config: `deploy --prune` deletes it)",
                    (Removals::Prune, true) => "  (not in the config: deleting)",
                    (Removals::Destroy, true) => "  (deleting)",
                };
                writeln!(
                    f,
                    "\n  {}{note}",
                    group.unwrap_or("base (shared by every job)")
                )?;
            }
            let (sign, detail) = match &change.action {
                Action::Create => ("+", String::new()),
                Action::Update { fields } => ("~", format!("  ({})", fields.join(", "))),
                Action::RetireRevisions => ("~", format!("  ({EXTRA_REVISIONS})")),
                Action::Delete if change.job.is_none() && self.mode == Removals::Keep => (
                    "-",
                    "  (not in [base]: `deploy --prune` deletes it)".to_string(),
                ),
                Action::Delete => ("-", String::new()),
                Action::Conflict { owner } => {
                    ("!", format!("  (exists, not this stack's: {owner})"))
                }
                Action::Kept { reason } => ("=", format!("  (kept: {reason})")),
                Action::Replaced { by } => ("-", format!("  (replaced by {by})")),
                Action::NoOp => continue,
            };
            writeln!(
                f,
                "    {sign} {:<15} {}{detail}",
                change.kind.to_string(),
                change.name
            )?;
        }
        let s = &self.summary;
        write!(
            f,
            "\n{} to create, {} to update, {} to delete, {} unchanged",
            s.create, s.update, s.delete, s.unchanged
        )?;
        if s.kept > 0 {
            write!(f, ", {} kept until `deploy --prune`", s.kept)?;
        }
        if s.conflict > 0 {
            write!(f, ", {} in conflict", s.conflict)?;
        }
        writeln!(f, ".")
    }
}
