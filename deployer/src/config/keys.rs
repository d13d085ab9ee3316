//! Every key `sjob.toml` may hold, section by section, with its type and
//! meaning. Validation refuses any key not listed here, and `sjob schema`
//! writes its JSON Schema from these same lists, so an editor and
//! `sjob validate` cannot disagree on which keys exist.

use serde_json::{json, Map, Value};

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: ValueType,
    pub doc: &'static str,
}

/// The shape of a key's value.
#[derive(Debug, Clone, Copy)]
pub enum ValueType {
    String,
    /// A string or a number (`vcpus = 0.5`, `memory = "2048"`).
    Scalar,
    Integer,
    Boolean,
    /// An array of strings.
    Strings,
    /// A table of string values.
    StringMap,
    /// Any TOML value, read as JSON.
    Json,
    /// A table with these keys.
    Table(&'static [Key]),
    /// An array of tables with these keys.
    Tables(&'static [Key]),
    /// A table of named tables, each with these keys (`[jobs.NAME]`).
    Named(&'static [Key]),
}

const fn key(name: &'static str, kind: ValueType, doc: &'static str) -> Key {
    Key { name, kind, doc }
}

/// The top level of the file.
pub const TOP_KEYS: &[Key] = &[
    key("app_name", ValueType::String, "Letters, digits, `-`, `_`; prefixes every resource name. Required."),
    key("stage", ValueType::String, "Letters, digits, `-`, `_`; prefixes every resource name. Required."),
    key("region", ValueType::String, "The region to deploy to; `--region` overrides it, and it overrides AWS_REGION and the profile's."),
    key("account_id", ValueType::String, "The 12-digit account ARNs are built for; STS tells it otherwise."),
    key("base", ValueType::Table(BASE_KEYS), "The shared base: notification topic, handler functions, compute."),
    key("defaults", ValueType::Table(JOB_KEYS), "Job keys every job gets unless it sets them (not `command`)."),
    key("jobs", ValueType::Named(JOB_KEYS), "The jobs, one `[jobs.NAME]` table each. Required."),
];

/// A `[jobs.NAME]` table, and `[defaults]`.
pub const JOB_KEYS: &[Key] = &[
    key("command", ValueType::Strings, "The container command, a non-empty array of strings. Required; not allowed in [defaults]."),
    key("vcpus", ValueType::Scalar, "Fargate vCPUs (0.25 to 16); with `memory`, a pair Fargate offers. Default 1."),
    key("memory", ValueType::Scalar, "Fargate memory in MiB; with `vcpus`, a pair Fargate offers. Default 2048."),
    key("schedule_expression", ValueType::String, "`rate(N unit)`, six-field `cron(...)` or `at(yyyy-mm-ddThh:mm:ss)`. Required."),
    key("schedule_timezone", ValueType::String, "The IANA zone the schedule fires in. Default Asia/Tokyo."),
    key("sfn_input", ValueType::Json, "The execution input the schedule sends; at most 6144 characters as the job receives it."),
    key("env", ValueType::StringMap, "Container environment, merged over [defaults]'. `AWS_BATCH*` and `SJOB_*` are reserved."),
    key("secrets", ValueType::StringMap, "Container variables read from Secrets Manager (`arn:...:secret:NAME[:json-key:version-stage:version-id]`) or SSM parameter ARNs when the task starts, merged over [defaults]'. A name may not also be in `env`."),
    key("secrets_kms_key_arn", ValueType::String, "The customer KMS key the secrets are encrypted with, as a key ARN; the task execution role may decrypt with it only through Secrets Manager or SSM."),
    key("image_uri", ValueType::String, "The container image, without its tag. Required."),
    key("image_tag", ValueType::String, "The image tag. Default latest."),
    key("batch_job_queue_arn", ValueType::String, "The Batch job queue; [base.compute]'s queue by default."),
    key("success_handler_arn", ValueType::String, "The success handler Lambda; [base.handlers]' by default."),
    key("error_handler_arn", ValueType::String, "The error handler Lambda; [base.handlers]' by default."),
    key("enabled", ValueType::Boolean, "`false` deploys the schedule DISABLED. Default true."),
    key("timeout_seconds", ValueType::Integer, "Batch attempt timeout, at least 60 seconds."),
    key("overlap", ValueType::String, "`allow` (default) or `skip`: with `skip` a run that starts while an earlier one is still running ends at once, without a job, recording why."),
    key("notify_on_skip", ValueType::Boolean, "With `overlap = \"skip\"`, send a SKIPPED notification for each skipped run. Default false."),
    key("run_timeout_seconds", ValueType::Integer, "A cap on the whole run, queue time and every attempt included, 60 to 31536000 seconds: the Batch job is stopped and a `timeout` notification sent."),
    key("expect_success_within", ValueType::String, "An alarm when no run succeeded for this long, `5m` to `7d` (whole hours from `1h`): the error handler sends a `missed` notification, and `recovered` after the next success. Default none."),
    key("array_size", ValueType::Integer, "Run the job as a Batch array job of this many children, 2 to 10000; each gets AWS_BATCH_JOB_ARRAY_INDEX, and the run fails when any child fails. Default: one job."),
    key("retry_attempts", ValueType::Integer, "Batch attempts, 1 to 10. Default 1."),
    key("retry_on", ValueType::Tables(RETRY_ON_KEYS), "Which failed attempts are retried (Batch's evaluateOnExit), at most 5 rules; the first match decides, no match retries."),
    key("log_retention_days", ValueType::Integer, "Retention of the state machine's log group, a value CloudWatch Logs accepts. Default 365."),
    key("execution_log_group", ValueType::String, "`vended` (default): the state machine logs to `/aws/vendedlogs/states/{app}/{stage}/{batch}`. `seed`: to the seed module's `{app}/{stage}/scheduled/{batch}`, which Step Functions adds to the account's 5,120-character CloudWatch Logs resource policy (about 50 jobs per account and region)."),
    key("task_policy_statements", ValueType::Tables(STATEMENT_KEYS), "IAM statements for the job's task role, which gets nothing else."),
    key("tags", ValueType::StringMap, "Extra tags on every resource that takes tags; `aws:` and `sjob:` prefixes are reserved."),
    key("description", ValueType::String, "The schedule's description."),
    key("assign_public_ip", ValueType::Boolean, "Whether Fargate tasks get a public IP. Default false."),
    key("notification_topic_arn", ValueType::String, "Where the state machine publishes its own notice when the error handler fails; [base]'s topic by default."),
    key("cpu_architecture", ValueType::String, "`x86_64` or `arm64` (Graviton): the Fargate task's CPU. Batch's default x86_64 when unset; Fargate Spot runs only x86_64."),
    key("ephemeral_storage_gib", ValueType::Integer, "Fargate task storage, 21 to 200 GiB. Default Fargate's 20."),
    key("schedule_retry", ValueType::Table(SCHEDULE_RETRY_KEYS), "How Scheduler retries a run it could not start. Default AWS's: 185 attempts within 86400 seconds."),
    key("schedule_dead_letter_arn", ValueType::String, "An SQS queue for the runs Scheduler could not start after its retries. Default none: they are dropped."),
];

/// One rule of `retry_on`.
pub const RETRY_ON_KEYS: &[Key] = &[
    key("exit_code", ValueType::Scalar, "The attempt's exit code: a number, or digits ending in `*` to match a prefix."),
    key("reason", ValueType::String, "The container's reason (`CannotPullContainerError*`); letters, digits, `.`, `:` and spaces, optionally ending in `*`."),
    key("status_reason", ValueType::String, "The attempt's status reason (`Host EC2*`); letters, digits, `.`, `:` and spaces, optionally ending in `*`."),
    key("action", ValueType::String, "`retry` or `exit`. Required."),
];

/// `schedule_retry`.
pub const SCHEDULE_RETRY_KEYS: &[Key] = &[
    key(
        "maximum_retry_attempts",
        ValueType::Integer,
        "Attempts to start the run, 0 to 185. Default 185.",
    ),
    key(
        "maximum_event_age_seconds",
        ValueType::Integer,
        "How long to keep trying, 60 to 86400 seconds. Default 86400.",
    ),
];

/// One statement of `task_policy_statements`.
pub const STATEMENT_KEYS: &[Key] = &[
    key("Sid", ValueType::String, "The statement id."),
    key("Effect", ValueType::String, "`Allow` or `Deny`."),
    key("Action", ValueType::Json, "An action or a list of actions."),
    key(
        "NotAction",
        ValueType::Json,
        "An action or a list of actions.",
    ),
    key(
        "Resource",
        ValueType::Json,
        "A resource ARN or a list of them.",
    ),
    key(
        "NotResource",
        ValueType::Json,
        "A resource ARN or a list of them.",
    ),
    key("Condition", ValueType::Json, "IAM condition operators."),
];

/// `[base]`.
pub const BASE_KEYS: &[Key] = &[
    key(
        "tags",
        ValueType::StringMap,
        "Extra tags on every base resource.",
    ),
    key(
        "notifications",
        ValueType::Table(NOTIFICATIONS_KEYS),
        "The notification topic and its subscriptions.",
    ),
    key(
        "handlers",
        ValueType::Table(HANDLERS_KEYS),
        "The success and error handler functions.",
    ),
    key(
        "compute",
        ValueType::Table(COMPUTE_KEYS),
        "The Fargate compute environment and job queue.",
    ),
];

/// `[base.notifications]`.
pub const NOTIFICATIONS_KEYS: &[Key] = &[
    key(
        "topic_name",
        ValueType::String,
        "Default `{app}-{stage}-job-notifications`; a FIFO topic's ends in `.fifo`.",
    ),
    key("fifo", ValueType::Boolean, "A FIFO topic. Default false."),
    key(
        "kms_key_id",
        ValueType::String,
        "The KMS key the topic is encrypted with: a key ARN, key id, alias name or alias ARN; plan resolves it to the key ARN, which its policies grant.",
    ),
    key(
        "subscriptions",
        ValueType::Tables(SUBSCRIPTION_KEYS),
        "The topic's subscriptions.",
    ),
];

/// One of `[[base.notifications.subscriptions]]`.
pub const SUBSCRIPTION_KEYS: &[Key] = &[
    key(
        "protocol",
        ValueType::String,
        "`email`, `email-json`, `http`, `https`, `sqs`, `lambda`, `sms` or `firehose`.",
    ),
    key(
        "endpoint",
        ValueType::String,
        "The address, checked per protocol.",
    ),
    key(
        "filter_policy",
        ValueType::Json,
        "An SNS filter policy on the notification's message attributes.",
    ),
    key(
        "raw_message_delivery",
        ValueType::Boolean,
        "Deliver the notification without SNS's envelope (sqs, http, https, firehose).",
    ),
];

/// `[base.handlers]`.
pub const HANDLERS_KEYS: &[Key] = &[
    key("success_package", ValueType::String, "The success handler's zip, relative to the config. Default target/lambda/success-handler/bootstrap.zip."),
    key("error_package", ValueType::String, "The error handler's zip, relative to the config. Default target/lambda/error-handler/bootstrap.zip."),
    key("architecture", ValueType::String, "`arm64` (default) or `x86_64`; the zips must match."),
    key("memory", ValueType::Integer, "Lambda memory in MB. Default 128."),
    key("timeout_seconds", ValueType::Integer, "Lambda timeout, 1 to 900 seconds. Default 60."),
    key("log_retention_days", ValueType::Integer, "Retention of the functions' log groups."),
    key("env", ValueType::StringMap, "Extra environment (NOTIFY_FORMAT, SJOB_ENRICH); AWS_*, LAMBDA_* and SNS_TOPIC_ARN are reserved."),
    key("topic_arn", ValueType::String, "A topic to publish to when the config has no [base.notifications]."),
];

/// `[base.compute]`.
pub const COMPUTE_KEYS: &[Key] = &[
    key(
        "subnets",
        ValueType::Strings,
        "Where Fargate tasks run. Required.",
    ),
    key(
        "security_groups",
        ValueType::Strings,
        "Security groups for the tasks; these, `vpc_id`, or both.",
    ),
    key(
        "vpc_id",
        ValueType::String,
        "A VPC for a security group sjob creates.",
    ),
    key(
        "max_vcpus",
        ValueType::Integer,
        "The compute environment's vCPU cap. Default 32.",
    ),
    key(
        "capacity",
        ValueType::String,
        "`fargate` (default) or `fargate_spot`.",
    ),
];

/// The names of `keys`.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}

/// The JSON Schema (draft-07, which taplo and Even Better TOML read) of
/// `sjob.toml`.
pub fn json_schema() -> Value {
    let mut schema = table(TOP_KEYS);
    let object = schema.as_object_mut().expect("a table is an object");
    object.insert(
        "$schema".into(),
        "http://json-schema.org/draft-07/schema#".into(),
    );
    object.insert("title".into(), "sjob.toml".into());
    object.insert("required".into(), json!(["app_name", "stage", "jobs"]));
    schema
}

fn table(keys: &[Key]) -> Value {
    let properties: Map<String, Value> = keys
        .iter()
        .map(|k| {
            let mut property = kind(k.kind);
            property
                .as_object_mut()
                .expect("every kind is an object")
                .insert("description".into(), k.doc.into());
            (k.name.to_string(), property)
        })
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": properties })
}

fn kind(kind: ValueType) -> Value {
    match kind {
        ValueType::String => json!({ "type": "string" }),
        ValueType::Scalar => json!({ "type": ["string", "number"] }),
        ValueType::Integer => json!({ "type": "integer" }),
        ValueType::Boolean => json!({ "type": "boolean" }),
        ValueType::Strings => json!({ "type": "array", "items": { "type": "string" } }),
        ValueType::StringMap => {
            json!({ "type": "object", "additionalProperties": { "type": "string" } })
        }
        ValueType::Json => json!({}),
        ValueType::Table(keys) => table(keys),
        ValueType::Tables(keys) => json!({ "type": "array", "items": table(keys) }),
        ValueType::Named(keys) => json!({ "type": "object", "additionalProperties": table(keys) }),
    }
}
