//! The missed-run alarms: CloudWatch's Query API through [`QueryClient`]
//! (six calls, so no `aws-sdk-cloudwatch` in the build; see
//! [`super::signed`]), and the permission that lets each alarm invoke the
//! error handler.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError};

use super::error::AwsError;
use super::signed::{each_child, pair, parse_nothing, text, with_tags, Params, QueryClient};
use crate::model::alarm::{
    rule, COMPARISON, DIMENSION, METRIC, MISSING_DATA, NAMESPACE, STATISTIC, THRESHOLD,
};
use crate::model::{AlarmSpec, Identity, Observed, Tags};

/// The list CloudWatch takes tags in (`Tags.member.N.Key`).
const TAGS: &str = "Tags.member";

/// CloudWatch's Query API.
#[derive(Debug, Clone)]
pub struct Client(QueryClient);

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client(QueryClient::new(
            config,
            "monitoring",
            "CloudWatch",
            "2010-08-01",
        ))
    }
}

/// One alarm as DescribeAlarms gives it.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub arn: String,
    spec: AlarmSpec,
}

impl Listed {
    /// What its actions invoke (see [`AlarmSpec::action_arn`]).
    pub fn action_arn(&self) -> &str {
        &self.spec.action_arn
    }
}

/// The metric alarms whose names start with `prefix`, by name.
pub async fn list(client: &Client, prefix: &str) -> Result<BTreeMap<String, Listed>, AwsError> {
    let mut alarms = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = Params::new()
            .with("AlarmNamePrefix", prefix)
            .with("AlarmTypes.member.1", "MetricAlarm")
            .with("MaxRecords", "100");
        if let Some(token) = &token {
            params = params.with("NextToken", token);
        }
        let (page, next) = client
            .0
            .call("DescribeAlarms", prefix, params, parse_alarms)
            .await?;
        alarms.extend(page.into_iter().map(|a| (a.spec.name.clone(), a)));
        match next {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(alarms),
        }
    }
}

/// The alarm named `name`, whatever its owner.
async fn read(client: &Client, name: &str) -> Result<Option<Observed<AlarmSpec>>, AwsError> {
    let params = Params::new()
        .with("AlarmNames.member.1", name)
        .with("AlarmTypes.member.1", "MetricAlarm");
    let (alarms, _) = client
        .0
        .call("DescribeAlarms", name, params, parse_alarms)
        .await?;
    match alarms.into_iter().next() {
        Some(listed) => {
            let tags = read_tags(client, &listed.arn).await?;
            Ok(Some(observed(listed, tags, &BTreeSet::new())))
        }
        None => Ok(None),
    }
}

pub async fn read_tags(client: &Client, arn: &str) -> Result<Tags, AwsError> {
    client
        .0
        .call(
            "ListTagsForResource",
            arn,
            Params::new().with("ResourceARN", arn),
            parse_tags,
        )
        .await
}

/// The alarm as it is: `statements` are the alarm statements of its
/// action's policy ([`super::lambda::alarm_statements`]).
pub fn observed(
    listed: Listed,
    tags: Tags,
    statements: &BTreeSet<(String, String)>,
) -> Observed<AlarmSpec> {
    let invokable = statements.contains(&(listed.spec.name.clone(), listed.arn.clone()));
    Observed {
        owner: Identity::of(&tags),
        spec: AlarmSpec {
            tags,
            invokable,
            ..listed.spec
        },
    }
}

