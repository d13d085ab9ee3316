//! The emulator refuses what AWS's request validation refuses: one request
//! per service that breaks its API model (a pattern, a length or value
//! range, an enum, a required member), answered with the service's error
//! (`ValidationException`, IAM's and the other Query APIs'
//! `ValidationError`, EC2's `MissingParameter`) and AWS's wording, where
//! moto alone accepts it or answers something else
//! (tests/harness/conformance.py).

use aws_sdk_sqs::error::ProvideErrorMetadata;
use serde_json::{json, Value};
use sjob_e2e::{trust_policy, Aws, Emulator, RawAnswer};

/// Checks that an SDK call was refused with this error code and message.
fn assert_refused<E: ProvideErrorMetadata, R: std::fmt::Debug>(
    result: Result<R, E>,
    code: &str,
    message: &str,
) {
    let error = result.expect_err("AWS refuses this request");
    assert_eq!((error.code(), error.message()), (Some(code), Some(message)));
}

/// AWS's message for one violation.
fn one_violation(value: &str, member: &str, constraint: &str) -> String {
    format!(
        "1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {constraint}"
    )
}

fn pattern(pattern: &str) -> String {
    format!("Member must satisfy regular expression pattern: {pattern}")
}

/// A JSON-protocol answer of a refused request.
fn assert_json_refusal(answer: &RawAnswer, code: &str, message: &str) {
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["__type"], code, "{answer:?}");
    assert_eq!(answer.json()["message"], message, "{answer:?}");
}

/// A Query-protocol (XML) answer of a refused request.
fn assert_xml_refusal(answer: &RawAnswer, code: &str, message: &str) {
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.xml("Code"), [code], "{answer:?}");
    assert_eq!(answer.xml("Message"), [message], "{answer:?}");
}

/// The answer to a JSON-protocol request, on an emulator of its own.
async fn json_answer(service: &str, target: &str, input: &Value) -> RawAnswer {
    Emulator::start()
        .await
        .json_call(service, target, input)
        .await
}

/// The answer to a Query-protocol request, on an emulator of its own.
async fn query_answer(service: &str, parameters: &[(&str, &str)]) -> RawAnswer {
    Emulator::start()
        .await
        .query_call(service, parameters)
        .await
}

async fn emulator() -> (Emulator, Aws) {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    (emulator, aws)
}

#[tokio::test]
async fn logs_refuses_a_log_group_name_with_a_space() {
    let (_emulator, aws) = emulator().await;
    assert_refused(
        aws.logs
            .create_log_group()
            .log_group_name("my app")
            .send()
            .await,
        "ValidationException",
        &one_violation("'my app'", "logGroupName", &pattern(r"[\.\-_/#A-Za-z0-9]+")),
    );
}

#[tokio::test]
async fn iam_refuses_a_tag_value_with_an_exclamation_mark() {
    let (_emulator, aws) = emulator().await;
    aws.iam
        .create_role()
        .role_name("tagged")
        .assume_role_policy_document(trust_policy("states.amazonaws.com").to_string())
        .send()
        .await
        .unwrap();
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("team")
        .value("data!")
        .build()
        .unwrap();
    assert_refused(
        aws.iam
            .tag_role()
            .role_name("tagged")
            .tags(tag)
            .send()
            .await,
        "ValidationError",
        &one_violation(
            "'data!'",
            "tags.1.member.value",
            &pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"),
        ),
    );
}

#[tokio::test]
async fn scheduler_refuses_a_fifo_dead_letter_queue() {
    use aws_sdk_scheduler::types::{
        DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
    };
    let (_emulator, aws) = emulator().await;
    let queue = "arn:aws:sqs:eu-west-1:123456789012:undelivered.fifo";
    let target = Target::builder()
        .arn("arn:aws:states:eu-west-1:123456789012:stateMachine:m")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .dead_letter_config(DeadLetterConfig::builder().arn(queue).build())
        .build()
        .unwrap();
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .unwrap();
    assert_refused(
        aws.scheduler
            .create_schedule()
            .name("nightly")
            .schedule_expression("rate(1 day)")
            .flexible_time_window(window)
            .target(target)
            .send()
            .await,
        "ValidationException",
        &one_violation(
            &format!("'{queue}'"),
            "target.deadLetterConfig.arn",
            &pattern(r"^arn:aws(-[a-z]+)?:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+$"),
        ),
    );
}

#[tokio::test]
async fn step_functions_refuses_a_log_level_outside_its_enum() {
    use aws_sdk_sfn::types::{LogLevel, LoggingConfiguration};
    let (_emulator, aws) = emulator().await;
    assert_refused(
        aws.sfn
            .create_state_machine()
            .name("m")
            .definition(
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string(),
            )
            .role_arn("arn:aws:iam::123456789012:role/r")
            .logging_configuration(
                LoggingConfiguration::builder()
                    .level(LogLevel::from("VERBOSE"))
                    .build(),
            )
            .send()
            .await,
        "ValidationException",
        &one_violation(
            "'VERBOSE'",
            "loggingConfiguration.level",
            "Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]",
        ),
    );
}

