//! SQS, for one read: whether a queue a config names (a schedule's
//! dead-letter queue) exists. Called through [`JsonClient`] in SQS's JSON
//! 1.0 protocol: one read does not justify an SDK crate in every build.

use aws_config::SdkConfig;
use serde_json::json;

use super::error::AwsError;
use super::signed::JsonClient;

/// SQS's code for a queue that does not exist, in its JSON protocol and in
/// the Query protocol's dialect it also answers with.
const NOT_FOUND: [&str; 2] = [
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

#[derive(Debug, Clone)]
pub struct Client(JsonClient);

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client(JsonClient::new(config, "sqs", "SQS", "AmazonSQS").json_1_0())
    }
}

/// Whether the queue `arn` names exists: `GetQueueUrl` by its name and
/// owner, which needs no more than `sqs:GetQueueUrl` on it.
pub async fn queue_exists(client: &Client, arn: &str) -> Result<bool, AwsError> {
    let mut parts = arn.rsplitn(3, ':');
    let (name, account) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let input = json!({ "QueueName": name, "QueueOwnerAWSAccountId": account });
    match client.0.call("GetQueueUrl", arn, &input).await {
        Ok(_) => Ok(true),
        Err(err) if err.service_code().is_some_and(|c| NOT_FOUND.contains(&c)) => Ok(false),
        Err(err) => Err(err),
    }
}
