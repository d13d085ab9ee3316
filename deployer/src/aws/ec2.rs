//! The security group sjob creates for the compute environment when the
//! config gives a VPC: AWS's default all-outbound rule and no inbound rule,
//! which is all a job pulling images and calling AWS needs.

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use super::{error_code, wait, AwsError};
use crate::base::SecurityGroupSpec;
use crate::stack::{Identity, Observed, Tags};

/// How long a delete retries while ENIs still use the group: Fargate's
/// linger for a while after their compute environment is gone.
const IN_USE_LIMIT: Duration = Duration::from_secs(600);

/// The group of that name (in that VPC, when given), with its id.
pub async fn read_security_group(
    client: &Client,
    name: &str,
    vpc_id: Option<&str>,
) -> Result<Option<(String, Observed<SecurityGroupSpec>)>, AwsError> {
    let filter = |key: &str, value: &str| Filter::builder().name(key).values(value).build();
    let mut request = client
        .describe_security_groups()
        .filters(filter("group-name", name));
    if let Some(vpc_id) = vpc_id {
        request = request.filters(filter("vpc-id", vpc_id));
    }
    let out = request
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeSecurityGroups", name, e))?;
    let Some(group) = out.security_groups.unwrap_or_default().into_iter().next() else {
        return Ok(None);
    };
    let tags: Tags = group
        .tags
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
        .collect();
    Ok(Some((
        group.group_id.unwrap_or_default(),
        Observed {
            owner: Identity::of(&tags),
            spec: SecurityGroupSpec {
                name: name.to_string(),
                vpc_id: group.vpc_id.unwrap_or_default(),
                description: group.description.unwrap_or_default(),
                tags,
            },
        },
    )))
}

/// Creates the group with its tags and gives its id.
pub async fn create_security_group(
    client: &Client,
    desired: &SecurityGroupSpec,
) -> Result<String, AwsError> {
    let name = desired.name.as_str();
    let create = async {
        let created = client
            .create_security_group()
            .group_name(name)
            .description(&desired.description)
            .vpc_id(&desired.vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(ec2_tags(&desired.tags)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::call("CreateSecurityGroup", name, e))?;
        Ok(created.group_id.unwrap_or_default())
    };
    super::create_or_adopt(
        "security group",
        name,
        &Identity::of(&desired.tags),
        create,
        || async {
            let found = read_security_group(client, name, Some(&desired.vpc_id)).await?;
            Ok(found.map(|(id, group)| Observed {
                owner: group.owner,
                spec: (id, group.spec),
            }))
        },
        |(id, found)| async move {
            sync_security_group_tags(client, &id, desired, &found).await?;
            Ok(id)
        },
    )
    .await
}

/// Tags are all that can change on the group: its name, VPC and
/// description are fixed at creation.
pub async fn sync_security_group_tags(
    client: &Client,
    id: &str,
    desired: &SecurityGroupSpec,
    actual: &SecurityGroupSpec,
) -> Result<(), AwsError> {
    super::sync_tags(
        &desired.tags,
        &actual.tags,
        |stale| async move {
            client
                .delete_tags()
                .resources(id)
                .set_tags(Some(
                    stale
                        .into_iter()
                        .map(|key| Tag::builder().key(key).build())
                        .collect(),
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::call("DeleteTags", id, e))
        },
        || async {
            client
                .create_tags()
                .resources(id)
                .set_tags(Some(ec2_tags(&desired.tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::call("CreateTags", id, e))
        },
    )
    .await
}

/// Deletes the group, retrying while network interfaces still use it; a
/// group already gone is success.
pub async fn delete_security_group(client: &Client, id: &str) -> Result<(), AwsError> {
    wait::until("in use (DependencyViolation)", id, IN_USE_LIMIT, || async {
        match client.delete_security_group().group_id(id).send().await {
            Ok(_) => Ok(Some(())),
            Err(err) => match error_code(&err) {
                Some("InvalidGroup.NotFound") => Ok(Some(())),
                Some("DependencyViolation") => Ok(None),
                _ => Err(AwsError::call("DeleteSecurityGroup", id, err)),
            },
        }
    })
    .await
}

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
