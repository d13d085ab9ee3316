//! `[base]` as validated: the shared topic, handlers and compute.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{Architecture, ArnRef, NotificationTopic};
use crate::kms::KmsKey;

/// `[base]`: each part is created only when present.
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    pub tags: BTreeMap<String, String>,
    pub notifications: Option<Notifications>,
    pub handlers: Option<Handlers>,
    pub compute: Option<Compute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notifications {
    pub topic_name: String,
    pub fifo: bool,
    pub kms_key_id: Option<KmsKey>,
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    pub filter_policy: Option<Value>,
    pub raw_message_delivery: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Handlers {
    /// Resolved against the config file's directory.
    pub success_package: PathBuf,
    pub error_package: PathBuf,
    pub architecture: Architecture,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    pub log_retention_days: i32,
    pub env: BTreeMap<String, String>,
    /// The topic to publish to when `[base.notifications]` does not create one.
    pub topic_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Compute {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// Create a security group in this VPC (no inbound, all outbound).
    pub vpc_id: Option<String>,
    pub max_vcpus: i32,
    pub capacity: Capacity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Fargate,
    FargateSpot,
}

impl Capacity {
    /// The compute environment's resource type.
    pub fn resource_type(self) -> &'static str {
        match self {
            Capacity::Fargate => "FARGATE",
            Capacity::FargateSpot => "FARGATE_SPOT",
        }
    }
}

impl Base {
    /// The topic the handlers publish to, and every job's last resort: the
    /// one `[base.notifications]` creates, else `[base.handlers].topic_arn`.
    pub fn notification_topic(&self) -> Option<NotificationTopic> {
        match (&self.notifications, &self.handlers) {
            (Some(n), _) => Some(NotificationTopic {
                arn: ArnRef::Base(n.topic_name.clone()),
                kms_key_id: n.kms_key_id.clone(),
            }),
            (None, Some(h)) => h.topic_arn.clone().map(NotificationTopic::given),
            (None, None) => None,
        }
    }
}

/// CloudWatch Logs' accepted retention periods.
pub const LOG_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Where `cargo lambda build --release --output-format zip` writes each
/// handler's package, relative to the workspace (the config's directory).
pub const DEFAULT_SUCCESS_PACKAGE: &str = "target/lambda/success-handler/bootstrap.zip";
pub const DEFAULT_ERROR_PACKAGE: &str = "target/lambda/error-handler/bootstrap.zip";
pub const DEFAULT_HANDLER_MEMORY_MB: i32 = 128;
pub const DEFAULT_HANDLER_TIMEOUT_SECONDS: i32 = 60;
pub const DEFAULT_MAX_VCPUS: i32 = 32;
/// SNS protocols a subscription may use.
pub const SUBSCRIPTION_PROTOCOLS: &[&str] = &[
    "email",
    "email-json",
    "https",
    "http",
    "sqs",
    "lambda",
    "sms",
];
