//! The security group sjob creates for the compute environment when the
//! config gives a VPC: AWS's default all-outbound rule and no inbound rule,
//! which is all a job pulling images and calling AWS needs; and whether the
//! subnets, security groups and VPC the config names exist. EC2 is called
//! through [`QueryClient`] rather than `aws-sdk-ec2` (see its module doc).

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError};

use super::error::AwsError;
use super::signed::{each_child, pair, parse_nothing, text, with_tags, Params, QueryClient};
use super::wait;
use crate::model::SecurityGroupSpec;
use crate::model::{Identity, Observed, Tags};

/// EC2's Query API.
#[derive(Debug, Clone)]
pub struct Client(QueryClient);

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client(QueryClient::new(config, "ec2", "EC2", "2016-11-15"))
    }
}

/// How long a delete retries while ENIs still use the group: Fargate's
/// linger for a while after their compute environment is gone.
const IN_USE_LIMIT: Duration = Duration::from_secs(600);

/// The base's groups, each with its id: every group whose identity tags
/// are `ours`, in every VPC (a `vpc_id` change leaves the old one behind
/// until it is replaced), and the group named `name` in `vpc_id` whoever
/// owns it (AWS allows one name per VPC, so another stack's group there
/// is a conflict).
pub async fn read_security_groups(
    client: &Client,
    name: &str,
    ours: &Identity,
    vpc_id: Option<&str>,
) -> Result<Vec<(String, Observed<SecurityGroupSpec>)>, AwsError> {
    let by_identity =
        ours.tags()
            .iter()
            .enumerate()
            .fold(Params::new(), |params, (n, (key, value))| {
                params
                    .with(format!("Filter.{}.Name", n + 1), format!("tag:{key}"))
                    .with(format!("Filter.{}.Value.1", n + 1), value)
            });
    let named = async {
        match vpc_id {
            Some(vpc_id) => describe(client, name, by_name(name, vpc_id)).await,
            None => Ok(Vec::new()),
        }
    };
    let (mut groups, named) = tokio::try_join!(describe(client, name, by_identity), named)?;
    for group in named {
        if !groups.iter().any(|(id, _)| *id == group.0) {
            groups.push(group);
        }
    }
    Ok(groups)
}

/// The filters of the group named `name` in `vpc_id`.
fn by_name(name: &str, vpc_id: &str) -> Params {
    Params::new()
        .with("Filter.1.Name", "group-name")
        .with("Filter.1.Value.1", name)
        .with("Filter.2.Name", "vpc-id")
        .with("Filter.2.Value.1", vpc_id)
}

/// The groups `filters` select, with their ids; `label` is what an error
/// names.
async fn describe(
    client: &Client,
    label: &str,
    filters: Params,
) -> Result<Vec<(String, Observed<SecurityGroupSpec>)>, AwsError> {
    let groups = client
        .0
        .call(
            "DescribeSecurityGroups",
            label,
            filters,
            parse_security_groups,
        )
        .await?;
    Ok(groups
        .into_iter()
        .map(|group| {
            (
                group.id,
                Observed {
                    owner: Identity::of(&group.tags),
                    spec: SecurityGroupSpec {
                        name: group.name,
                        vpc_id: group.vpc_id,
                        description: group.description,
                        tags: group.tags,
                    },
                },
            )
        })
        .collect())
}

/// The EC2 resources a config names by id (`[base.compute]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Subnet,
    SecurityGroup,
    Vpc,
}

impl Named {
    /// The describe action, its id filter, and the answer's list and id
    /// field.
    fn call(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Named::Subnet => ("DescribeSubnets", "subnet-id", "subnetSet", "subnetId"),
            Named::SecurityGroup => (
                "DescribeSecurityGroups",
                "group-id",
                "securityGroupInfo",
                "groupId",
            ),
            Named::Vpc => ("DescribeVpcs", "vpc-id", "vpcSet", "vpcId"),
        }
    }
}

