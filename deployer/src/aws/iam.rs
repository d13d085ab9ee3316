//! IAM roles with their inline policies and managed-policy attachments.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::{EntityType, RoleDetail, Tag};
use aws_sdk_iam::Client;
use futures::future::try_join_all;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::error::{error_code, AwsError};
use crate::model::{Identity, Observed, RoleSpec, Tags};

/// The roles a plan compares with: every role of the account from one
/// paged GetAccountAuthorizationDetails listing (instead of 3 + inline
/// policies calls per role), or, when the caller may not make that call
/// (it needs `iam:GetAccountAuthorizationDetails`), each role read alone.
#[derive(Debug)]
pub enum Roles {
    Listed(BTreeMap<String, Observed<RoleSpec>>),
    OneByOne,
}

impl Roles {
    pub async fn load(client: &Client) -> Result<Roles, AwsError> {
        let mut roles = BTreeMap::new();
        let mut pages = client
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .max_items(1000) // the API's maximum (default 100): fewer pages
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(err) if roles.is_empty() && error_code(&err) == Some("AccessDenied") => {
                    tracing::info!(
                        "may not list the account's roles (iam:GetAccountAuthorizationDetails): reading each role"
                    );
                    return Ok(Roles::OneByOne);
                }
                Err(err) => {
                    return Err(AwsError::call(
                        "GetAccountAuthorizationDetails",
                        "(roles)",
                        err,
                    ))
                }
            };
            for role in page.role_detail_list() {
                if let Some(observed) = observed(role) {
                    roles.insert(observed.spec.name.clone(), observed);
                }
            }
        }
        Ok(Roles::Listed(roles))
    }

    /// The names of the account's roles: from the listing, or, when there
    /// is none, from ListRoles.
    pub async fn names(&self, client: &Client) -> Result<BTreeSet<String>, AwsError> {
        if let Roles::Listed(roles) = self {
            return Ok(roles.keys().cloned().collect());
        }
        let mut names = BTreeSet::new();
        let mut pages = client
            .list_roles()
            .max_items(1000) // the API's maximum (default 100): fewer pages
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("ListRoles", "(all)", e))?;
            names.extend(page.roles().iter().map(|r| r.role_name.clone()));
        }
        Ok(names)
    }

    /// Every role of the account; `None` when there is no listing.
    pub fn all(&self) -> Option<Vec<&Observed<RoleSpec>>> {
        match self {
            Roles::Listed(roles) => Some(roles.values().collect()),
            Roles::OneByOne => None,
        }
    }

    /// The role named `name`, `None` when it does not exist.
    pub async fn get(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<Observed<RoleSpec>>, AwsError> {
        match self {
            Roles::Listed(roles) => Ok(roles.get(name).cloned()),
            Roles::OneByOne => read(client, name).await,
        }
    }
}

/// One role, read on its own.
pub async fn read(client: &Client, name: &str) -> Result<Option<Observed<RoleSpec>>, AwsError> {
    let role = match client.get_role().role_name(name).send().await {
        Ok(out) => match out.role {
            Some(role) => role,
            None => return Ok(None),
        },
        Err(err) if error_code(&err) == Some("NoSuchEntity") => return Ok(None),
        Err(err) => return Err(AwsError::call("GetRole", name, err)),
    };
    let tags: Tags = role
        .tags()
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let trust_policy = decode_policy(role.assume_role_policy_document.as_deref().unwrap_or("{}"));

    // The inline policies and the attachments are independent reads: fetch
    // them concurrently, and each inline policy concurrently too.
    let inline = async {
        let listed = client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("ListRolePolicies", name, e))?;
        let documents = listed.policy_names().iter().map(|policy_name| async move {
            let policy = client
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(|e| AwsError::call("GetRolePolicy", format!("{name}/{policy_name}"), e))?;
            Ok::<_, AwsError>((policy_name.clone(), decode_policy(&policy.policy_document)))
        });
        futures::future::try_join_all(documents)
            .await
            .map(|pairs| pairs.into_iter().collect::<BTreeMap<_, _>>())
    };
    let attached = async {
        client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("ListAttachedRolePolicies", name, e))
    };
    let (policies, attached) = tokio::try_join!(inline, attached)?;
    let managed_policies: BTreeSet<String> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn.clone())
        .collect();
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: RoleSpec {
            name: name.to_string(),
            trust_policy,
            policies,
            managed_policies,
            tags,
        },
    }))
}

fn observed(role: &RoleDetail) -> Option<Observed<RoleSpec>> {
    let tags: Tags = role
        .tags()
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let policies = role
        .role_policy_list()
        .iter()
        .filter_map(|p| {
            Some((
                p.policy_name()?.to_string(),
                decode_policy(p.policy_document()?),
            ))
        })
        .collect();
    let managed_policies = role
        .attached_managed_policies()
        .iter()
        .filter_map(|p| p.policy_arn.clone())
        .collect();
    Some(Observed {
        owner: Identity::of(&tags),
        spec: RoleSpec {
            name: role.role_name()?.to_string(),
            trust_policy: decode_policy(role.assume_role_policy_document().unwrap_or("{}")),
            policies,
            managed_policies,
            tags,
        },
    })
}

/// IAM returns documents URL-encoded; compare them as JSON values.
fn decode_policy(document: &str) -> Value {
    let decoded = percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded.into_owned()))
}

