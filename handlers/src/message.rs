//! Renders a [`Notification`] into what SNS publishes: a subject, a
//! `MessageStructure=json` body with a readable text for people (`default`,
//! `email`) and the JSON document for machines (`sqs`, `lambda`, `https`,
//! `firehose`), and the message attributes subscribers filter on.
//!
//! SNS rejects messages over 256 KiB, so oversized fields are cut with a
//! visible marker until the whole publication fits; nothing is dropped whole.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::notification::{Notification, Status};
use crate::outcome::FailureKind;

/// SNS's limit on message plus attributes, in bytes.
pub const SNS_MAX_MESSAGE_BYTES: usize = 262_144;
/// SNS subjects must be shorter than 100 characters.
pub const SUBJECT_MAX_CHARS: usize = 99;
const TRUNCATION_MARKER: &str = "...[truncated]";

/// Which body machine-facing and chat subscribers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// The notification document (schema version 1).
    #[default]
    Document,
    /// The AWS Chatbot custom notification schema, for Slack/Teams channels
    /// subscribed through Chatbot (`default` and `https` carry it).
    Chatbot,
}

/// One SNS `Publish` request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub subject: String,
    /// The `MessageStructure=json` envelope.
    pub message: String,
    /// String message attributes, by name.
    pub attributes: Vec<(String, String)>,
    /// FIFO topics only: the group keeps one job's notifications in order.
    pub group_id: String,
    /// FIFO topics only: a retried invocation publishes nothing new.
    pub deduplication_id: String,
}

impl Publication {
    /// The bytes SNS counts against its limit.
    pub fn size(&self) -> usize {
        self.message.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + "String".len() + v.len())
                .sum::<usize>()
    }
}

/// Renders a notification, cutting oversized fields until it fits SNS.
pub fn render(notification: &Notification, format: BodyFormat) -> Publication {
    // Each level keeps less of the unbounded fields; the last always fits
    // because every remaining field is then bounded.
    const LEVELS: [Option<usize>; 4] = [None, Some(16 * 1024), Some(2 * 1024), Some(256)];
    let mut publication = render_exact(notification, format);
    for limit in LEVELS.into_iter().flatten() {
        if publication.size() <= SNS_MAX_MESSAGE_BYTES {
            break;
        }
        publication = render_exact(&shrink(notification, limit), format);
    }
    publication
}

fn render_exact(n: &Notification, format: BodyFormat) -> Publication {
    let document = serde_json::to_string(n).expect("a notification always serialises");
    let text = text_body(n);
    let chat = match format {
        BodyFormat::Document => None,
        BodyFormat::Chatbot => Some(chatbot_body(n).to_string()),
    };
    let envelope = json!({
        "default": chat.as_deref().unwrap_or(&text),
        "email": text,
        "sqs": document,
        "lambda": document,
        "https": chat.as_deref().unwrap_or(&document),
        "firehose": document,
    });
    Publication {
        subject: subject(n),
        message: envelope.to_string(),
        attributes: attributes(n),
        group_id: fifo_id(&n.job_name),
        deduplication_id: fifo_id(&n.notification_id),
    }
}

/// The message attributes of a notification ([`FILTER_ATTRIBUTES`]), empty
/// values left out (SNS refuses them).
pub fn attributes(n: &Notification) -> Vec<(String, String)> {
    let mut attributes = vec![
        ("status".to_string(), n.status.as_str().to_string()),
        ("app_name".to_string(), n.app_name.clone()),
        ("stage".to_string(), n.stage.clone()),
        ("batch_name".to_string(), n.batch_name.clone()),
    ];
    if let Some(error) = &n.error {
        attributes.push(("error_kind".to_string(), kind_name(error.kind).to_string()));
    }
    attributes.retain(|(_, v)| !v.is_empty());
    attributes
}

/// A copy whose unbounded fields (input, reasons, messages) are cut to `limit`.
fn shrink(n: &Notification, limit: usize) -> Notification {
    let mut n = n.clone();
    let input = n.input.to_string();
    if input.len() > limit {
        n.input = json!({
            "truncated": true,
            "original_bytes": input.len(),
            "preview": cut(&input, limit),
        });
    }
    if let Some(error) = n.error.as_mut() {
        error.message = cut(&error.message, limit);
    }
    if let Some(job) = n.batch_job.as_mut() {
        job.status_reason = job.status_reason.as_deref().map(|r| cut(r, limit));
        // Up to 10,000 children: the first ones stand for the rest, whose
        // number `failed` still gives.
        if let Some(indexes) = job.array.as_mut().and_then(|a| a.failed_indexes.as_mut()) {
            indexes.truncate(limit / 8);
        }
    }
    // In a malformed event any other string (a name, an ARN) can be huge too.
    match serde_json::to_value(&n) {
        Ok(mut value) => {
            cut_strings(&mut value, limit);
            serde_json::from_value(value).unwrap_or(n)
        }
        Err(_) => n,
    }
}

