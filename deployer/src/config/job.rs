//! One job as validated (`[jobs.NAME]` with `[defaults]` applied), its
//! fields grouped by the resource they shape.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::keys::{boolean, described, int, key, text, Key, ValueType, EMPTY, NONE, REQUIRED};
use crate::kms::KmsKey;
pub use crate::model::{RetryAction, RetryRule, ScheduleRetry, SuccessWindow};
pub use crate::names::ExecutionLogGroup;
use crate::schedule::Schedule;
use crate::target::Target;

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
    /// The Fargate platform version (`fargatePlatformConfiguration`).
    pub platform_version: String,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Runs anyway (the seed's behaviour).
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

/// A `[jobs.NAME]` table, and `[defaults]`.
pub const JOB_KEYS: &[Key] = &[
    key(
        "command",
        ValueType::Strings,
        REQUIRED,
        r#"The container command; a non-empty array of strings. Not allowed in `[defaults]`."#,
    ),
    key(
        "vcpus",
        ValueType::Scalar,
        int(1),
        r#"Fargate vCPUs, a string or a number: 0.25, 0.5, 1, 2, 4, 8 or 16. With `memory`, a pair Fargate offers: 0.25 vCPU with 512–2048 MiB, up to 16 vCPU with 32–120 GiB."#,
    ),
    key(
        "memory",
        ValueType::Scalar,
        int(2048),
        r#"Fargate memory in MiB, a string or a number; with `vcpus`, a pair Fargate offers."#,
    ),
    key(
        "schedule_expression",
        ValueType::String,
        REQUIRED,
        r#"`rate(N unit)`, six-field `cron(...)` with AWS's `?` rule, or `at(yyyy-mm-ddThh:mm:ss)`."#,
    ),
    key(
        "schedule_timezone",
        ValueType::String,
        text("Asia/Tokyo"),
        r#"IANA zone the schedule fires in. The default matches the Terraform module."#,
    ),
    key(
        "sfn_input",
        ValueType::Json,
        EMPTY,
        r#"The execution input the schedule sends. At most 6144 characters as the job receives it (its JSON text, escaped; see [Limits](#limits))."#,
    ),
    key(
        "env",
        ValueType::StringMap,
        EMPTY,
        r#"Container environment. `[defaults]` and the job's table are merged. Names starting with `AWS_BATCH` or `SJOB_` are reserved."#,
    ),
    key(
        "secrets",
        ValueType::StringMap,
        EMPTY,
        r#"Container variables whose values the task reads when it starts: `{ NAME = "ARN" }` with a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`, optionally `:json-key:version-stage:version-id`) or an SSM parameter ARN. They become the job definition's `secrets` (`valueFrom`); the task execution role may read exactly those (`secretsmanager:GetSecretValue`, `ssm:GetParameters`; a secret named without the six characters Secrets Manager appends gets `-??????`, so give the full ARN when you can). `[defaults]` and the job's table are merged; a name may not also be in `env`. sjob never sees a value: `local run` takes each from the variable of the same name in your environment, and refuses to start when one is missing."#,
    ),
    key(
        "secrets_kms_key_arn",
        ValueType::String,
        NONE,
        r#"The customer KMS key the secrets are encrypted with, as a key ARN (`arn:aws:kms:<region>:<account>:key/<key id>`; an alias cannot be granted on): the task execution role gets `kms:Decrypt` on it, only through Secrets Manager or SSM (`kms:ViaService`). Not needed for AWS's own keys."#,
    ),
    key(
        "image_uri",
        ValueType::String,
        REQUIRED,
        r#"The container image, without its tag: the job runs `image_uri:image_tag`."#,
    ),
    key(
        "image_tag",
        ValueType::String,
        text("latest"),
        r#"The image tag."#,
    ),
    key(
        "batch_job_queue_arn",
        ValueType::String,
        described(r#"`[base.compute]`'s queue, else required"#),
        r#"The Batch job queue."#,
    ),
    key(
        "success_handler_arn",
        ValueType::String,
        described(r#"`[base.handlers]`' function, else required"#),
        r#"The success handler Lambda."#,
    ),
    key(
        "error_handler_arn",
        ValueType::String,
        described(r#"`[base.handlers]`' function, else required"#),
        r#"The error handler Lambda."#,
    ),
    key(
        "enabled",
        ValueType::Boolean,
        boolean(true),
        r#"`false` deploys the schedule DISABLED."#,
    ),
    key(
        "timeout_seconds",
        ValueType::Integer,
        NONE,
        r#"Batch attempt timeout, at least 60."#,
    ),
    key(
        "overlap",
        ValueType::String,
        text("allow"),
        r#"`skip`: a run that starts while an earlier execution of the job's state machine is still RUNNING ends at once, SUCCEEDED, without submitting a Batch job; its output records the running execution (`skipped.running_execution`). Exactly one run goes on, whoever starts them and however many start together: before the job, the state machine claims the job in a DynamoDB table of its own (`...-ScheduledJob-Claim`, on-demand, one item) with a conditional write (Step Functions' DynamoDB integration), and releases the claim on every way the run ends but the skip. A claim whose holder is no longer running (stopped by hand, or ended by an error no Catch sees) is taken over at once: the holder is read with `DescribeExecution`, and the claim is replaced only if it still names it. The state machine's role may `PutItem`, `GetItem` and `DeleteItem` on that table and `states:DescribeExecution` on its own executions, nothing more. `render JOB --what asl` shows the states (`Claim` ... `Release*`); `deploy` creates the table (and waits until it is ACTIVE) before the state machine that uses it, and deletes it when the job goes or `overlap` returns to `allow`. `local run` and `local schedule` never overlap a job either way, and claim nothing."#,
    ),
    key(
        "notify_on_skip",
        ValueType::Boolean,
        boolean(false),
        r#"With `overlap = "skip"`, each skipped run sends a notification: `status` `SKIPPED`, `error.kind` `skipped`, the running execution in `error.message` (through the success handler; a notification that fails for good fails that execution)."#,
    ),
    key(
        "run_timeout_seconds",
        ValueType::Integer,
        NONE,
        r#"A cap on the whole run, queue time and every attempt included, 60–31536000: the state machine's Batch task gets `TimeoutSeconds`. When it is reached Step Functions stops the job, the error handler sends a `timeout` notification and the execution fails (`sjob.JobFailed`). It sits on the task, not on the state machine, because a state machine's own timeout cannot be caught and no one would be told. `local run` caps its attempts the same way."#,
    ),
    key(
        "expect_success_within",
        ValueType::String,
        NONE,
        r#"A missed-run alarm: when no run succeeded for this long (`5m` to `7d`; whole hours from `1h`, as `"26h"`), whatever the reason (runs failed, the schedule could not start them, the state machine or schedule was deleted or disabled), the error handler sends a `missed` notification (`status` `FAILED`), and a `recovered` one (`status` `SUCCEEDED`) after the next success. It is a CloudWatch alarm `...-ScheduledJob-Missed` on the state machine's `ExecutionsSucceeded` (`Sum < 1` in every period of the window, one-minute periods below an hour and hourly ones above, missing data breaching) whose ALARM and OK actions invoke the error handler, which a permission scoped to that alarm allows. CloudWatch looks back over the window from the alarm's first evaluation, metric data from before the alarm included: a job with no successful run in the last window (a new one, say) gets `missed` minutes after the deploy, and `recovered` after its first success; one that runs well goes quietly to OK (an OK that follows no ALARM sends nothing). Each alarm adds a statement of about 350 bytes to the error handler's resource policy, which Lambda caps at 20 KB: about 50 jobs with alarms can share one error handler. `simulate --outcome missed|recovered` prints the event CloudWatch sends; `local run` has no metric history to watch."#,
    ),
    key(
        "array_size",
        ValueType::Integer,
        NONE,
        r#"Runs the job as a Batch array job of this many children, 2–10000 (the state machine's `submitJob` gets `ArrayProperties`). Each child gets `AWS_BATCH_JOB_ARRAY_INDEX` (0 to size−1) to pick its share of the work; `timeout_seconds` and `retry_attempts` apply to each child, `run_timeout_seconds` to all of them. The run fails when any child fails, and one notification covers them all: `batch_job.array` gives the size, how many succeeded and failed, Batch's count per status and the failed children's indexes (the error handler asks Batch with `ListJobs`). `local run` runs every index, `--parallel N` at a time."#,
    ),
    key(
        "retry_attempts",
        ValueType::Integer,
        int(1),
        r#"Batch retry strategy, 1–10."#,
    ),
    key(
        "retry_on",
        ValueType::Tables(RETRY_ON_KEYS),
        described(r#"`[]` (every failure is retried)"#),
        r#"Which failed attempts are retried: up to 5 rules `{ exit_code | reason | status_reason, action = "retry" | "exit" }`, Batch's `evaluateOnExit`. Each condition is the exact text or a prefix ending in `*` (`exit_code = "13*"`, `reason = "CannotPullContainerError*"`); every condition of a rule must match, the first matching rule decides, and no match retries. Needs `retry_attempts` of 2 or more. `local run` applies the same rules."#,
    ),
    key(
        "log_retention_days",
        ValueType::Integer,
        int(365),
        r#"Retention of the job's two log groups: the state machine's execution history and the container's output. Must be a value CloudWatch Logs accepts."#,
    ),
    key(
        "execution_log_group",
        ValueType::String,
        text("vended"),
        r#"The name of the state machine's log group. `vended`: `/aws/vendedlogs/states/{app}/{stage}/{batch}`. `seed`: the seed module's `{app}/{stage}/scheduled/{batch}`. Step Functions adds every group outside `/aws/vendedlogs/` to the account's CloudWatch Logs resource policy, which holds 5,120 characters: past about 50 such groups per account and region (fewer when other stacks log the same way), creating or updating a state machine fails with `InvalidLoggingConfiguration`. `validate` warns when a job asks for `seed`. A job deployed with the seed's group moves to the vended one on the next deploy; the old group, with its history, stays until `deploy --prune` (or `destroy`)."#,
    ),
    key(
        "task_policy_statements",
        ValueType::Tables(STATEMENT_KEYS),
        EMPTY,
        r#"IAM statements (`Effect`, `Action`, `Resource`, ...) for the job's task role. It gets nothing else."#,
    ),
    key(
        "tags",
        ValueType::StringMap,
        EMPTY,
        r#"Extra tags on every resource that takes tags. `aws:` and `sjob:` prefixes are reserved. Keys of 1–128 and values of up to 256 characters, each letters, digits, spaces and `_ . : / = + - @` (the services' tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`). At most 45 with `[defaults]`' merged in: AWS takes 50 per resource, and Batch 50 on a job and its job definition together, and sjob adds its 5 identity tags to each."#,
    ),
    key(
        "description",
        ValueType::String,
        NONE,
        r#"The schedule's description."#,
    ),
    key(
        "assign_public_ip",
        ValueType::Boolean,
        boolean(false),
        r#"Whether Fargate tasks get a public IP. Needed in public subnets without NAT."#,
    ),
    key(
        "notification_topic_arn",
        ValueType::String,
        described(r#"`[base]`'s topic"#),
        r#"Where the state machine publishes its own short notice when the error handler fails (the [last resort](#terminal-outcomes)). Set it when the handlers are given by ARN and the config has neither `[base.notifications]` nor `[base.handlers].topic_arn`; without any topic there is no last resort."#,
    ),
    key(
        "cpu_architecture",
        ValueType::String,
        described(r#"none (Batch runs `x86_64`)"#),
        r#"`x86_64` or `arm64` (Graviton): the job definition's `runtimePlatform`. Fargate Spot runs only x86_64, so `arm64` with a `[base.compute]` of `capacity = "fargate_spot"` is an error; a queue given by ARN is not checked. `local run` runs on this machine's CPU; the job record it hands the handlers shows the platform."#,
    ),
    key(
        "ephemeral_storage_gib",
        ValueType::Integer,
        described(r#"none (Fargate's 20 GiB)"#),
        r#"Task storage, 21–200 GiB: the job definition's `ephemeralStorage`."#,
    ),
    key(
        "platform_version",
        ValueType::String,
        text("LATEST"),
        r#"The Fargate platform version the task runs on: `LATEST`, `1.4.0` or `1.3.0` (the job definition's `fargatePlatformConfiguration.platformVersion`); `1.3.0` has no `ephemeral_storage_gib` and no ARM64. Pin it when a job must not move with AWS's newest. `local run` shows it in the job record it hands the handlers."#,
    ),
    key(
        "schedule_retry",
        ValueType::Table(SCHEDULE_RETRY_KEYS),
        described(r#"AWS's"#),
        r#"How Scheduler retries a run it could not start (a throttled or refused `StartExecution`): the schedule target's `RetryPolicy`, 0–185 attempts within 60–86400 seconds. A key left out keeps AWS's default. `local schedule` starts runs in-process and has nothing to retry."#,
    ),
    key(
        "schedule_dead_letter_arn",
        ValueType::String,
        NONE,
        r#"A standard SQS queue's ARN (Scheduler refuses a FIFO queue: its `DeadLetterConfig.Arn` pattern allows no `.`): Scheduler sends the runs it could not start after its retries there (the target's `DeadLetterConfig`) instead of dropping them. The scheduler role may send to this queue and nothing else; the queue's own policy or encryption key must let it."#,
    ),
];

/// One rule of `retry_on`.
pub const RETRY_ON_KEYS: &[Key] = &[
    key(
        "exit_code",
        ValueType::Scalar,
        NONE,
        r#"The attempt's exit code: a number, or digits ending in `*` to match a prefix."#,
    ),
    key(
        "reason",
        ValueType::String,
        NONE,
        r#"The container's reason (`CannotPullContainerError*`); letters, digits, `.`, `:` and spaces, optionally ending in `*`."#,
    ),
    key(
        "status_reason",
        ValueType::String,
        NONE,
        r#"The attempt's status reason (`Host EC2*`); letters, digits, `.`, `:` and spaces, optionally ending in `*`."#,
    ),
    key(
        "action",
        ValueType::String,
        REQUIRED,
        r#"`retry` or `exit`. Required."#,
    ),
];

/// `schedule_retry`: each key left out is AWS's.
pub const SCHEDULE_RETRY_KEYS: &[Key] = &[
    key(
        "maximum_retry_attempts",
        ValueType::Integer,
        int(ScheduleRetry::AWS.maximum_retry_attempts as i64),
        r#"Attempts to start the run, 0 to 185."#,
    ),
    key(
        "maximum_event_age_seconds",
        ValueType::Integer,
        int(ScheduleRetry::AWS.maximum_event_age_seconds as i64),
        r#"How long to keep trying, 60 to 86400 seconds."#,
    ),
];

/// One statement of `task_policy_statements`.
pub const STATEMENT_KEYS: &[Key] = &[
    key("Sid", ValueType::String, NONE, r#"The statement id."#),
    key("Effect", ValueType::String, NONE, r#"`Allow` or `Deny`."#),
    key(
        "Action",
        ValueType::Json,
        NONE,
        r#"An action or a list of actions."#,
    ),
    key(
        "NotAction",
        ValueType::Json,
        NONE,
        r#"An action or a list of actions."#,
    ),
    key(
        "Resource",
        ValueType::Json,
        NONE,
        r#"A resource ARN or a list of them."#,
    ),
    key(
        "NotResource",
        ValueType::Json,
        NONE,
        r#"A resource ARN or a list of them."#,
    ),
    key(
        "Condition",
        ValueType::Json,
        NONE,
        r#"IAM condition operators."#,
    ),
];
