//! SDK clients pointed at an emulator, and the few resources the tests build
//! with them: SNS topics, SQS subscribers, Lambda functions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_batch::types::{JobDefinition, JobStatus, JobSummary};
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::SdkError;
use aws_sdk_iam::types::Role;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionConfiguration;
use aws_sdk_lambda::types::{Environment, FunctionCode, LogFormat, LoggingConfig, Runtime};
use aws_sdk_scheduler::operation::get_schedule::{GetScheduleError, GetScheduleOutput};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::describe_state_machine::{
    DescribeStateMachineError, DescribeStateMachineOutput,
};
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use serde_json::{json, Value};

use crate::myapp::ACCOUNT;

/// The smallest valid zip archive (an empty one). moto stores function code
/// without reading it; the harness runs the registered binary instead.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// How SNS hands a message to an SQS subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `RawMessageDelivery=true`: the body is the message itself and the
    /// message attributes become SQS message attributes.
    Raw,
    /// The default: the body is SNS's JSON envelope (`Message`, `Subject`,
    /// `MessageAttributes`, ...).
    Envelope,
}

/// A role trust policy that lets `service` (`ecs-tasks.amazonaws.com`)
/// assume the role.
pub fn trust_policy(service: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"
    }]})
}

/// An IAM policy document: IAM answers with them URL-encoded.
pub fn policy_document(encoded: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("not a policy ({e}): {decoded}"))
}

/// What a synchronous Lambda Invoke returned.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The response or, on failure, `{"errorType", "errorMessage"}`.
    pub payload: Value,
}

impl Invocation {
    /// The response of an invocation that must have succeeded.
    pub fn succeeded(&self) -> &Value {
        assert_eq!(
            self.function_error, None,
            "the function failed: {}",
            self.payload
        );
        &self.payload
    }

