//! The state machine's CloudWatch log group.

use aws_sdk_cloudwatchlogs::Client;

use super::{error_code, AwsError};
use crate::stack::{is_managed, LogGroupSpec, Observed, Tags};

const NOT_FOUND: &str = "ResourceNotFoundException";

pub async fn read(
    client: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<Observed<LogGroupSpec>>, AwsError> {
    let found = client
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeLogGroups", name, e))?;
    let Some(group) = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let tags: Tags = match client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => out.tags.unwrap_or_default().into_iter().collect(),
        Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(None),
        Err(err) => return Err(AwsError::call("ListTagsForResource", name, err)),
    };
    Ok(Some(Observed {
        managed: is_managed(&tags),
        spec: LogGroupSpec {
            name: name.to_string(),
            retention_days: group.retention_in_days,
            tags,
        },
    }))
}

pub async fn converge(
    client: &Client,
    desired: &LogGroupSpec,
    arn: &str,
    actual: Option<&LogGroupSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    if actual.is_none() {
        match client
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(desired.tags.clone().into_iter().collect()))
            .send()
            .await
        {
            Err(err) if error_code(&err) != Some("ResourceAlreadyExistsException") => {
                return Err(AwsError::call("CreateLogGroup", name, err))
            }
            _ => {}
        }
    }
    if actual.map(|a| a.retention_days) != Some(desired.retention_days) {
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
    if let Some(actual) = actual {
        super::sync_resource_tags!(
            client,
            resource_arn,
            arn,
            name,
            &desired.tags,
            &actual.tags,
            desired.tags.clone().into_iter().collect()
        )
        .await?;
    }
    Ok(())
}

pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client.delete_log_group().log_group_name(name).send().await {
        Err(err) if error_code(&err) != Some(NOT_FOUND) => {
            Err(AwsError::call("DeleteLogGroup", name, err))
        }
        _ => Ok(()),
    }
}
