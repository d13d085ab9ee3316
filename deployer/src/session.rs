//! A loaded config bound to an AWS account and region.

use std::collections::BTreeSet;

use crate::aws::{AwsError, Clients, SdkOptions, SdkOptionsError};
use crate::config::Config;
use crate::model::BaseStack;
use crate::model::JobStack;
use crate::plan::{self, Inventory, Plan};
use crate::references::{self, ReferenceError};
use crate::render::base::BaseError;
use crate::target::Target;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SessionError {
    #[error(
        "no AWS region: set `region` in the config, or --region, AWS_REGION or a profile's region"
    )]
    #[diagnostic(code(sjob::session::region))]
    NoRegion,
    #[error("cannot find the AWS account: set `account_id` in the config, or provide credentials")]
    #[diagnostic(code(sjob::session::account))]
    NoAccount(#[source] AwsError),
    #[error("unknown job `{0}`; the config has: {1}")]
    #[diagnostic(code(sjob::session::job))]
    UnknownJob(String, String),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Base(#[from] BaseError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    SdkOptions(#[from] SdkOptionsError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    References(#[from] ReferenceError),
}

pub struct Session {
    pub config: Config,
    pub clients: Clients,
    pub target: Target,
}

impl Drop for Session {
    /// How each service's calls were paced, at debug level, once the
    /// command is done with AWS.
    fn drop(&mut self) {
        self.clients.pace.trace_report();
    }
}

impl Session {
    pub async fn open(config: Config, settings: &SdkOptions) -> Result<Session, SessionError> {
        let clients = Clients::load(settings, config.region.as_deref()).await?;
        let region = clients.region().ok_or(SessionError::NoRegion)?;
        let account_id = match &config.account_id {
            Some(id) => id.clone(),
            None => clients
                .account_id()
                .await
                .map_err(SessionError::NoAccount)?,
        };
        Ok(Session {
            config,
            clients,
            target: Target { account_id, region },
        })
    }

    /// The named jobs (all when `names` is empty), checking each exists.
    pub fn select<'a>(
        &'a self,
        names: &[String],
    ) -> Result<Vec<&'a crate::config::Job>, SessionError> {
        select(&self.config, names)
    }

    pub fn render(&self, job: &crate::config::Job) -> JobStack {
        JobStack::render(&self.config, job, &self.target)
    }

    /// What exists under this app and stage's names, for a command about
    /// the jobs whose batch names are `jobs`.
    async fn inventory(&self, jobs: &BTreeSet<String>) -> Result<Inventory, AwsError> {
        Inventory::load(
            &self.clients,
            &self.config.app_name,
            &self.config.stage,
            &self.target,
            jobs,
        )
        .await
    }

    /// Reads and diffs the `desired` jobs and the `removed` ones (by batch
    /// name) against what `inventory` found.
    async fn plan_jobs(
        &self,
        inventory: &Inventory,
        desired: Vec<JobStack>,
        removed: BTreeSet<String>,
    ) -> Result<Plan, AwsError> {
        plan::plan(
            &self.clients,
            inventory,
            &self.config.app_name,
            &self.config.stage,
            &self.target,
            desired,
            removed,
        )
        .await
    }

    /// The plan `plan` and `deploy` carry out: the named jobs, or every job
    /// plus the base and the jobs this stack deployed that the config no
    /// longer has. What the config names but does not own is read while
    /// the inventory lists: when any is missing, nothing is planned.
    pub async fn plan_deploy(&self, jobs: &[String]) -> Result<Plan, SessionError> {
        let selected = self.select(jobs)?;
        let names: BTreeSet<String> = selected.iter().map(|j| j.batch_name.clone()).collect();
        let references = references::collect(&self.config, &selected, &self.target);
        let (inventory, checked) = tokio::try_join!(
            async { Ok::<_, SessionError>(self.inventory(&names).await?) },
            async {
                Ok::<_, SessionError>(
                    references::check(&self.clients, &self.target, references).await?,
                )
            },
        )?;
        let config = checked.resolve(self.config.clone());
        let stacks: Vec<_> = names
            .iter()
            .map(|name| JobStack::render(&config, &config.jobs[name], &self.target))
            .collect();
        let base = BaseStack::render(&config, &self.target)?;
        let removed = if jobs.is_empty() {
            self.removed_jobs(&inventory).await?
        } else {
            BTreeSet::new()
        };
        let in_use = self.arns_in_use();
        let base = plan::base::plan(&self.clients, &inventory, &self.target, base, &in_use);
        let jobs = self.plan_jobs(&inventory, stacks, removed);
        let (base, mut plan) = tokio::try_join!(base, jobs)?;
        plan.base = Some(base);
        Ok(plan)
    }

    /// The plan `destroy` carries out: the named jobs, or every job this
    /// stack has in AWS and, then only, the base.
    pub async fn plan_destroy(&self, jobs: &[String]) -> Result<Plan, SessionError> {
        let mut targets: BTreeSet<String> = self
            .select(jobs)?
            .iter()
            .map(|j| j.batch_name.clone())
            .collect();
        let inventory = self.inventory(&targets).await?;
        if jobs.is_empty() {
            targets.extend(self.removed_jobs(&inventory).await?);
        }
        let mut plan = self.plan_jobs(&inventory, Vec::new(), targets).await?;
        if jobs.is_empty() {
            let none = BaseStack::none(&self.config, &self.target);
            plan.base = Some(
                plan::base::plan(
                    &self.clients,
                    &inventory,
                    &self.target,
                    none,
                    &BTreeSet::new(),
                )
                .await?,
            );
        }
        Ok(plan)
    }

    /// The plan `adopt` inspects: the named jobs (all by default).
    pub async fn plan_adopt(&self, jobs: &[String]) -> Result<Plan, SessionError> {
        let stacks: Vec<_> = self
            .select(jobs)?
            .into_iter()
            .map(|j| self.render(j))
            .collect();
        let inventory = self.inventory(&batch_names(&stacks)).await?;
        Ok(self.plan_jobs(&inventory, stacks, BTreeSet::new()).await?)
    }

    /// This stack's jobs in AWS that the config no longer has.
    async fn removed_jobs(&self, inventory: &Inventory) -> Result<BTreeSet<String>, AwsError> {
        Ok(inventory
            .jobs(&self.clients)
            .await?
            .into_iter()
            .filter(|name| !self.config.jobs.contains_key(name))
            .collect())
    }

    /// Resolves the topic's KMS key when it is an alias, which no policy
    /// can grant on until `kms:DescribeKey` names its key (`plan` reads
    /// every key anyway, with the rest of what the config names).
    pub async fn resolve_topic_key(&mut self) -> Result<(), SessionError> {
        let Some(key) = self
            .config
            .base
            .as_ref()
            .and_then(|b| b.notifications.as_ref())
            .and_then(|n| n.kms_key_id.as_ref())
            .filter(|k| k.key_arn(&self.target).is_none())
        else {
            return Ok(());
        };
        let reference = references::Reference {
            kind: references::ReferenceKind::KmsKey,
            id: key.given().to_string(),
            keys: BTreeSet::from(["base.notifications.kms_key_id".to_string()]),
        };
        let checked = references::check(&self.clients, &self.target, vec![reference]).await?;
        self.config = checked.resolve(self.config.clone());
        Ok(())
    }

    /// The config's `[base]`, rendered (its parts `None` when absent).
    pub fn render_base(&self) -> Result<BaseStack, BaseError> {
        BaseStack::render(&self.config, &self.target)
    }

    /// The ARNs of base resources the config uses: every job's queue and
    /// handlers, and the handlers' topic.
    pub fn arns_in_use(&self) -> BTreeSet<String> {
        let target = &self.target;
        self.config
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
                self.config
                    .base
                    .as_ref()
                    .filter(|b| b.handlers.is_some())
                    .and_then(|_| self.config.topic_arn(target)),
            )
            .collect()
    }
}

pub fn select<'a>(
    config: &'a Config,
    names: &[String],
) -> Result<Vec<&'a crate::config::Job>, SessionError> {
    if names.is_empty() {
        return Ok(config.jobs.values().collect());
    }
    names
        .iter()
        .map(|name| {
            config.jobs.get(name).ok_or_else(|| {
                SessionError::UnknownJob(
                    name.clone(),
                    config.jobs.keys().cloned().collect::<Vec<_>>().join(", "),
                )
            })
        })
        .collect()
}

fn batch_names(stacks: &[JobStack]) -> BTreeSet<String> {
    stacks.iter().map(|s| s.batch_name.clone()).collect()
}
