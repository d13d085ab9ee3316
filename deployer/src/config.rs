//! Reading `sjob.toml`: parse with spans, validate everything at once, and
//! hand back either a [`Config`] or every problem with its place.
//!
//! The validated input is [`Config`]: its jobs ([`job`]) and its shared base
//! ([`base`]), built only by [`load`], so nothing downstream re-checks it.

mod base;
mod diagnostic;
mod job;
pub mod keys;
mod tree;
mod validate;

pub use base::*;
pub use diagnostic::{ConfigError, Problem, ProblemRecord};
pub use job::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::kms::{KmsKey, ResolvedKey};
use crate::target::Target;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub app_name: String,
    pub stage: String,
    pub region: Option<String>,
    pub account_id: Option<String>,
    /// `[base]`: the shared resources sjob creates, when the config asks.
    pub base: Option<Base>,
    pub jobs: BTreeMap<String, Job>,
    /// What validates but the user should know, with its place.
    pub warnings: Vec<ProblemRecord>,
}

/// An ARN a job uses: given in the config, or that of the base resource sjob
/// creates under this name (the ARN needs the account and region, which only
/// a session knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnRef {
    Given(String),
    Base(String),
}

impl ArnRef {
    /// The ARN, building a base resource's from its name with `arn_of`.
    pub fn resolve(&self, arn_of: impl FnOnce(&str) -> String) -> String {
        match self {
            ArnRef::Given(arn) => arn.clone(),
            ArnRef::Base(name) => arn_of(name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Arm64,
    X86_64,
}

impl Architecture {
    pub const ALL: [Architecture; 2] = [Architecture::Arm64, Architecture::X86_64];

    /// Lambda's name for it, and the config's.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// Batch's and ECS's name for it (`runtimePlatform.cpuArchitecture`).
    pub fn batch_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "ARM64",
            Architecture::X86_64 => "X86_64",
        }
    }
}

impl Config {
    /// The topic the handlers publish to.
    pub fn topic_arn(&self, target: &Target) -> Option<String> {
        Some(self.base.as_ref()?.notification_topic()?.arn_in(target))
    }

    /// This config with the topic's key resolved to `key` wherever it is
    /// named: `[base.notifications]` and every job's last resort.
    pub fn with_topic_key(mut self, key: &ResolvedKey) -> Config {
        let resolve = |slot: &mut Option<KmsKey>| {
            if let Some(given) = slot.take() {
                *slot = Some(given.resolved_to(key.clone()));
            }
        };
        if let Some(notifications) = self.base.as_mut().and_then(|b| b.notifications.as_mut()) {
            resolve(&mut notifications.kms_key_id);
        }
        for job in self.jobs.values_mut() {
            if let Some(topic) = job.notification.topic.as_mut() {
                resolve(&mut topic.kms_key_id);
            }
        }
        self
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        reason: source.to_string(),
    })?;
    parse(path, &text)
}

/// Validates config text; `path` names it in diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let problems = match tree::parse(text) {
        Err(syntax) => vec![Problem {
            span: syntax.span,
            key: String::new(),
            message: format!("invalid TOML: {}", syntax.message.trim()),
            help: None,
        }],
        Ok(root) => match validate::validate(path, &root) {
            Ok((mut config, warnings)) => {
                config.warnings = diagnostic::records(path, text, &warnings);
                return Ok(config);
            }
            Err(problems) => problems,
        },
    };
    Err(ConfigError::invalid(path, text, problems))
}
