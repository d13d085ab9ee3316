//! Sending a [`Publication`] to SNS.

use std::future::Future;

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::message::Publication;

/// Where notifications go. The Lambda uses [`SnsPublisher`]; tests and the
/// local runner use their own.
pub trait Publisher: Send + Sync {
    /// Publishes one notification and returns the message id.
    fn publish(
        &self,
        publication: &Publication,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("publishing to {topic_arn} failed: {reason}")]
    Sns { topic_arn: String, reason: String },
    #[error("gave up publishing to {topic_arn}: the Lambda deadline is near")]
    Deadline { topic_arn: String },
    #[error("could not write the notification: {0}")]
    Local(String),
}

/// Publishes to one SNS topic; FIFO topics (`.fifo`) get a group and a
/// deduplication id so a retried invocation notifies once.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    fn is_fifo(&self) -> bool {
        self.topic_arn.ends_with(".fifo")
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, publication: &Publication) -> Result<String, PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&publication.subject)
            .message(&publication.message)
            .message_structure("json");
        for (name, value) in &publication.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PublishError::Sns {
                    topic_arn: self.topic_arn.clone(),
                    reason: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        if self.is_fifo() {
            request = request
                .message_group_id(&publication.group_id)
                .message_deduplication_id(&publication.deduplication_id);
        }
        let output = request.send().await.map_err(|e| PublishError::Sns {
            topic_arn: self.topic_arn.clone(),
            reason: DisplayErrorContext(e).to_string(),
        })?;
        Ok(output.message_id.unwrap_or_default())
    }
}
