//! The whole file, validated: [`Config`], and the keys of its top level.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::base::{Base, BASE_KEYS};
use super::diagnostic::ProblemRecord;
use super::job::{Job, JOB_KEYS};
use super::keys::{described, key, Key, ValueType, NONE, REQUIRED};
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

/// The top level of the file.
pub const TOP_KEYS: &[Key] = &[
    key(
        "app_name",
        ValueType::String,
        REQUIRED,
        r#"Letters, digits, `-`, `_`. They prefix every resource name."#,
    ),
    key(
        "stage",
        ValueType::String,
        REQUIRED,
        r#"Letters, digits, `-`, `_`. They prefix every resource name."#,
    ),
    key(
        "region",
        ValueType::String,
        described(r#"AWS env/profile"#),
        r#"The region to deploy to."#,
    ),
    key(
        "account_id",
        ValueType::String,
        described(r#"STS"#),
        r#"The account ARNs are built for."#,
    ),
    key(
        "base",
        ValueType::Table(BASE_KEYS),
        NONE,
        r#"The shared base: notification topic, handler functions, compute."#,
    ),
    key(
        "defaults",
        ValueType::Table(JOB_KEYS),
        NONE,
        r#"Job keys every job gets unless it sets them (not `command`)."#,
    ),
    key(
        "jobs",
        ValueType::Named(JOB_KEYS),
        REQUIRED,
        r#"The jobs, one `[jobs.NAME]` table each. Required."#,
    ),
];

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

/// A job name the config does not have.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("unknown job `{name}`; the config has: {known}")]
#[diagnostic(code(sjob::session::job))]
pub struct UnknownJob {
    pub name: String,
    pub known: String,
}

impl Config {
    /// The named jobs (all when `names` is empty), checking each exists.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Job>, UnknownJob> {
        if names.is_empty() {
            return Ok(self.jobs.values().collect());
        }
        names
            .iter()
            .map(|name| {
                self.jobs.get(name).ok_or_else(|| UnknownJob {
                    name: name.clone(),
                    known: self.jobs.keys().cloned().collect::<Vec<_>>().join(", "),
                })
            })
            .collect()
    }
}
