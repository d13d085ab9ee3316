//! The plans the commands carry out: what to read and render for `deploy`
//! (and `plan`), `destroy` and `adopt`.

use std::collections::BTreeSet;

use super::inventory::Inventory;
use super::stack_plan::Plan;
use super::step::{Context, Removals};
use super::{base, jobs};
use crate::aws::AwsError;
use crate::config::{Config, UnknownJob};
use crate::model::{BaseStack, JobStack};
use crate::references::{self, ReferenceError};
use crate::render::base::BaseError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    UnknownJob(#[from] UnknownJob),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Base(#[from] BaseError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    References(#[from] ReferenceError),
}

/// The plan `plan` and `deploy` carry out: the named jobs, or every job
/// plus the base and the jobs this stack deployed that the config no
/// longer has. What the config names but does not own is read while the
/// inventory lists: when any is missing, nothing is planned.
pub async fn deploy(
    cx: Context<'_>,
    config: &Config,
    jobs: &[String],
    removals: Removals,
) -> Result<Plan, PlanError> {
    let target = &cx.stack.target;
    let selected = config.select(jobs)?;
    let names: BTreeSet<String> = selected.iter().map(|j| j.batch_name.clone()).collect();
    let references = references::collect(config, &selected, target);
    let (inventory, checked) = tokio::try_join!(
        async { Ok::<_, PlanError>(Inventory::load(cx, &names).await?) },
        async { Ok::<_, PlanError>(references::check(cx.clients, target, references).await?) },
    )?;
    let resolved = checked.resolve(config.clone());
    let stacks: Vec<_> = names
        .iter()
        .map(|name| JobStack::render(&resolved, &resolved.jobs[name], target))
        .collect();
    let base = BaseStack::render(&resolved, target)?;
    let removed = if jobs.is_empty() {
        removed_jobs(cx, config, &inventory).await?
    } else {
        BTreeSet::new()
    };
    let in_use = arns_in_use(config, cx);
    let base = base::plan(cx, &inventory, base, &in_use);
    let planned = jobs::plan(cx, &inventory, stacks, removed);
    let (base, jobs) = tokio::try_join!(base, planned)?;
    Ok(Plan {
        stack: cx.stack.clone(),
        removals,
        base: Some(base),
        jobs,
    })
}

/// The plan `destroy` carries out: the named jobs, or every job this stack
/// has in AWS and, then only, the base.
pub async fn destroy(cx: Context<'_>, config: &Config, jobs: &[String]) -> Result<Plan, PlanError> {
    let mut targets: BTreeSet<String> = config
        .select(jobs)?
        .iter()
        .map(|j| j.batch_name.clone())
        .collect();
    let inventory = Inventory::load(cx, &targets).await?;
    if jobs.is_empty() {
        targets.extend(removed_jobs(cx, config, &inventory).await?);
    }
    let planned = jobs::plan(cx, &inventory, Vec::new(), targets).await?;
    let base = if jobs.is_empty() {
        let none = BaseStack::none(config, &cx.stack.target);
        Some(base::plan(cx, &inventory, none, &BTreeSet::new()).await?)
    } else {
        None
    };
    Ok(Plan {
        stack: cx.stack.clone(),
        removals: Removals::Destroy,
        base,
        jobs: planned,
    })
}

/// The plan `adopt` inspects: the named jobs (all by default).
pub async fn adopt(cx: Context<'_>, config: &Config, jobs: &[String]) -> Result<Plan, PlanError> {
    let stacks: Vec<_> = config
        .select(jobs)?
        .into_iter()
        .map(|j| JobStack::render(config, j, &cx.stack.target))
        .collect();
    let names = stacks.iter().map(|s| s.batch_name.clone()).collect();
    let inventory = Inventory::load(cx, &names).await?;
    Ok(Plan {
        stack: cx.stack.clone(),
        removals: Removals::Keep,
        base: None,
        jobs: jobs::plan(cx, &inventory, stacks, BTreeSet::new()).await?,
    })
}

/// This stack's jobs in AWS that the config no longer has.
async fn removed_jobs(
    cx: Context<'_>,
    config: &Config,
    inventory: &Inventory,
) -> Result<BTreeSet<String>, AwsError> {
    Ok(inventory
        .jobs(cx.clients)
        .await?
        .into_iter()
        .filter(|name| !config.jobs.contains_key(name))
        .collect())
}

/// The ARNs of base resources the config uses: every job's queue and
/// handlers, and the handlers' topic.
fn arns_in_use(config: &Config, cx: Context<'_>) -> BTreeSet<String> {
    let target = &cx.stack.target;
    config
        .jobs
        .values()
        .flat_map(|job| {
            [
                job.queue_arn(target),
                job.success_handler_arn(target),
                job.error_handler_arn(target),
            ]
        })
        .chain(
            config
                .base
                .as_ref()
                .filter(|b| b.handlers.is_some())
                .and_then(|_| config.topic_arn(target)),
        )
        .collect()
}
