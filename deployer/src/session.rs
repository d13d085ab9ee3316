//! A loaded config bound to an AWS account and region.

use std::collections::BTreeSet;

use crate::aws::{AwsError, Clients, SdkOptions, SdkOptionsError};
use crate::config::Config;
use crate::model::{BaseStack, JobStack};
use crate::plan::Context;
use crate::references::{self, ReferenceError};
use crate::render::base::BaseError;
use crate::stack::StackRef;
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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
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
    pub stack: StackRef,
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
            clients,
            stack: StackRef {
                app_name: config.app_name.clone(),
                stage: config.stage.clone(),
                target: Target { account_id, region },
            },
            config,
        })
    }

    /// What the plan and apply of this session work with.
    pub fn context(&self) -> Context<'_> {
        Context {
            clients: &self.clients,
            stack: &self.stack,
        }
    }

    pub fn render(&self, job: &crate::config::Job) -> JobStack {
        JobStack::render(&self.config, job, &self.stack.target)
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
            .filter(|k| k.key_arn(&self.stack.target).is_none())
        else {
            return Ok(());
        };
        let reference = references::Reference {
            kind: references::ReferenceKind::KmsKey,
            id: key.given().to_string(),
            keys: BTreeSet::from(["base.notifications.kms_key_id".to_string()]),
        };
        let checked = references::check(&self.clients, &self.stack.target, vec![reference]).await?;
        self.config = checked.resolve(self.config.clone());
        Ok(())
    }

    /// The config's `[base]`, rendered (its parts `None` when absent).
    pub fn render_base(&self) -> Result<BaseStack, BaseError> {
        BaseStack::render(&self.config, &self.stack.target)
    }
}
