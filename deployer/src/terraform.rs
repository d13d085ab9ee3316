//! Terraform `templatefile()` templates of the documents sjob deploys, so the
//! modules in `infra/terraform` deploy the same state machine and IAM
//! policies from the same source (`sjob render --what terraform`).
//!
//! The job is rendered with placeholder values, then each placeholder becomes
//! a template expression: a value standing alone becomes
//! `${jsonencode(name)}`, one inside a longer string becomes `${name}`.
//! The state machine is rendered in every [`Shape`], with and without each
//! optional number, and the variants merge into one template whose
//! `%{ if }` directives the module's variables decide ([`directives`]): a
//! new choice adds branches, not templates.

mod directives;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use handlers::alarm::AlarmIdentity;
use handlers::partition::Partition;

use crate::config::{ArnRef, Config, Job, NotificationTopic, Overlap};
use crate::model::{JobStack, Tags};
use crate::names::BaseNames;
use crate::render::base::handler_role;
use crate::render::definition::{definition_of_shape, Choice, Shape};
use crate::render::iam;
use crate::target::Target;

/// The variables every template may use: the module passes them all.
pub const VARIABLES: &[&str] = &[
    "partition",
    "console_host",
    "region",
    "account_id",
    "app_name",
    "stage",
    "batch_name",
    "batch_job_queue_arn",
    "success_handler_arn",
    "error_handler_arn",
    "image_uri",
    "image_tag",
    "ecr_repository_arn",
    "vcpus",
    "memory",
    "command",
    "env",
    "task_policy_statements",
    "topic_arn",
    "topic_kms_key_arn",
    "notification_topic_arn",
    "schedule_dead_letter_arn",
    "run_timeout_seconds",
    "array_size",
    "expect_success_within",
    "overlap",
    "notify_on_skip",
];

/// How the module decides each choice from its variables.
fn condition(choice: Choice) -> &'static str {
    match choice {
        Choice::Skip => r#"overlap == "skip""#,
        Choice::NotifyOnSkip => "notify_on_skip",
        Choice::FifoTopic => r#"endswith(notification_topic_arn, ".fifo")"#,
    }
}

/// An optional number of the job's: the state machine has the member that
/// holds it only when the module is given its variable.
struct OptionalNumber {
    variable: &'static str,
    /// The placeholder: a value no config can hold, which becomes the
    /// variable.
    sentinel: u32,
    field: fn(&mut Job) -> &mut Option<u32>,
}

const OPTIONAL_NUMBERS: [OptionalNumber; 2] = [
    OptionalNumber {
        variable: "run_timeout_seconds",
        sentinel: 3_999_999_999,
        field: |job| &mut job.run.run_timeout_seconds,
    },
    OptionalNumber {
        variable: "array_size",
        sentinel: 3_999_999_998,
        field: |job| &mut job.run.array_size,
    },
];

fn scalar(name: &str) -> String {
    format!("@@{name}@@")
}

/// Marks a value (list, map) that the template fills in whole.
fn whole(name: &str) -> String {
    format!("@@json:{name}@@")
}

/// The smallest job sjob validates: the placeholder job's every other field
/// is the default its key's entry gives.
const MINIMAL_JOB: &str = r#"
app_name = "app"
stage = "stage"
[jobs.job]
command = ["true"]
schedule_expression = "rate(1 hour)"
image_uri = "image"
batch_job_queue_arn = "arn:aws:batch:us-east-1:123456789012:job-queue/queue"
success_handler_arn = "arn:aws:lambda:us-east-1:123456789012:function:success"
error_handler_arn = "arn:aws:lambda:us-east-1:123456789012:function:error"
"#;

