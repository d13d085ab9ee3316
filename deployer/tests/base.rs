//! `[base]`: what a valid one renders to, and the message each bad one gets
//! at its key and line.

use std::path::{Path, PathBuf};

use serde_json::json;
use sjob::config::{parse, Config, ProblemRecord};
use sjob::model::{BaseStack, JobStack};
use sjob::render::base::BaseError;
use sjob::target::Target;

const HEAD: &str = r#"
app_name = "myapp"
stage    = "dev"
region   = "ap-northeast-1"

[defaults]
image_uri = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp"

[jobs.crawler]
command             = ["python", "/opt/app/job/crawler.py"]
schedule_expression = "rate(5 minutes)"
"#;

const BASE: &str = r#"
[base]
tags = { team = "data" }

[base.notifications]
[[base.notifications.subscriptions]]
protocol      = "email"
endpoint      = "oncall@example.com"
filter_policy = { status = ["FAILED"] }

[[base.notifications.subscriptions]]
protocol             = "sqs"
endpoint             = "arn:aws:sqs:ap-northeast-1:123456789012:notifications"
raw_message_delivery = true

[base.handlers]
success_package = "dist/success-handler/bootstrap.zip"
error_package   = "dist/error-handler/bootstrap.zip"
env             = { NOTIFY_FORMAT = "chatbot" }

[base.compute]
subnets         = ["subnet-0123456789abcdef0"]
security_groups = ["sg-0123456789abcdef0"]
"#;

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "ap-northeast-1".into(),
    }
}

fn config(dir: &Path, text: &str) -> Config {
    parse(&dir.join("sjob.toml"), text).unwrap_or_else(|e| panic!("{:#?}", e.records()))
}

fn problems(text: &str) -> Vec<ProblemRecord> {
    parse(Path::new("sjob.toml"), text)
        .expect_err("the config is invalid")
        .records()
}

/// A directory with both handler packages under `dist/`.
fn project(success: &[u8], error: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sjob-base-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    for (binary, bytes) in [("success-handler", success), ("error-handler", error)] {
        let path = dir.join("dist").join(binary);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("bootstrap.zip"), bytes).unwrap();
    }
    dir
}