    /// The `(errorType, errorMessage)` of an invocation that must have failed.
    pub fn failed(&self) -> (String, String) {
        assert_eq!(
            self.function_error.as_deref(),
            Some("Unhandled"),
            "the function did not fail: {}",
            self.payload
        );
        let field = |name: &str| {
            self.payload[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {}", self.payload))
                .to_string()
        };
        (field("errorType"), field("errorMessage"))
    }
}

/// Clients for the services the tests use, all on one emulator.
#[derive(Debug, Clone)]
pub struct Aws {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub batch: aws_sdk_batch::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub region: String,
}

impl Aws {
    pub fn new(config: &SdkConfig) -> Aws {
        Aws {
            sns: aws_sdk_sns::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            batch: aws_sdk_batch::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }

    /// Everything of one app and stage that exists, by resource, with the
    /// fields a deploy sets: roles, state machines, schedules, log groups,
    /// and each job definition's ACTIVE revisions (without their numbers: a
    /// correct stack has exactly one per job). Compared whole, it shows that
    /// a command left a stack exactly as it was.
    pub async fn snapshot(&self, app: &str, stage: &str) -> BTreeMap<String, Value> {
        let aws = self;
        let prefix = format!("{app}-{stage}-");
        // The container's groups, and the state machine's (vended and seed).
        let log_prefixes = [
            format!("{app}/{stage}/"),
            format!("/aws/vendedlogs/states/{app}/{stage}/"),
        ];
        let mut found = BTreeMap::new();
        let roles = aws.iam.list_roles().send().await.expect("ListRoles");
        for role in roles.roles() {
            let name = role.role_name();
            if !name.starts_with(&prefix) {
                continue;
            }
            let mut inline = BTreeMap::new();
            let listed = aws
                .iam
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .expect("ListRolePolicies");
            for policy in listed.policy_names() {
                let document = aws
                    .iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .expect("GetRolePolicy")
                    .policy_document;
                inline.insert(policy.clone(), policy_document(&document));
            }
            let attached: BTreeSet<String> = aws
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .expect("ListAttachedRolePolicies")
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn.clone())
                .collect();
            let full = aws
                .iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .expect("GetRole")
                .role
                .expect("a role");
            let tags: BTreeMap<&str, &str> =
                full.tags().iter().map(|t| (t.key(), t.value())).collect();
            found.insert(
                format!("role {name}"),
                json!({
                    "trust": policy_document(full.assume_role_policy_document().unwrap_or("{}")),
                    "inline": inline, "attached": attached, "tags": tags,
                }),
            );
        }
        let machines = aws
            .sfn
            .list_state_machines()
            .send()
            .await
            .expect("ListStateMachines");
        for machine in machines.state_machines() {
            if !machine.name().starts_with(&prefix) {
                continue;
            }
            let described = aws
                .sfn
                .describe_state_machine()
                .state_machine_arn(machine.state_machine_arn())
                .send()
                .await
                .expect("DescribeStateMachine");
            let definition: Value = serde_json::from_str(described.definition()).unwrap();
            let tags: BTreeMap<String, String> = aws
                .sfn
                .list_tags_for_resource()
                .resource_arn(machine.state_machine_arn())
                .send()
                .await
                .expect("ListTagsForResource")
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()))
                .collect();
            found.insert(
                format!("state machine {}", machine.name()),
                json!({"definition": definition, "role": described.role_arn(), "tags": tags,
                       "logging": format!("{:?}", described.logging_configuration())}),
            );
        }
        let schedules = aws
            .scheduler
            .list_schedules()
            .name_prefix(&prefix)
            .send()
            .await
            .expect("ListSchedules");
        for summary in schedules.schedules() {
            let name = summary.name().unwrap_or_default();
            let schedule = aws
                .scheduler
                .get_schedule()
                .name(name)
                .send()
                .await
                .expect("GetSchedule");
            let target = schedule.target().expect("a target");
            found.insert(
                format!("schedule {name}"),
                json!({"expression": schedule.schedule_expression(),
                       "timezone": schedule.schedule_expression_timezone(),
                       "state": schedule.state().map(|s| s.as_str()),
                       "target": target.arn(), "role": target.role_arn(), "input": target.input()}),
            );
        }
        let mut groups = Vec::new();
        for prefix in &log_prefixes {
            groups.extend(aws.log_groups(prefix).await);
        }
        for group in &groups {
            let name = group.log_group_name().unwrap_or_default();
            let tags = aws
                .logs
                .list_tags_for_resource()
                .resource_arn(format!(
                    "arn:aws:logs:{}:{ACCOUNT}:log-group:{name}",
                    self.region
                ))
                .send()
                .await
                .expect("ListTagsForResource")
                .tags
                .unwrap_or_default();
            let tags: BTreeMap<String, String> = tags.into_iter().collect();
            found.insert(
                format!("log group {name}"),
                json!({"retention": group.retention_in_days(), "tags": tags}),
            );
        }
        let definitions = aws
            .batch
            .describe_job_definitions()
            .status("ACTIVE")
            .send()
            .await
            .expect("DescribeJobDefinitions")
            .job_definitions
            .unwrap_or_default();
        let mut active: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for definition in definitions {
            let name = definition.job_definition_name().unwrap_or_default();
            if !name.starts_with(&prefix) {
                continue;
            }
            let container = definition.container_properties();
            active.entry(name.to_string()).or_default().push(json!({
                "image": container.and_then(|c| c.image()),
                "command": container.map(|c| c.command().to_vec()),
                "environment": container.map(|c| c.environment().iter()
                    .map(|kv| format!("{}={}", kv.name().unwrap_or(""), kv.value().unwrap_or("")))
                    .collect::<Vec<_>>()),
                "job_role": container.and_then(|c| c.job_role_arn()),
                "retry": definition.retry_strategy().and_then(|r| r.attempts()),
                "tags": definition.tags().cloned().unwrap_or_default()
                    .into_iter().collect::<BTreeMap<_, _>>(),
            }));
        }
        for (name, revisions) in active {
            found.insert(
                format!("job definition {name} (active revisions)"),
                Value::Array(revisions),
            );
        }
        found
    }

    /// Creates a topic and returns its ARN. A name ending in `.fifo` makes a
    /// FIFO topic without content-based deduplication: publishers must send
    /// their own deduplication ids.
    pub async fn create_topic(&self, name: &str) -> String {
        let mut request = self.sns.create_topic().name(name);
        if name.ends_with(".fifo") {
            request = request
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        let output = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTopic {name}: {}", DisplayErrorContext(e)));
        output.topic_arn.expect("CreateTopic returns an ARN")
    }

    /// Creates a queue (FIFO when `name` ends in `.fifo`), subscribes it to
    /// the topic and returns its URL.
    pub async fn subscribe_queue(&self, topic_arn: &str, name: &str, delivery: Delivery) -> String {
        let (queue_url, queue_arn) = self.create_queue(name).await;
        let mut subscribe = self
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn);
        if delivery == Delivery::Raw {
            subscribe = subscribe.attributes("RawMessageDelivery", "true");
        }
        subscribe
            .send()
            .await
            .unwrap_or_else(|e| panic!("Subscribe {name}: {}", DisplayErrorContext(e)));
        queue_url
    }

    /// Creates a queue (FIFO when `name` ends in `.fifo`); returns its URL
    /// and ARN.
    pub async fn create_queue(&self, name: &str) -> (String, String) {
        let mut request = self.sqs.create_queue().queue_name(name);
        if name.ends_with(".fifo") {
            request = request.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateQueue {name}: {}", DisplayErrorContext(e)))
            .queue_url
            .expect("CreateQueue returns a URL");
        let queue_arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetQueueAttributes {name}: {}", DisplayErrorContext(e)))
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .expect("a queue has an ARN");
        (queue_url, queue_arn)
    }

    /// Subscribes an HTTP endpoint (see [`crate::HttpSink`]) to the topic.
    pub async fn subscribe_http(&self, topic_arn: &str, url: &str) {
        self.sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("http")
            .endpoint(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Subscribe {url}: {}", DisplayErrorContext(e)));
    }

    /// Receives what the queue holds (waiting up to `wait` for a first
    /// message, with all message attributes) and deletes it, as a consumer
    /// would: a later call sees only newer messages.
    pub async fn take_messages(&self, queue_url: &str, wait: Duration) -> Vec<Message> {
        let messages = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap_or_else(|e| panic!("ReceiveMessage {queue_url}: {}", DisplayErrorContext(e)))
            .messages
            .unwrap_or_default();
        for message in &messages {
            self.sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!("DeleteMessage {queue_url}: {}", DisplayErrorContext(e))
                });
        }
        messages
    }

    /// Creates a `provided.al2023` function (handler `bootstrap`) with these
    /// environment variables and timeout. Register a binary for it with
    /// [`crate::Emulator::register_lambda`] before invoking it.
    /// The ARNs of the managed policies attached to `role`.
    pub async fn attached_policies(&self, role: &str) -> std::collections::BTreeSet<String> {
        self.iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ListAttachedRolePolicies {role}: {}",
                    DisplayErrorContext(e)
                )
            })
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn.clone())
            .collect()
    }

    /// A function set up as sjob and the Terraform module deploy the
    /// handlers (`provided.al2023`, `bootstrap`, JSON logs); its ARN.
    pub async fn create_function(
        &self,
        name: &str,
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> String {
        // Outside the app's prefix: not among the resources a test of the
        // deployer compares.
        let role_name = format!("e2e-{}-{name}", self.region);
        let trust_policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]
        });
        let role_arn = self
            .iam
            .create_role()
            .role_name(&role_name)
            .assume_role_policy_document(trust_policy.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateRole {role_name}: {}", DisplayErrorContext(e)))
            .role
            .expect("CreateRole returns the role")
            .arn;
        let variables = env
            .iter()
            .fold(Environment::builder(), |builder, (key, value)| {
                builder.variables(*key, *value)
            })
            .build();
        self.lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role_arn)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(EMPTY_ZIP))
                    .build(),
            )
            .timeout(timeout.as_secs() as i32)
            .environment(variables)
            .logging_config(LoggingConfig::builder().log_format(LogFormat::Json).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateFunction {name}: {}", DisplayErrorContext(e)))
            .function_arn
            .expect("CreateFunction returns the function's ARN")
    }

    /// Invokes a function synchronously (`RequestResponse`).
    pub async fn invoke(&self, function_name: &str, payload: &Value) -> Invocation {
        let output = self
            .lambda
            .invoke()
            .function_name(function_name)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Invoke {function_name}: {}", DisplayErrorContext(e)));
        let raw = output.payload.map(Blob::into_inner).unwrap_or_default();
        Invocation {
            function_error: output.function_error,
            payload: serde_json::from_slice(&raw).unwrap_or_else(|e| {
                panic!(
                    "Invoke {function_name} returned a payload that is not JSON ({e}): {}",
                    String::from_utf8_lossy(&raw)
                )
            }),
        }
    }
}