/// A job whose every field the templates depend on is a placeholder.
fn placeholder_job() -> Job {
    let mut config = crate::config::parse(Path::new("sjob.toml"), MINIMAL_JOB)
        .expect("the minimal job is valid");
    let mut job = config.jobs.remove("job").expect("the minimal job");
    job.batch_name = scalar("batch_name");
    let container = &mut job.container;
    container.command = vec![whole("command")];
    container.image_uri = scalar("image_uri");
    container.image_tag = scalar("image_tag");
    container.env = BTreeMap::from([(whole("env"), String::new())]);
    container.task_policy_statements = vec![Value::String(whole("task_policy_statements"))];
    job.schedule.dead_letter_arn = Some(scalar("schedule_dead_letter_arn"));
    job.run.batch_job_queue = ArnRef::Given(scalar("batch_job_queue_arn"));
    // Its roles carry every conditional policy; the module leaves out
    // those its inputs do not ask for.
    job.run.overlap = Overlap::Skip;
    job.notification.success_handler = ArnRef::Given(scalar("success_handler_arn"));
    job.notification.error_handler = ArnRef::Given(scalar("error_handler_arn"));
    job.notification.topic = Some(NotificationTopic::given(scalar("notification_topic_arn")));
    job
}

/// The placeholder job's state machine in `shape`. Its size is typed in a
/// job, so the record `ExtractInputParameters` keeps of it takes the
/// module's `vcpus` and `memory` here.
fn placeholder_definition(config: &Config, job: &Job, target: &Target, shape: &Shape) -> Value {
    let mut document = definition_of_shape(&config.app_name, &config.stage, job, target, shape);
    let metadata = &mut document["States"]["ExtractInputParameters"]["Parameters"]["metadata"];
    metadata["vcpus"] = json!(scalar("vcpus"));
    metadata["memory"] = json!(scalar("memory"));
    document
}

/// Every module's templates, by path relative to `infra/terraform/modules`
/// (`<module>/templates/...`).
pub fn templates() -> BTreeMap<PathBuf, String> {
    [
        ("scheduled_job", scheduled_job_templates()),
        ("job_base", job_base_templates()),
    ]
    .into_iter()
    .flat_map(|(module, files)| {
        files
            .into_iter()
            .map(move |(path, text)| (Path::new(module).join("templates").join(path), text))
    })
    .collect()
}

