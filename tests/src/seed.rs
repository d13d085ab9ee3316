//! One job's stack as the seed's Terraform `scheduled_job` module leaves it
//! in AWS, built with the SDK: its names, roles with customer-managed
//! policies attached (plus AWS-managed `AWSLambdaRole`), an untagged log
//! group, job definition and state machine, and a schedule in Asia/Tokyo.

use aws_sdk_batch::types::{
    ContainerProperties, FargatePlatformConfiguration, JobDefinitionType, KeyValuePair,
    PlatformCapability, ResourceRequirement, ResourceType,
};
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use aws_sdk_sfn::types::{CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration};
use aws_sdk_sns::error::DisplayErrorContext;
use serde_json::{json, Value};

use crate::{trust_policy, Aws, REGION};

/// The account moto answers with.
use crate::myapp::ACCOUNT;

/// What a seed-built job points at.
pub struct SeedJob<'a> {
    pub app_name: &'a str,
    pub stage: &'a str,
    pub batch_name: &'a str,
    pub queue_arn: &'a str,
    pub success_handler_arn: &'a str,
    pub error_handler_arn: &'a str,
    pub image: &'a str,
    pub command: &'a [&'a str],
}

/// The customer-managed policies the seed creates per job, by suffix.
pub const SEED_POLICIES: &[&str] = &[
    "EcsTaskRolePolicy",
    "SchedulerTargetPolicy",
    "BatchJobManagementAccessPolicy",
    "CloudWatchLogsDeliveryFullAccessPolicy",
    "XRayAccessPolicy",
];

fn allow(actions: &[&str], resource: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
}

