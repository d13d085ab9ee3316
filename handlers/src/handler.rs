//! The handler itself: a plain async function over the raw payload, testable
//! without the Lambda runtime (see `runtime` for the Lambda wiring).

use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alarm::{self, AlarmChange};
use crate::enrich::JobDescriber;
use crate::event::{HandlerEvent, InvalidEvent};
use crate::message::{self, BodyFormat};
use crate::notification::{Notification, Status};
use crate::outcome::Failure;
use crate::publish::{PublishError, Publisher};
use crate::redact::EnvValues;
use crate::settings::SettingsError;

/// Which state invoked the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// `OnSuccess`: the Batch job succeeded; `state.batch` holds its record.
    Success,
    /// `ErrorHandler`: something failed; `state.error` holds what was caught,
    /// and `state.batch` the job's record when the job succeeded and its
    /// success notification failed. Also the missed-run alarm's action.
    Error,
}

/// What the Lambda returns (and Step Functions stores in its ResultPath);
/// empty ids when there was nothing to publish (an alarm's first OK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerResponse {
    pub message_id: String,
    pub notification_id: String,
    pub status: Status,
}

/// Handler failures. Each has a stable Lambda `errorType` (see
/// [`HandlerError::error_type`]) that the state machine's Retry can name.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    InvalidEvent(#[from] InvalidEvent),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl HandlerError {
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Publish(_) => "PublishFailed",
            HandlerError::Settings(_) => "ConfigurationError",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: err.to_string(),
        }
    }
}

/// Reads the payload, builds the notification, publishes it once.
pub async fn handle<P: Publisher, D: JobDescriber>(
    kind: HandlerKind,
    payload: Value,
    publisher: &P,
    describer: &D,
    format: BodyFormat,
) -> Result<HandlerResponse, HandlerError> {
    let notification = if kind == HandlerKind::Error && alarm::is_alarm(&payload) {
        let Some(change) = AlarmChange::from_value(payload)? else {
            tracing::info!("the missed-run alarm is OK without having fired: nothing to tell");
            return Ok(HandlerResponse {
                message_id: String::new(),
                notification_id: String::new(),
                status: Status::Succeeded,
            });
        };
        Notification::alarm(&change)
    } else {
        let event = HandlerEvent::from_value(payload)?;
        notification_for(kind, &event, describer).await
    };
    let publication = message::render(&notification, format);
    let message_id = publisher.publish(&publication).await?;
    tracing::info!(
        notification_id = %notification.notification_id,
        status = notification.status.as_str(),
        job_name = %notification.job_name,
        execution = notification.execution.arn.as_deref().unwrap_or(""),
        message_id = %message_id,
        "notification published"
    );
    Ok(HandlerResponse {
        message_id,
        notification_id: notification.notification_id,
        status: notification.status,
    })
}

/// The notification for an event; the error handler asks Batch for the job
/// record when the cause lacked it, and either handler for the indexes of
/// an array job's failed children.
pub async fn notification_for<D: JobDescriber>(
    kind: HandlerKind,
    event: &HandlerEvent,
    describer: &D,
) -> Notification {
    let mut notification = match kind {
        HandlerKind::Success if event.state.skipped.is_some() => Notification::skipped(event),
        HandlerKind::Success => Notification::succeeded(event),
        HandlerKind::Error => {
            let env = EnvValues::new(event.state.metadata.env.values().cloned());
            let mut failure = Failure::classify(event.state.error.as_ref(), &env);
            if let Some(job) = &event.state.batch {
                // Caught inside the branch, next to the Batch result.
                failure = failure.after_success(job.clone());
            } else if let Some(job_id) = failure.wants_enrichment().map(str::to_string) {
                if let Some(job) = describer.describe(&job_id).await {
                    failure.enrich(job);
                }
            }
            Notification::failed(event, &failure)
        }
    };
    if let Some(job) = notification.batch_job.as_mut() {
        if let (Some(array), Some(id)) = (job.array.as_mut(), job.id.as_deref()) {
            if array.failed_indexes.is_none() {
                array.failed_indexes = describer.failed_children(id).await;
            }
        }
    }
    notification
}