/// Creates the role or brings an existing one to `desired`, touching only
/// what differs.
pub async fn converge(
    client: &Client,
    desired: &RoleSpec,
    actual: Option<&RoleSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    if let Some(actual) = actual {
        return update(client, desired, actual).await;
    }
    let create = async {
        client
            .create_role()
            .role_name(name)
            .assume_role_policy_document(desired.trust_policy.to_string())
            .description("Managed by sjob")
            .set_tags(Some(iam_tags(&desired.tags)))
            .send()
            .await
            .map_err(|e| AwsError::call("CreateRole", name, e))?;
        let created = RoleSpec {
            name: name.to_string(),
            trust_policy: desired.trust_policy.clone(),
            policies: BTreeMap::new(),
            managed_policies: BTreeSet::new(),
            tags: desired.tags.clone(),
        };
        update(client, desired, &created).await
    };
    super::converge::create_or_adopt(
        "IAM role",
        name,
        &Identity::of(&desired.tags),
        create,
        || read(client, name),
        |found| async move { update(client, desired, &found).await },
    )
    .await
}

/// Brings a role from `actual` to `desired`. The trust policy, each inline
/// policy, the attachments and the tags are independent of each other, so
/// they change at once; grants no longer wanted go after the new ones are
/// in place.
async fn update(client: &Client, desired: &RoleSpec, actual: &RoleSpec) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let trust = async {
        if desired.trust_policy != actual.trust_policy {
            client
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(desired.trust_policy.to_string())
                .send()
                .await
                .map_err(|e| AwsError::call("UpdateAssumeRolePolicy", name, e))?;
        }
        Ok(())
    };
    let puts = try_join_all(
        desired
            .policies
            .iter()
            .filter(|(policy_name, document)| actual.policies.get(*policy_name) != Some(document))
            .map(|(policy_name, document)| async move {
                client
                    .put_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("PutRolePolicy", format!("{name}/{policy_name}"), e)
                    })
            }),
    );
    let attaches = try_join_all(
        desired
            .managed_policies
            .difference(&actual.managed_policies)
            .map(|arn| async move {
                client
                    .attach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("AttachRolePolicy", format!("{name} {arn}"), e))
            }),
    );
    let tags = super::converge::sync_tags(
        &desired.tags,
        &actual.tags,
        |stale| async move {
            client
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::call("UntagRole", name, e))
        },
        || tag(client, name, &desired.tags),
    );
    tokio::try_join!(trust, puts, attaches, tags)?;
    let deletes = try_join_all(
        actual
            .policies
            .keys()
            .filter(|p| !desired.policies.contains_key(*p))
            .map(|policy_name| async move {
                client
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("DeleteRolePolicy", format!("{name}/{policy_name}"), e)
                    })
            }),
    );
    let detaches = try_join_all(
        actual
            .managed_policies
            .difference(&desired.managed_policies)
            .map(|arn| detach(client, name, arn)),
    );
    tokio::try_join!(deletes, detaches)?;
    Ok(())
}

/// Deletes a role after its inline policies and attachments; a role already
/// gone is success.
pub async fn delete(client: &Client, actual: &RoleSpec) -> Result<(), AwsError> {
    let name = actual.name.as_str();
    let deletes = try_join_all(actual.policies.keys().map(|policy_name| async move {
        match client
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Err(err) if error_code(&err) != Some("NoSuchEntity") => Err(AwsError::call(
                "DeleteRolePolicy",
                format!("{name}/{policy_name}"),
                err,
            )),
            _ => Ok(()),
        }
    }));
    let detaches = try_join_all(
        actual
            .managed_policies
            .iter()
            .map(|arn| detach(client, name, arn)),
    );
    tokio::try_join!(deletes, detaches)?;
    match client.delete_role().role_name(name).send().await {
        Err(err) if error_code(&err) != Some("NoSuchEntity") => {
            Err(AwsError::call("DeleteRole", name, err))
        }
        _ => Ok(()),
    }
}

/// Sets `tags` on the role (others it has stay).
pub async fn tag(client: &Client, name: &str, tags: &Tags) -> Result<(), AwsError> {
    client
        .tag_role()
        .role_name(name)
        .set_tags(Some(iam_tags(tags)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("TagRole", name, e))
}

/// How many entities a customer-managed policy is attached to, or `None`
/// when it does not exist.
pub async fn policy_attachments(client: &Client, arn: &str) -> Result<Option<i32>, AwsError> {
    match client.get_policy().policy_arn(arn).send().await {
        Ok(out) => Ok(out.policy.map(|p| p.attachment_count.unwrap_or_default())),
        Err(err) if error_code(&err) == Some("NoSuchEntity") => Ok(None),
        Err(err) => Err(AwsError::call("GetPolicy", arn, err)),
    }
}

/// Deletes a customer-managed policy and its non-default versions (IAM
/// requires them gone first); one already gone is success.
pub async fn delete_policy(client: &Client, arn: &str) -> Result<(), AwsError> {
    let versions = client
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::call("ListPolicyVersions", arn, e))?;
    for version in versions.versions().iter().filter(|v| !v.is_default_version) {
        client
            .delete_policy_version()
            .policy_arn(arn)
            .set_version_id(version.version_id.clone())
            .send()
            .await
            .map_err(|e| AwsError::call("DeletePolicyVersion", arn, e))?;
    }
    match client.delete_policy().policy_arn(arn).send().await {
        Err(err) if error_code(&err) != Some("NoSuchEntity") => {
            Err(AwsError::call("DeletePolicy", arn, err))
        }
        _ => Ok(()),
    }
}

async fn detach(client: &Client, role: &str, arn: &str) -> Result<(), AwsError> {
    match client
        .detach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await
    {
        Err(err) if error_code(&err) != Some("NoSuchEntity") => Err(AwsError::call(
            "DetachRolePolicy",
            format!("{role} {arn}"),
            err,
        )),
        _ => Ok(()),
    }
}

fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}
