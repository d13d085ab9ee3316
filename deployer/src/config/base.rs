//! `[base]` as validated: the shared topic, handlers and compute.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::job::{Architecture, ArnRef, NotificationTopic};
use super::keys::{boolean, described, int, key, text, Key, ValueType, EMPTY, NONE, REQUIRED};
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

/// `[base]`.
pub const BASE_KEYS: &[Key] = &[
    key(
        "tags",
        ValueType::StringMap,
        EMPTY,
        r#"Extra tags on every base resource."#,
    ),
    key(
        "notifications",
        ValueType::Table(NOTIFICATIONS_KEYS),
        NONE,
        r#"The notification topic and its subscriptions."#,
    ),
    key(
        "handlers",
        ValueType::Table(HANDLERS_KEYS),
        NONE,
        r#"The success and error handler functions."#,
    ),
    key(
        "compute",
        ValueType::Table(COMPUTE_KEYS),
        NONE,
        r#"The Fargate compute environment and job queue."#,
    ),
];

/// `[base.notifications]`.
pub const NOTIFICATIONS_KEYS: &[Key] = &[
    key(
        "topic_name",
        ValueType::String,
        described(r#"`{app}-{stage}-job-notifications`"#),
        r#"FIFO topics must end in `.fifo`; the default does when `fifo = true`."#,
    ),
    key(
        "fifo",
        ValueType::Boolean,
        boolean(false),
        r#"A FIFO topic."#,
    ),
    key(
        "kms_key_id",
        ValueType::String,
        described(r#"none (unencrypted)"#),
        r#"The topic's KMS key: a key ARN, a key id, an alias name (`alias/...`) or an alias ARN; anything else is an error at its line. `plan` resolves it with `kms:DescribeKey` before any policy is written, and a key that does not exist stops it. Policies grant only the key ARN (`kms:GenerateDataKey`, `kms:Decrypt` for the handlers' role and each job's last resort): an alias in a policy's `Resource` matches nothing. The topic is set to the key ARN too, so a moved alias changes nothing until the next deploy moves both. A key AWS manages (`alias/aws/sns`) needs no grant and stays as written."#,
    ),
    key(
        "subscriptions",
        ValueType::Tables(SUBSCRIPTION_KEYS),
        EMPTY,
        r#"Each `{protocol, endpoint, filter_policy?, raw_message_delivery?}`. Endpoints are checked per protocol. A FIFO topic takes only `sqs`. Removing one from the config unsubscribes it at the next `deploy --prune`; subscriptions sjob did not create are never removed (see [Ownership](#ownership))."#,
    ),
];

/// One of `[[base.notifications.subscriptions]]`.
pub const SUBSCRIPTION_KEYS: &[Key] = &[
    key(
        "protocol",
        ValueType::String,
        REQUIRED,
        r#"`email`, `email-json`, `http`, `https`, `sqs`, `lambda`, `sms` or `firehose`."#,
    ),
    key(
        "endpoint",
        ValueType::String,
        REQUIRED,
        r#"The address, checked per protocol."#,
    ),
    key(
        "filter_policy",
        ValueType::Json,
        NONE,
        r#"An SNS filter policy on the message attributes the handlers set: `status` (`SUCCEEDED`, `FAILED`, `SKIPPED`), `app_name`, `stage`, `batch_name`, `error_kind` (`job_failed`, `timeout`, `submit_rejected`, `handler_failed`, `skipped`, `missed`, `recovered`, `other`). Unknown attributes and impossible values are errors."#,
    ),
    key(
        "raw_message_delivery",
        ValueType::Boolean,
        boolean(false),
        r#"Deliver the notification without SNS's envelope (sqs, http, https, firehose)."#,
    ),
];

/// `[base.handlers]`.
pub const HANDLERS_KEYS: &[Key] = &[
    key(
        "success_package",
        ValueType::String,
        text("target/lambda/success-handler/bootstrap.zip"),
        r#"The success handler's zip, relative to the config file. The code is updated only when a zip's SHA-256 changes."#,
    ),
    key(
        "error_package",
        ValueType::String,
        text("target/lambda/error-handler/bootstrap.zip"),
        r#"The error handler's zip, relative to the config file. The code is updated only when a zip's SHA-256 changes."#,
    ),
    key(
        "architecture",
        ValueType::String,
        text("arm64"),
        r#"`arm64` or `x86_64`; the zips must match."#,
    ),
    key(
        "memory",
        ValueType::Integer,
        int(128),
        r#"Lambda memory in MB."#,
    ),
    key(
        "timeout_seconds",
        ValueType::Integer,
        int(60),
        r#"Lambda timeout, 1 to 900 seconds."#,
    ),
    key(
        "log_retention_days",
        ValueType::Integer,
        int(365),
        r#"Retention of the functions' log groups."#,
    ),
    key(
        "env",
        ValueType::StringMap,
        EMPTY,
        r#"Extra environment (`NOTIFY_FORMAT`, `SJOB_ENRICH`). `AWS_*`, `LAMBDA_*` and `SNS_TOPIC_ARN` are reserved."#,
    ),
    key(
        "topic_arn",
        ValueType::String,
        NONE,
        r#"A topic to publish to when the config has no [base.notifications]."#,
    ),
];

/// `[base.compute]`.
pub const COMPUTE_KEYS: &[Key] = &[
    key(
        "subnets",
        ValueType::Strings,
        REQUIRED,
        r#"Where Fargate tasks run."#,
    ),
    key(
        "security_groups",
        ValueType::Strings,
        described("one required"),
        r#"Security groups for the tasks: these, `vpc_id`, or both."#,
    ),
    key(
        "vpc_id",
        ValueType::String,
        described("one required"),
        r#"A VPC for a security group sjob creates (no inbound, all outbound)."#,
    ),
    key(
        "max_vcpus",
        ValueType::Integer,
        int(32),
        r#"As in the Terraform module."#,
    ),
    key(
        "capacity",
        ValueType::String,
        text("fargate"),
        r#"`fargate` or `fargate_spot`."#,
    ),
];
