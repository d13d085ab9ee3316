//! The notification topic and its subscriptions.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;
use serde_json::Value;

use handlers::publish::SnsPublisher;

use super::error::{error_code, AwsError};
use super::pace::Pace;
use super::{SdkOptions, SdkOptionsError};
use crate::model::{Identity, Observed, Tags};
use crate::model::{ObservedSubscription, SubscriptionSpec, TopicSpec, SUBSCRIPTION_TAG_PREFIX};

/// `NotFound` from the topic and subscription calls, `ResourceNotFound`
/// from the tagging ones.
const NOT_FOUND: &[&str] = &["NotFound", "ResourceNotFound"];

/// What ListSubscriptionsByTopic gives instead of an ARN until an email or
/// https endpoint confirms.
const PENDING: &str = "PendingConfirmation";

/// A publisher to `topic` with the CLI's SDK `options`, as the handlers publish (for
/// `local run` with a topic).
pub async fn publisher(options: &SdkOptions, topic: &str) -> Result<SnsPublisher, SdkOptionsError> {
    let config = options.sdk_config(None, &Pace::default()).await?;
    Ok(SnsPublisher::new(Client::new(&config), topic.to_string()))
}

fn is_not_found<E: ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> bool {
    error_code(err).is_some_and(|c| NOT_FOUND.contains(&c))
}

pub async fn read_topic(
    client: &Client,
    arn: &str,
) -> Result<Option<Observed<TopicSpec>>, AwsError> {
    let attributes = match client.get_topic_attributes().topic_arn(arn).send().await {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(AwsError::call("GetTopicAttributes", arn, err)),
    };
    let tags: Tags = match client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => out
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(AwsError::call("ListTagsForResource", arn, err)),
    };
    let (recorded_subscriptions, tags): (Tags, Tags) = tags
        .into_iter()
        .partition(|(k, _)| k.starts_with(SUBSCRIPTION_TAG_PREFIX));
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: TopicSpec {
            recorded_subscriptions: recorded_subscriptions.into_keys().collect(),
            name: arn.rsplit(':').next().unwrap_or(arn).to_string(),
            fifo: is_true(attributes.get("FifoTopic")),
            kms_key_id: attributes
                .get("KmsMasterKeyId")
                .filter(|k| !k.is_empty())
                .cloned(),
            tags,
        },
    }))
}

/// Whether the topic `arn` exists.
pub async fn topic_exists(client: &Client, arn: &str) -> Result<bool, AwsError> {
    match client.get_topic_attributes().topic_arn(arn).send().await {
        Ok(_) => Ok(true),
        Err(err) if is_not_found(&err) => Ok(false),
        Err(err) => Err(AwsError::call("GetTopicAttributes", arn, err)),
    }
}

/// Creates the topic or brings it to `desired`. Whether a topic is FIFO is
/// fixed at creation, so changing it is an error.
pub async fn converge_topic(
    client: &Client,
    desired: &TopicSpec,
    arn: &str,
    actual: Option<&TopicSpec>,
) -> Result<(), AwsError> {
    let Some(actual) = actual else {
        let mut create = client
            .create_topic()
            .name(&desired.name)
            .set_tags(Some(sns_tags(&desired.tags)));
        if desired.fifo {
            create = create.attributes("FifoTopic", "true");
        }
        if let Some(key) = &desired.kms_key_id {
            create = create.attributes("KmsMasterKeyId", key);
        }
        // SNS answers a create that differs from an existing topic, tags
        // included, with "already exists"; an identical one returns that
        // topic, which its tags already make this stack's.
        let create = async {
            create
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::call("CreateTopic", arn, e))
        };
        return super::converge::create_or_adopt(
            "SNS topic",
            &desired.name,
            &Identity::of(&desired.tags),
            create,
            || read_topic(client, arn),
            |found| async move { Box::pin(converge_topic(client, desired, arn, Some(&found))).await },
        )
        .await;
    };
    if desired.fifo != actual.fifo {
        return Err(AwsError::other(
            "SetTopicAttributes",
            arn,
            format!(
                "the topic is {}a FIFO topic and the config asks for {}: SNS cannot change \
                 that on an existing topic; destroy it (remove [base.notifications] and deploy) \
                 or give the topic a new name",
                if actual.fifo { "" } else { "not " },
                if desired.fifo {
                    "one"
                } else {
                    "a standard one"
                },
            ),
        ));
    }
    if desired.kms_key_id != actual.kms_key_id {
        // An empty key turns encryption off.
        client
            .set_topic_attributes()
            .topic_arn(arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(desired.kms_key_id.as_deref().unwrap_or_default())
            .send()
            .await
            .map_err(|e| AwsError::call("SetTopicAttributes", arn, e))?;
    }
    super::converge::sync_resource_tags!(
        client,
        resource_arn,
        arn,
        arn,
        &desired.tags,
        &actual.tags,
        sns_tags(&desired.tags)
    )
    .await
}

/// Deletes the topic, and with it every subscription.
pub async fn delete_topic(client: &Client, arn: &str) -> Result<(), AwsError> {
    match client.delete_topic().topic_arn(arn).send().await {
        Err(err) if !is_not_found(&err) => Err(AwsError::call("DeleteTopic", arn, err)),
        _ => Ok(()),
    }
}