/// `scheduled_job`'s: `state_machine.json.tftpl` (every [`Shape`], by
/// `overlap`, `notify_on_skip` and the topic's kind),
/// `names.json.tftpl` (the job's resource names),
/// `partitions.json` (each partition's console host),
/// `missed_alarm_description.tftpl` (the text the error handler reads the
/// job from), and per role suffix
/// `roles/<Role>/trust_policy.json.tftpl`,
/// `roles/<Role>/policies/<Policy>.json.tftpl` (inline policies).
fn scheduled_job_templates() -> BTreeMap<PathBuf, String> {
    let job = placeholder_job();
    let config = Config {
        base: None,
        path: PathBuf::new(),
        app_name: scalar("app_name"),
        stage: scalar("stage"),
        region: None,
        account_id: None,
        jobs: BTreeMap::from([(job.batch_name.clone(), job.clone())]),
        warnings: Vec::new(),
    };
    let target = placeholder_target();
    let stack = JobStack::render(&config, &job, &target);
    let suffix = |name: &str| {
        name.strip_prefix(&format!("{}-", stack.names.job_name))
            .expect("every role and policy name starts with the job name")
            .to_string()
    };
    // The state machine of every shape, with and without each optional
    // number: bit `i` of a variant is condition `i`.
    let conditions: Vec<String> = Choice::ALL
        .map(|choice| condition(choice).to_string())
        .into_iter()
        .chain(OPTIONAL_NUMBERS.map(|number| format!("{} != null", number.variable)))
        .collect();
    let conditions: Vec<&str> = conditions.iter().map(String::as_str).collect();
    let variants = (0..1 << conditions.len()).map(|bits: usize| {
        let holds = |bit: usize| bits >> bit & 1 == 1;
        let shape: Shape = Choice::ALL
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| holds(*bit))
            .map(|(_, choice)| choice)
            .collect();
        let mut job = job.clone();
        for (at, number) in OPTIONAL_NUMBERS.iter().enumerate() {
            *(number.field)(&mut job) = holds(Choice::ALL.len() + at).then_some(number.sentinel);
        }
        placeholder_definition(&config, &job, &target, &shape)
    });
    let machine = merged_template(&conditions, variants.collect());
    let mut files = BTreeMap::from([(PathBuf::from("state_machine.json.tftpl"), machine)]);
    let names = &stack.names;
    files.insert(
        PathBuf::from("names.json.tftpl"),
        template(json!({
            "job_name": names.job_name,
            "schedule": names.schedule,
            "log_group": names.log_group,
            "seed_log_group": names.seed_log_group,
            "container_log_group": names.container_log_group,
            "missed_alarm": names.missed_alarm,
        })),
    );
    // The module picks its partition's console host from here.
    let partitions: BTreeMap<&str, Value> = Partition::ALL
        .into_iter()
        .map(|p| (p.id(), json!({ "console_host": p.console_host() })))
        .collect();
    files.insert(
        PathBuf::from("partitions.json"),
        format!(
            "{}\n",
            serde_json::to_string_pretty(&partitions).expect("documents serialise")
        ),
    );
    let identity = AlarmIdentity {
        app_name: config.app_name.clone(),
        stage: config.stage.clone(),
        batch_name: job.batch_name.clone(),
        job_name: stack.names.job_name.clone(),
        window: scalar("expect_success_within"),
    };
    files.insert(
        PathBuf::from("missed_alarm_description.tftpl"),
        expressions(identity.description()),
    );
    // The placeholder image is in no ECR repository: the module computes
    // the repository from `image_uri` and keeps this policy only with one.
    files.insert(
        PathBuf::from("roles")
            .join(suffix(&stack.names.exec_role))
            .join("policies")
            .join(format!("{}.json.tftpl", suffix(&stack.names.image_policy))),
        template(iam::image_pull_policy(&scalar("ecr_repository_arn"))),
    );
    for role in &stack.roles {
        let dir = PathBuf::from("roles").join(suffix(&role.name));
        files.insert(
            dir.join("trust_policy.json.tftpl"),
            template(role.trust_policy.clone()),
        );
        for (name, document) in &role.policies {
            files.insert(
                dir.join("policies")
                    .join(format!("{}.json.tftpl", suffix(name))),
                template(document.clone()),
            );
        }
    }
    files
}

/// `job_base`'s: `names.json.tftpl` (every base resource name), and the
/// handlers' role: `handler_trust_policy.json.tftpl`, and its policy for a
/// topic under SNS's own key (`handler_policy.json.tftpl`) or a customer key
/// (`handler_policy_kms.json.tftpl`).
fn job_base_templates() -> BTreeMap<PathBuf, String> {
    let names = BaseNames::new(&scalar("app_name"), &scalar("stage"), None);
    let role = |key: Option<&str>| {
        handler_role(
            &names,
            &placeholder_target(),
            &scalar("topic_arn"),
            key,
            Tags::new(),
        )
    };
    let policy = |key: Option<&str>| template(role(key).policies[&names.handler_policy].clone());
    BTreeMap::from([
        (
            PathBuf::from("names.json.tftpl"),
            template(json!({
                "topic": names.topic,
                "handler_role": names.handler_role,
                "handler_policy": names.handler_policy,
                "success_function": names.success_function,
                "error_function": names.error_function,
                "compute_environment": names.compute_environment,
                "job_queue": names.job_queue,
                "security_group": names.security_group,
            })),
        ),
        (
            PathBuf::from("handler_trust_policy.json.tftpl"),
            template(role(None).trust_policy),
        ),
        (PathBuf::from("handler_policy.json.tftpl"), policy(None)),
        (
            PathBuf::from("handler_policy_kms.json.tftpl"),
            policy(Some(&scalar("topic_kms_key_arn"))),
        ),
    ])
}

fn placeholder_target() -> Target {
    Target {
        account_id: scalar("account_id"),
        region: scalar("region"),
    }
}

/// Turns a document rendered from placeholders into template text.
fn template(document: Value) -> String {
    merged_template(&[], vec![document])
}