#[test]
fn jobs_without_arns_use_the_base_and_its_defaults_apply() {
    let dir = project(b"success zip", b"error zip");
    let config = config(&dir, &format!("{HEAD}{BASE}"));
    let job = &config.jobs["crawler"];
    let target = target();
    assert_eq!(
        job.queue_arn(&target),
        "arn:aws:batch:ap-northeast-1:123456789012:job-queue/myapp-dev-Batch"
    );
    assert_eq!(
        job.success_handler_arn(&target),
        "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchSuccessHandler"
    );
    assert_eq!(
        job.error_handler_arn(&target),
        "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchErrorHandler"
    );

    let base = BaseStack::render(&config, &target).unwrap();
    let topic_arn = "arn:aws:sns:ap-northeast-1:123456789012:myapp-dev-job-notifications";
    let notifications = base.notifications.as_ref().unwrap();
    assert_eq!(notifications.topic.name, "myapp-dev-job-notifications");
    assert!(!notifications.topic.fifo);
    assert_eq!(notifications.subscriptions.len(), 2);
    assert_eq!(
        notifications.subscriptions[0].filter_policy,
        Some(json!({"status": ["FAILED"]}))
    );
    assert_eq!(notifications.topic.tags["team"], "data");
    assert_eq!(notifications.topic.tags["sjob:managed-by"], "sjob");

    let handlers = base.handlers.as_ref().unwrap();
    let sjob::model::Handlers { success, error } = &handlers.functions;
    assert_eq!(success.function.name, "myapp-dev-BatchSuccessHandler");
    assert_eq!(error.function.name, "myapp-dev-BatchErrorHandler");
    assert_eq!(
        success.package,
        dir.join("dist/success-handler/bootstrap.zip")
    );
    // Lambda's CodeSha256: base64 of the zip's SHA-256.
    assert_eq!(
        success.function.code_sha256,
        "BMEjWeJI8M0vm35va6t6kjTo+QxOreJxzq7Nt9l7o/g="
    );
    assert_ne!(success.function.code_sha256, error.function.code_sha256);
    assert_eq!(success.function.architecture, "arm64");
    assert_eq!(success.function.memory_mb, 128);
    assert_eq!(success.function.timeout_seconds, 60);
    assert_eq!(success.function.runtime, "provided.al2023");
    assert_eq!(success.function.environment["SNS_TOPIC_ARN"], topic_arn);
    assert_eq!(success.function.environment["NOTIFY_FORMAT"], "chatbot");
    assert_eq!(
        success.log_group.name,
        "/aws/lambda/myapp-dev-BatchSuccessHandler"
    );
    assert_eq!(success.log_group.retention_days, Some(365));

    // The handlers may publish to this topic only, and write their own logs.
    let policy = &handlers.role.policies["myapp-dev-BatchHandlerPolicy"];
    let statements = policy["Statement"].as_array().unwrap();
    let resource_of = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .map(|s| s["Resource"].clone())
    };
    assert_eq!(resource_of("Notify"), Some(json!(topic_arn)));
    assert_eq!(
        resource_of("WriteOwnLogs"),
        Some(json!([
            "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/lambda/myapp-dev-BatchSuccessHandler:*",
            "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/lambda/myapp-dev-BatchErrorHandler:*"
        ]))
    );
    assert_eq!(resource_of("EncryptForTopic"), None);
    assert_eq!(
        handlers.role.trust_policy["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );

    let compute = base.compute.as_ref().unwrap();
    assert_eq!(compute.compute_environment.name, "myapp-dev-Batch");
    assert_eq!(compute.compute_environment.resource_type, "FARGATE");
    assert_eq!(compute.compute_environment.max_vcpus, 32);
    assert!(compute.security_group.is_none());
    assert_eq!(compute.job_queue.name, "myapp-dev-Batch");
    assert_eq!(
        compute.job_queue.compute_environment_arn,
        "arn:aws:batch:ap-northeast-1:123456789012:compute-environment/myapp-dev-Batch"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_job_or_defaults_arn_still_wins_where_the_base_does_not_provide_it() {
    let dir = project(b"s", b"e");
    let text = format!(
        "{HEAD}\nbatch_job_queue_arn = \"arn:aws:batch:ap-northeast-1:123456789012:job-queue/other\"\n{}",
        BASE.replace(
            "[base.compute]\nsubnets         = [\"subnet-0123456789abcdef0\"]\nsecurity_groups = [\"sg-0123456789abcdef0\"]\n",
            ""
        )
    );
    let config = config(&dir, &text);
    let job = &config.jobs["crawler"];
    assert_eq!(
        job.queue_arn(&target()),
        "arn:aws:batch:ap-northeast-1:123456789012:job-queue/other"
    );
    assert!(BaseStack::render(&config, &target())
        .unwrap()
        .compute
        .is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_package_names_its_path_and_how_to_build_it() {
    let dir = project(b"s", b"e");
    std::fs::remove_file(dir.join("dist/error-handler/bootstrap.zip")).unwrap();
    let config = config(&dir, &format!("{HEAD}{BASE}"));
    let err = BaseStack::render(&config, &target()).unwrap_err();
    let BaseError::Package { which, path, .. } = &err;
    assert_eq!(*which, "error");
    assert!(path.ends_with("dist/error-handler/bootstrap.zip"), "{path}");
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("sjob package"), "{help}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fifo_topic_is_named_for_it_and_a_custom_key_is_granted() {
    let dir = project(b"s", b"e");
    let text = format!("{HEAD}{BASE}")
        .replace(
            "[base.notifications]\n",
            "[base.notifications]\nfifo = true\nkms_key_id = \"arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n",
        )
        .replace(
            "protocol      = \"email\"\nendpoint      = \"oncall@example.com\"",
            "protocol      = \"sqs\"\nendpoint      = \"arn:aws:sqs:ap-northeast-1:123456789012:pager.fifo\"",
        );
    let config = config(&dir, &text);
    let base = BaseStack::render(&config, &target()).unwrap();
    assert_eq!(
        base.notifications.unwrap().topic.name,
        "myapp-dev-job-notifications.fifo"
    );
    let handlers = base.handlers.unwrap();
    let policy = handlers.role.policies["myapp-dev-BatchHandlerPolicy"].to_string();
    assert!(policy.contains("EncryptForTopic"), "{policy}");
    assert!(
        policy.contains(
            "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ),
        "{policy}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn each_bad_base_value_gets_its_own_message_at_its_key() {
    let valid = format!("{HEAD}{BASE}");
    let cases: &[(&str, &str, &str, &str)] = &[
        ("[base.compute]", "[base.compute]\nmax_vcpus = 0", "base.compute.max_vcpus", "expected a whole number from 1 to 10000"),
        ("subnets         = [\"subnet-0123456789abcdef0\"]", "subnets = [\"subnet-xyz\"]", "base.compute.subnets", "expected a `subnet-...` id"),
        ("security_groups = [\"sg-0123456789abcdef0\"]", "", "base.compute",
            "Fargate tasks need a security group: give `security_groups`, or `vpc_id` to have sjob create one"),
        ("security_groups = [\"sg-0123456789abcdef0\"]", "security_groups = [\"sg-0123456789abcdef0\"]\ncapacity = \"spot\"", "base.compute.capacity",
            "`spot` is not a capacity sjob offers"),
        ("env             = { NOTIFY_FORMAT = \"chatbot\" }", "env = { SNS_TOPIC_ARN = \"x\" }", "base.handlers.env.SNS_TOPIC_ARN",
            "`SNS_TOPIC_ARN` is reserved (AWS_* and LAMBDA_* by Lambda, SNS_TOPIC_ARN by sjob)"),
        ("env             = { NOTIFY_FORMAT = \"chatbot\" }", "architecture = \"x86\"", "base.handlers.architecture",
            "`x86` is not a Lambda architecture"),
        ("env             = { NOTIFY_FORMAT = \"chatbot\" }", "memory = 64", "base.handlers.memory",
            "expected a whole number from 128 to 10240 (MB)"),
        ("env             = { NOTIFY_FORMAT = \"chatbot\" }", "timeout_seconds = 901", "base.handlers.timeout_seconds",
            "expected a whole number from 1 to 900 (Lambda's limit)"),
        ("env             = { NOTIFY_FORMAT = \"chatbot\" }",
            "topic_arn = \"arn:aws:sns:ap-northeast-1:123456789012:other\"", "base.handlers.topic_arn",
            "[base.notifications] creates the topic; `topic_arn` would name another"),
        ("filter_policy = { status = [\"FAILED\"] }", "filter_policy = { status = [\"failure\"] }",
            "base.notifications.subscriptions[0].filter_policy.status", "`status` never has the value `failure`"),
        ("filter_policy = { status = [\"FAILED\"] }", "filter_policy = { outcome = [\"FAILED\"] }",
            "base.notifications.subscriptions[0].filter_policy.outcome", "the handlers set no `outcome` attribute"),
        ("endpoint      = \"oncall@example.com\"", "endpoint = \"oncall\"",
            "base.notifications.subscriptions[0].endpoint", "`oncall` is not a email endpoint (an email address)"),
        ("protocol      = \"email\"", "protocol = \"pigeon\"",
            "base.notifications.subscriptions[0].protocol", "`pigeon` is not a protocol sjob subscribes"),
        ("[base.notifications]", "[base.notifications]\ntopic_name = \"alerts.fifo\"",
            "base.notifications.topic_name", "only a FIFO topic's name may end in `.fifo`; set `fifo = true`"),
        ("tags = { team = \"data\" }", "tags = { \"sjob:x\" = \"y\" }", "base.tags.sjob:x",
            "tag `sjob:x` is not allowed: the `aws:` and `sjob:` prefixes are reserved"),
        ("[base.compute]", "[base.compute]\nregion = \"x\"", "base.compute.region", "unknown key `region`"),
        ("[base.notifications]", "[base.notifications]\nkms_key_id = \"my-key\"", "base.notifications.kms_key_id", "`my-key` is not a KMS key"),
        ("[base.notifications]", "[base.notifications]\nkms_key_id = \"arn:aws:kms:ap-northeast-1:123456789012:key/k\"",
            "base.notifications.kms_key_id", "`arn:aws:kms:ap-northeast-1:123456789012:key/k` is not a KMS key"),
    ];
    for (old, new, key, message) in cases {
        assert!(valid.contains(old), "{old}");
        let found = problems(&valid.replacen(old, new, 1));
        assert_eq!(found.len(), 1, "{new}: {found:#?}");
        assert_eq!(
            (found[0].key.as_str(), found[0].message.as_str()),
            (*key, *message),
            "{new}"
        );
    }
}

/// Fargate Spot runs no ARM64 task: an arm64 job in the base's Spot queue
/// would wait forever, so it is refused at its key. With Fargate capacity it
/// is fine.
#[test]
fn an_arm64_job_is_refused_in_a_fargate_spot_queue() {
    let arm64 = format!("{HEAD}{BASE}")
        .replace("[defaults]\n", "[defaults]\ncpu_architecture = \"arm64\"\n");
    assert!(parse(Path::new("sjob.toml"), &arm64).is_ok());
    let spot = arm64.replace(
        "[base.compute]\n",
        "[base.compute]\ncapacity = \"fargate_spot\"\n",
    );
    let found = problems(&spot);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "defaults.cpu_architecture");
    assert_eq!(
        found[0].message,
        "Fargate Spot does not run ARM64 tasks: the job would wait in [base.compute]'s queue forever"
    );
}

#[test]
fn the_base_and_defaults_cannot_both_name_the_queue() {
    let text = format!("{HEAD}{BASE}").replace(
        "[defaults]\n",
        "[defaults]\nbatch_job_queue_arn = \"arn:aws:batch:ap-northeast-1:123456789012:job-queue/q\"\n",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "defaults.batch_job_queue_arn");
    assert_eq!(found[0].line, 7);
    assert!(
        found[0].message.starts_with("[base.compute] creates this"),
        "{}",
        found[0].message
    );
}

#[test]
fn without_a_base_a_job_must_name_its_arns_and_is_told_of_the_base() {
    let found = problems(HEAD);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "jobs.crawler.batch_job_queue_arn",
            "jobs.crawler.success_handler_arn",
            "jobs.crawler.error_handler_arn"
        ]
    );
    assert_eq!(
        found[0].help.as_deref(),
        Some("or add [base.compute] to have sjob create it")
    );
    assert_eq!(
        found[1].help.as_deref(),
        Some("or add [base.handlers] to have sjob create it")
    );
}

#[test]
fn handlers_without_a_created_topic_need_one() {
    let text = format!("{HEAD}{BASE}").replace(
        "[base.notifications]\n[[base.notifications.subscriptions]]\nprotocol      = \"email\"\nendpoint      = \"oncall@example.com\"\nfilter_policy = { status = [\"FAILED\"] }\n\n[[base.notifications.subscriptions]]\nprotocol             = \"sqs\"\nendpoint             = \"arn:aws:sqs:ap-northeast-1:123456789012:notifications\"\nraw_message_delivery = true\n",
        "",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "base.handlers.topic_arn");
}

/// In `aws-cn` and `aws-us-gov` nothing sjob deploys names the `aws`
/// partition or its console: the state machine's integrations and console
/// link, every policy's ARNs, every trust policy's principal.
#[test]
fn every_arn_and_console_link_follows_the_partition() {
    let dir = project(b"success zip", b"error zip");
    for (region, partition, console) in [
        ("cn-north-1", "aws-cn", "cn-north-1.console.amazonaws.cn"),
        (
            "us-gov-west-1",
            "aws-us-gov",
            "us-gov-west-1.console.amazonaws-us-gov.com",
        ),
    ] {
        let job_options = format!(
            r#"
overlap                  = "skip"
notify_on_skip           = true
expect_success_within    = "2h"
secrets                  = {{ TOKEN = "arn:{partition}:secretsmanager:{region}:123456789012:secret:token-AbC123" }}
secrets_kms_key_arn      = "arn:{partition}:kms:{region}:123456789012:key/0f6c2a51-6f1c-4a36-9d4b-3e2a1b0c9d8e"
schedule_dead_letter_arn = "arn:{partition}:sqs:{region}:123456789012:dead-letters"
"#
        );
        let text = format!("{HEAD}{job_options}{BASE}")
            .replace("ap-northeast-1", region)
            .replace("arn:aws:", &format!("arn:{partition}:"));
        let config = config(&dir, &text);
        let target = Target {
            account_id: "123456789012".into(),
            region: region.into(),
        };
        let base = BaseStack::render(&config, &target).unwrap();
        let job = JobStack::render(&config, &config.jobs["crawler"], &target);
        let rendered = format!("{base:?}\n{job:?}");
        assert!(!rendered.contains("arn:aws:"), "{region}: {rendered}");
        assert!(rendered.contains(&format!("arn:{partition}:states:::lambda:invoke")));
        assert!(!rendered.contains("console.aws.amazon.com"), "{region}");
        assert!(rendered.contains(console), "{region}: no {console} link");
    }
}

/// `kms_key_id` takes each form AWS accepts. A key id names a key of the
/// target's account and region, so its policies name that key's ARN with
/// no call to AWS; an alias names no key until `kms:DescribeKey` resolves
/// it, so nothing grants on it before then (see `sjob::kms`).
#[test]
fn the_topic_key_takes_every_form_and_policies_name_only_key_arns() {
    let dir = project(b"s", b"e");
    let key_arn =
        "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let policy_of = |key: &str| {
        let text = format!("{HEAD}{BASE}").replace(
            "[base.notifications]\n",
            &format!("[base.notifications]\nkms_key_id = \"{key}\"\n"),
        );
        let base = BaseStack::render(&config(&dir, &text), &target()).unwrap();
        let topic_key = base.notifications.unwrap().topic.kms_key_id;
        let policy = base.handlers.unwrap().role.policies["myapp-dev-BatchHandlerPolicy"].clone();
        (topic_key, policy.to_string())
    };
    for key in [key_arn, "1234abcd-12ab-34cd-56ef-1234567890ab"] {
        let (topic_key, policy) = policy_of(key);
        assert_eq!(topic_key.as_deref(), Some(key_arn), "{key}");
        assert!(
            policy.contains(&format!("\"Resource\":\"{key_arn}\"")),
            "{key}: {policy}"
        );
    }
    for alias in [
        "alias/team",
        "arn:aws:kms:ap-northeast-1:123456789012:alias/team",
    ] {
        let (_, policy) = policy_of(alias);
        assert!(!policy.contains("alias"), "{alias}: {policy}");
    }
    let (topic_key, policy) = policy_of("alias/aws/sns");
    assert_eq!(topic_key.as_deref(), Some("alias/aws/sns"));
    assert!(!policy.contains("kms:"), "{policy}");
    std::fs::remove_dir_all(dir).unwrap();
}
