//! The validated configuration: what every later stage works from. Built only
//! by [`super::load`], so nothing downstream re-checks it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::kms::{KmsKey, ResolvedKey};
pub use crate::model::{RetryAction, RetryRule, ScheduleRetry, SuccessWindow};
pub use crate::names::ExecutionLogGroup;
use crate::schedule::Schedule;
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
    pub warnings: Vec<super::ProblemRecord>,
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

/// One scheduled job, with `[defaults]` already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The `[jobs.<name>]` key: the seed's `batch_name`.
    pub batch_name: String,
    pub command: Vec<String>,
    pub vcpus: String,
    pub memory: String,
    pub schedule: Schedule,
    pub schedule_timezone: String,
    pub sfn_input: Value,
    pub env: BTreeMap<String, String>,
    /// Container variables whose values the task reads at start, by name:
    /// Secrets Manager or SSM parameter ARNs (see [`crate::secret`]).
    pub secrets: BTreeMap<String, String>,
    /// The customer key the secrets are encrypted with, if not AWS's own.
    pub secrets_kms_key_arn: Option<String>,
    pub image_uri: String,
    pub image_tag: String,
    pub batch_job_queue: ArnRef,
    pub success_handler: ArnRef,
    pub error_handler: ArnRef,
    pub enabled: bool,
    pub timeout_seconds: Option<u32>,
    /// A cap on the whole run, queue time and every attempt included.
    pub run_timeout_seconds: Option<u32>,
    /// Run as a Batch array job of this many children.
    pub array_size: Option<u32>,
    /// An alarm when no run succeeded for this long.
    pub expect_success_within: Option<SuccessWindow>,
    /// What a run does while an earlier one is still running.
    pub overlap: Overlap,
    /// Whether a skipped run sends a `SKIPPED` notification.
    pub notify_on_skip: bool,
    pub retry_attempts: u32,
    /// Which failed attempts Batch retries (`evaluateOnExit`), in order.
    pub retry_on: Vec<RetryRule>,
    pub log_retention_days: i32,
    /// The name of the state machine's log group.
    pub execution_log_group: ExecutionLogGroup,
    pub task_policy_statements: Vec<Value>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub assign_public_ip: bool,
    /// Fargate's `runtimePlatform`; Batch runs x86_64 when unset.
    pub cpu_architecture: Option<Architecture>,
    /// Fargate task storage beyond the 20 GiB every task has.
    pub ephemeral_storage_gib: Option<u32>,
    /// The schedule target's retry policy: AWS's defaults unless configured.
    pub schedule_retry: ScheduleRetry,
    /// The SQS queue Scheduler sends the events it could not deliver to.
    pub schedule_dead_letter_arn: Option<String>,
    /// Where the state machine publishes its last-resort notice when the
    /// error handler fails; `None` when no topic is known.
    pub notification_topic: Option<NotificationTopic>,
}

/// What a run does when an earlier execution of its state machine is still
/// running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overlap {
    /// Runs anyway (the seed's behaviour).
    #[default]
    Allow,
    /// Ends at once, without submitting a job.
    Skip,
}

/// The topic a job's notifications go to, as its state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTopic {
    pub arn: ArnRef,
    /// The topic's KMS key (`[base.notifications].kms_key_id`): publishing
    /// needs its use. Unknown for a topic given by ARN.
    pub kms_key_id: Option<KmsKey>,
}

impl NotificationTopic {
    /// A topic given by ARN, whose key sjob cannot know.
    pub fn given(arn: String) -> NotificationTopic {
        NotificationTopic {
            arn: ArnRef::Given(arn),
            kms_key_id: None,
        }
    }

    pub fn arn_in(&self, target: &Target) -> String {
        self.arn.resolve(|name| target.topic_arn(name))
    }
}

impl Job {
    pub fn queue_arn(&self, target: &Target) -> String {
        self.batch_job_queue
            .resolve(|name| target.job_queue_arn(name))
    }

    pub fn success_handler_arn(&self, target: &Target) -> String {
        self.success_handler
            .resolve(|name| target.function_arn(name))
    }

    pub fn error_handler_arn(&self, target: &Target) -> String {
        self.error_handler.resolve(|name| target.function_arn(name))
    }

    pub fn notification_topic_arn(&self, target: &Target) -> Option<String> {
        self.notification_topic
            .as_ref()
            .map(|topic| topic.arn_in(target))
    }
}

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
            if let Some(topic) = job.notification_topic.as_mut() {
                resolve(&mut topic.kms_key_id);
            }
        }
        self
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

pub const DEFAULT_TIMEZONE: &str = "Asia/Tokyo";
pub const DEFAULT_VCPUS: &str = "1";
pub const DEFAULT_MEMORY: &str = "2048";
pub const DEFAULT_IMAGE_TAG: &str = "latest";
pub const DEFAULT_LOG_RETENTION_DAYS: i32 = 365;
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 1;

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