/// The differences between two snapshots, for an assertion message.
pub fn snapshot_differences(
    expected: &BTreeMap<String, Value>,
    actual: &BTreeMap<String, Value>,
) -> String {
    let keys: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .filter(|k| expected.get(*k) != actual.get(*k))
        .map(|k| {
            format!(
                "{k}:\n  expected {}\n  found    {}",
                expected.get(k).map_or("(nothing)".into(), Value::to_string),
                actual.get(k).map_or("(nothing)".into(), Value::to_string)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A read's answer; `None` when `missing` says the service answered "no
/// such resource", a panic naming the call on any other failure.
fn unless_missing<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    missing: impl Fn(&E) -> bool,
    call: &str,
    resource: &str,
) -> Option<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(found) => Some(found),
        Err(err) if err.as_service_error().is_some_and(missing) => None,
        Err(err) => panic!("{call} {resource}: {}", DisplayErrorContext(err)),
    }
}

/// Reading resources back, for assertions: absent is `None` where a test
/// asks whether something exists, any other failure a panic naming the call.
impl Aws {
    pub async fn role(&self, name: &str) -> Option<Role> {
        let found = self.iam.get_role().role_name(name).send().await;
        unless_missing(found, |e| e.is_no_such_entity_exception(), "GetRole", name)
            .and_then(|out| out.role)
    }

    pub async fn existing_role(&self, name: &str) -> Role {
        self.role(name)
            .await
            .unwrap_or_else(|| panic!("there is no role {name}"))
    }

    pub async fn inline_policies(&self, role: &str) -> BTreeMap<String, Value> {
        let names = self
            .iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListRolePolicies {role}: {}", DisplayErrorContext(e)))
            .policy_names;
        let mut policies = BTreeMap::new();
        for name in names {
            let policy = self
                .iam
                .get_role_policy()
                .role_name(role)
                .policy_name(&name)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!("GetRolePolicy {role}/{name}: {}", DisplayErrorContext(e))
                });
            policies.insert(name, policy_document(&policy.policy_document));
        }
        policies
    }

    /// Every revision, oldest first, whatever its status.
    pub async fn job_definitions(&self, name: &str) -> Vec<JobDefinition> {
        let mut revisions = self
            .batch
            .describe_job_definitions()
            .job_definition_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeJobDefinitions {name}: {}", DisplayErrorContext(e)))
            .job_definitions
            .unwrap_or_default();
        revisions.sort_by_key(|d| d.revision);
        revisions
    }

    /// `(revision, status)` of every revision, oldest first.
    pub async fn revisions(&self, name: &str) -> Vec<(i32, String)> {
        self.job_definitions(name)
            .await
            .iter()
            .map(|d| {
                (
                    d.revision.unwrap_or_default(),
                    d.status.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    pub async fn active_job_definition(&self, name: &str) -> JobDefinition {
        let mut active: Vec<JobDefinition> = self
            .job_definitions(name)
            .await
            .into_iter()
            .filter(|d| d.status.as_deref() == Some("ACTIVE"))
            .collect();
        assert_eq!(active.len(), 1, "active revisions of {name}: {active:#?}");
        active.remove(0)
    }

    pub async fn state_machine(&self, arn: &str) -> Option<DescribeStateMachineOutput> {
        let found = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(arn)
            .send()
            .await;
        let missing = |e: &DescribeStateMachineError| e.is_state_machine_does_not_exist();
        unless_missing(found, missing, "DescribeStateMachine", arn)
    }

    /// The state machine's definition, parsed; it must exist.
    pub async fn definition(&self, arn: &str) -> Value {
        let machine = self
            .state_machine(arn)
            .await
            .unwrap_or_else(|| panic!("no state machine {arn}"));
        serde_json::from_str(&machine.definition)
            .unwrap_or_else(|e| panic!("the definition of {arn} is not JSON ({e})"))
    }

    /// The statements of `function`'s resource policy; none when it has no
    /// policy.
    pub async fn policy_statements(&self, function: &str) -> Vec<Value> {
        let policy = self
            .lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
            .ok()
            .and_then(|p| p.policy)
            .unwrap_or_else(|| r#"{"Statement": []}"#.to_string());
        let policy: Value = serde_json::from_str(&policy)
            .unwrap_or_else(|e| panic!("the policy of {function} is not JSON ({e})"));
        policy["Statement"].as_array().cloned().unwrap_or_default()
    }

    pub async fn execution(&self, arn: &str) -> DescribeExecutionOutput {
        self.sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeExecution {arn}: {}", DisplayErrorContext(e)))
    }

    /// The jobs in `queue` with `status`.
    pub async fn jobs(&self, queue: &str, status: JobStatus) -> Vec<JobSummary> {
        self.batch
            .list_jobs()
            .job_queue(queue)
            .job_status(status)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListJobs {queue}: {}", DisplayErrorContext(e)))
            .job_summary_list
            .unwrap_or_default()
    }

    pub async fn schedule(&self, name: &str) -> Option<GetScheduleOutput> {
        let found = self.scheduler.get_schedule().name(name).send().await;
        let missing = |e: &GetScheduleError| e.is_resource_not_found_exception();
        unless_missing(found, missing, "GetSchedule", name)
    }

    pub async fn log_groups(&self, prefix: &str) -> Vec<LogGroup> {
        self.logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeLogGroups {prefix}: {}", DisplayErrorContext(e)))
            .log_groups
            .unwrap_or_default()
    }

    pub async fn log_group(&self, name: &str) -> Option<LogGroup> {
        self.log_groups(name)
            .await
            .into_iter()
            .find(|g| g.log_group_name() == Some(name))
    }

    pub async fn role_tags(&self, role: &str) -> Vec<(String, String)> {
        self.existing_role(role)
            .await
            .tags()
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect()
    }

    pub async fn policy_exists(&self, arn: &str) -> bool {
        self.iam.get_policy().policy_arn(arn).send().await.is_ok()
    }

    pub async fn function(&self, name: &str) -> FunctionConfiguration {
        self.lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetFunction {name}: {}", DisplayErrorContext(e)))
            .configuration
            .expect("a function has a configuration")
    }
}