/// Which of `ids` exist, in one call. Filtered by id rather than asking
/// for the ids: asked for, the first missing one fails the whole call
/// (`InvalidSubnetID.NotFound`), while a filter answers what exists.
pub async fn existing(
    client: &Client,
    kind: Named,
    ids: &[String],
) -> Result<BTreeSet<String>, AwsError> {
    let (action, filter, list, field) = kind.call();
    let params = ids.iter().enumerate().fold(
        Params::new().with("Filter.1.Name", filter),
        |params, (n, id)| params.with(format!("Filter.1.Value.{}", n + 1), id),
    );
    let xml = client
        .0
        .call(action, &ids.join(", "), params, |xml| Ok(xml.to_string()))
        .await?;
    parse_ids(&xml, list, field).map_err(|e| AwsError::other(action, ids.join(", "), e.to_string()))
}

/// The `field` of each item of the answer's `list`.
fn parse_ids(xml: &str, list: &str, field: &str) -> Result<BTreeSet<String>, XmlDecodeError> {
    let mut ids = BTreeSet::new();
    let mut document = Document::new(xml);
    each_child(&mut document.root_element()?, |name, items| {
        if name != list {
            return Ok(());
        }
        each_child(items, |_, item| {
            each_child(item, |name, value| {
                if name == field {
                    ids.insert(text(value)?);
                }
                Ok(())
            })
        })
    })?;
    Ok(ids)
}