#[tokio::test]
async fn batch_refuses_a_platform_capability_outside_its_enum() {
    use aws_sdk_batch::types::{ContainerProperties, JobDefinitionType, PlatformCapability};
    let (_emulator, aws) = emulator().await;
    assert_refused(
        aws.batch
            .register_job_definition()
            .job_definition_name("d")
            .r#type(JobDefinitionType::Container)
            .platform_capabilities(PlatformCapability::from("LAMBDA"))
            .container_properties(ContainerProperties::builder().image("busybox").build())
            .send()
            .await,
        "ClientException",
        &one_violation(
            "'LAMBDA'",
            "platformCapabilities.1.member",
            "Member must satisfy enum value set: [EC2, FARGATE]",
        ),
    );
}

/// Not a model rule but a Fargate one, patched in `emulator.py`
/// (`patch_batch_fargate_platform_version`): sjob's validate refuses the
/// same config.
#[tokio::test]
async fn batch_refuses_ephemeral_storage_on_fargate_platform_1_3_0() {
    use aws_sdk_batch::types::{
        ContainerProperties, EphemeralStorage, FargatePlatformConfiguration, JobDefinitionType,
        PlatformCapability, ResourceRequirement, ResourceType,
    };
    let (_emulator, aws) = emulator().await;
    let register = |version: &str| {
        aws.batch
            .register_job_definition()
            .job_definition_name("d")
            .r#type(JobDefinitionType::Container)
            .platform_capabilities(PlatformCapability::Fargate)
            .container_properties(
                ContainerProperties::builder()
                    .image("busybox")
                    .resource_requirements(
                        ResourceRequirement::builder()
                            .r#type(ResourceType::Vcpu)
                            .value("1")
                            .build(),
                    )
                    .resource_requirements(
                        ResourceRequirement::builder()
                            .r#type(ResourceType::Memory)
                            .value("2048")
                            .build(),
                    )
                    .ephemeral_storage(EphemeralStorage::builder().size_in_gib(50).build())
                    .fargate_platform_configuration(
                        FargatePlatformConfiguration::builder()
                            .platform_version(version)
                            .build(),
                    )
                    .build(),
            )
            .send()
    };
    assert_refused(
        register("1.3.0").await,
        "ClientException",
        "Fargate platform version 1.3.0 does not support ephemeral storage or ARM64: use platform version 1.4.0 or later",
    );
    register("1.4.0")
        .await
        .expect("1.4.0 has ephemeral storage");
}

#[tokio::test]
async fn lambda_refuses_a_page_size_over_its_maximum() {
    let (_emulator, aws) = emulator().await;
    assert_refused(
        aws.lambda.list_functions().max_items(10_001).send().await,
        "ValidationException",
        &one_violation(
            "'10001'",
            "maxItems",
            "Member must have value less than or equal to 10000",
        ),
    );
}

#[tokio::test]
async fn sns_refuses_a_tag_key_over_128_characters() {
    let (_emulator, aws) = emulator().await;
    let key = "k".repeat(129);
    let tag = aws_sdk_sns::types::Tag::builder()
        .key(&key)
        .value("v")
        .build()
        .unwrap();
    assert_refused(
        aws.sns.create_topic().name("t").tags(tag).send().await,
        "ValidationError",
        &one_violation(
            &format!("'{key}'"),
            "tags.1.member.key",
            "Member must have length less than or equal to 128",
        ),
    );
}

#[tokio::test]
async fn sqs_refuses_a_message_without_a_body() {
    let (_emulator, aws) = emulator().await;
    let (url, _) = aws.create_queue("bodiless").await;
    assert_refused(
        aws.sqs.send_message().queue_url(&url).send().await,
        "ValidationException",
        &one_violation("null", "messageBody", "Member must not be null"),
    );
}

#[tokio::test]
async fn sts_refuses_a_session_name_with_a_space() {
    assert_xml_refusal(
        &query_answer(
            "sts",
            &[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", "arn:aws:iam::123456789012:role/deployer"),
                ("RoleSessionName", "sjob deploy"),
            ],
        )
        .await,
        "ValidationError",
        &one_violation("'sjob deploy'", "roleSessionName", &pattern(r"[\w+=,.@-]*")),
    );
}

#[tokio::test]
async fn ec2_refuses_a_security_group_without_a_name() {
    assert_xml_refusal(
        &query_answer(
            "ec2",
            &[
                ("Action", "CreateSecurityGroup"),
                ("Version", "2016-11-15"),
                ("GroupDescription", "jobs"),
            ],
        )
        .await,
        "MissingParameter",
        "The request must contain the parameter GroupName",
    );
}

