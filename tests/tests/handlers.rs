//! The real handler binaries under the Lambda Runtime API: the emulator runs
//! them when its Lambda Invoke API is called, and they publish to its SNS,
//! which delivers to SQS queues (and HTTP endpoints) as AWS would.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;
use serde_json::{json, Value};
use sjob_e2e::{fixture, handler_binary, unused_loopback_port, Aws, Delivery, Emulator, HttpSink};

const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough for a message to arrive; SNS delivers to SQS within the
/// emulator's Publish call, so this is only an upper bound.
const DELIVERY_WAIT: Duration = Duration::from_secs(2);
const OOM_SUBJECT: &str = "[acme/prod] nightly-report FAILED: exit 137 (OutOfMemoryError)";

/// An emulator with one notification topic.
struct Stack {
    emulator: Emulator,
    aws: Aws,
    topic_arn: String,
}

impl Stack {
    async fn new(topic_name: &str) -> Stack {
        let emulator = Emulator::start().await;
        let aws = Aws::new(&emulator.sdk_config());
        let topic_arn = aws.create_topic(topic_name).await;
        Stack {
            emulator,
            aws,
            topic_arn,
        }
    }

    /// Deploys a handler binary as a function named after it, publishing to
    /// the stack's topic, with `env` added to its environment.
    async fn deploy(&self, binary: &str, env: &[(&str, &str)]) -> String {
        let mut variables = vec![("SNS_TOPIC_ARN", self.topic_arn.as_str())];
        variables.extend_from_slice(env);
        self.aws
            .create_function(binary, &variables, FUNCTION_TIMEOUT)
            .await;
        self.emulator
            .register_lambda(binary, &handler_binary(binary))
            .await;
        binary.to_string()
    }
}

fn json_body(message: &Message) -> Value {
    let body = message.body().expect("an SQS message has a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {body}"))
}

