//! Resource names: the seed module's, in one place. `validate` checks their
//! lengths, `render`, `plan` and `deploy` use them, and `infra/` gets them
//! through `sjob render`.

/// Every name sjob gives one job's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNames {
    /// `{app}-{stage}-{batch}-ScheduledJob`: the state machine, the Batch job
    /// definition and the Batch job name.
    pub job_name: String,
    pub schedule: String,
    /// Where the state machine writes its execution history (by default):
    /// under `/aws/vendedlogs/`, which Step Functions does not add to the
    /// account's CloudWatch Logs resource policy.
    pub log_group: String,
    /// The seed module's execution log group, outside `/aws/vendedlogs/`:
    /// each one adds an entry to that policy, whose 5,120 characters hold
    /// about 50 (`execution_log_group = "seed"`).
    pub seed_log_group: String,
    /// Where the job's container writes its output (awslogs).
    pub container_log_group: String,
    pub exec_role: String,
    pub task_role: String,
    pub scheduler_role: String,
    pub sfn_role: String,
    pub task_policy: String,
    /// The task execution role's container log writes.
    pub exec_policy: String,
    /// The task execution role's pull of the job's ECR image.
    pub image_policy: String,
    /// The task execution role's read of the job's secrets.
    pub secrets_policy: String,
    pub scheduler_policy: String,
    /// The scheduler's send to the job's dead-letter queue.
    pub dead_letter_policy: String,
    pub batch_policy: String,
    pub invoke_policy: String,
    pub logs_policy: String,
    /// The state machine's own publish, for the last-resort notice.
    pub notify_policy: String,
    /// The state machine's claim of the job and its read of the claim's
    /// holder (`overlap = "skip"`).
    pub overlap_policy: String,
    /// The DynamoDB table holding the job's one claim (`overlap = "skip"`).
    pub claim_table: String,
    /// The missed-run alarm (`expect_success_within`).
    pub missed_alarm: String,
}

/// Which name a job's state machine log group has (`execution_log_group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionLogGroup {
    /// `/aws/vendedlogs/states/{app}/{stage}/{batch}`.
    Vended,
    /// The seed's `{app}/{stage}/scheduled/{batch}`.
    Seed,
}

/// Every name sjob gives the shared base's resources (those of the seed's
/// `job_base` where it had them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseNames {
    pub topic: String,
    pub handler_role: String,
    pub handler_policy: String,
    pub success_function: String,
    pub error_function: String,
    pub compute_environment: String,
    pub job_queue: String,
    pub security_group: String,
}

impl BaseNames {
    /// `topic` is the configured topic name, if any.
    pub fn new(app_name: &str, stage: &str, topic: Option<String>) -> BaseNames {
        let prefix = format!("{app_name}-{stage}");
        BaseNames {
            topic: topic.unwrap_or_else(|| Self::default_topic(app_name, stage)),
            handler_role: format!("{prefix}-BatchHandlerRole"),
            handler_policy: format!("{prefix}-BatchHandlerPolicy"),
            success_function: format!("{prefix}-BatchSuccessHandler"),
            error_function: format!("{prefix}-BatchErrorHandler"),
            compute_environment: format!("{prefix}-Batch"),
            job_queue: format!("{prefix}-Batch"),
            security_group: format!("{prefix}-Batch"),
        }
    }

    /// FIFO topic names must end in `.fifo`.
    pub fn default_topic(app_name: &str, stage: &str) -> String {
        format!("{app_name}-{stage}-job-notifications")
    }

    /// Where Lambda writes a function's logs.
    pub fn function_log_group(function: &str) -> String {
        format!("/aws/lambda/{function}")
    }

    /// Names with AWS length limits, for validation.
    pub fn limits(&self) -> Vec<NameLimit<'_>> {
        let limit = |what, name, max| NameLimit { what, name, max };
        vec![
            limit("SNS topic name", &self.topic, 256),
            limit("IAM role name", &self.handler_role, 64),
            limit("IAM policy name", &self.handler_policy, 128),
            limit("Lambda function name", &self.success_function, 64),
            limit("Lambda function name", &self.error_function, 64),
            limit("compute environment name", &self.compute_environment, 128),
            limit("job queue name", &self.job_queue, 128),
            limit("security group name", &self.security_group, 255),
        ]
    }
}

