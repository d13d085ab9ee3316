//! What a config names but sjob does not own is read before anything is
//! written: a made-up subnet, queue, function, topic, dead-letter queue,
//! KMS key or secret fails `plan` and `deploy` naming each one and the keys
//! that name it, and the emulator holds exactly what it held before. The
//! topic's KMS key, named by alias name, alias ARN or key id, is granted by
//! its key ARN, so that the handlers' publishes are allowed on AWS.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use sjob_e2e::myapp::{lambda_arn, ACCOUNT, HANDLER_FUNCTIONS};
use sjob_e2e::{handler_binary, write_handler_packages, Aws, Emulator, Fixture, REGION};

/// Everything of the app, and every topic and security group of the
/// account, by name: what a refused command must leave as it was.
async fn resources(emulator: &Emulator, aws: &Aws) -> BTreeMap<String, Value> {
    let mut found = aws.snapshot("myapp", "dev").await;
    let topics = aws.sns.list_topics().send().await.expect("ListTopics");
    for topic in topics.topics() {
        found.insert(
            format!("topic {}", topic.topic_arn().unwrap_or_default()),
            Value::Null,
        );
    }
    for group in emulator.security_group_ids("myapp-dev-Batch").await {
        found.insert(format!("security group {group}"), Value::Null);
    }
    found
}

#[tokio::test]
async fn every_missing_reference_is_named_and_nothing_is_written() {
    let Fixture {
        emulator,
        aws,
        sjob,
    } = &Fixture::new().await;
    let network = emulator.default_network().await;
    let real_subnet = &network.subnets[0];
    let secret = emulator.create_secret("myapp/real", "x").await;
    let arn =
        |service: &str, resource: &str| format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}");
    let missing_key = arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab");
    sjob.write_config(&format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
success_handler_arn = "{success}"
error_handler_arn = "{error}"

[base.notifications]
kms_key_id = "alias/nope"

[base.compute]
subnets = ["{real_subnet}", "subnet-0badc0de0badc0de0"]
security_groups = ["sg-0badc0de0badc0de0"]
vpc_id = "vpc-0badc0de0badc0de0"

[jobs.crawler]
command = ["true"]
schedule_expression = "rate(5 minutes)"
batch_job_queue_arn = "{queue}"
notification_topic_arn = "{topic}"
schedule_dead_letter_arn = "{dead_letter}"
secrets = {{ DB = "{gone_secret}:password::", TOKEN = "{parameter}", REAL = "{secret}" }}
secrets_kms_key_arn = "{missing_key}"

[jobs.report]
command = ["true"]
schedule_expression = "rate(1 hour)"
"#,
        success = lambda_arn("nope-success"),
        error = lambda_arn("nope-error"),
        queue = arn("batch", "job-queue/nope"),
        topic = arn("sns", "nope-topic"),
        dead_letter = arn("sqs", "nope-dlq"),
        gone_secret = arn("secretsmanager", "secret:nope-Ab12Cd"),
        parameter = arn("ssm", "parameter/nope/token"),
    ));
    let expected = [
        "12 resource(s) the config names do not exist, so nothing was changed".to_string(),
        "subnet `subnet-0badc0de0badc0de0` (base.compute.subnets)".to_string(),
        "security group `sg-0badc0de0badc0de0` (base.compute.security_groups)".to_string(),
        "VPC `vpc-0badc0de0badc0de0` (base.compute.vpc_id)".to_string(),
        format!("job queue `{}` (jobs.crawler.batch_job_queue_arn)", arn("batch", "job-queue/nope")),
        format!(
            "Lambda function `{}` (jobs.crawler.success_handler_arn, jobs.report.success_handler_arn)",
            lambda_arn("nope-success")
        ),
        format!(
            "Lambda function `{}` (jobs.crawler.error_handler_arn, jobs.report.error_handler_arn)",
            lambda_arn("nope-error")
        ),
        format!("SNS topic `{}` (jobs.crawler.notification_topic_arn)", arn("sns", "nope-topic")),
        format!("SQS queue `{}` (jobs.crawler.schedule_dead_letter_arn)", arn("sqs", "nope-dlq")),
        "KMS key `alias/nope` (base.notifications.kms_key_id)".to_string(),
        format!("KMS key `{missing_key}` (jobs.crawler.secrets_kms_key_arn)"),
        format!(
            "Secrets Manager secret `{}` (jobs.crawler.secrets.DB)",
            arn("secretsmanager", "secret:nope-Ab12Cd")
        ),
        format!(
            "SSM parameter `{}` (jobs.crawler.secrets.TOKEN)",
            arn("ssm", "parameter/nope/token")
        ),
    ];
    let before = resources(emulator, aws).await;

    for command in ["plan", "deploy"] {
        let refused = sjob.run_expecting(1, &[command]).await;
        for line in &expected {
            assert!(
                refused.stderr_says(line),
                "{command}: no `{line}`:\n{refused}"
            );
        }
        for present in [real_subnet.as_str(), &secret, "Re-run"] {
            assert!(
                !refused.stderr_says(present),
                "{command} names {present}:\n{refused}"
            );
        }
        assert!(refused.stdout.is_empty(), "{command}: {refused}");
    }
    assert_eq!(resources(emulator, aws).await, before);
}

