//! The claim tables of `overlap = "skip"` (one per job): DynamoDB's JSON
//! 1.0 API through [`JsonClient`] (eight calls, so no `aws-sdk-dynamodb`
//! in the build; see [`super::signed`]). sjob manages the tables; the items
//! are the state machine's, written through Step Functions' DynamoDB
//! integration.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{json, Value};

use super::error::AwsError;
use super::signed::JsonClient;
use crate::model::{ClaimTableSpec, Identity, Observed, Tags, CLAIM_KEY};

const NOT_FOUND: &str = "ResourceNotFoundException";
/// How long a new table may take to become ACTIVE (seconds, usually).
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);

/// DynamoDB's JSON 1.0 API.
#[derive(Debug, Clone)]
pub struct Client(JsonClient);

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client(JsonClient::new(config, "dynamodb", "DynamoDB", "DynamoDB_20120810").json_1_0())
    }
}

/// The names of every table in the account and region.
pub async fn list(client: &Client) -> Result<BTreeSet<String>, AwsError> {
    let mut names = BTreeSet::new();
    let mut start: Option<String> = None;
    loop {
        let mut input = json!({ "Limit": 100 });
        if let Some(start) = &start {
            input["ExclusiveStartTableName"] = json!(start);
        }
        let page = client.0.call("ListTables", "(tables)", &input).await?;
        let listed = page["TableNames"].as_array().into_iter().flatten();
        names.extend(listed.filter_map(|name| name.as_str().map(str::to_string)));
        match page["LastEvaluatedTableName"].as_str() {
            Some(last) => start = Some(last.to_string()),
            None => return Ok(names),
        }
    }
}

/// The table named `name` and its tags (`arn` is its ARN), whatever its
/// owner; `None` when it does not exist.
pub async fn read(
    client: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<Observed<ClaimTableSpec>>, AwsError> {
    let Some(table) = describe(client, name).await? else {
        return Ok(None);
    };
    let tags = read_tags(client, arn).await?;
    let key_schema = table["KeySchema"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|key| {
            format!(
                "{} {}",
                key["AttributeName"].as_str().unwrap_or_default(),
                key["KeyType"].as_str().unwrap_or_default()
            )
        })
        .collect();
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: ClaimTableSpec {
            name: name.to_string(),
            key_schema,
            // A table created without a billing mode is provisioned, and
            // DescribeTable then has no summary.
            billing_mode: table["BillingModeSummary"]["BillingMode"]
                .as_str()
                .unwrap_or("PROVISIONED")
                .to_string(),
            tags,
        },
    }))
}

/// DescribeTable's `Table`, `None` when there is no such table.
async fn describe(client: &Client, name: &str) -> Result<Option<Value>, AwsError> {
    match client
        .0
        .call("DescribeTable", name, &json!({ "TableName": name }))
        .await
    {
        Ok(answer) => Ok(Some(answer["Table"].clone())),
        Err(err) if err.service_code() == Some(NOT_FOUND) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn read_tags(client: &Client, arn: &str) -> Result<Tags, AwsError> {
    let mut tags = Tags::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "ResourceArn": arn });
        if let Some(token) = &token {
            input["NextToken"] = json!(token);
        }
        let page = client.0.call("ListTagsOfResource", arn, &input).await?;
        for tag in page["Tags"].as_array().into_iter().flatten() {
            if let (Some(key), Some(value)) = (tag["Key"].as_str(), tag["Value"].as_str()) {
                tags.insert(key.to_string(), value.to_string());
            }
        }
        match page["NextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(tags),
        }
    }
}

/// Creates the table or brings it to `desired`, then waits until it is
/// ACTIVE: the state machine that claims in it must not run before.
pub async fn converge(
    client: &Client,
    desired: &ClaimTableSpec,
    arn: &str,
    current: Option<&ClaimTableSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    match current {
        Some(current) => update(client, desired, arn, current).await?,
        None => {
            let create = async {
                let input = json!({
                    "TableName": name,
                    "AttributeDefinitions": [{ "AttributeName": CLAIM_KEY, "AttributeType": "S" }],
                    "KeySchema": [{ "AttributeName": CLAIM_KEY, "KeyType": "HASH" }],
                    "BillingMode": desired.billing_mode,
                    "Tags": tag_list(&desired.tags)
                });
                client.0.call("CreateTable", name, &input).await.map(|_| ())
            };
            super::converge::create_or_adopt(
                "claim table",
                name,
                &Identity::of(&desired.tags),
                create,
                || read(client, name, arn),
                |found| async move { update(client, desired, arn, &found).await },
            )
            .await?;
        }
    }
    super::wait::until("not ACTIVE", name, ACTIVE_WITHIN, || async {
        let status = describe(client, name).await?;
        Ok(status
            .filter(|table| table["TableStatus"] == "ACTIVE")
            .map(|_| ()))
    })
    .await
}

async fn update(
    client: &Client,
    desired: &ClaimTableSpec,
    arn: &str,
    current: &ClaimTableSpec,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    if current.key_schema != desired.key_schema {
        return Err(AwsError::other(
            "UpdateTable",
            name,
            format!(
                "its key schema is {:?}, not sjob's {:?}, and a key schema cannot be changed: delete the table, and the next deploy creates it",
                current.key_schema, desired.key_schema
            ),
        ));
    }
    if current.billing_mode != desired.billing_mode {
        let input = json!({ "TableName": name, "BillingMode": desired.billing_mode });
        client.0.call("UpdateTable", name, &input).await?;
    }
    super::converge::sync_tags(
        &desired.tags,
        &current.tags,
        |stale| async move {
            let input = json!({ "ResourceArn": arn, "TagKeys": stale });
            client
                .0
                .call("UntagResource", arn, &input)
                .await
                .map(|_| ())
        },
        || tag(client, arn, &desired.tags),
    )
    .await
}

/// Sets `tags` on the table (others it has stay).
pub async fn tag(client: &Client, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    let input = json!({ "ResourceArn": arn, "Tags": tag_list(tags) });
    client.0.call("TagResource", arn, &input).await.map(|_| ())
}

/// Deletes the table; one already gone is success.
pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client
        .0
        .call("DeleteTable", name, &json!({ "TableName": name }))
        .await
    {
        Err(err) if err.service_code() != Some(NOT_FOUND) => Err(err),
        _ => Ok(()),
    }
}

/// DynamoDB's `[{Key, Value}]` list of tags.
fn tag_list(tags: &Tags) -> Value {
    tags.iter()
        .map(|(key, value)| json!({ "Key": key, "Value": value }))
        .collect()
}
