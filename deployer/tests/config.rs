//! Config validation: each bad config gets its specific message at its key
//! and line, and every problem in a file is reported at once.

use std::path::Path;

use sjob::config::{parse, Architecture, ProblemRecord, ScheduleRetry};

const VALID: &str = r#"
app_name = "myapp"
stage    = "dev"
region   = "ap-northeast-1"

[defaults]
batch_job_queue_arn = "arn:aws:batch:ap-northeast-1:123456789012:job-queue/myapp-dev-Batch"
success_handler_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchSuccessHandler"
error_handler_arn   = "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchErrorHandler"
image_uri           = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp"
env                 = { STAGE = "dev" }

[jobs.crawler]
command             = ["python", "/opt/app/job/crawler.py"]
vcpus               = "1"
memory              = 2048
schedule_expression = "rate(5 minutes)"
sfn_input           = { message = "hello" }
env                 = { DB_NAME = "dev" }
"#;

fn problems(text: &str) -> Vec<ProblemRecord> {
    parse(Path::new("sjob.toml"), text)
        .expect_err("the config is invalid")
        .records()
}

/// The config with `line` replaced (matched on its key) or appended to the job.
fn with(key: &str, line: &str) -> String {
    let mut replaced = false;
    let mut out: Vec<String> = VALID
        .lines()
        .map(|l| {
            if l.split('=').next().map(str::trim) == Some(key) && !replaced {
                replaced = true;
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        out.push(line.to_string());
    }
    out.join("\n")
}

#[test]
fn the_example_is_valid_and_defaults_apply() {
    let config = parse(Path::new("sjob.toml"), VALID).unwrap();
    let job = &config.jobs["crawler"];
    assert_eq!(job.container.memory_mib, 2048);
    assert_eq!(job.schedule.timezone, "Asia/Tokyo");
    assert_eq!(job.container.image_tag, "latest");
    assert_eq!(job.retry.attempts, 1);
    assert_eq!(job.logs.log_retention_days, 365);
    assert!(job.schedule.enabled);
    assert_eq!(
        job.container.env.get("STAGE").map(String::as_str),
        Some("dev")
    );
    assert_eq!(
        job.container.env.get("DB_NAME").map(String::as_str),
        Some("dev")
    );
    assert_eq!(job.schedule.input, serde_json::json!({"message": "hello"}));
    assert_eq!(job.container.cpu_architecture, None);
    assert_eq!(job.container.ephemeral_storage_gib, None);
    assert_eq!(job.schedule.retry, ScheduleRetry::AWS);
    assert_eq!(job.schedule.dead_letter_arn, None);
}

/// The job keys of issue 16 that `[defaults]` can give every job; a job's
/// own `schedule_retry` replaces the defaults' whole, and a key it leaves
/// out keeps AWS's default.
#[test]
fn runtime_and_schedule_delivery_keys_apply_from_defaults() {
    let text = VALID.replace(
        "[defaults]\n",
        "[defaults]\ncpu_architecture = \"arm64\"\nephemeral_storage_gib = 50\nschedule_dead_letter_arn = \"arn:aws:sqs:ap-northeast-1:123456789012:myapp-dev-undelivered\"\nschedule_retry = { maximum_retry_attempts = 3, maximum_event_age_seconds = 600 }\n",
    ) + "schedule_retry = { maximum_retry_attempts = 0 }\n";
    let config = parse(Path::new("sjob.toml"), &text).unwrap();
    let job = &config.jobs["crawler"];
    assert_eq!(job.container.cpu_architecture, Some(Architecture::Arm64));
    assert_eq!(job.container.ephemeral_storage_gib, Some(50));
    assert_eq!(
        job.schedule.dead_letter_arn.as_deref(),
        Some("arn:aws:sqs:ap-northeast-1:123456789012:myapp-dev-undelivered")
    );
    assert_eq!(
        job.schedule.retry,
        ScheduleRetry {
            maximum_retry_attempts: 0,
            maximum_event_age_seconds: 86_400
        }
    );
}

#[test]
fn each_bad_value_gets_its_own_message() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("memory", "memroy = 2048", "jobs.crawler.memroy", "unknown key `memroy`"),
        ("schedule_expression", r#"schedule_expression = "cron(0 3 * * *)""#, "jobs.crawler.schedule_expression",
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found 5"),
        ("schedule_expression", r#"schedule_expression = "cron(0 3 * * * *)""#, "jobs.crawler.schedule_expression",
            "exactly one of day-of-month and day-of-week must be `?` (e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON *))"),
        ("schedule_expression", r#"schedule_expression = "rate(1 hours)""#, "jobs.crawler.schedule_expression",
            "AWS requires `1 hour`, not `1 hours`"),
        ("schedule_timezone", r#"schedule_timezone = "Mars/Olympus""#, "jobs.crawler.schedule_timezone",
            "`Mars/Olympus` is not an IANA timezone (e.g. UTC, Asia/Tokyo, Europe/Berlin)"),
        ("memory", "memory = 1000", "jobs.crawler.memory", "Fargate does not offer 1000 MiB with 1 vCPU"),
        ("vcpus", r#"vcpus = "3""#, "jobs.crawler.memory", "Fargate does not offer 3 vCPU; it offers 0.25, 0.5, 1, 2, 4, 8 and 16"),
        ("command", "command = []", "jobs.crawler.command", "the command is empty"),
        ("platform_version", "platform_version = \"1.3.0\"\nephemeral_storage_gib = 50", "jobs.crawler.platform_version",
            "Fargate platform version 1.3.0 does not support ephemeral_storage_gib: it needs 1.4.0 or later"),
        ("batch_job_queue_arn", r#"batch_job_queue_arn = "arn:aws:batch:ap-northeast-1:1234:job-queue/q""#,
            "defaults.batch_job_queue_arn", "`arn:aws:batch:ap-northeast-1:1234:job-queue/q` is not a batch ARN"),
        ("success_handler_arn", r#"success_handler_arn = "myapp-dev-BatchSuccessHandler""#,
            "defaults.success_handler_arn", "`myapp-dev-BatchSuccessHandler` is not a lambda ARN"),
        ("env", r#"env = { "1BAD" = "x" }"#, "defaults.env.1BAD", "`1BAD` is not a valid environment variable name"),
        ("env", r#"env = { SJOB_INPUT = "x" }"#, "defaults.env.SJOB_INPUT", "`SJOB_INPUT` is reserved (AWS_BATCH* by Batch, SJOB_* by sjob)"),
        ("timeout_seconds", "timeout_seconds = 30", "jobs.crawler.timeout_seconds", "expected a whole number from 60 (Batch's minimum) to 1209600 (14 days)"),
        ("secrets", r#"secrets = { DB_NAME = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/db" }"#, "jobs.crawler.secrets.DB_NAME",
            "`DB_NAME` is in both `env` and `secrets`"),
        ("secrets", r#"secrets = { TOKEN = "arn:aws:s3:::bucket/token" }"#, "jobs.crawler.secrets.TOKEN",
            "`arn:aws:s3:::bucket/token` is not a Secrets Manager secret or SSM parameter ARN"),
        ("secrets", r#"secrets = { "2FA" = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/db" }"#, "jobs.crawler.secrets.2FA",
            "`2FA` is not a valid environment variable name"),
        ("secrets_kms_key_arn", r#"secrets_kms_key_arn = "alias/secrets""#, "jobs.crawler.secrets_kms_key_arn", "`alias/secrets` is not a KMS key ARN"),
        ("secrets_kms_key_arn", r#"secrets_kms_key_arn = "arn:aws:kms:ap-northeast-1:123456789012:key/secrets""#, "jobs.crawler.secrets_kms_key_arn",
            "`arn:aws:kms:ap-northeast-1:123456789012:key/secrets` is not a KMS key ARN"),
        ("overlap", r#"overlap = "queue""#, "jobs.crawler.overlap", "`queue` is not an overlap policy"),
        ("notify_on_skip", "notify_on_skip = true", "jobs.crawler.notify_on_skip", "notify_on_skip needs overlap = \"skip\": no run is ever skipped"),
        ("run_timeout_seconds", "run_timeout_seconds = 59", "jobs.crawler.run_timeout_seconds",
            "expected a whole number from 60 to 31536000 (a year, the longest a run may last)"),
        ("expect_success_within", r#"expect_success_within = "90m""#, "jobs.crawler.expect_success_within",
            "`90m` is not a window sjob can alarm on: expected a whole number of minutes (m), hours (h) or days (d) from 5m to 7d, whole hours from 1h on: \"26h\""),
        ("array_size", "array_size = 1", "jobs.crawler.array_size", "expected a whole number from 2 to 10000 (Batch's array job sizes)"),
        ("array_size", "array_size = 10001", "jobs.crawler.array_size", "expected a whole number from 2 to 10000 (Batch's array job sizes)"),
        ("retry_attempts", "retry_attempts = 11", "jobs.crawler.retry_attempts", "expected a whole number 1 to 10"),
        ("log_retention_days", "log_retention_days = 42", "jobs.crawler.log_retention_days", "not a retention period CloudWatch Logs accepts"),
        ("enabled", r#"enabled = "yes""#, "jobs.crawler.enabled", "expected true or false, found a string"),
        ("sfn_input", r#"sfn_input = "hello""#, "jobs.crawler.sfn_input", "expected a table (the execution input object), found a string"),
        ("cpu_architecture", r#"cpu_architecture = "amd64""#, "jobs.crawler.cpu_architecture", "`amd64` is not a CPU architecture Fargate runs"),
        ("ephemeral_storage_gib", "ephemeral_storage_gib = 20", "jobs.crawler.ephemeral_storage_gib", "expected a whole number from 21 to 200 (GiB; every Fargate task has 20)"),
        ("schedule_retry", "schedule_retry = { maximum_retry_attempts = 186 }", "jobs.crawler.schedule_retry.maximum_retry_attempts", "expected a whole number from 0 to 185"),
        ("schedule_retry", "schedule_retry = { maximum_event_age_seconds = 59 }", "jobs.crawler.schedule_retry.maximum_event_age_seconds", "expected a whole number from 60 to 86400 (seconds)"),
        ("schedule_retry", "schedule_retry = { attempts = 3 }", "jobs.crawler.schedule_retry.attempts", "unknown key `attempts`"),
        ("schedule_retry", "schedule_retry = 3", "jobs.crawler.schedule_retry", "expected a table, found an integer"),
        ("schedule_dead_letter_arn", r#"schedule_dead_letter_arn = "arn:aws:sns:ap-northeast-1:123456789012:dlq""#, "jobs.crawler.schedule_dead_letter_arn",
            "`arn:aws:sns:ap-northeast-1:123456789012:dlq` is not an SQS queue ARN"),
        ("schedule_dead_letter_arn", r#"schedule_dead_letter_arn = "arn:aws:sqs:ap-northeast-1:123456789012:dlq.fifo""#, "jobs.crawler.schedule_dead_letter_arn",
            "`arn:aws:sqs:ap-northeast-1:123456789012:dlq.fifo` is a FIFO queue, which EventBridge Scheduler cannot use as a dead-letter queue (its DeadLetterConfig.Arn pattern allows no `.`)"),
        ("tags", r#"tags = { team = "data!" }"#, "jobs.crawler.tags.team",
            "tag `team` = `data!` is not allowed: keys and values take letters, digits, spaces and `_ . : / = + - @` only"),
        ("tags", r#"tags = { "cost#center" = "x" }"#, "jobs.crawler.tags.cost#center",
            "tag `cost#center` = `x` is not allowed: keys and values take letters, digits, spaces and `_ . : / = + - @` only"),
        ("tags", r#"tags = { "sjob:job" = "x" }"#, "jobs.crawler.tags.sjob:job",
            "tag `sjob:job` is not allowed: the `aws:` and `sjob:` prefixes are reserved"),
        ("execution_log_group", r#"execution_log_group = "legacy""#, "jobs.crawler.execution_log_group", "`legacy` is not an execution log group"),
        ("retry_on", "retry_attempts = 2\nretry_on = [{ exit_code = \"1a\", action = \"retry\" }]", "jobs.crawler.retry_on[0].exit_code",
            "`1a` is not an exit code pattern Batch accepts"),
        ("retry_on", "retry_attempts = 2\nretry_on = [{ reason = \"Cannot*Pull\", action = \"exit\" }]", "jobs.crawler.retry_on[0].reason",
            "`Cannot*Pull` is not a reason pattern Batch accepts"),
        ("retry_on", "retry_attempts = 2\nretry_on = [{ exit_code = 1, action = \"again\" }]", "jobs.crawler.retry_on[0].action", "`again` is not an action"),
        ("retry_on", "retry_attempts = 2\nretry_on = [{ action = \"exit\" }]", "jobs.crawler.retry_on[0]",
            "a rule needs `exit_code`, `reason` or `status_reason`"),
        ("retry_on", "retry_attempts = 2\nretry_on = [{ exit_code = 1 }]", "jobs.crawler.retry_on[0]", "`action` is required"),
        ("retry_on", "retry_on = [{ exit_code = 1, action = \"retry\" }]", "jobs.crawler.retry_on",
            "with retry_attempts = 1 there is no retry for these rules to decide"),
        ("retry_on", &format!("retry_attempts = 2\nretry_on = [{}]", ["{ exit_code = 1, action = \"exit\" }"; 6].join(", ")), "jobs.crawler.retry_on",
            "6 rules; Batch takes at most 5"),
        ("region", r#"region = "Tokyo""#, "region", "`Tokyo` is not an AWS region name"),
        ("stage", r#"stage = "dev env""#, "stage", "`dev env` may only hold letters, digits, `-` and `_`"),
    ];
    for (key, line, problem_key, message) in cases {
        let found = problems(&with(key, line));
        assert_eq!(found.len(), 1, "{line}: {found:#?}");
        assert_eq!(
            (found[0].key.as_str(), found[0].message.as_str()),
            (*problem_key, *message),
            "{line}"
        );
    }
}

/// The largest `sfn_input` the job can receive is accepted; one character
/// more is refused at its key, naming the limit.
#[test]
fn an_input_too_large_for_the_container_is_refused_at_its_key() {
    // `{"d":"..."}` is 12 characters around the string once escaped.
    let input = |n: usize| format!(r#"sfn_input = {{ d = "{}" }}"#, "x".repeat(n));
    assert!(parse(
        Path::new("sjob.toml"),
        &with("sfn_input", &input(6144 - 12))
    )
    .is_ok());
    let found = problems(&with("sfn_input", &input(6144 - 11)));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "jobs.crawler.sfn_input");
    assert!(
        found[0].message.starts_with(
            "the execution input is 6145 characters as the job receives it (`SJOB_INPUT`, JSON-escaped); at most 6144 fit"
        ),
        "{}",
        found[0].message
    );
    assert!(found[0].help.as_deref().unwrap_or_default().contains("S3"));
}

#[test]
fn a_notification_topic_must_be_an_sns_arn() {
    let found = problems(&with(
        "notification_topic_arn",
        r#"notification_topic_arn = "alerts""#,
    ));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].key.as_str(), found[0].message.as_str()),
        (
            "jobs.crawler.notification_topic_arn",
            "`alerts` is not a sns ARN"
        )
    );
}

/// Numbers too large for the field they end up in are refused at their key
/// and line, never wrapped into another valid-looking value (2^32 + 30 cast
/// to i32 is 30, a retention CloudWatch accepts).
#[test]
fn huge_numbers_are_refused_not_wrapped() {
    let retention_help = "one of [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]";
    for days in [
        "4294967297",
        "4294967326",
        "-4294967266",
        "9223372036854775807",
        "-9223372036854775808",
        "0",
        "-30",
        "31",
        "30.0",
    ] {
        let line = format!("log_retention_days = {days}");
        let text = with("log_retention_days", &line);
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{line}: {found:#?}");
        let problem = &found[0];
        assert_eq!(problem.file, "sjob.toml");
        assert_eq!(problem.key, "jobs.crawler.log_retention_days", "{line}");
        assert_eq!(
            problem.message, "not a retention period CloudWatch Logs accepts",
            "{line}"
        );
        assert_eq!(problem.help.as_deref(), Some(retention_help), "{line}");
        assert_eq!(
            text.lines().nth(problem.line - 1),
            Some(line.as_str()),
            "{problem:#?}"
        );
    }
    // Every value CloudWatch Logs accepts is kept as given.
    for days in sjob::config::LOG_RETENTION_DAYS {
        let config = parse(
            Path::new("sjob.toml"),
            &with(
                "log_retention_days",
                &format!("log_retention_days = {days}"),
            ),
        )
        .unwrap();
        assert_eq!(config.jobs["crawler"].logs.log_retention_days, *days);
    }
    for (key, value, message) in [
        (
            "timeout_seconds",
            "4294967356",
            "expected a whole number from 60 (Batch's minimum) to 1209600 (14 days)",
        ),
        (
            "timeout_seconds",
            "-1",
            "expected a whole number from 60 (Batch's minimum) to 1209600 (14 days)",
        ),
        (
            "retry_attempts",
            "4294967297",
            "expected a whole number 1 to 10",
        ),
        (
            "retry_attempts",
            "9223372036854775807",
            "expected a whole number 1 to 10",
        ),
    ] {
        let found = problems(&with(key, &format!("{key} = {value}")));
        assert_eq!(found.len(), 1, "{key} = {value}: {found:#?}");
        assert_eq!(
            (found[0].key.as_str(), found[0].message.as_str()),
            (format!("jobs.crawler.{key}").as_str(), message),
            "{key} = {value}"
        );
    }
}

#[test]
fn names_too_long_for_aws_are_caught_before_deploying() {
    let long = "a".repeat(40);
    let found = problems(&VALID.replace("[jobs.crawler]", &format!("[jobs.{long}]")));
    let messages: Vec<&str> = found.iter().map(|p| p.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with(&format!(
        "the IAM role name `myapp-dev-{long}-ScheduledJob-EcsTaskExecRole` would be 79 characters; AWS allows 64"
    ))), "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.starts_with("the schedule name")),
        "{messages:#?}"
    );
    assert!(found.iter().all(|p| p.line == 13), "{found:#?}");
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let text = r#"app_name = "myapp"
stage = "dev"
colour = "blue"

[jobs.crawler]
command = []
schedule_expression = "every now and then"
image_uri = "img"
batch_job_queue_arn = "arn:aws:batch:ap-northeast-1:123456789012:job-queue/q"
success_handler_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:s"
"#;
    let found = problems(text);
    let summary: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            (3, "colour"),
            (5, "jobs.crawler.error_handler_arn"),
            (6, "jobs.crawler.command"),
            (7, "jobs.crawler.schedule_expression"),
        ]
    );
    assert_eq!(
        found[0].help.as_deref(),
        Some("allowed keys: app_name, stage, region, account_id, base, defaults, jobs")
    );
}

#[test]
fn a_toml_syntax_error_points_at_its_place() {
    let found = problems("app_name = \"myapp\"\nstage = \n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].line, 2);
    assert!(
        found[0].message.starts_with("invalid TOML"),
        "{}",
        found[0].message
    );
}

#[test]
fn the_rendered_diagnostic_shows_the_file_and_the_offending_line() {
    let err = parse(
        Path::new("conf/sjob.toml"),
        &with("memory", "memroy = 2048"),
    )
    .unwrap_err();
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, &err)
        .unwrap();
    assert!(out.contains("conf/sjob.toml"), "{out}");
    assert!(out.contains("memroy = 2048"), "{out}");
    assert!(out.contains("did you mean `memory`?"), "{out}");
}

/// Tags are counted as AWS counts them: 50 per resource with sjob's five
/// identity tags, so 45 of the user's (job and `[defaults]` together); any
/// letters, numbers and separators, in any script.
#[test]
fn tags_fit_beside_the_identity_tags() {
    let tags = |n: usize| {
        let pairs: Vec<String> = (0..n).map(|i| format!("\"t.{i}\" = \"v\"")).collect();
        format!("tags = {{ {} }}", pairs.join(", "))
    };
    let config = parse(Path::new("sjob.toml"), &with("tags", &tags(45))).unwrap();
    assert_eq!(config.jobs["crawler"].tags.len(), 45);
    let found = problems(&with("tags", &tags(46)));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "jobs.crawler.tags");
    assert!(
        found[0].message.starts_with("46 tags, at most 45 allowed"),
        "{}",
        found[0].message
    );
    let text = with(
        "tags",
        r#"tags = { "チーム" = "データ 基盤", "cost-center" = "a/b=c+d@e.f:g_h" }"#,
    );
    assert!(parse(Path::new("sjob.toml"), &text).is_ok());
}

/// The seed's execution log group name validates, with a warning at its key.
#[test]
fn the_seed_log_group_is_a_warning() {
    let text = with("execution_log_group", r#"execution_log_group = "seed""#);
    let config = parse(Path::new("sjob.toml"), &text).unwrap();
    assert_eq!(config.warnings.len(), 1);
    let warning = &config.warnings[0];
    assert_eq!(warning.key, "jobs.crawler.execution_log_group");
    assert_eq!(warning.line, text.lines().count());
    assert!(
        warning.message.contains("5,120 characters"),
        "{}",
        warning.message
    );
    assert!(parse(Path::new("sjob.toml"), VALID)
        .unwrap()
        .warnings
        .is_empty());
}