/// Creates the group with its tags and gives its id.
pub async fn create_security_group(
    client: &Client,
    desired: &SecurityGroupSpec,
) -> Result<String, AwsError> {
    let name = desired.name.as_str();
    let create = client.0.call(
        "CreateSecurityGroup",
        name,
        with_tags(
            Params::new()
                .with("GroupName", name)
                .with("GroupDescription", &desired.description)
                .with("VpcId", &desired.vpc_id)
                .with("TagSpecification.1.ResourceType", "security-group"),
            "TagSpecification.1.Tag",
            &desired.tags,
        ),
        parse_group_id,
    );
    super::converge::create_or_adopt(
        "security group",
        name,
        &Identity::of(&desired.tags),
        create,
        || async {
            let found = describe(client, name, by_name(name, &desired.vpc_id)).await?;
            Ok(found.into_iter().next().map(|(id, group)| Observed {
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
    super::converge::sync_tags(
        &desired.tags,
        &actual.tags,
        |stale| async move {
            client
                .0
                .call(
                    "DeleteTags",
                    id,
                    stale.iter().enumerate().fold(
                        Params::new().with("ResourceId.1", id),
                        |params, (n, key)| params.with(format!("Tag.{}.Key", n + 1), key),
                    ),
                    parse_nothing,
                )
                .await
        },
        || async {
            client
                .0
                .call(
                    "CreateTags",
                    id,
                    with_tags(Params::new().with("ResourceId.1", id), "Tag", &desired.tags),
                    parse_nothing,
                )
                .await
        },
    )
    .await
}

/// Deletes the group, retrying while network interfaces still use it; a
/// group already gone is success.
pub async fn delete_security_group(client: &Client, id: &str) -> Result<(), AwsError> {
    wait::until("in use (DependencyViolation)", id, IN_USE_LIMIT, || async {
        let deleted = client
            .0
            .call(
                "DeleteSecurityGroup",
                id,
                Params::new().with("GroupId", id),
                parse_nothing,
            )
            .await;
        match deleted {
            Ok(()) => Ok(Some(())),
            Err(err) => match err.service_code() {
                Some("InvalidGroup.NotFound") => Ok(Some(())),
                Some("DependencyViolation") => Ok(None),
                _ => Err(err),
            },
        }
    })
    .await
}

/// A security group as DescribeSecurityGroups gives it.
#[derive(Debug, Default)]
struct Group {
    id: String,
    name: String,
    vpc_id: String,
    description: String,
    tags: Tags,
}

fn parse_security_groups(xml: &str) -> Result<Vec<Group>, XmlDecodeError> {
    let mut groups = Vec::new();
    let mut document = Document::new(xml);
    each_child(&mut document.root_element()?, |name, info| {
        if name != "securityGroupInfo" {
            return Ok(());
        }
        each_child(info, |_, item| {
            let mut group = Group::default();
            each_child(item, |field, value| {
                match field {
                    "groupId" => group.id = text(value)?,
                    "groupName" => group.name = text(value)?,
                    "vpcId" => group.vpc_id = text(value)?,
                    "groupDescription" => group.description = text(value)?,
                    "tagSet" => parse_tags(value, &mut group.tags)?,
                    _ => {}
                }
                Ok(())
            })?;
            groups.push(group);
            Ok(())
        })
    })?;
    Ok(groups)
}

fn parse_tags(tag_set: &mut ScopedDecoder<'_, '_>, tags: &mut Tags) -> Result<(), XmlDecodeError> {
    each_child(tag_set, |_, item| {
        let (key, value) = pair(item, ("key", "value"))?;
        tags.insert(key, value);
        Ok(())
    })
}

fn parse_group_id(xml: &str) -> Result<String, XmlDecodeError> {
    let mut id = None;
    let mut document = Document::new(xml);
    each_child(&mut document.root_element()?, |name, value| {
        if name == "groupId" {
            id = Some(text(value)?);
        }
        Ok(())
    })?;
    id.ok_or_else(|| XmlDecodeError::custom("the answer has no groupId"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DescribeSecurityGroups' answer as EC2's API reference shows it,
    /// with a rule that names another group (whose `groupId` is not the
    /// group's own).
    const DESCRIBED: &str = r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <securityGroupInfo>
    <item>
      <ownerId>123456789012</ownerId>
      <groupId>sg-1a2b3c4d</groupId>
      <groupName>myapp-dev-Batch</groupName>
      <groupDescription>sjob &amp; Batch</groupDescription>
      <vpcId>vpc-1a2b3c4d</vpcId>
      <ipPermissions>
        <item>
          <ipProtocol>tcp</ipProtocol>
          <groups><item><userId>123456789012</userId><groupId>sg-9a8d7f5c</groupId></item></groups>
        </item>
      </ipPermissions>
      <tagSet>
        <item><key>sjob:app</key><value>myapp</value></item>
        <item><key>team</key><value></value></item>
      </tagSet>
    </item>
  </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;

    #[test]
    fn a_described_group_reads_as_its_own_id_vpc_description_and_tags() {
        let groups = parse_security_groups(DESCRIBED).unwrap();
        assert_eq!(groups.len(), 1);
        let group = &groups[0];
        assert_eq!(group.id, "sg-1a2b3c4d");
        assert_eq!(group.name, "myapp-dev-Batch");
        assert_eq!(group.vpc_id, "vpc-1a2b3c4d");
        assert_eq!(group.description, "sjob & Batch");
        assert_eq!(
            group.tags,
            Tags::from([
                ("sjob:app".to_string(), "myapp".to_string()),
                ("team".to_string(), String::new()),
            ])
        );
    }

    #[test]
    fn the_ids_of_an_answer_are_its_items_own_not_those_its_rules_name() {
        let ids = parse_ids(DESCRIBED, "securityGroupInfo", "groupId").unwrap();
        assert_eq!(ids, BTreeSet::from(["sg-1a2b3c4d".to_string()]));
        let subnets = r#"<DescribeSubnetsResponse><requestId>r</requestId><subnetSet><item><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId></item><item><subnetId>subnet-2</subnetId></item></subnetSet></DescribeSubnetsResponse>"#;
        assert_eq!(
            parse_ids(subnets, "subnetSet", "subnetId").unwrap(),
            BTreeSet::from(["subnet-1".to_string(), "subnet-2".to_string()])
        );
        let none =
            r#"<DescribeVpcsResponse><requestId>r</requestId><vpcSet/></DescribeVpcsResponse>"#;
        assert!(parse_ids(none, "vpcSet", "vpcId").unwrap().is_empty());
    }

    #[test]
    fn no_group_of_that_name_is_an_empty_list() {
        let none = r#"<DescribeSecurityGroupsResponse><requestId>r</requestId><securityGroupInfo/></DescribeSecurityGroupsResponse>"#;
        assert!(parse_security_groups(none).unwrap().is_empty());
    }

    #[test]
    fn a_created_group_gives_its_id() {
        let created = r#"<CreateSecurityGroupResponse><requestId>r</requestId><return>true</return><groupId>sg-0a42d66a</groupId></CreateSecurityGroupResponse>"#;
        assert_eq!(parse_group_id(created).unwrap(), "sg-0a42d66a");
        assert!(parse_group_id("<CreateSecurityGroupResponse/>").is_err());
    }
}
