//! IAM documents for one job, least privilege. The only `"Resource": "*"`
//! statements are where AWS supports nothing narrower, each noted below.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::config::{Job, Overlap};
use crate::names::{BaseNames, JobNames};
use crate::secret::SecretSource;
use crate::target::Target;

/// The rule Step Functions manages to follow `.sync` Batch jobs.
const BATCH_SYNC_RULE: &str = "rule/StepFunctionsGetEventsForBatchJobsRule";

/// A role's trust policy for one AWS service.
pub fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
}

fn policy(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Inline policies of the Step Functions role, by name.
pub fn state_machine_policies(
    job: &Job,
    names: &JobNames,
    target: &Target,
) -> BTreeMap<String, Value> {
    let job_definition = target.job_definition_arn(&names.job_name);
    let invoke_targets: Vec<String> = [
        job.success_handler_arn(target),
        job.error_handler_arn(target),
    ]
    .iter()
    .flat_map(|arn| [arn.clone(), format!("{arn}:*")])
    .collect();
    let mut policies = BTreeMap::from([
        (
            names.batch_policy.clone(),
            policy(vec![
                // parliament reports RESOURCE_MISMATCH here: its action data lists only `job/*` for SubmitJob,
                // but AWS documents scoping SubmitJob to the job queue and job definition ARNs
                // (Batch user guide, "Resource: Restrict to a job queue"); `job/*` would widen it.
                json!({
                    "Sid": "SubmitThisJob",
                    "Effect": "Allow",
                    "Action": "batch:SubmitJob",
                    "Resource": [job_definition.clone(), format!("{job_definition}:*"), job.queue_arn(target)]
                }),
                json!({
                    "Sid": "StopThisJobsRuns",
                    "Effect": "Allow",
                    "Action": "batch:TerminateJob",
                    "Resource": target.arn("batch", "job/*")
                }),
                // DescribeJobs supports no resource-level permissions.
                json!({
                    "Sid": "FollowJobs",
                    "Effect": "Allow",
                    "Action": "batch:DescribeJobs",
                    "Resource": "*"
                }),
                json!({
                    "Sid": "ManagedSyncRule",
                    "Effect": "Allow",
                    "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    "Resource": target.arn("events", BATCH_SYNC_RULE)
                }),
            ]),
        ),
        (
            names.invoke_policy.clone(),
            policy(vec![json!({
                "Sid": "InvokeHandlers",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": invoke_targets
            })]),
        ),
        (
            names.logs_policy.clone(),
            // Log delivery for Step Functions requires `*`: these actions do
            // not support resource-level permissions (Step Functions docs,
            // "IAM policies for logging to CloudWatch Logs").
            policy(vec![json!({
                "Sid": "ExecutionLogDelivery",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups"
                ],
                "Resource": "*"
            })]),
        ),
    ]);
    if job.run.overlap == Overlap::Skip {
        policies.insert(
            names.overlap_policy.clone(),
            policy(vec![
                json!({
                    "Sid": "ClaimThisJob",
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                    "Resource": target.table_arn(&names.claim_table)
                }),
                // parliament reports RESOURCE_MISMATCH here: its action data lists only `express` for DescribeExecution,
                // but AWS's service authorization reference scopes it to a standard execution too
                // (`execution:<state machine>:<id>`); this grants the reads of this state machine's executions only.
                json!({
                    "Sid": "ReadClaimHolder",
                    "Effect": "Allow",
                    "Action": "states:DescribeExecution",
                    "Resource": target.executions_arn(&names.job_name)
                }),
            ]),
        );
    }
    if let Some(topic) = &job.notification.topic {
        let mut statements = vec![json!({
            "Sid": "LastResortNotice",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": topic.arn_in(target)
        })];
        let key = topic.kms_key_id.as_ref().and_then(|k| k.grant_arn(target));
        statements.extend(encrypt_for_topic(key.as_deref()));
        policies.insert(names.notify_policy.clone(), policy(statements));
    }
    policies
}