/// Creates or updates the alarm, then lets it invoke its action (and no
/// longer the one it had). A new alarm is written only while no one else's
/// has its name: PutMetricAlarm would replace it.
pub async fn converge(
    client: &Client,
    lambda: &aws_sdk_lambda::Client,
    desired: &AlarmSpec,
    arn: &str,
    current: Option<&AlarmSpec>,
) -> Result<(), AwsError> {
    let found = match current {
        Some(_) => None,
        None => read(client, &desired.name).await?,
    };
    if let Some(found) = &found {
        if found.owner != Identity::of(&desired.tags) {
            return Err(AwsError::NotManaged {
                kind: "alarm",
                name: desired.name.clone(),
                owner: found.owner.clone(),
            });
        }
    }
    // Created since the plan read, as this stack's: converged like any.
    let current = current.or(found.as_ref().map(|f| &f.spec));
    let mut params = Params::new()
        .with("AlarmName", &desired.name)
        .with("AlarmDescription", &desired.description)
        .with("ActionsEnabled", "true")
        .with("AlarmActions.member.1", &desired.action_arn)
        .with("OKActions.member.1", &desired.action_arn)
        .with("Namespace", NAMESPACE)
        .with("MetricName", METRIC)
        .with("Statistic", STATISTIC)
        .with("Dimensions.member.1.Name", DIMENSION)
        .with("Dimensions.member.1.Value", &desired.state_machine_arn)
        .with("Period", desired.period_seconds.to_string())
        .with("EvaluationPeriods", desired.evaluation_periods.to_string())
        .with("DatapointsToAlarm", desired.evaluation_periods.to_string())
        .with("Threshold", THRESHOLD.to_string())
        .with("ComparisonOperator", COMPARISON)
        .with("TreatMissingData", MISSING_DATA);
    if current.is_none() {
        params = with_tags(params, TAGS, &desired.tags);
    }
    client
        .0
        .call("PutMetricAlarm", &desired.name, params, parse_nothing)
        .await?;
    if let Some(current) = current {
        super::converge::sync_tags(
            &desired.tags,
            &current.tags,
            |stale| async move {
                let params = stale.iter().enumerate().fold(
                    Params::new().with("ResourceARN", arn),
                    |params, (n, key)| params.with(format!("TagKeys.member.{}", n + 1), key),
                );
                client
                    .0
                    .call("UntagResource", arn, params, parse_nothing)
                    .await
            },
            || tag(client, arn, &desired.tags),
        )
        .await?;
    }
    super::lambda::allow_alarm(lambda, &desired.action_arn, &desired.name, arn).await?;
    if let Some(previous) = current
        .map(|c| c.action_arn.as_str())
        .filter(|a| *a != desired.action_arn && super::lambda::is_function(a))
    {
        super::lambda::disallow_alarm(lambda, previous, &desired.name).await?;
    }
    Ok(())
}

/// Deletes the alarm and its permission to invoke its action; one already
/// gone is success.
pub async fn delete(
    client: &Client,
    lambda: &aws_sdk_lambda::Client,
    actual: &AlarmSpec,
) -> Result<(), AwsError> {
    client
        .0
        .call(
            "DeleteAlarms",
            &actual.name,
            Params::new().with("AlarmNames.member.1", &actual.name),
            parse_nothing,
        )
        .await?;
    if !super::lambda::is_function(&actual.action_arn) {
        return Ok(());
    }
    super::lambda::disallow_alarm(lambda, &actual.action_arn, &actual.name).await
}

/// Sets `tags` on the alarm (others it has stay).
pub async fn tag(client: &Client, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    let params = with_tags(Params::new().with("ResourceARN", arn), TAGS, tags);
    client
        .0
        .call("TagResource", arn, params, parse_nothing)
        .await
}

/// DescribeAlarms' metric alarms and its next token.
fn parse_alarms(xml: &str) -> Result<(Vec<Listed>, Option<String>), XmlDecodeError> {
    let mut alarms = Vec::new();
    let mut next = None;
    let mut document = Document::new(xml);
    each_child(&mut document.root_element()?, |name, result| {
        if name != "DescribeAlarmsResult" {
            return Ok(());
        }
        each_child(result, |name, field| match name {
            "MetricAlarms" => each_child(field, |_, member| {
                alarms.push(parse_alarm(member)?);
                Ok(())
            }),
            "NextToken" => {
                next = Some(text(field)?);
                Ok(())
            }
            _ => Ok(()),
        })
    })?;
    Ok((alarms, next))
}