/// The topic's subscriptions, each marked whether `recorded` (the topic's
/// [`TopicSpec::recorded_subscriptions`]) holds it; none when the topic does
/// not exist.
pub async fn read_subscriptions(
    client: &Client,
    topic_arn: &str,
    recorded: &BTreeSet<String>,
) -> Result<Vec<ObservedSubscription>, AwsError> {
    let mut listed = Vec::new();
    let mut pages = client
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => listed.extend(page.subscriptions.unwrap_or_default()),
            Err(err) if is_not_found(&err) => return Ok(Vec::new()),
            Err(err) => return Err(AwsError::call("ListSubscriptionsByTopic", topic_arn, err)),
        }
    }
    let read = listed.into_iter().map(|s| async move {
        let protocol = s.protocol.unwrap_or_default();
        let endpoint = s.endpoint.unwrap_or_default();
        let arn = s.subscription_arn.filter(|a| a != PENDING);
        let attributes = match &arn {
            None => HashMap::new(),
            Some(arn) => {
                match client
                    .get_subscription_attributes()
                    .subscription_arn(arn)
                    .send()
                    .await
                {
                    Ok(out) => out.attributes.unwrap_or_default(),
                    // Unsubscribed since it was listed.
                    Err(err) if is_not_found(&err) => return Ok(None),
                    Err(err) => return Err(AwsError::call("GetSubscriptionAttributes", arn, err)),
                }
            }
        };
        let spec = SubscriptionSpec {
            protocol,
            endpoint,
            filter_policy: attributes
                .get("FilterPolicy")
                .and_then(|p| filter_policy(p)),
            raw_message_delivery: is_true(attributes.get("RawMessageDelivery")),
        };
        Ok(Some(ObservedSubscription {
            arn,
            recorded: recorded.contains(&spec.record_tag()),
            spec,
        }))
    });
    Ok(futures::future::try_join_all(read)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// A filter policy as SNS returns it; an empty one (how a removed policy
/// reads back) is none.
fn filter_policy(policy: &str) -> Option<Value> {
    let value = serde_json::from_str(policy).unwrap_or_else(|_| Value::String(policy.to_string()));
    match &value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        _ => Some(value),
    }
}

fn is_true(attribute: Option<&String>) -> bool {
    attribute.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Subscribes the endpoint with its attributes. An email or https endpoint
/// then has to confirm before SNS delivers to it.
pub async fn subscribe(
    client: &Client,
    topic_arn: &str,
    desired: &SubscriptionSpec,
) -> Result<(), AwsError> {
    let label = desired.label();
    let mut request = client
        .subscribe()
        .topic_arn(topic_arn)
        .protocol(&desired.protocol)
        .endpoint(&desired.endpoint)
        .return_subscription_arn(true);
    if let Some(policy) = &desired.filter_policy {
        request = request.attributes("FilterPolicy", policy.to_string());
    }
    if desired.raw_message_delivery {
        request = request.attributes("RawMessageDelivery", "true");
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) => {
            let err = AwsError::call("Subscribe", label.clone(), err);
            if !err.is_already_exists() {
                return Err(err);
            }
            // A concurrent or interrupted deploy subscribed it with other
            // attributes: update that subscription instead.
            let existing = read_subscriptions(client, topic_arn, &BTreeSet::new())
                .await?
                .into_iter()
                .find(|s| s.spec.label() == label);
            match existing {
                Some(ObservedSubscription {
                    arn: Some(arn),
                    spec,
                    ..
                }) => update_subscription(client, &arn, desired, &spec).await,
                _ => Err(err),
            }
        }
    }
}

/// Records on the topic that sjob created the subscription (see
/// [`SUBSCRIPTION_TAG_PREFIX`]).
pub async fn record_subscription(
    client: &Client,
    topic_arn: &str,
    subscription: &SubscriptionSpec,
) -> Result<(), AwsError> {
    let tag = Tag::builder()
        .key(subscription.record_tag())
        .value(&subscription.protocol)
        .build()
        .map_err(|e| AwsError::other("TagResource", topic_arn, e.to_string()))?;
    client
        .tag_resource()
        .resource_arn(topic_arn)
        .tags(tag)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::call("TagResource", topic_arn, e))
}

/// Unsubscribes, then drops the topic's record of the subscription.
pub async fn unsubscribe(
    client: &Client,
    topic_arn: &str,
    subscription: &ObservedSubscription,
) -> Result<(), AwsError> {
    if let Some(arn) = &subscription.arn {
        match client.unsubscribe().subscription_arn(arn).send().await {
            Err(err) if !is_not_found(&err) => return Err(AwsError::call("Unsubscribe", arn, err)),
            _ => {}
        }
    }
    match client
        .untag_resource()
        .resource_arn(topic_arn)
        .tag_keys(subscription.spec.record_tag())
        .send()
        .await
    {
        Err(err) if !is_not_found(&err) => Err(AwsError::call("UntagResource", topic_arn, err)),
        _ => Ok(()),
    }
}

/// Sets the attributes that differ. A removed filter policy is set to `{}`,
/// which SNS documents as removing it.
pub async fn update_subscription(
    client: &Client,
    arn: &str,
    desired: &SubscriptionSpec,
    actual: &SubscriptionSpec,
) -> Result<(), AwsError> {
    let mut changes = Vec::new();
    if desired.filter_policy != actual.filter_policy {
        let policy = desired
            .filter_policy
            .as_ref()
            .map_or_else(|| "{}".to_string(), Value::to_string);
        changes.push(("FilterPolicy", policy));
    }
    if desired.raw_message_delivery != actual.raw_message_delivery {
        changes.push((
            "RawMessageDelivery",
            desired.raw_message_delivery.to_string(),
        ));
    }
    for (name, value) in changes {
        client
            .set_subscription_attributes()
            .subscription_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| AwsError::call("SetSubscriptionAttributes", format!("{arn} {name}"), e))?;
    }
    Ok(())
}

fn sns_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}
