//! One job as validated (`[jobs.NAME]` with `[defaults]` applied), its
//! fields grouped by the resource they shape.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::{Architecture, ArnRef};
use crate::kms::KmsKey;
pub use crate::model::{RetryAction, RetryRule, ScheduleRetry, SuccessWindow};
pub use crate::names::ExecutionLogGroup;
use crate::schedule::Schedule;
use crate::target::Target;

/// One scheduled job, with `[defaults]` already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The `[jobs.<name>]` key: the seed's `batch_name`.
    pub batch_name: String,
    /// The job definition's container, and its task role.
    pub container: Container,
    /// The EventBridge schedule that starts runs.
    pub schedule: JobSchedule,
    /// Batch's attempts and which failures it retries.
    pub retry: Retry,
    /// How a run goes: the queue, the overlap policy, its cap and size.
    pub run: Run,
    /// The handlers, and the topic of the last resort.
    pub notification: Notification,
    /// The missed-run alarm.
    pub alarm: Alarm,
    /// The state machine's and the container's log groups.
    pub logs: Logs,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub command: Vec<String>,
    pub image_uri: String,
    pub image_tag: String,
    pub vcpus: Vcpus,
    pub memory_mib: u32,
    pub env: BTreeMap<String, String>,
    /// Container variables whose values the task reads at start, by name:
    /// Secrets Manager or SSM parameter ARNs (see [`crate::secret`]).
    pub secrets: BTreeMap<String, String>,
    /// The customer key the secrets are encrypted with, if not AWS's own.
    pub secrets_kms_key_arn: Option<String>,
    /// The Batch attempt timeout.
    pub timeout_seconds: Option<u32>,
    pub assign_public_ip: bool,
    /// Fargate's `runtimePlatform`; Batch runs x86_64 when unset.
    pub cpu_architecture: Option<Architecture>,
    /// Fargate task storage beyond the 20 GiB every task has.
    pub ephemeral_storage_gib: Option<u32>,
    /// The task role's statements.
    pub task_policy_statements: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobSchedule {
    pub when: Schedule,
    pub timezone: String,
    pub enabled: bool,
    /// The execution input (`sfn_input`).
    pub input: Value,
    pub description: Option<String>,
    /// The schedule target's retry policy: AWS's defaults unless configured.
    pub retry: ScheduleRetry,
    /// The SQS queue Scheduler sends the events it could not deliver to.
    pub dead_letter_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub attempts: u32,
    /// Which failed attempts Batch retries (`evaluateOnExit`), in order.
    pub on: Vec<RetryRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub batch_job_queue: ArnRef,
    /// What a run does while an earlier one is still running.
    pub overlap: Overlap,
    /// A cap on the whole run, queue time and every attempt included.
    pub run_timeout_seconds: Option<u32>,
    /// Run as a Batch array job of this many children.
    pub array_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub success_handler: ArnRef,
    pub error_handler: ArnRef,
    /// Whether a skipped run sends a `SKIPPED` notification.
    pub notify_on_skip: bool,
    /// Where the state machine publishes its last-resort notice when the
    /// error handler fails; `None` when no topic is known.
    pub topic: Option<NotificationTopic>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// An alarm when no run succeeded for this long.
    pub expect_success_within: Option<SuccessWindow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logs {
    pub log_retention_days: i32,
    /// The name of the state machine's log group.
    pub execution_log_group: ExecutionLogGroup,
}

/// The vCPUs of a Fargate task: one of the sizes Fargate offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vcpus {
    Quarter,
    Half,
    One,
    Two,
    Four,
    Eight,
    Sixteen,
}

impl Vcpus {
    pub const ALL: [Vcpus; 7] = [
        Vcpus::Quarter,
        Vcpus::Half,
        Vcpus::One,
        Vcpus::Two,
        Vcpus::Four,
        Vcpus::Eight,
        Vcpus::Sixteen,
    ];

    /// Batch's text for it (`resourceRequirements`), and the config's.
    pub fn as_str(self) -> &'static str {
        match self {
            Vcpus::Quarter => "0.25",
            Vcpus::Half => "0.5",
            Vcpus::One => "1",
            Vcpus::Two => "2",
            Vcpus::Four => "4",
            Vcpus::Eight => "8",
            Vcpus::Sixteen => "16",
        }
    }

    pub fn parse(text: &str) -> Option<Vcpus> {
        Vcpus::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// The memory sizes (MiB) Fargate offers with this many vCPUs.
    pub fn memory_options(self) -> Vec<u32> {
        let range =
            |from: u32, to: u32, step: u32| (from..=to).step_by(step as usize).collect::<Vec<_>>();
        match self {
            Vcpus::Quarter => vec![512, 1024, 2048],
            Vcpus::Half => range(1024, 4096, 1024),
            Vcpus::One => range(2048, 8192, 1024),
            Vcpus::Two => range(4096, 16384, 1024),
            Vcpus::Four => range(8192, 30720, 1024),
            Vcpus::Eight => range(16384, 61440, 4096),
            Vcpus::Sixteen => range(32768, 122880, 8192),
        }
    }
}

impl fmt::Display for Vcpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
        self.run
            .batch_job_queue
            .resolve(|name| target.job_queue_arn(name))
    }

    pub fn success_handler_arn(&self, target: &Target) -> String {
        self.notification
            .success_handler
            .resolve(|name| target.function_arn(name))
    }

    pub fn error_handler_arn(&self, target: &Target) -> String {
        self.notification
            .error_handler
            .resolve(|name| target.function_arn(name))
    }

    pub fn notification_topic_arn(&self, target: &Target) -> Option<String> {
        self.notification
            .topic
            .as_ref()
            .map(|topic| topic.arn_in(target))
    }
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Tokyo";
pub const DEFAULT_IMAGE_TAG: &str = "latest";
pub const DEFAULT_LOG_RETENTION_DAYS: i32 = 365;
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 1;
pub const DEFAULT_VCPUS: &str = "1";
pub const DEFAULT_MEMORY: &str = "2048";
