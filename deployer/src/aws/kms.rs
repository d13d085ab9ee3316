//! KMS, for one read: `DescribeKey`, which turns a key id, alias name or
//! alias ARN into the key's ARN (the only form a policy can grant on) and
//! says whether AWS manages the key. Called through [`JsonClient`]: one
//! read does not justify an SDK crate in every build.

use aws_config::SdkConfig;
use serde_json::json;

use super::error::AwsError;
use super::signed::JsonClient;
use crate::kms::{KmsKey, ResolvedKey};

#[derive(Debug, Clone)]
pub struct Client(JsonClient);

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client(JsonClient::new(config, "kms", "KMS", "TrentService"))
    }
}

/// The key `key` names, or `None` when KMS has no such key or alias.
pub async fn describe_key(client: &Client, key: &KmsKey) -> Result<Option<ResolvedKey>, AwsError> {
    let given = key.given();
    let answer = match client
        .0
        .call("DescribeKey", given, &json!({ "KeyId": given }))
        .await
    {
        Ok(answer) => answer,
        Err(err) if err.service_code() == Some("NotFoundException") => return Ok(None),
        Err(err) => return Err(err),
    };
    let metadata = &answer["KeyMetadata"];
    let arn = metadata["Arn"].as_str().ok_or_else(|| {
        AwsError::other("DescribeKey", given, "the answer has no KeyMetadata.Arn")
    })?;
    Ok(Some(ResolvedKey {
        arn: arn.to_string(),
        aws_managed: metadata["KeyManager"] == "AWS",
    }))
}
