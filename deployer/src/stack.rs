//! The resources of one job's stack as plain values: what the config asks
//! for (built here, purely) and what AWS has (read by `aws::*` into the same
//! types), so that a diff is a field-by-field comparison.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::config::{Config, Job};
use crate::render::definition::definition;
use crate::render::iam;
use crate::render::names::JobNames;
use crate::render::Target;

pub type Tags = BTreeMap<String, String>;

/// Tag keys that mark a resource as sjob's; sjob never changes or deletes a
/// resource without them.
pub const MANAGED_BY_TAG: &str = "sjob:managed-by";
pub const MANAGED_BY_VALUE: &str = "sjob";
pub const APP_TAG: &str = "sjob:app";
pub const STAGE_TAG: &str = "sjob:stage";
pub const JOB_TAG: &str = "sjob:job";

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
    pub vcpus: String,
    pub memory: String,
    pub job_role_arn: String,
    pub execution_role_arn: String,
    pub assign_public_ip: bool,
    pub attempts: u32,
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
}

/// Everything sjob deploys for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStack {
    pub batch_name: String,
    pub names: JobNames,
    pub roles: Vec<RoleSpec>,
    pub log_group: LogGroupSpec,
    pub job_definition: JobDefinitionSpec,
    pub state_machine: StateMachineSpec,
    pub schedule: ScheduleSpec,
}

impl JobStack {
    pub fn render(config: &Config, job: &Job, target: &Target) -> JobStack {
        let (app, stage) = (&config.app_name, &config.stage);
        let names = JobNames::new(app, stage, &job.batch_name);
        let mut tags = job.tags.clone();
        tags.extend([
            (MANAGED_BY_TAG.to_string(), MANAGED_BY_VALUE.to_string()),
            (APP_TAG.to_string(), app.clone()),
            (STAGE_TAG.to_string(), stage.clone()),
            (JOB_TAG.to_string(), job.batch_name.clone()),
        ]);
        let role = |name: &str,
                    service: &str,
                    policies: BTreeMap<String, Value>,
                    managed: BTreeSet<String>| RoleSpec {
            name: name.to_string(),
            trust_policy: iam::trust_policy(service),
            policies,
            managed_policies: managed,
            tags: tags.clone(),
        };
        let execution_policy = format!(
            "arn:{}:iam::aws:{}",
            target.partition(),
            iam::TASK_EXECUTION_MANAGED_POLICY
        );
        let roles = vec![
            role(
                &names.exec_role,
                "ecs-tasks.amazonaws.com",
                BTreeMap::new(),
                BTreeSet::from([execution_policy]),
            ),
            role(
                &names.task_role,
                "ecs-tasks.amazonaws.com",
                iam::task_policies(job, &names),
                BTreeSet::new(),
            ),
            role(
                &names.sfn_role,
                "states.amazonaws.com",
                iam::state_machine_policies(job, &names, target),
                BTreeSet::new(),
            ),
            role(
                &names.scheduler_role,
                "scheduler.amazonaws.com",
                iam::scheduler_policies(&names, target),
                BTreeSet::new(),
            ),
        ];
        JobStack {
            batch_name: job.batch_name.clone(),
            log_group: LogGroupSpec {
                name: names.log_group.clone(),
                retention_days: Some(job.log_retention_days),
                tags: tags.clone(),
            },
            job_definition: JobDefinitionSpec {
                name: names.job_name.clone(),
                image: format!("{}:{}", job.image_uri, job.image_tag),
                command: job.command.clone(),
                environment: job.env.clone(),
                vcpus: job.vcpus.clone(),
                memory: job.memory.clone(),
                job_role_arn: target.role_arn(&names.task_role),
                execution_role_arn: target.role_arn(&names.exec_role),
                assign_public_ip: job.assign_public_ip,
                attempts: job.retry_attempts,
                timeout_seconds: job.timeout_seconds,
                tags: tags.clone(),
            },
            state_machine: StateMachineSpec {
                name: names.job_name.clone(),
                definition: definition(app, stage, job, target),
                role_arn: target.role_arn(&names.sfn_role),
                log_destination: format!("{}:*", target.log_group_arn(&names.log_group)),
                tags,
            },
            schedule: ScheduleSpec {
                name: names.schedule.clone(),
                expression: job.schedule.expression.clone(),
                timezone: job.schedule_timezone.clone(),
                enabled: job.enabled,
                target_arn: target.state_machine_arn(&names.job_name),
                role_arn: target.role_arn(&names.scheduler_role),
                input: job.sfn_input.clone(),
                description: job.description.clone(),
            },
            roles,
            names,
        }
    }
}

/// A resource as it exists in AWS, and whether sjob owns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<T> {
    pub spec: T,
    pub managed: bool,
}

/// Whether tags mark a resource as sjob's.
pub fn is_managed(tags: &Tags) -> bool {
    tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

/// The names of the fields that differ, for plan output.
pub trait Diff {
    fn diff(&self, actual: &Self) -> Vec<String>;
}

/// Implements [`Diff`] by comparing the listed fields.
macro_rules! field_diff {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl $crate::stack::Diff for $ty {
            fn diff(&self, actual: &Self) -> Vec<String> {
                let mut fields = Vec::new();
                $(if self.$field != actual.$field { fields.push(stringify!($field).to_string()); })*
                fields
            }
        }
    };
}

pub(crate) use field_diff;

field_diff!(LogGroupSpec {
    retention_days,
    tags
});
field_diff!(JobDefinitionSpec {
    image,
    command,
    environment,
    vcpus,
    memory,
    job_role_arn,
    execution_role_arn,
    assign_public_ip,
    attempts,
    timeout_seconds,
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
    description
});

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