#[tokio::test]
async fn a_topic_key_named_by_alias_or_id_is_granted_by_its_key_arn_and_runs_notify() {
    let fixture = Fixture::new().await;
    let Fixture {
        emulator,
        aws,
        sjob,
    } = &fixture;
    let key_arn = emulator.create_kms_key("alias/myapp-notifications").await;
    let key_id = key_arn.rsplit('/').next().unwrap().to_string();
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/myapp-notifications");
    write_handler_packages(sjob.dir());
    let network = emulator.default_network().await;
    let queue = aws.create_fargate_job_queue("jobs", &network).await;
    let (subscriber, subscriber_arn) = aws.create_queue("notifications").await;
    let config = |key: &str| {
        format!(
            r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
batch_job_queue_arn = "{queue}"

[base.notifications]
kms_key_id = "{key}"
[[base.notifications.subscriptions]]
protocol = "sqs"
endpoint = "{subscriber_arn}"
raw_message_delivery = true

[base.handlers]
success_package = "dist/success-handler/bootstrap.zip"
error_package = "dist/error-handler/bootstrap.zip"
architecture = "x86_64"
timeout_seconds = 30

[jobs.crawler]
command = ["true"]
schedule_expression = "rate(5 minutes)"
"#
        )
    };

    // An alias no key has is refused before the topic, or anything, exists.
    sjob.write_config(&config("alias/myapp-unknown"));
    let before = resources(emulator, aws).await;
    let refused = sjob.run_expecting(1, &["deploy"]).await;
    assert!(
        refused.stderr_says("KMS key `alias/myapp-unknown` (base.notifications.kms_key_id)"),
        "{refused}"
    );
    assert_eq!(resources(emulator, aws).await, before);

    sjob.write_config(&config("alias/myapp-notifications"));
    sjob.run_expecting(0, &["deploy"]).await;
    let granted = |policies: BTreeMap<String, Value>| -> Vec<Value> {
        policies
            .values()
            .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["Sid"] == "EncryptForTopic")
            .map(|s| s["Resource"].clone())
            .collect()
    };
    let handler_grants = granted(aws.inline_policies("myapp-dev-BatchHandlerRole").await);
    let machine_grants = granted(
        aws.inline_policies("myapp-dev-crawler-ScheduledJob-BatchSfnRole")
            .await,
    );
    assert_eq!(handler_grants, [Value::from(key_arn.clone())]);
    assert_eq!(machine_grants, [Value::from(key_arn.clone())]);
    let topic = aws
        .sns
        .get_topic_attributes()
        .topic_arn(format!(
            "arn:aws:sns:{REGION}:{ACCOUNT}:myapp-dev-job-notifications"
        ))
        .send()
        .await
        .expect("GetTopicAttributes");
    assert_eq!(
        topic.attributes().and_then(|a| a.get("KmsMasterKeyId")),
        Some(&key_arn)
    );

    // The alias ARN and the key id name the same key: nothing to change.
    for key in [alias_arn.as_str(), key_id.as_str()] {
        sjob.write_config(&config(key));
        sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
            .await;
        let rendered = sjob.run_expecting(0, &["render", "--what", "base"]).await;
        assert!(rendered.stdout.contains(&key_arn), "{key}: {rendered}");
        assert!(!rendered.stdout.contains("alias/"), "{key}: {rendered}");
    }

    for (function, binary) in HANDLER_FUNCTIONS {
        emulator
            .register_lambda(function, &handler_binary(binary))
            .await;
    }
    sjob.run_expecting(0, &["run", "crawler", "--wait"]).await;
    let notified: Vec<String> = aws
        .take_messages(&subscriber, Duration::from_secs(2))
        .await
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap();
            body["status"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(notified, ["SUCCEEDED"]);
}