/// Turns a document rendered from placeholders in every combination of
/// `conditions` (as [`directives::merge`] takes them) into one template.
fn merged_template(conditions: &[&str], mut variants: Vec<Value>) -> String {
    variants.iter_mut().for_each(mark_whole_values);
    let mut text = expressions(directives::merge(conditions, &variants));
    text.push('\n');
    text
}

/// Every placeholder of `text` as its template expression.
fn expressions(mut text: String) -> String {
    for number in OPTIONAL_NUMBERS {
        let expression = format!("${{{}}}", number.variable);
        text = text.replace(&number.sentinel.to_string(), &expression);
    }
    for name in VARIABLES {
        text = text
            .replace(
                &format!("\"{}\"", whole(name)),
                &format!("${{jsonencode({name})}}"),
            )
            .replace(&scalar(name), &format!("${{{name}}}"));
    }
    text
}

/// Replaces lists and maps holding only a whole-value marker, and strings
/// that are exactly one placeholder, by a string the text step turns into
/// `${jsonencode(name)}`. Rewrites the partition of ARNs sjob builds.
fn mark_whole_values(value: &mut Value) {
    let marker = |s: &str| -> Option<String> {
        let name = s.strip_prefix("@@json:")?.strip_suffix("@@")?;
        Some(whole(name))
    };
    let replacement = match value {
        Value::Array(items) => match items.as_slice() {
            [Value::String(s)] => marker(s),
            _ => None,
        },
        Value::Object(map) if map.len() == 1 => map.keys().next().and_then(|k| marker(k)),
        Value::String(s) => {
            let name = s.strip_prefix("@@").and_then(|r| r.strip_suffix("@@"));
            match name {
                Some(name) if VARIABLES.contains(&name) => Some(whole(name)),
                _ => {
                    // The placeholder region is in the `aws` partition: every
                    // ARN sjob builds (integrations and AWS-managed policies
                    // too) and every console link takes the module's.
                    if let Some(rest) = s.strip_prefix("arn:aws:") {
                        *s = format!("arn:{}:{rest}", scalar("partition"));
                    }
                    *s = s.replace(Partition::Aws.console_host(), &scalar("console_host"));
                    None
                }
            }
        }
        _ => None,
    };
    match replacement {
        Some(marked) => *value = Value::String(marked),
        None => match value {
            Value::Array(items) => items.iter_mut().for_each(mark_whole_values),
            Value::Object(map) => map.values_mut().for_each(mark_whole_values),
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_template_expressions() {
        let files = templates();
        let machine = &files[&PathBuf::from("scheduled_job/templates/state_machine.json.tftpl")];
        assert!(
            machine.contains(r#""command": ${jsonencode(command)}"#),
            "{machine}"
        );
        assert!(
            machine.contains(r#""env": ${jsonencode(env)}"#),
            "{machine}"
        );
        assert!(machine.contains(r#""JobQueue": ${jsonencode(batch_job_queue_arn)}"#));
        assert!(machine.contains(
            "arn:${partition}:batch:${region}:${account_id}:job-definition/${app_name}-${stage}-${batch_name}-ScheduledJob"
        ));
        assert!(!machine.contains("@@"), "{machine}");
        let task = &files[&PathBuf::from(
            "scheduled_job/templates/roles/EcsTaskRole/policies/EcsTaskRolePolicy.json.tftpl",
        )];
        assert!(
            task.contains(r#""Statement": ${jsonencode(task_policy_statements)}"#),
            "{task}"
        );
        let pull = &files[&PathBuf::from(
            "scheduled_job/templates/roles/EcsTaskExecRole/policies/EcsTaskExecRoleImagePullPolicy.json.tftpl",
        )];
        assert!(
            pull.contains(r#""Resource": ${jsonencode(ecr_repository_arn)}"#),
            "{pull}"
        );
        let logs = &files[&PathBuf::from(
            "scheduled_job/templates/roles/EcsTaskExecRole/policies/EcsTaskExecRolePolicy.json.tftpl",
        )];
        assert!(
            logs.contains(
                "arn:${partition}:logs:${region}:${account_id}:log-group:${app_name}/${stage}/batch/${batch_name}:log-stream:*"
            ),
            "{logs}"
        );
    }
}