/// The use of a topic's customer key that publishing needs, on the key's
/// ARN ([`crate::kms::KmsKey::grant_arn`]; a key AWS manages needs nothing).
fn encrypt_for_topic(key_arn: Option<&str>) -> Option<Value> {
    let key = key_arn?;
    Some(json!({
        "Sid": "EncryptForTopic",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key
    }))
}

/// The scheduler role may start this state machine and nothing else, and
/// send to the job's dead-letter queue when it has one.
pub fn scheduler_policies(job: &Job, names: &JobNames, target: &Target) -> BTreeMap<String, Value> {
    let mut policies = BTreeMap::from([(
        names.scheduler_policy.clone(),
        policy(vec![json!({
            "Sid": "StartThisStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": target.state_machine_arn(&names.job_name)
        })]),
    )]);
    if let Some(queue) = &job.schedule.dead_letter_arn {
        policies.insert(
            names.dead_letter_policy.clone(),
            policy(vec![json!({
                "Sid": "UndeliveredRuns",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": queue
            })]),
        );
    }
    policies
}

/// The task execution role's inline policies, in place of the AWS-managed
/// AmazonECSTaskExecutionRolePolicy (which writes to every log group and
/// pulls from every repository): writes to the job's own container log
/// group; the pull of the job's image when it is in a private ECR
/// repository; and the read of exactly the configured secrets, with the key
/// only through the services that hold them.
pub fn task_execution_policies(
    job: &Job,
    names: &JobNames,
    target: &Target,
) -> BTreeMap<String, Value> {
    let log_group = target.log_group_arn(&names.container_log_group);
    let mut policies = BTreeMap::from([(
        names.exec_policy.clone(),
        policy(vec![json!({
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{log_group}:log-stream:*")
        })]),
    )]);
    if let Some(repository) = ecr_repository_arn(&job.container.image_uri) {
        policies.insert(names.image_policy.clone(), image_pull_policy(&repository));
    }
    policies.extend(secrets_policy(job, names, target));
    policies
}

/// The pull of one ECR repository's images.
pub fn image_pull_policy(repository_arn: &str) -> Value {
    policy(vec![
        json!({
            "Sid": "PullJobImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage"
            ],
            "Resource": repository_arn
        }),
        // parliament reports CREDENTIALS_EXPOSURE here: GetAuthorizationToken returns a registry login token,
        // which Fargate needs to pull from private ECR and which supports no resource-level permissions;
        // the token lets the role do in ECR only what its other statements allow, the pull above.
        json!({
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*"
        }),
    ])
}

/// The repository of an image in a private ECR registry
/// (`ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]/REPOSITORY`, or the
/// dual-stack `ACCOUNT.dkr-ecr[-fips].REGION.on.aws/REPOSITORY`); `None`
/// for any other registry, whose pulls need no IAM permission.
pub fn ecr_repository_arn(image_uri: &str) -> Option<String> {
    let (host, repository) = image_uri.split_once('/')?;
    let (account, rest) = host.split_once('.')?;
    let region = [
        ("dkr.ecr.", ".amazonaws.com"),
        ("dkr.ecr.", ".amazonaws.com.cn"),
        ("dkr.ecr-fips.", ".amazonaws.com"),
        ("dkr-ecr.", ".on.aws"),
        ("dkr-ecr-fips.", ".on.aws"),
    ]
    .into_iter()
    .find_map(|(prefix, suffix)| rest.strip_prefix(prefix)?.strip_suffix(suffix))?;
    let valid = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !repository.is_empty();
    let target = Target {
        account_id: account.to_string(),
        region: region.to_string(),
    };
    valid.then(|| target.arn("ecr", &format!("repository/{repository}")))
}

