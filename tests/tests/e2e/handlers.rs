//! The real handler binaries under the Lambda Runtime API: the emulator runs
//! them when its Lambda Invoke API is called, and they publish to its SNS,
//! which delivers to SQS queues (and HTTP endpoints) as AWS would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
        .find(|line| line["message"] == "notification published")
        .unwrap_or_else(|| panic!("no \"notification published\" line in:\n{log}"));
    assert_eq!(published["level"], "INFO");
    assert_eq!(published["notification_id"], response["notification_id"]);
    assert!(!log.contains(SECRET), "the log shows the secret:\n{log}");
    let message = the_only_message(&stack.aws, &queue).await;
    assert!(!message.body().unwrap_or_default().contains(SECRET));
}

const DB_PASSWORD: &str = "hunter2-secret";
const CONFIGURED_SECRET: &str = "s3cr3t-from-config";

/// `failed_nonzero_exit` whose cause holds `DB_PASSWORD` in the container
/// environment and is cut `after` bytes into its value (Step Functions caps
/// causes wherever that falls), or, for `None`, just before `JobId`.
fn failure_cut_inside_the_environment(after: Option<usize>) -> Value {
    let mut event = fixture("failed_nonzero_exit");
    event["state"]["metadata"]["env"]["API_TOKEN"] = json!(CONFIGURED_SECRET);
    let cause = event["state"]["error"]["Cause"]
        .as_str()
        .expect("the fixture's cause is text")
        .replacen(
            r#""Environment":["#,
            &format!(r#""Environment":[{{"Name":"DB_PASSWORD","Value":"{DB_PASSWORD}"}},"#),
            1,
        );
    let end = match after {
        Some(after) => cause.find(DB_PASSWORD).expect("the value is in the cause") + after,
        None => cause.find(r#""JobId""#).expect("the cause names the job"),
    };
    event["state"]["error"]["Cause"] = json!(cause[..end]);
    event
}

#[tokio::test]
async fn a_cut_cause_never_publishes_or_logs_the_container_environment() {
    for format in ["json", "chatbot"] {
        let stack = Stack::new("job-notifications").await;
        let raw = stack
            .aws
            .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
            .await;
        let enveloped = stack
            .aws
            .subscribe_queue(&stack.topic_arn, "envelope-subscriber", Delivery::Envelope)
            .await;
        let mut chat = HttpSink::bind().await;
        stack.aws.subscribe_http(&stack.topic_arn, chat.url()).await;
        let function = stack
            .deploy("error-handler", &[("NOTIFY_FORMAT", format)])
            .await;

        for after in [Some(4), Some(DB_PASSWORD.len() - 1), None] {
            let event = failure_cut_inside_the_environment(after);
            let response = stack
                .aws
                .invoke(&function, &event)
                .await
                .succeeded()
                .clone();

            let case = format!("NOTIFY_FORMAT={format}, cut {after:?}");
            let message = the_only_message(&stack.aws, &raw).await;
            let document = json_body(&message);
            assert_eq!(
                document["notification_id"], response["notification_id"],
                "{case}"
            );
            assert_eq!(
                document["error"]["message"],
                "Essential container in task exited (cause truncated)",
                "{case}"
            );
            let envelope = json_body(&the_only_message(&stack.aws, &enveloped).await);
            let chat_envelope = chat.next_body(DELIVERY_WAIT).await;
            let attributes = format!("{:?}", string_attributes(&message));
            for (what, seen) in [
                (
                    "the raw message",
                    message.body().unwrap_or_default().to_string(),
                ),
                (
                    "the SNS envelope (subject, attributes)",
                    envelope.to_string(),
                ),
                ("the chat delivery", chat_envelope.to_string()),
                ("the message attributes", attributes),
            ] {
                // Not even the part of the value before the cut.
                assert!(
                    !seen.contains(&DB_PASSWORD[..4]),
                    "{case}: {what} shows it:\n{seen}"
                );
                assert!(
                    !seen.contains(CONFIGURED_SECRET),
                    "{case}: {what} shows it:\n{seen}"
                );
            }
        }

        let log = stack.emulator.lambda_log();
        assert!(
            log.contains("notification published"),
            "no handler output captured:\n{log}"
        );
        assert!(!log.contains(&DB_PASSWORD[..4]), "the log shows it:\n{log}");
        assert!(!log.contains(CONFIGURED_SECRET), "the log shows it:\n{log}");
    }
}

/// A Batch endpoint that accepts connections and never answers.
async fn silent_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    (endpoint, accepted)
}

#[tokio::test]
async fn a_batch_api_that_never_answers_only_delays_the_notification() {
    let (silent_batch, accepted) = silent_endpoint().await;
    let stack = Stack::new("job-notifications").await;
    let queue = stack
        .aws
        .subscribe_queue(&stack.topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let function = stack
        .deploy(
            "error-handler",
            &[
                ("AWS_ENDPOINT_URL_BATCH", &silent_batch),
                ("SJOB_ENRICH_TIMEOUT_MS", "500"),
            ],
        )
        .await;

    // The cause lost the job record but kept the job id: the handler asks
    // Batch, which never answers; without its own timeout the call would
    // run into the function's and the notification would be lost.
    let response = stack
        .aws
        .invoke(&function, &fixture("failed_truncated_cause"))
        .await
        .succeeded()
        .clone();

    let document = json_body(&the_only_message(&stack.aws, &queue).await);
    assert_eq!(document["notification_id"], response["notification_id"]);
    assert_eq!(
        document["error"]["message"],
        "Essential container in task exited (cause truncated)"
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the handler never called the silent Batch endpoint"
    );
    let log = stack.emulator.lambda_log();
    let warning = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "notifying without enrichment")
        .unwrap_or_else(|| panic!("no enrichment warning in:\n{log}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(
        warning["error"],
        "DescribeJobs did not answer within 500 ms"
    );
}
