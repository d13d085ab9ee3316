//! The tags of many resources at once, from the Resource Groups Tagging
//! API: a paged `GetResources` listing per service replaces a
//! `ListTagsForResource` call per log group, state machine and alarm.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use futures::future::try_join_all;

use super::error::{error_code, AwsError};
use crate::model::{Tags, APP_TAG, STAGE_TAG};

/// The services whose resources the index holds: CloudWatch Logs (log
/// groups), Step Functions (state machines) and CloudWatch (alarms).
/// Service-wide filters, since resource type names differ between AWS
/// (`logs:log-group`) and emulators.
const SERVICES: [&str; 3] = ["logs", "states", "cloudwatch"];

/// The tags of one app and stage's resources, by ARN. `OneByOne` when the
/// caller may not call `tag:GetResources`: each resource's tags are then
/// read on their own, as before.
#[derive(Debug)]
pub enum TagIndex {
    Listed(BTreeMap<String, Tags>),
    OneByOne,
}

impl TagIndex {
    /// Every log group, state machine and alarm tagged with this app and
    /// stage: one listing per service, all at once, so the longest of them
    /// sets the time rather than their sum.
    pub async fn load(client: &Client, app_name: &str, stage: &str) -> Result<TagIndex, AwsError> {
        let listings =
            try_join_all(SERVICES.map(|service| list_service(client, service, app_name, stage)))
                .await?;
        let mut index = BTreeMap::new();
        for listing in listings {
            let Some(listing) = listing else {
                tracing::info!(
                    "may not list tags (tag:GetResources): reading each resource's tags"
                );
                return Ok(TagIndex::OneByOne);
            };
            index.extend(listing);
        }
        Ok(TagIndex::Listed(index))
    }

    /// Every listed resource's tags; `None` when there is no listing.
    pub fn all(&self) -> Option<Vec<&Tags>> {
        match self {
            TagIndex::Listed(index) => Some(index.values().collect()),
            TagIndex::OneByOne => None,
        }
    }

    /// The tags listed for `arn`. `None` when the index does not hold it:
    /// it was not listed (the caller may not list, or the resource lacks the
    /// app and stage tags, or the listing has not caught up with a new
    /// resource), so the caller reads the resource's tags itself.
    pub fn get(&self, arn: &str) -> Option<&Tags> {
        match self {
            TagIndex::Listed(index) => index.get(canonical(arn)),
            TagIndex::OneByOne => None,
        }
    }
}

/// The tags of one service's resources tagged with this app and stage, by
/// ARN; `None` when the caller may not call `tag:GetResources`.
async fn list_service(
    client: &Client,
    service: &str,
    app_name: &str,
    stage: &str,
) -> Result<Option<BTreeMap<String, Tags>>, AwsError> {
    let filter = |key: &str, value: &str| TagFilter::builder().key(key).values(value).build();
    let mut index = BTreeMap::new();
    let mut pages = client
        .get_resources()
        .resource_type_filters(service)
        .tag_filters(filter(APP_TAG, app_name))
        .tag_filters(filter(STAGE_TAG, stage))
        // Both maxima: a page is cut at 100 resources or at TagsPerPage
        // tags (sjob's carry 5 each), whichever comes first.
        .resources_per_page(100)
        .tags_per_page(500)
        .into_paginator()
        .send();
    let mut first = true;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(err) if first && error_code(&err) == Some("AccessDeniedException") => {
                return Ok(None)
            }
            Err(err) => return Err(AwsError::call("GetResources", service, err)),
        };
        first = false;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tags = mapping
                .tags()
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            index.insert(canonical(arn).to_string(), tags);
        }
    }
    Ok(Some(index))
}

/// A log group's ARN with or without its `:*` suffix names the same group.
fn canonical(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}
