//! One job's stack: its roles, log groups, job definition, state machine and
//! schedule (`render::job` builds it from a job's config).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::alarm::AlarmSpec;
use super::diff::{field_diff, Diff};
use super::identity::{Identity, Tags};
use super::retry::RetryRule;
use crate::names::{JobNames, JobRoles};

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    pub trust_policy: Value,
    /// Inline policies by name.
    pub policies: BTreeMap<String, Value>,
    /// Attached managed policy ARNs.
    pub managed_policies: BTreeSet<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupSpec {
    pub name: String,
    pub retention_days: Option<i32>,
    pub tags: Tags,
}

/// The parts of a Batch job definition sjob sets.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDefinitionSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// `secrets`: each variable's `valueFrom` ARN.
    pub secrets: BTreeMap<String, String>,
    pub vcpus: String,
    pub memory: String,
    pub job_role_arn: String,
    pub execution_role_arn: String,
    pub assign_public_ip: bool,
    /// `logConfiguration.options` of the awslogs driver (empty with another
    /// driver or none).
    pub log_options: BTreeMap<String, String>,
    /// `runtimePlatform.cpuArchitecture` (`X86_64`, `ARM64`), when set.
    pub cpu_architecture: Option<String>,
    pub ephemeral_storage_gib: Option<u32>,
    /// `fargatePlatformConfiguration.platformVersion`.
    pub platform_version: String,
    pub attempts: u32,
    /// `retryStrategy.evaluateOnExit`, in order.
    pub retry_on: Vec<RetryRule>,
    pub timeout_seconds: Option<u32>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineSpec {
    pub name: String,
    /// Parsed, so formatting never looks like a change.
    pub definition: Value,
    pub role_arn: String,
    /// The log group ARN execution history goes to (level ALL, with data).
    pub log_destination: String,
    pub tags: Tags,
}

/// The DynamoDB table of `overlap = "skip"`: one item, the job's claim,
/// keyed by [`CLAIM_KEY`] (see `render::definition` for how runs use it).
/// On-demand billing: a few writes per run.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimTableSpec {
    pub name: String,
    /// The key schema, as `name HASH` pairs; sjob's is `[CLAIM_KEY HASH]`.
    pub key_schema: Vec<String>,
    /// `PAY_PER_REQUEST` (on-demand) or `PROVISIONED`.
    pub billing_mode: String,
    pub tags: Tags,
}

/// The claim table's partition key: a string, the job's name.
pub const CLAIM_KEY: &str = "job";
/// The claim's attribute naming the execution that holds it.
pub const CLAIM_HOLDER: &str = "holder";
/// On-demand billing.
pub const PAY_PER_REQUEST: &str = "PAY_PER_REQUEST";

impl ClaimTableSpec {
    /// sjob's key schema: [`CLAIM_KEY`] alone, as the partition key.
    pub fn key_schema() -> Vec<String> {
        vec![format!("{CLAIM_KEY} HASH")]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    pub enabled: bool,
    pub target_arn: String,
    pub role_arn: String,
    /// Parsed target input.
    pub input: Value,
    pub description: Option<String>,
    pub retry_policy: ScheduleRetry,
    pub dead_letter_arn: Option<String>,
}

/// A Scheduler target's `RetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRetry {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: u32,
}

impl ScheduleRetry {
    /// What Scheduler applies to a target without a retry policy.
    pub const AWS: ScheduleRetry = ScheduleRetry {
        maximum_retry_attempts: 185,
        maximum_event_age_seconds: 86_400,
    };
}

/// Everything sjob deploys for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStack {
    pub batch_name: String,
    /// The identity tags every resource of the stack carries.
    pub identity: Identity,
    pub names: JobNames,
    pub roles: JobRoles<RoleSpec>,
    /// The state machine's log group, then the container's.
    pub log_groups: Vec<LogGroupSpec>,
    pub job_definition: JobDefinitionSpec,
    pub state_machine: StateMachineSpec,
    pub schedule: ScheduleSpec,
    /// The missed-run alarm, with `expect_success_within`.
    pub alarm: Option<AlarmSpec>,
    /// The claim table, with `overlap = "skip"`.
    pub claim_table: Option<ClaimTableSpec>,
}

field_diff!(LogGroupSpec {
    retention_days,
    tags
});
field_diff!(JobDefinitionSpec {
    image,
    command,
    environment,
    secrets,
    vcpus,
    memory,
    job_role_arn,
    execution_role_arn,
    assign_public_ip,
    log_options,
    cpu_architecture,
    ephemeral_storage_gib,
    platform_version,
    attempts,
    retry_on,
    timeout_seconds,
    tags
});
field_diff!(ClaimTableSpec {
    key_schema,
    billing_mode,
    tags
});
field_diff!(StateMachineSpec {
    definition,
    role_arn,
    log_destination,
    tags
});
field_diff!(ScheduleSpec {
    expression,
    timezone,
    enabled,
    target_arn,
    role_arn,
    input,
    description,
    retry_policy,
    dead_letter_arn
});

impl JobDefinitionSpec {
    /// The log stream an attempt's container writes to: awslogs names it
    /// `PREFIX/CONTAINER/TASK`, and Batch's one container is `default`.
    /// Without a prefix Batch uses the definition's name.
    pub fn log_stream(&self, task_id: &str) -> String {
        let prefix = self
            .log_options
            .get("awslogs-stream-prefix")
            .unwrap_or(&self.name);
        format!("{prefix}/default/{task_id}")
    }
}

impl Diff for RoleSpec {
    fn diff(&self, actual: &Self) -> Vec<String> {
        let mut fields = Vec::new();
        if self.trust_policy != actual.trust_policy {
            fields.push("trust_policy".to_string());
        }
        let names: BTreeSet<&String> = self.policies.keys().chain(actual.policies.keys()).collect();
        for name in names {
            if self.policies.get(name) != actual.policies.get(name) {
                fields.push(format!("policy:{name}"));
            }
        }
        if self.managed_policies != actual.managed_policies {
            fields.push("managed_policies".to_string());
        }
        if self.tags != actual.tags {
            fields.push("tags".to_string());
        }
        fields
    }
}
