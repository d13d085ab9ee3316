//! The shared base every job of an app and stage uses: the notification
//! topic and its subscriptions, the two handler functions with their role and
//! log groups, and the Fargate compute environment with its job queue
//! (`render::base` builds it from `[base]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::diff::field_diff;
use super::identity::{Identity, Tags};
use super::job::{LogGroupSpec, RoleSpec};
use crate::names::BaseNames;

/// The prefix of the topic tags that record the subscriptions sjob made.
/// SNS subscriptions take no tags, so their topic carries one tag per
/// subscription sjob created (a hash of its protocol and endpoint); sjob
/// deletes only those, and one added by hand is never touched.
pub const SUBSCRIPTION_TAG_PREFIX: &str = "sjob:subscription:";

/// The Lambda runtime and handler of a Rust binary named `bootstrap`.
pub const FUNCTION_RUNTIME: &str = "provided.al2023";
pub const FUNCTION_HANDLER: &str = "bootstrap";
/// The handlers' log format (Lambda's `LoggingConfig.LogFormat`): JSON
/// lines with the request id, which the handlers write when Lambda tells
/// them to.
pub const FUNCTION_LOG_FORMAT: &str = "JSON";

#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    pub name: String,
    pub fifo: bool,
    pub kms_key_id: Option<String>,
    /// Without the subscription records.
    pub tags: Tags,
    /// The [`SubscriptionSpec::record_tag`]s the topic carries.
    pub recorded_subscriptions: BTreeSet<String>,
}

/// One subscription, identified by protocol and endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    pub protocol: String,
    pub endpoint: String,
    /// On the message attributes the handlers set (`status`, `error_kind`, ...).
    pub filter_policy: Option<Value>,
    pub raw_message_delivery: bool,
}

impl SubscriptionSpec {
    /// How plans name it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.protocol, self.endpoint)
    }

    /// The topic tag key that records sjob created it. A hash: endpoints
    /// may hold characters tag keys may not, and be longer.
    pub fn record_tag(&self) -> String {
        let digest = Sha256::digest(self.label().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{SUBSCRIPTION_TAG_PREFIX}{hex}")
    }
}

/// A subscription as SNS lists it. `arn` is `None` while an email or https
/// endpoint has not confirmed: SNS then allows neither reading nor deleting it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSubscription {
    pub arn: Option<String>,
    pub spec: SubscriptionSpec,
    /// Whether the topic records that sjob created it.
    pub recorded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub role_arn: String,
    pub runtime: String,
    pub handler: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    /// `JSON` or `Text`.
    pub log_format: String,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the zip: Lambda's `CodeSha256`.
    pub code_sha256: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroupSpec {
    pub name: String,
    pub vpc_id: String,
    pub description: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComputeEnvironmentSpec {
    pub name: String,
    /// `FARGATE` or `FARGATE_SPOT`.
    pub resource_type: String,
    pub max_vcpus: i32,
    pub subnets: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    /// Always wanted; `false` reads back after an interrupted destroy.
    pub enabled: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobQueueSpec {
    pub name: String,
    pub priority: i32,
    pub compute_environment_arn: String,
    /// Always wanted; `false` reads back after an interrupted destroy.
    pub enabled: bool,
    pub tags: Tags,
}

/// A handler function with the package it is deployed from.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerFunction {
    pub function: FunctionSpec,
    pub package: PathBuf,
    pub log_group: LogGroupSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NotificationsStack {
    pub topic: TopicSpec,
    pub subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HandlersStack {
    pub role: RoleSpec,
    pub functions: Handlers<HandlerFunction>,
}

/// Something for each of the two handlers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handlers<T> {
    pub success: T,
    pub error: T,
}

impl<T> Handlers<T> {
    /// Success, then error: the order plans list and apply them.
    pub fn iter(&self) -> std::array::IntoIter<&T, 2> {
        [&self.success, &self.error].into_iter()
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Handlers<U> {
        Handlers {
            success: f(self.success),
            error: f(self.error),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComputeStack {
    /// Created when the config gives a VPC instead of security groups; the
    /// compute environment then uses it alongside any groups given.
    pub security_group: Option<SecurityGroupSpec>,
    pub compute_environment: ComputeEnvironmentSpec,
    pub job_queue: JobQueueSpec,
}

/// Everything sjob deploys for the base. A part is `None` when the config
/// does not ask for it (its resources, if any exist, are then removals).
#[derive(Debug, Clone, PartialEq)]
pub struct BaseStack {
    pub names: BaseNames,
    /// The identity tags every base resource carries.
    pub identity: Identity,
    pub notifications: Option<NotificationsStack>,
    pub handlers: Option<HandlersStack>,
    pub compute: Option<ComputeStack>,
}

impl BaseStack {
    /// Whether the config asks for any part of the base.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_none() && self.handlers.is_none() && self.compute.is_none()
    }
}

field_diff!(TopicSpec {
    fifo,
    kms_key_id,
    tags
});
field_diff!(SubscriptionSpec {
    filter_policy,
    raw_message_delivery
});
field_diff!(FunctionSpec {
    role_arn,
    runtime,
    handler,
    architecture,
    memory_mb,
    timeout_seconds,
    log_format,
    environment,
    code_sha256,
    tags
});
field_diff!(SecurityGroupSpec {
    vpc_id,
    description,
    tags
});
field_diff!(ComputeEnvironmentSpec {
    resource_type,
    max_vcpus,
    subnets,
    security_group_ids,
    enabled,
    tags
});
field_diff!(JobQueueSpec {
    priority,
    compute_environment_arn,
    enabled,
    tags
});