fn parse_alarm(member: &mut ScopedDecoder<'_, '_>) -> Result<Listed, XmlDecodeError> {
    let mut listed = Listed::default();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let (mut alarm_actions, mut ok_actions) = (Vec::new(), Vec::new());
    each_child(member, |name, field| match name {
        "AlarmActions" | "OKActions" => each_child(field, |_, action| {
            let list = if name == "AlarmActions" {
                &mut alarm_actions
            } else {
                &mut ok_actions
            };
            list.push(text(action)?);
            Ok(())
        }),
        "Dimensions" => each_child(field, |_, dimension| {
            let (name, value) = pair(dimension, ("Name", "Value"))?;
            if name == DIMENSION {
                listed.spec.state_machine_arn = value;
            }
            Ok(())
        }),
        _ => {
            fields.insert(name.to_string(), text(field).unwrap_or_default());
            Ok(())
        }
    })?;
    let field = |key: &str| fields.get(key).cloned().unwrap_or_default();
    let number = |key: &str| field(key).parse::<u32>().unwrap_or_default();
    listed.arn = field("AlarmArn");
    listed.spec.name = field("AlarmName");
    listed.spec.description = field("AlarmDescription");
    listed.spec.period_seconds = number("Period");
    listed.spec.evaluation_periods = number("EvaluationPeriods");
    listed.spec.rule = rule(
        &field("Namespace"),
        &field("MetricName"),
        &field("Statistic"),
        &field("ComparisonOperator"),
        &field("Threshold"),
        &field("TreatMissingData"),
        match fields.get("DatapointsToAlarm") {
            Some(n) => n.parse().unwrap_or_default(),
            // Unset: every evaluated period.
            None => listed.spec.evaluation_periods,
        },
    );
    // Anything but one action for both states differs from sjob's, and is
    // no function to take a permission from.
    listed.spec.action_arn = if alarm_actions == ok_actions && alarm_actions.len() == 1 {
        alarm_actions.remove(0)
    } else {
        format!("alarm {alarm_actions:?}, ok {ok_actions:?}")
    };
    Ok(listed)
}

fn parse_tags(xml: &str) -> Result<Tags, XmlDecodeError> {
    let mut tags = Tags::new();
    let mut document = Document::new(xml);
    each_child(&mut document.root_element()?, |name, result| {
        if name != "ListTagsForResourceResult" {
            return Ok(());
        }
        each_child(result, |name, list| {
            if name != "Tags" {
                return Ok(());
            }
            each_child(list, |_, member| {
                let (key, value) = pair(member, ("Key", "Value"))?;
                tags.insert(key, value);
                Ok(())
            })
        })
    })?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_reads_back_as_its_spec() {
        let xml = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><MetricAlarms><member><AlarmName>a-s-b-ScheduledJob-Missed</AlarmName><AlarmArn>arn:aws:cloudwatch:eu-west-1:1:alarm:a-s-b-ScheduledJob-Missed</AlarmArn><AlarmDescription>d</AlarmDescription><ActionsEnabled>true</ActionsEnabled><OKActions><member>arn:aws:lambda:eu-west-1:1:function:e</member></OKActions><AlarmActions><member>arn:aws:lambda:eu-west-1:1:function:e</member></AlarmActions><MetricName>ExecutionsSucceeded</MetricName><Namespace>AWS/States</Namespace><Statistic>Sum</Statistic><Dimensions><member><Name>StateMachineArn</Name><Value>arn:aws:states:eu-west-1:1:stateMachine:a-s-b-ScheduledJob</Value></member></Dimensions><Period>3600</Period><EvaluationPeriods>26</EvaluationPeriods><DatapointsToAlarm>26</DatapointsToAlarm><Threshold>1.0</Threshold><ComparisonOperator>LessThanThreshold</ComparisonOperator><TreatMissingData>breaching</TreatMissingData></member></MetricAlarms><NextToken>t2</NextToken></DescribeAlarmsResult></DescribeAlarmsResponse>"#;
        let (alarms, next) = parse_alarms(xml).unwrap();
        assert_eq!(next.as_deref(), Some("t2"));
        let spec = &alarms[0].spec;
        assert_eq!(spec.name, "a-s-b-ScheduledJob-Missed");
        assert_eq!(spec.action_arn, "arn:aws:lambda:eu-west-1:1:function:e");
        assert_eq!(
            spec.state_machine_arn,
            "arn:aws:states:eu-west-1:1:stateMachine:a-s-b-ScheduledJob"
        );
        assert_eq!((spec.period_seconds, spec.evaluation_periods), (3600, 26));
        assert_eq!(spec.rule, crate::model::alarm::missed_rule(26));
    }
}