fn cut_strings(value: &mut Value, limit: usize) {
    match value {
        Value::String(s) if s.len() > limit => *s = cut(s, limit),
        Value::Array(items) => items.iter_mut().for_each(|v| cut_strings(v, limit)),
        Value::Object(map) => map.values_mut().for_each(|v| cut_strings(v, limit)),
        _ => {}
    }
}

/// Cuts `s` to at most `limit` bytes (on a char boundary) with a marker.
fn cut(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut end = limit.saturating_sub(TRUNCATION_MARKER.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{TRUNCATION_MARKER}", &s[..end])
}

/// The message attributes subscribers can filter on, with the values each
/// can take where those are fixed (`None`: any string).
pub const FILTER_ATTRIBUTES: &[(&str, Option<&[&str]>)] = &[
    ("status", Some(&["SUCCEEDED", "FAILED", "SKIPPED"])),
    ("app_name", None),
    ("stage", None),
    ("batch_name", None),
    (
        "error_kind",
        Some(&[
            "job_failed",
            "timeout",
            "submit_rejected",
            "handler_failed",
            "skipped",
            "missed",
            "recovered",
            "other",
        ]),
    ),
];

fn kind_name(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::JobFailed => "job_failed",
        FailureKind::Timeout => "timeout",
        FailureKind::SubmitRejected => "submit_rejected",
        FailureKind::HandlerFailed => "handler_failed",
        FailureKind::Skipped => "skipped",
        FailureKind::Missed => "missed",
        FailureKind::Recovered => "recovered",
        FailureKind::Other => "other",
    }
}

/// `[myapp/dev] crawler FAILED: exit 137 (OutOfMemoryError)`: printable
/// ASCII, one line, under 100 characters.
pub fn subject(n: &Notification) -> String {
    let mut subject = format!(
        "[{}/{}] {} {}",
        n.app_name,
        n.stage,
        n.batch_name,
        n.status.as_str()
    );
    if let Some(detail) = failure_headline(n) {
        subject.push_str(": ");
        subject.push_str(&detail);
    }
    let clean: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.len() <= SUBJECT_MAX_CHARS {
        clean
    } else {
        format!("{}...", &clean[..SUBJECT_MAX_CHARS - 3])
    }
}

/// A few words on why it failed, for the subject and chat title.
fn failure_headline(n: &Notification) -> Option<String> {
    let error = n.error.as_ref()?;
    let job = n.batch_job.as_ref();
    let exit_code = job.and_then(|j| j.exit_code);
    let reason_head = |reason: &str| {
        reason
            .split(':')
            .next()
            .unwrap_or(reason)
            .trim()
            .to_string()
    };
    Some(match error.kind {
        FailureKind::JobFailed | FailureKind::Timeout if exit_code.is_some() => {
            let code = exit_code.unwrap_or_default();
            let reason = error
                .message
                .split("; ")
                .find(|p| p.contains("Error") || p.contains("timeout"))
                .map(reason_head);
            match reason {
                Some(reason) => format!("exit {code} ({reason})"),
                None => format!("exit {code}"),
            }
        }
        FailureKind::JobFailed => reason_head(&error.message),
        FailureKind::Timeout => "timed out".to_string(),
        FailureKind::SubmitRejected => format!("submit rejected ({})", error.error),
        FailureKind::HandlerFailed => format!("notification failed ({})", error.error),
        FailureKind::Skipped => "an earlier run is still running".to_string(),
        FailureKind::Missed | FailureKind::Recovered => error
            .message
            .split(" (")
            .next()
            .unwrap_or_default()
            .to_string(),
        FailureKind::Other => error.error.clone(),
    })
}

