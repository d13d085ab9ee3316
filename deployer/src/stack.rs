//! The resources of one job's stack as plain values: what the config asks
//! for (built here, purely) and what AWS has (read by `aws::*` into the same
//! types), so that a diff is a field-by-field comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::config::{Config, Job};
use crate::names::JobNames;
use crate::render::definition::definition;
use crate::render::iam;
use crate::target::Target;

pub type Tags = BTreeMap<String, String>;

/// The tags that say whose a resource is. sjob changes or deletes a
/// resource only when every one of them matches the stack's own: the same
/// names can belong to two stacks (`a`/`b-c` and `a-b`/`c` both name their
/// job `x` `a-b-c-x-ScheduledJob`), and IAM roles are global, so one app and
/// stage deployed in two regions share role names.
pub const MANAGED_BY_TAG: &str = "sjob:managed-by";
pub const MANAGED_BY_VALUE: &str = "sjob";
pub const APP_TAG: &str = "sjob:app";
pub const STAGE_TAG: &str = "sjob:stage";
pub const REGION_TAG: &str = "sjob:region";
pub const JOB_TAG: &str = "sjob:job";
/// Marks base resources (jobs' resources carry `sjob:job` instead).
pub const PART_TAG: &str = "sjob:part";
pub const PART_VALUE: &str = "base";

const IDENTITY_TAGS: [&str; 6] = [
    MANAGED_BY_TAG,
    APP_TAG,
    STAGE_TAG,
    REGION_TAG,
    JOB_TAG,
    PART_TAG,
];

/// A resource's owner as its identity tags name it: the stack's own when
/// built by [`Identity::job`] or [`Identity::base`], the found one when read
/// off a resource by [`Identity::of`].
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity(BTreeMap<String, String>);

impl Identity {
    /// One job's resources.
    pub fn job(app: &str, stage: &str, region: &str, job: &str) -> Identity {
        Identity::stack(app, stage, region, (JOB_TAG, job))
    }

    /// The shared base's resources.
    pub fn base(app: &str, stage: &str, region: &str) -> Identity {
        Identity::stack(app, stage, region, (PART_TAG, PART_VALUE))
    }

    fn stack(app: &str, stage: &str, region: &str, scope: (&str, &str)) -> Identity {
        Identity(
            [
                (MANAGED_BY_TAG, MANAGED_BY_VALUE),
                (APP_TAG, app),
                (STAGE_TAG, stage),
                (REGION_TAG, region),
                scope,
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
    }

    /// The identity tags among `tags`.
    pub fn of(tags: &Tags) -> Identity {
        Identity(
            tags.iter()
                .filter(|(k, _)| IDENTITY_TAGS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The tags that carry it.
    pub fn tags(&self) -> &Tags {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether sjob made the resource at all.
    pub fn is_sjob(&self) -> bool {
        self.get(MANAGED_BY_TAG) == Some(MANAGED_BY_VALUE)
    }

    /// Whether a resource of this identity may become `ours` by tagging it
    /// (`sjob adopt`): it names no other owner, only fewer keys (a
    /// Terraform-built resource has none, an older sjob's lacks the region).
    pub fn adoptable_by(&self, ours: &Identity) -> bool {
        self.0.iter().all(|(k, v)| ours.0.get(k) == Some(v))
    }
}

/// How a conflict names the owner it found.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_sjob() {
            return f.write_str("not sjob's (no sjob:managed-by tag)");
        }
        let field = |key: &str| self.get(key).unwrap_or("(none)");
        write!(
            f,
            "app `{}`, stage `{}`, region `{}`",
            field(APP_TAG),
            field(STAGE_TAG),
            field(REGION_TAG)
        )?;
        match (self.get(JOB_TAG), self.get(PART_TAG)) {
            (Some(job), _) => write!(f, ", job `{job}`"),
            (None, Some(part)) => write!(f, ", part `{part}`"),
            (None, None) => Ok(()),
        }
    }
}

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
    /// The identity tags every resource of the stack carries.
    pub identity: Identity,
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
        let identity = Identity::job(app, stage, &target.region, &job.batch_name);
        let mut tags = job.tags.clone();
        tags.extend(identity.tags().clone());
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
            identity,
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

/// A resource as it exists in AWS, and whose its tags say it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<T> {
    pub spec: T,
    pub owner: Identity,
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