/// The read of the job's secrets, when it has some.
fn secrets_policy(job: &Job, names: &JobNames, target: &Target) -> Option<(String, Value)> {
    let sources: Vec<SecretSource> = job
        .container
        .secrets
        .values()
        .filter_map(|arn| SecretSource::parse(arn))
        .collect();
    let grants = |secrets_manager: bool| -> Vec<String> {
        let grants: BTreeSet<String> = sources
            .iter()
            .filter(|s| matches!(s, SecretSource::SecretsManager { .. }) == secrets_manager)
            .map(SecretSource::grant)
            .collect();
        grants.into_iter().collect()
    };
    let (secrets, parameters) = (grants(true), grants(false));
    let mut statements = Vec::new();
    let mut services = Vec::new();
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets
        }));
        services.push(via_service("secretsmanager", target));
    }
    if !parameters.is_empty() {
        statements.push(json!({
            "Sid": "ReadParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": parameters
        }));
        services.push(via_service("ssm", target));
    }
    if statements.is_empty() {
        return None;
    }
    if let Some(key) = &job.container.secrets_kms_key_arn {
        statements.push(json!({
            "Sid": "DecryptSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": { "StringEquals": { "kms:ViaService": services } }
        }));
    }
    Some((names.secrets_policy.clone(), policy(statements)))
}

/// The `kms:ViaService` value of a service's calls in the target's region.
fn via_service(service: &str, target: &Target) -> String {
    format!(
        "{service}.{}.{}",
        target.region,
        target.partition().dns_suffix()
    )
}

/// The job's own permissions: exactly the configured statements (the seed
/// granted S3 and SNS on `*`; sjob grants nothing by default).
pub fn task_policies(job: &Job, names: &JobNames) -> BTreeMap<String, Value> {
    if job.container.task_policy_statements.is_empty() {
        return BTreeMap::new();
    }
    BTreeMap::from([(
        names.task_policy.clone(),
        policy(job.container.task_policy_statements.clone()),
    )])
}

/// The handlers' role: publish to the topic, read Batch jobs to enrich
/// failures, write their own logs. `topic_kms_key` is the ARN of the
/// topic's customer key, whose use publishing needs.
pub fn handler_policies(
    names: &BaseNames,
    topic_arn: &str,
    topic_kms_key: Option<&str>,
    log_group_arns: &[String],
) -> BTreeMap<String, Value> {
    let mut statements = vec![
        json!({
            "Sid": "Notify",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": topic_arn
        }),
        // DescribeJobs and ListJobs support no resource-level permissions.
        // ListJobs names an array job's failed children.
        json!({
            "Sid": "EnrichFailures",
            "Effect": "Allow",
            "Action": ["batch:DescribeJobs", "batch:ListJobs"],
            "Resource": "*"
        }),
        json!({
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group_arns
        }),
    ];
    statements.extend(encrypt_for_topic(topic_kms_key));
    BTreeMap::from([(names.handler_policy.clone(), policy(statements))])
}

#[cfg(test)]
mod tests {
    use super::ecr_repository_arn;

    #[test]
    fn an_image_in_private_ecr_names_its_repository() {
        assert_eq!(
            ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/report"),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/team/report".to_string())
        );
        assert_eq!(
            ecr_repository_arn("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/report"),
            Some("arn:aws-cn:ecr:cn-north-1:123456789012:repository/report".to_string())
        );
        assert_eq!(
            ecr_repository_arn("123456789012.dkr-ecr.eu-west-1.on.aws/report"),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/report".to_string())
        );
        assert_eq!(
            ecr_repository_arn("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/report"),
            Some("arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/report".to_string())
        );
    }

    #[test]
    fn other_registries_need_no_pull_permission() {
        for image in [
            "public.ecr.aws/docker/library/python",
            "ghcr.io/org/report",
            "python",
            "docker.io/library/python",
            "12345.dkr.ecr.eu-west-1.amazonaws.com/report",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/",
            "123456789012.dkr.ecr.EU-WEST-1.amazonaws.com/report",
        ] {
            assert_eq!(ecr_repository_arn(image), None, "{image}");
        }
    }
}
