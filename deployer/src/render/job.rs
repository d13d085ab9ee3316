//! One job's config to its [`JobStack`]: names, identity tags, policies and
//! the state machine.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::definition::definition;
use super::iam;
use crate::config::{Config, Job, Overlap};
use handlers::alarm::AlarmIdentity;

use crate::model::alarm::missed_rule;
use crate::model::{
    AlarmSpec, ClaimTableSpec, Identity, JobDefinitionSpec, JobStack, LogGroupSpec, RoleSpec,
    ScheduleSpec, StateMachineSpec, PAY_PER_REQUEST,
};
use crate::names::{JobNames, JobRoles};
use crate::target::Target;

impl JobStack {
    pub fn render(config: &Config, job: &Job, target: &Target) -> JobStack {
        let (app, stage) = (&config.app_name, &config.stage);
        let names = JobNames::new(app, stage, &job.batch_name);
        let identity = Identity::job(app, stage, &target.region, &job.batch_name);
        let mut tags = job.tags.clone();
        tags.extend(identity.tags().clone());
        let execution_log_group = names.execution_log_group(job.logs.execution_log_group);
        // No AWS-managed policy: each role's inline policies say all it may do.
        let role = |name: &str, principal: &str, policies: BTreeMap<String, Value>| RoleSpec {
            name: name.to_string(),
            trust_policy: iam::trust_policy(principal),
            policies,
            managed_policies: BTreeSet::new(),
            tags: tags.clone(),
        };
        let roles = JobRoles {
            exec: role(
                &names.exec_role,
                &target.service_principal("ecs-tasks"),
                iam::task_execution_policies(job, &names, target),
            ),
            task: role(
                &names.task_role,
                &target.service_principal("ecs-tasks"),
                iam::task_policies(job, &names),
            ),
            sfn: role(
                &names.sfn_role,
                &target.service_principal("states"),
                iam::state_machine_policies(job, &names, target),
            ),
            scheduler: role(
                &names.scheduler_role,
                &target.service_principal("scheduler"),
                iam::scheduler_policies(job, &names, target),
            ),
        };
        JobStack {
            batch_name: job.batch_name.clone(),
            identity,
            log_groups: [execution_log_group, &names.container_log_group]
                .map(|name| LogGroupSpec {
                    name: name.to_string(),
                    retention_days: Some(job.logs.log_retention_days),
                    tags: tags.clone(),
                })
                .to_vec(),
            job_definition: JobDefinitionSpec {
                name: names.job_name.clone(),
                image: format!("{}:{}", job.container.image_uri, job.container.image_tag),
                command: job.container.command.clone(),
                environment: job.container.env.clone(),
                secrets: job.container.secrets.clone(),
                vcpus: job.container.vcpus.to_string(),
                memory: job.container.memory_mib.to_string(),
                job_role_arn: target.role_arn(&names.task_role),
                execution_role_arn: target.role_arn(&names.exec_role),
                assign_public_ip: job.container.assign_public_ip,
                log_options: BTreeMap::from([
                    (
                        "awslogs-group".to_string(),
                        names.container_log_group.clone(),
                    ),
                    ("awslogs-region".to_string(), target.region.clone()),
                    ("awslogs-stream-prefix".to_string(), job.batch_name.clone()),
                ]),
                cpu_architecture: job
                    .container
                    .cpu_architecture
                    .map(|a| a.batch_name().to_string()),
                ephemeral_storage_gib: job.container.ephemeral_storage_gib,
                platform_version: job.container.platform_version.clone(),
                attempts: job.retry.attempts,
                retry_on: job.retry.on.clone(),
                timeout_seconds: job.container.timeout_seconds,
                tags: tags.clone(),
            },
            state_machine: StateMachineSpec {
                name: names.job_name.clone(),
                definition: definition(app, stage, job, target),
                role_arn: target.role_arn(&names.sfn_role),
                log_destination: format!("{}:*", target.log_group_arn(execution_log_group)),
                tags: tags.clone(),
            },
            schedule: ScheduleSpec {
                name: names.schedule.clone(),
                expression: job.schedule.when.expression.clone(),
                timezone: job.schedule.timezone.clone(),
                enabled: job.schedule.enabled,
                target_arn: target.state_machine_arn(&names.job_name),
                role_arn: target.role_arn(&names.scheduler_role),
                input: job.schedule.input.clone(),
                description: job.schedule.description.clone(),
                retry_policy: job.schedule.retry,
                dead_letter_arn: job.schedule.dead_letter_arn.clone(),
            },
            claim_table: (job.run.overlap == Overlap::Skip).then(|| ClaimTableSpec {
                name: names.claim_table.clone(),
                key_schema: ClaimTableSpec::key_schema(),
                billing_mode: PAY_PER_REQUEST.to_string(),
                tags: tags.clone(),
            }),
            alarm: job.alarm.expect_success_within.as_ref().map(|window| {
                let (period_seconds, evaluation_periods) = window.periods();
                let identity = AlarmIdentity {
                    app_name: app.clone(),
                    stage: stage.clone(),
                    batch_name: job.batch_name.clone(),
                    job_name: names.job_name.clone(),
                    window: window.text.clone(),
                };
                AlarmSpec {
                    name: names.missed_alarm.clone(),
                    state_machine_arn: target.state_machine_arn(&names.job_name),
                    period_seconds,
                    evaluation_periods,
                    rule: missed_rule(evaluation_periods),
                    description: identity.description(),
                    action_arn: job.error_handler_arn(target),
                    invokable: true,
                    tags,
                }
            }),
            roles,
            names,
        }
    }
}

/// What `sjob render` prints of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobDocument {
    /// The state machine definition.
    StateMachine,
    /// The roles: trust policy, inline and managed policies.
    Iam,
    /// Both, with the resource names.
    All,
}

/// The JSON `sjob render` prints for a job.
pub fn describe(stack: &JobStack, document: JobDocument) -> Value {
    let state_machine = stack.state_machine.definition.clone();
    let iam: serde_json::Map<String, Value> = stack
        .roles
        .iter()
        .map(|r| {
            let role = json!({
                "trust_policy": r.trust_policy,
                "policies": r.policies,
                "managed_policies": r.managed_policies,
            });
            (r.name.clone(), role)
        })
        .collect();
    match document {
        JobDocument::StateMachine => state_machine,
        JobDocument::Iam => Value::Object(iam),
        JobDocument::All => json!({
            "state_machine": state_machine,
            "iam": iam,
            "names": {
                "state_machine": stack.names.job_name,
                "job_definition": stack.names.job_name,
                "schedule": stack.names.schedule,
                "log_group": stack.log_groups[0].name,
                "container_log_group": stack.names.container_log_group,
                "claim_table": stack.claim_table.as_ref().map(|t| &t.name),
            },
        }),
    }
}