#[tokio::test]
async fn cloudwatch_refuses_a_comparison_outside_its_enum() {
    assert_xml_refusal(
        &query_answer("monitoring", &[
                ("Action", "PutMetricAlarm"),
                ("Version", "2010-08-01"),
                ("AlarmName", "missed"),
                ("MetricName", "ExecutionsSucceeded"),
                ("Namespace", "AWS/States"),
                ("Statistic", "Sum"),
                ("Period", "3600"),
                ("EvaluationPeriods", "1"),
                ("Threshold", "1"),
                ("ComparisonOperator", "Below"),
            ]).await,
        "ValidationError",
        &one_violation(
            "'Below'",
            "comparisonOperator",
            "Member must satisfy enum value set: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold, LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold]",
        ),
    );
}

#[tokio::test]
async fn kms_refuses_a_key_usage_outside_its_enum() {
    assert_json_refusal(
        &json_answer("kms", "TrentService.CreateKey", &json!({"KeyUsage": "SIGN"})).await,
        "ValidationException",
        &one_violation(
            "'SIGN'",
            "keyUsage",
            "Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT]",
        ),
    );
}

#[tokio::test]
async fn secrets_manager_refuses_a_name_over_512_characters() {
    let name = "n".repeat(513);
    assert_json_refusal(
        &json_answer(
            "secretsmanager",
            "secretsmanager.CreateSecret",
            &json!({"Name": name, "SecretString": "x"}),
        )
        .await,
        "ValidationException",
        &one_violation(
            &format!("'{name}'"),
            "name",
            "Member must have length less than or equal to 512",
        ),
    );
}

#[tokio::test]
async fn ssm_refuses_a_tier_outside_its_enum() {
    assert_json_refusal(
        &json_answer(
            "ssm",
            "AmazonSSM.PutParameter",
            &json!({"Name": "/myapp/token", "Value": "v", "Type": "String", "Tier": "Premium"}),
        )
        .await,
        "ValidationException",
        &one_violation(
            "'Premium'",
            "tier",
            "Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]",
        ),
    );
}

#[tokio::test]
async fn dynamodb_refuses_a_billing_mode_outside_its_enum() {
    assert_json_refusal(
        &json_answer(
            "dynamodb",
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": "claims",
                "KeySchema": [{"AttributeName": "job", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "job", "AttributeType": "S"}],
                "BillingMode": "ON_DEMAND",
            }),
        )
        .await,
        "ValidationException",
        &one_violation(
            "'ON_DEMAND'",
            "billingMode",
            "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        ),
    );
}

#[tokio::test]
async fn the_tagging_api_refuses_a_tag_key_over_128_characters() {
    let key = "k".repeat(129);
    assert_json_refusal(
        &json_answer(
            "tagging",
            "ResourceGroupsTaggingAPI_20170126.GetResources",
            &json!({"TagFilters": [{"Key": key}]}),
        )
        .await,
        "ValidationException",
        &one_violation(
            &format!("'{key}'"),
            "tagFilters.1.member.key",
            "Member must have length less than or equal to 128",
        ),
    );
}

/// A role named `name` for Step Functions, made through the SDK.
async fn role(aws: &Aws, name: &str) {
    aws.iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy("states.amazonaws.com").to_string())
        .send()
        .await
        .unwrap();
}

fn allow(resources: &[String]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": resources
    }]})
    .to_string()
}

#[tokio::test]
async fn iam_refuses_a_policy_resource_of_another_partition() {
    let (_emulator, aws) = emulator().await;
    role(&aws, "reader").await;
    let resource = "arn:aws-cn:s3:::reports/*".to_string();
    assert_refused(
        aws.iam
            .put_role_policy()
            .role_name("reader")
            .policy_name("reports")
            .policy_document(allow(std::slice::from_ref(&resource)))
            .send()
            .await,
        "MalformedPolicyDocument",
        &format!("Partition \"aws-cn\" is not valid for resource \"{resource}\"."),
    );
}

#[tokio::test]
async fn iam_refuses_inline_policies_over_10240_characters_together() {
    let (_emulator, aws) = emulator().await;
    role(&aws, "reader").await;
    // Two documents of 5,494 characters each: either alone fits.
    let buckets = |first: usize| -> Vec<String> {
        (first..first + 180)
            .map(|i| format!("arn:aws:s3:::reports-{i:04}/*"))
            .collect()
    };
    let put = |name: &'static str, document: String| {
        aws.iam
            .put_role_policy()
            .role_name("reader")
            .policy_name(name)
            .policy_document(document)
            .send()
    };
    put("first", allow(&buckets(0))).await.unwrap();
    assert_refused(
        put("second", allow(&buckets(180))).await,
        "LimitExceeded",
        "Maximum policy size of 10240 bytes exceeded for role reader",
    );
}