impl SeedJob<'_> {
    pub fn job_name(&self) -> String {
        format!(
            "{}-{}-{}-ScheduledJob",
            self.app_name, self.stage, self.batch_name
        )
    }

    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
            self.job_name()
        )
    }

    pub fn policy_arn(&self, suffix: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:policy/{}-{suffix}", self.job_name())
    }

    /// Creates everything the seed's module creates for this job.
    pub async fn create(&self, aws: &Aws) {
        let job = self.job_name();
        let (app, stage) = (self.app_name, self.stage);
        let roles = [
            ("EcsTaskExecRole", trust_policy("ecs-tasks.amazonaws.com")),
            ("EcsTaskRole", trust_policy("ecs-tasks.amazonaws.com")),
            // The seed wrote this one with a single statement object.
            (
                "PipesRole",
                json!({"Version": "2012-10-17", "Statement": {
                    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "scheduler.amazonaws.com"}
                }}),
            ),
            ("BatchSfnRole", trust_policy("states.amazonaws.com")),
        ];
        for (suffix, trust_policy) in roles {
            let name = format!("{job}-{suffix}");
            aws.iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(trust_policy.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateRole {name}: {}", DisplayErrorContext(e)));
        }
        let policies = [
            ("EcsTaskRolePolicy", "EcsTaskRole", allow(&["s3:PutObject", "s3:GetObject", "s3:ListBucket", "sns:Publish"], json!(["*"]))),
            ("SchedulerTargetPolicy", "PipesRole", allow(&["states:StartExecution"], json!([self.state_machine_arn()]))),
            (
                "BatchJobManagementAccessPolicy",
                "BatchSfnRole",
                allow(&["batch:TerminateJob", "batch:SubmitJob"], json!([
                    format!("arn:aws:batch:ap-northeast-1:{ACCOUNT}:job-queue/{app}-{stage}*"),
                    format!("arn:aws:batch:ap-northeast-1:{ACCOUNT}:job/*"),
                    format!("arn:aws:batch:ap-northeast-1:{ACCOUNT}:job-definition/{app}-{stage}-*:*"),
                ])),
            ),
            ("CloudWatchLogsDeliveryFullAccessPolicy", "BatchSfnRole", allow(&["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:DescribeLogGroups"], json!("*"))),
            ("XRayAccessPolicy", "BatchSfnRole", allow(&["xray:PutTraceSegments", "xray:PutTelemetryRecords"], json!("*"))),
        ];
        for (suffix, role, document) in policies {
            let name = format!("{job}-{suffix}");
            let arn = aws
                .iam
                .create_policy()
                .policy_name(&name)
                .policy_document(document.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreatePolicy {name}: {}", DisplayErrorContext(e)))
                .policy
                .and_then(|p| p.arn)
                .expect("CreatePolicy returns the ARN");
            self.attach(aws, &format!("{job}-{role}"), &arn).await;
        }
        self.attach(
            aws,
            &format!("{job}-EcsTaskExecRole"),
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        )
        .await;
        self.attach(
            aws,
            &format!("{job}-BatchSfnRole"),
            "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        )
        .await;

        let log_group = format!("{app}/{stage}/scheduled/{}", self.batch_name);
        aws.logs
            .create_log_group()
            .log_group_name(&log_group)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLogGroup {log_group}: {}", DisplayErrorContext(e)));
        aws.logs
            .put_retention_policy()
            .log_group_name(&log_group)
            .retention_in_days(365)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRetentionPolicy: {}", DisplayErrorContext(e)));

        let requirement = |kind, value: &str| {
            ResourceRequirement::builder()
                .r#type(kind)
                .value(value)
                .build()
        };
        let job_definition_arn = aws
            .batch
            .register_job_definition()
            .job_definition_name(&job)
            .r#type(JobDefinitionType::Container)
            .platform_capabilities(PlatformCapability::Fargate)
            .container_properties(
                ContainerProperties::builder()
                    .image(self.image)
                    .environment(KeyValuePair::builder().name("STAGE").value(stage).build())
                    .resource_requirements(requirement(ResourceType::Vcpu, "1"))
                    .resource_requirements(requirement(ResourceType::Memory, "2048"))
                    .job_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{job}-EcsTaskRole"))
                    .execution_role_arn(format!(
                        "arn:aws:iam::{ACCOUNT}:role/{job}-EcsTaskExecRole"
                    ))
                    .fargate_platform_configuration(
                        FargatePlatformConfiguration::builder()
                            .platform_version("1.4.0")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("RegisterJobDefinition: {}", DisplayErrorContext(e)))
            .job_definition_arn
            .unwrap_or_default();

        let handler = |arn: &str, result_path: &str| {
            json!({
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"Payload": {"state.$": "$", "context.$": "$$"}, "FunctionName": format!("{arn}:$LATEST")},
                "ResultPath": result_path,
                "End": true
            })
        };
        let definition = json!({
            "Comment": "A description of my state machine",
            "StartAt": "ExtractInputParameters",
            "States": {
                "ExtractInputParameters": {
                    "Type": "Pass", "Next": "BatchGroup", "ResultPath": "$",
                    "Parameters": {"metadata": {"app_name": app, "stage": stage, "batch_name": self.batch_name, "job_name": job, "command": self.command}, "input.$": "$"}
                },
                "BatchGroup": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "Batch", "States": {
                        "Batch": {
                            "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
                            "Parameters": {"JobName": job, "JobDefinition": job_definition_arn, "JobQueue": self.queue_arn,
                                           "Parameters": {"sfn_input.$": "$.input"}, "ContainerOverrides": {"Command": self.command}},
                            "ResultPath": "$.batch", "Next": "OnSuccess"
                        },
                        "OnSuccess": handler(self.success_handler_arn, "$.success_handler")
                    }}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ErrorHandler"}],
                    "End": true
                },
                "ErrorHandler": handler(self.error_handler_arn, "$.error_handler")
            }
        });
        aws.sfn
            .create_state_machine()
            .name(&job)
            .definition(definition.to_string())
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{job}-BatchSfnRole"))
            .logging_configuration(
                LoggingConfiguration::builder()
                    .level(LogLevel::All)
                    .include_execution_data(true)
                    .destinations(
                        LogDestination::builder()
                            .cloud_watch_logs_log_group(
                                CloudWatchLogsLogGroup::builder()
                                    .log_group_arn(format!(
                                        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*"
                                    ))
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateStateMachine {job}: {}", DisplayErrorContext(e)));

        aws.scheduler
            .create_schedule()
            .name(format!("{job}-Scheduler"))
            .group_name("default")
            .schedule_expression("rate(5 minutes)")
            .schedule_expression_timezone("Asia/Tokyo")
            .flexible_time_window(
                FlexibleTimeWindow::builder()
                    .mode(FlexibleTimeWindowMode::Off)
                    .build()
                    .expect("mode set"),
            )
            .target(
                Target::builder()
                    .arn(self.state_machine_arn())
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{job}-PipesRole"))
                    .input(json!({"message": "hello"}).to_string())
                    .build()
                    .expect("arn and role set"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateSchedule: {}", DisplayErrorContext(e)));
    }

    async fn attach(&self, aws: &Aws, role: &str, policy_arn: &str) {
        aws.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "AttachRolePolicy {role} {policy_arn}: {}",
                    DisplayErrorContext(e)
                )
            });
    }
}