fn string_attributes(message: &Message) -> BTreeMap<String, String> {
    message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            (
                name.clone(),
                value.string_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn the_only_message(aws: &Aws, queue_url: &str) -> Message {
    let mut messages = aws.take_messages(queue_url, DELIVERY_WAIT).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.remove(0)
}

#[tokio::test]
async fn success_handler_sends_the_notification_document_to_sqs() {
    let stack = Stack::new("job-notifications").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let function = stack.deploy("success-handler", &[]).await;
    let event = fixture("success");

    let response = stack
        .aws
        .invoke(&function, &event)
        .await
        .succeeded()
        .clone();

    assert_eq!(response["status"], "SUCCEEDED");
    assert!(
        response["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{response}"
    );
    let message = the_only_message(&stack.aws, &queue).await;
    let document = json_body(&message);
    assert_eq!(document["version"], "1");
    assert_eq!(document["notification_id"], response["notification_id"]);
    assert_eq!(document["status"], "SUCCEEDED");
    assert_eq!(document["app_name"], "acme");
    assert_eq!(document["stage"], "prod");
    assert_eq!(document["batch_name"], "nightly-report");
    assert_eq!(
        document["job_name"],
        "acme-prod-nightly-report-ScheduledJob"
    );
    assert_eq!(
        document["execution"]["arn"],
        event["context"]["Execution"]["Id"]
    );
    assert_eq!(document["batch_job"]["exit_code"], 0);
    assert_eq!(document["error"], Value::Null);
    assert_eq!(document["input"], event["state"]["input"]);
    assert_eq!(
        string_attributes(&message),
        BTreeMap::from([
            ("status".to_string(), "SUCCEEDED".to_string()),
            ("app_name".to_string(), "acme".to_string()),
            ("stage".to_string(), "prod".to_string()),
            ("batch_name".to_string(), "nightly-report".to_string()),
        ])
    );
}

#[tokio::test]
async fn error_handler_reports_an_out_of_memory_failure_with_a_readable_subject() {
    let stack = Stack::new("job-notifications").await;
    let raw = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let enveloped = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "envelope-subscriber", Delivery::Envelope)
        .await;
    let function = stack.deploy("error-handler", &[]).await;

    let response = stack
        .aws
        .invoke(&function, &fixture("failed_oom"))
        .await
        .succeeded()
        .clone();

    assert_eq!(response["status"], "FAILED");
    let message = the_only_message(&stack.aws, &raw).await;
    let document = json_body(&message);
    assert_eq!(document["status"], "FAILED");
    assert_eq!(document["error"]["kind"], "job_failed");
    assert_eq!(document["error"]["error"], "States.TaskFailed");
    assert_eq!(document["batch_job"]["exit_code"], 137);
    let attributes = string_attributes(&message);
    assert_eq!(attributes["status"], "FAILED");
    assert_eq!(attributes["error_kind"], "job_failed");

    // Only the SNS envelope carries the subject (e-mail shows it too).
    let envelope = json_body(&the_only_message(&stack.aws, &enveloped).await);
    assert_eq!(envelope["Subject"], OOM_SUBJECT);
    assert_eq!(envelope["MessageId"], response["message_id"]);
    assert_eq!(envelope["TopicArn"], stack.topic_arn.as_str());
    let enveloped_document: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message is a string")).unwrap();
    assert_eq!(enveloped_document, document);
}

#[tokio::test]
async fn a_repeated_invocation_notifies_a_fifo_topic_once() {
    let stack = Stack::new("job-notifications.fifo").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "subscriber.fifo", Delivery::Raw)
        .await;
    let function = stack.deploy("error-handler", &[]).await;
    let event = fixture("failed_oom");

    let first = stack
        .aws
        .invoke(&function, &event)
        .await
        .succeeded()
        .clone();
    let retry = stack
        .aws
        .invoke(&function, &event)
        .await
        .succeeded()
        .clone();

    assert_eq!(first["notification_id"], retry["notification_id"]);
    let message = the_only_message(&stack.aws, &queue).await;
    assert_eq!(
        json_body(&message)["notification_id"],
        first["notification_id"]
    );
    let later = stack.aws.take_messages(&queue, DELIVERY_WAIT).await;
    assert!(
        later.is_empty(),
        "a second notification arrived: {later:#?}"
    );
    let invocations = stack.emulator.lambda_invocations().await;
    assert_eq!(invocations.len(), 2, "{invocations:#?}");
}

#[tokio::test]
async fn unreachable_sns_fails_the_invocation_before_its_timeout() {
    let unreachable = format!("http://127.0.0.1:{}", unused_loopback_port());
    let stack = Stack::new("job-notifications").await;
    let function = stack
        .deploy("error-handler", &[("AWS_ENDPOINT_URL", &unreachable)])
        .await;

    let started = Instant::now();
    let invocation = stack.aws.invoke(&function, &fixture("failed_oom")).await;
    let elapsed = started.elapsed();

    let (error_type, message) = invocation.failed();
    assert_eq!(error_type, "PublishFailed", "{message}");
    assert!(message.contains(&stack.topic_arn), "{message}");
    assert!(
        elapsed < FUNCTION_TIMEOUT,
        "took {elapsed:?}, the function timeout is {FUNCTION_TIMEOUT:?}"
    );
}

#[tokio::test]
async fn an_invalid_event_is_rejected_naming_the_missing_field() {
    let stack = Stack::new("job-notifications").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let function = stack.deploy("success-handler", &[]).await;

    let (error_type, message) = stack
        .aws
        .invoke(&function, &json!({"nope": 1}))
        .await
        .failed();

    assert_eq!(error_type, "InvalidEvent");
    assert!(message.contains("`state`"), "{message}");
    let sent = stack.aws.take_messages(&queue, DELIVERY_WAIT).await;
    assert!(sent.is_empty(), "an invalid event was notified: {sent:#?}");
}

#[tokio::test]
async fn chatbot_format_gives_chat_the_chatbot_schema_and_queues_the_document() {
    let stack = Stack::new("job-notifications").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let mut chat = HttpSink::bind().await;
    stack.aws.subscribe_http(&stack.topic_arn, chat.url()).await;
    let function = stack
        .deploy("error-handler", &[("NOTIFY_FORMAT", "chatbot")])
        .await;

    let response = stack
        .aws
        .invoke(&function, &fixture("failed_oom"))
        .await
        .succeeded()
        .clone();

    let document = json_body(&the_only_message(&stack.aws, &queue).await);
    assert_eq!(document["version"], "1");
    assert_eq!(document["notification_id"], response["notification_id"]);
    let envelope = chat.next_body(DELIVERY_WAIT).await;
    assert_eq!(envelope["Subject"], OOM_SUBJECT);
    let card: Value = serde_json::from_str(envelope["Message"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the chat message is not JSON ({e}): {envelope}"));
    assert_eq!(card["version"], "1.0");
    assert_eq!(card["source"], "custom");
    assert_eq!(card["id"], response["notification_id"]);
    assert_eq!(
        card["content"]["title"],
        ":x: [prod] acme / nightly-report failed (exit 137 (OutOfMemoryError))"
    );
    assert_eq!(card["metadata"]["eventType"], "BatchJobFailed");
}

#[tokio::test]
async fn logs_are_json_lines_without_the_job_environment() {
    const SECRET: &str = "hunter2-s3cr3t";
    let stack = Stack::new("job-notifications").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let function = stack.deploy("error-handler", &[]).await;
    let mut event = fixture("failed_oom");
    event["state"]["metadata"]["env"]["DB_PASSWORD"] = json!(SECRET);

    let response = stack
        .aws
        .invoke(&function, &event)
        .await
        .succeeded()
        .clone();

    let log = stack.emulator.lambda_log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("=== "))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    let published = lines
        .iter()
        .find(|line| line["fields"]["message"] == "notification published")
        .unwrap_or_else(|| panic!("no \"notification published\" line in:\n{log}"));
    assert_eq!(published["level"], "INFO");
    assert_eq!(
        published["fields"]["notification_id"],
        response["notification_id"]
    );
    assert!(!log.contains(SECRET), "the log shows the secret:\n{log}");
    let message = the_only_message(&stack.aws, &queue).await;
    assert!(!message.body().unwrap_or_default().contains(SECRET));
}