/// A name and the longest AWS accepts for that kind of resource.
pub struct NameLimit<'a> {
    pub what: &'static str,
    pub name: &'a str,
    pub max: usize,
}

/// Something for each of a job's four roles: the container's execution
/// role (`exec`), the job's own (`task`), the state machine's (`sfn`) and
/// the schedule's (`scheduler`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRoles<T> {
    pub exec: T,
    pub task: T,
    pub sfn: T,
    pub scheduler: T,
}

impl<T> JobRoles<T> {
    /// The four, in the order plans list and apply them.
    pub fn iter(&self) -> std::array::IntoIter<&T, 4> {
        [&self.exec, &self.task, &self.sfn, &self.scheduler].into_iter()
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> JobRoles<U> {
        JobRoles {
            exec: f(self.exec),
            task: f(self.task),
            sfn: f(self.sfn),
            scheduler: f(self.scheduler),
        }
    }

    pub fn as_ref(&self) -> JobRoles<&T> {
        JobRoles {
            exec: &self.exec,
            task: &self.task,
            sfn: &self.sfn,
            scheduler: &self.scheduler,
        }
    }

    pub fn as_mut(&mut self) -> JobRoles<&mut T> {
        JobRoles {
            exec: &mut self.exec,
            task: &mut self.task,
            sfn: &mut self.sfn,
            scheduler: &mut self.scheduler,
        }
    }
}

impl<'a, T> IntoIterator for &'a JobRoles<T> {
    type Item = &'a T;
    type IntoIter = std::array::IntoIter<&'a T, 4>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl JobNames {
    pub fn new(app_name: &str, stage: &str, batch_name: &str) -> JobNames {
        let job_name = format!("{app_name}-{stage}-{batch_name}-ScheduledJob");
        let n = |suffix: &str| format!("{job_name}-{suffix}");
        let [vended, seed, container] = Self::log_group_prefixes(app_name, stage);
        JobNames {
            schedule: n("Scheduler"),
            log_group: format!("{vended}{batch_name}"),
            seed_log_group: format!("{seed}{batch_name}"),
            container_log_group: format!("{container}{batch_name}"),
            exec_role: n("EcsTaskExecRole"),
            task_role: n("EcsTaskRole"),
            scheduler_role: n("PipesRole"),
            sfn_role: n("BatchSfnRole"),
            task_policy: n("EcsTaskRolePolicy"),
            exec_policy: n("EcsTaskExecRolePolicy"),
            image_policy: n("EcsTaskExecRoleImagePullPolicy"),
            secrets_policy: n("EcsTaskExecRoleSecretsPolicy"),
            scheduler_policy: n("SchedulerTargetPolicy"),
            dead_letter_policy: n("SchedulerDeadLetterPolicy"),
            batch_policy: n("BatchJobManagementAccessPolicy"),
            invoke_policy: n("InvokeHandlersPolicy"),
            logs_policy: n("CloudWatchLogsDeliveryFullAccessPolicy"),
            notify_policy: n("NotifyPolicy"),
            overlap_policy: n("OverlapCheckPolicy"),
            claim_table: n("Claim"),
            missed_alarm: n("Missed"),
            job_name,
        }
    }

    /// The prefix of every job's state machine name in one app and stage.
    pub fn job_prefix(app_name: &str, stage: &str) -> String {
        format!("{app_name}-{stage}-")
    }

    /// The prefixes of the three kinds of job log group in one app and stage
    /// (state machine, the seed's state machine, container), in the order of
    /// [`JobNames::log_groups`].
    pub fn log_group_prefixes(app_name: &str, stage: &str) -> [String; 3] {
        [
            format!("/aws/vendedlogs/states/{app_name}/{stage}/"),
            format!("{app_name}/{stage}/scheduled/"),
            format!("{app_name}/{stage}/batch/"),
        ]
    }

