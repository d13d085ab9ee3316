//! Where a local run's handler event goes: the handlers' library in-process
//! (publishing to a local outbox file, or to SNS when a topic is given), or
//! a Lambda Invoke API such as `cargo lambda watch` serves.

use std::path::PathBuf;

use chrono::Utc;
use handlers::enrich::JobDescriber;
use handlers::message::{BodyFormat, Publication};
use handlers::publish::{PublishError, Publisher};
use handlers::{HandlerKind, HandlerResponse};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::aws::{self, SdkOptions, SdkOptionsError};

#[derive(Debug, Clone)]
pub enum Delivery {
    /// In-process; the notification is printed and appended to this file.
    Outbox(PathBuf),
    /// In-process; published to this SNS topic with these settings (and
    /// the SDK's usual resolution: `AWS_ENDPOINT_URL`, credentials, ...).
    Sns(String, SdkOptions),
    /// Through the Lambda Invoke API at this endpoint.
    Lambda(String),
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DeliveryError {
    #[error(transparent)]
    #[diagnostic(code(sjob::local::handler))]
    Handler(#[from] handlers::HandlerError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    SdkOptions(#[from] SdkOptionsError),
    #[error("invoking {function} at {endpoint} failed: {message}")]
    #[diagnostic(
        code(sjob::local::invoke),
        help("is `cargo lambda watch` running there?")
    )]
    Invoke {
        function: String,
        endpoint: String,
        message: String,
    },
    #[error("{function} returned an error: {payload}")]
    #[diagnostic(code(sjob::local::function_error))]
    FunctionError { function: String, payload: String },
}

/// Appends each notification to a JSON-lines file and keeps its text.
struct Outbox {
    path: PathBuf,
    text: std::sync::Mutex<Option<String>>,
}

impl Publisher for Outbox {
    async fn publish(&self, publication: &Publication) -> Result<String, PublishError> {
        let local =
            |e: std::io::Error| PublishError::Local(format!("{}: {e}", self.path.display()));
        let envelope: Value = serde_json::from_str(&publication.message).unwrap_or_default();
        let document: Value = envelope["sqs"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let id = format!(
            "local-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let line = json!({
            "message_id": id,
            "published_at": Utc::now().to_rfc3339(),
            "subject": publication.subject,
            "attributes": publication.attributes.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "notification": document,
        });
        if let Some(parent) = self.path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(local)?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(local)?;
        file.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(local)?;
        *self.text.lock().expect("the outbox lock is never poisoned") =
            envelope["default"].as_str().map(str::to_string);
        Ok(id)
    }
}

/// The handler binary's name, which is also its function name under
/// `cargo lambda watch`.
pub fn function_name(kind: HandlerKind) -> &'static str {
    match kind {
        HandlerKind::Success => "success-handler",
        HandlerKind::Error => "error-handler",
    }
}

/// What the handler answered, and the notification's text when it was
/// written to the outbox (for the terminal).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub response: Value,
    pub text: Option<String>,
}

/// Delivers the event to the handler; in-process, `describer` answers what
/// the deployed handlers would ask Batch.
pub async fn deliver<D: JobDescriber>(
    delivery: &Delivery,
    kind: HandlerKind,
    event: Value,
    describer: &D,
) -> Result<Delivered, DeliveryError> {
    let answered =
        |response: HandlerResponse| serde_json::to_value(response).expect("a response serialises");
    match delivery {
        Delivery::Outbox(path) => {
            let outbox = Outbox {
                path: path.clone(),
                text: Default::default(),
            };
            let response =
                handlers::handle(kind, event, &outbox, describer, BodyFormat::Document).await?;
            Ok(Delivered {
                response: answered(response),
                text: outbox.text.into_inner().unwrap_or_default(),
            })
        }
        Delivery::Sns(topic, settings) => {
            let publisher = aws::sns::publisher(settings, topic).await?;
            let response =
                handlers::handle(kind, event, &publisher, describer, BodyFormat::Document).await?;
            Ok(Delivered {
                response: answered(response),
                text: None,
            })
        }
        Delivery::Lambda(endpoint) => Ok(Delivered {
            response: invoke(endpoint, function_name(kind), event).await?,
            text: None,
        }),
    }
}

/// Calls the Lambda Invoke API at `endpoint`.
pub async fn invoke(endpoint: &str, function: &str, event: Value) -> Result<Value, DeliveryError> {
    let invoked = aws::lambda::invoke_local(endpoint, function, &event.to_string())
        .await
        .map_err(|e| DeliveryError::Invoke {
            function: function.to_string(),
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    if invoked.failed {
        return Err(DeliveryError::FunctionError {
            function: function.to_string(),
            payload: invoked.payload,
        });
    }
    Ok(serde_json::from_str(&invoked.payload).unwrap_or(Value::String(invoked.payload)))
}
