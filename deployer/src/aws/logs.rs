//! The jobs' CloudWatch log groups (execution history and container output),
//! and the reading of a container's log stream.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::Client;

use super::error::{error_code, AwsError};
use crate::model::{Identity, LogGroupSpec, Observed, Tags};

const NOT_FOUND: &str = "ResourceNotFoundException";

/// One log group, read on its own.
pub async fn read(
    client: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<Observed<LogGroupSpec>>, AwsError> {
    let Some(retention_days) = list(client, name).await?.remove(name) else {
        return Ok(None);
    };
    Ok(read_tags(client, name, arn)
        .await?
        .map(|tags| observed(name, retention_days, tags)))
}

/// The retention of every log group whose name starts with `prefix`, by
/// name (`None`: kept forever).
pub async fn list(
    client: &Client,
    prefix: &str,
) -> Result<BTreeMap<String, Option<i32>>, AwsError> {
    let mut groups = BTreeMap::new();
    let mut pages = client
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("DescribeLogGroups", prefix, e))?;
        for group in page.log_groups() {
            if let Some(name) = group.log_group_name() {
                groups.insert(name.to_string(), group.retention_in_days);
            }
        }
    }
    Ok(groups)
}

/// A log group's tags; `None` when it no longer exists.
pub async fn read_tags(client: &Client, name: &str, arn: &str) -> Result<Option<Tags>, AwsError> {
    match client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.tags.unwrap_or_default().into_iter().collect())),
        Err(err) if error_code(&err) == Some(NOT_FOUND) => Ok(None),
        Err(err) => Err(AwsError::call("ListTagsForResource", name, err)),
    }
}

/// A log group as read: its retention (from [`list`]) and its tags.
pub fn observed(name: &str, retention_days: Option<i32>, tags: Tags) -> Observed<LogGroupSpec> {
    Observed {
        owner: Identity::of(&tags),
        spec: LogGroupSpec {
            name: name.to_string(),
            retention_days,
            tags,
        },
    }
}

/// Creates the log group or brings its retention and tags to `desired`.
pub async fn converge(
    client: &Client,
    desired: &LogGroupSpec,
    arn: &str,
    actual: Option<&LogGroupSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    if let Some(actual) = actual {
        return update(client, desired, arn, actual).await;
    }
    let create = async {
        client
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(desired.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::call("CreateLogGroup", name, e))?;
        let created = LogGroupSpec {
            name: name.to_string(),
            retention_days: None,
            tags: desired.tags.clone(),
        };
        update(client, desired, arn, &created).await
    };
    super::converge::create_or_adopt(
        "log group",
        name,
        &Identity::of(&desired.tags),
        create,
        || read(client, name, arn),
        |found| async move { update(client, desired, arn, &found).await },
    )
    .await
}

async fn update(
    client: &Client,
    desired: &LogGroupSpec,
    arn: &str,
    actual: &LogGroupSpec,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    if actual.retention_days != desired.retention_days {
        if let Some(days) = desired.retention_days {
            client
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| AwsError::call("PutRetentionPolicy", name, e))?;
        }
    }
    super::converge::sync_resource_tags!(
        client,
        resource_arn,
        arn,
        name,
        &desired.tags,
        &actual.tags,
        desired.tags.clone().into_iter().collect()
    )
    .await
}

/// Sets `tags` on the log group (others it has stay).
pub async fn tag(client: &Client, name: &str, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("TagResource", name, e))
}

pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client.delete_log_group().log_group_name(name).send().await {
        Err(err) if error_code(&err) != Some(NOT_FOUND) => {
            Err(AwsError::call("DeleteLogGroup", name, err))
        }
        _ => Ok(()),
    }
}

/// One event of a log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// The events of a stream after `token` (from the head, from `start_time`
/// in milliseconds, without one), a page at a time until GetLogEvents gives
/// the token back; and the token to go on from. A stream not yet created
/// has none.
pub async fn events(
    client: &Client,
    group: &str,
    stream: &str,
    start_time: Option<i64>,
    mut token: Option<String>,
) -> Result<(Vec<Event>, Option<String>), AwsError> {
    let mut events = Vec::new();
    loop {
        let page = match client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_start_time(start_time)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(page) => page,
            Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok((events, token)),
            Err(err) => {
                return Err(AwsError::call(
                    "GetLogEvents",
                    format!("{group} {stream}"),
                    err,
                ))
            }
        };
        events.extend(page.events().iter().map(|e| Event {
            timestamp: e.timestamp.unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
        }));
        // The stream's end is the token it was asked with given back: a
        // page may be empty with more events behind its token.
        let next = page.next_forward_token;
        let at_end = next.is_none() || next == token;
        token = next.or(token);
        if at_end {
            return Ok((events, token));
        }
    }
}