/// The plain-text body people read in e-mail.
pub fn text_body(n: &Notification) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", subject(n));
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<11} {value}");
    };
    line("Job:", &n.job_name);
    if let Some(error) = &n.error {
        line(
            "Error:",
            &format!("{} ({})", error.error, kind_name(error.kind)),
        );
        line("Reason:", &error.message);
    }
    if let Some(job) = &n.batch_job {
        let mut summary = format!(
            "{} {}",
            job.id.as_deref().unwrap_or("(unknown id)"),
            job.status.as_deref().unwrap_or("")
        );
        if let Some(code) = job.exit_code {
            let _ = write!(summary, ", exit code {code}");
        }
        let _ = write!(summary, ", {} attempt(s)", job.attempts);
        if let Some(seconds) = job.duration_seconds {
            let _ = write!(summary, ", {seconds:.1} s");
        }
        line("Batch job:", &summary);
        if let Some(array) = &job.array {
            line("Children:", &array.describe());
        }
        if let Some(url) = &job.log_url {
            line("Logs:", url);
        }
    }
    if let Some(url) = &n.execution.console_url {
        line("Execution:", url);
    }
    if let Some(started) = &n.execution.started_at {
        line("Started:", started);
    }
    let input = serde_json::to_string_pretty(&n.input).unwrap_or_default();
    let _ = write!(
        out,
        "Input:\n{input}\n\nnotification_id: {}\n",
        n.notification_id
    );
    out
}

/// The AWS Chatbot custom notification (`version` 1.0, `source` custom).
pub fn chatbot_body(n: &Notification) -> Value {
    let failed = n.status == Status::Failed;
    let title = match (n.status, failure_headline(n)) {
        (Status::Skipped, _) => format!(
            ":fast_forward: [{}] {} / {} skipped (an earlier run is still running)",
            n.stage, n.app_name, n.batch_name
        ),
        (Status::Succeeded, Some(detail)) => format!(
            ":white_check_mark: [{}] {} / {} recovered ({detail})",
            n.stage, n.app_name, n.batch_name
        ),
        (_, Some(detail)) => format!(
            ":x: [{}] {} / {} failed ({detail})",
            n.stage, n.app_name, n.batch_name
        ),
        (_, None) => format!(
            ":white_check_mark: [{}] {} / {} succeeded",
            n.stage, n.app_name, n.batch_name
        ),
    };
    let mut description = format!("*Job*: `{}`", n.job_name);
    if let Some(id) = n.batch_job.as_ref().and_then(|j| j.id.as_deref()) {
        let _ = write!(description, " (`{id}`)");
    }
    if let Some(error) = &n.error {
        let _ = write!(
            description,
            "\n*Error*: `{}` - {}",
            error.error, error.message
        );
    }
    if let Some(array) = n.batch_job.as_ref().and_then(|j| j.array.as_ref()) {
        let _ = write!(description, "\n*Children*: {}", array.describe());
    }
    if let (Some(url), Some(name)) = (&n.execution.console_url, &n.execution.name) {
        let _ = write!(description, "\n*Execution*: <{url}|{name}>");
    }
    if let Some(url) = n.batch_job.as_ref().and_then(|j| j.log_url.as_deref()) {
        let _ = write!(description, "\n*Logs*: <{url}|CloudWatch Logs>");
    }
    let mut context = serde_json::Map::new();
    context.insert("app".into(), n.app_name.clone().into());
    context.insert("stage".into(), n.stage.clone().into());
    context.insert("batch".into(), n.batch_name.clone().into());
    if let Some(code) = n.batch_job.as_ref().and_then(|j| j.exit_code) {
        context.insert("exitCode".into(), code.to_string().into());
    }
    let related: Vec<&str> = [
        n.execution.arn.as_deref(),
        n.batch_job.as_ref().and_then(|j| j.id.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut content = json!({
        "textType": "client-markdown",
        "title": title,
        "description": description,
        "keywords": [n.app_name, n.stage, n.batch_name, n.status.as_str()],
    });
    if failed {
        content["nextSteps"] = json!([
            "Check the CloudWatch log stream linked above",
            "Redrive the execution after fixing the cause"
        ]);
    }
    json!({
        "version": "1.0",
        "source": "custom",
        "id": n.notification_id,
        "content": content,
        "metadata": {
            "threadId": format!("{}-{}", n.job_name, n.execution.name.as_deref().unwrap_or("local")),
            "summary": format!("{}/{}/{} {}", n.app_name, n.stage, n.batch_name,
                if failed { "failed" } else { "succeeded" }),
            "eventType": match n.status {
                Status::Succeeded => "BatchJobSucceeded",
                Status::Failed => "BatchJobFailed",
                Status::Skipped => "BatchJobSkipped",
            },
            "relatedResources": related,
            "additionalContext": context,
            "enableCustomActions": false,
        }
    })
}

/// FIFO group and deduplication ids: at most 128 printable ASCII characters.
pub fn fifo_id(raw: &str) -> String {
    let id: String = raw
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect();
    if id.is_empty() {
        "sjob".to_string()
    } else {
        id
    }
}