    /// The batch name back from a state machine or role name, if it is one of ours.
    pub fn batch_name_of(app_name: &str, stage: &str, resource_name: &str) -> Option<String> {
        let rest = resource_name.strip_prefix(&Self::job_prefix(app_name, stage))?;
        let end = rest.find("-ScheduledJob")?;
        let batch = &rest[..end];
        let tail = &rest[end + "-ScheduledJob".len()..];
        (!batch.is_empty() && (tail.is_empty() || tail.starts_with('-'))).then(|| batch.to_string())
    }

    /// The four roles.
    pub fn roles(&self) -> JobRoles<&str> {
        JobRoles {
            exec: &self.exec_role,
            task: &self.task_role,
            sfn: &self.sfn_role,
            scheduler: &self.scheduler_role,
        }
    }

    /// Every log group a job may have: its state machine's (the default
    /// and the seed's name) and its container's.
    pub fn log_groups(&self) -> [&str; 3] {
        [
            &self.log_group,
            &self.seed_log_group,
            &self.container_log_group,
        ]
    }

    /// The state machine's log group under `execution_log_group`.
    pub fn execution_log_group(&self, choice: ExecutionLogGroup) -> &str {
        match choice {
            ExecutionLogGroup::Vended => &self.log_group,
            ExecutionLogGroup::Seed => &self.seed_log_group,
        }
    }

    /// Names with AWS length limits, for validation.
    pub fn limits(&self) -> Vec<NameLimit<'_>> {
        let role = |name| NameLimit {
            what: "IAM role name",
            name,
            max: 64,
        };
        let policy = |name| NameLimit {
            what: "IAM policy name",
            name,
            max: 128,
        };
        vec![
            NameLimit {
                what: "state machine name",
                name: &self.job_name,
                max: 80,
            },
            NameLimit {
                what: "Batch job definition name",
                name: &self.job_name,
                max: 128,
            },
            NameLimit {
                what: "schedule name",
                name: &self.schedule,
                max: 64,
            },
            NameLimit {
                what: "log group name",
                name: &self.log_group,
                max: 512,
            },
            NameLimit {
                what: "DynamoDB table name",
                name: &self.claim_table,
                max: 255,
            },
            role(&self.exec_role),
            role(&self.task_role),
            role(&self.scheduler_role),
            role(&self.sfn_role),
            policy(&self.task_policy),
            policy(&self.exec_policy),
            policy(&self.image_policy),
            policy(&self.secrets_policy),
            policy(&self.scheduler_policy),
            policy(&self.dead_letter_policy),
            policy(&self.batch_policy),
            policy(&self.invoke_policy),
            policy(&self.logs_policy),
            policy(&self.notify_policy),
            policy(&self.overlap_policy),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_seed_modules() {
        let n = JobNames::new("myapp", "dev", "crawler");
        assert_eq!(n.job_name, "myapp-dev-crawler-ScheduledJob");
        assert_eq!(n.schedule, "myapp-dev-crawler-ScheduledJob-Scheduler");
        assert_eq!(n.log_group, "/aws/vendedlogs/states/myapp/dev/crawler");
        assert_eq!(n.seed_log_group, "myapp/dev/scheduled/crawler");
        assert_eq!(n.container_log_group, "myapp/dev/batch/crawler");
        assert_eq!(n.sfn_role, "myapp-dev-crawler-ScheduledJob-BatchSfnRole");
        assert_eq!(n.scheduler_role, "myapp-dev-crawler-ScheduledJob-PipesRole");
    }

    #[test]
    fn batch_name_is_recovered_from_any_resource_name() {
        let of = |n| JobNames::batch_name_of("myapp", "dev", n);
        assert_eq!(
            of("myapp-dev-crawler-ScheduledJob").as_deref(),
            Some("crawler")
        );
        assert_eq!(
            of("myapp-dev-a-b-ScheduledJob-EcsTaskRole").as_deref(),
            Some("a-b")
        );
        assert_eq!(of("myapp-prod-crawler-ScheduledJob"), None);
        assert_eq!(of("myapp-dev-crawler-ScheduledJobX"), None);
    }
}
