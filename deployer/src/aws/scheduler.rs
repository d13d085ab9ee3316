//! The EventBridge Scheduler schedule. Schedules carry no tags, so a
//! schedule counts as sjob's when it targets sjob's state machine.

use std::collections::BTreeSet;

use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use aws_sdk_scheduler::Client;
use serde_json::Value;

use super::{error_code, wait_for_role, AwsError};
use crate::stack::{Observed, ScheduleSpec};

const NOT_FOUND: &str = "ResourceNotFoundException";

/// A schedule as read, plus when it was created (rates count from then).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub observed: Observed<ScheduleSpec>,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

/// The names of the schedules (in the default group) that start with `prefix`.
pub async fn list_names(client: &Client, prefix: &str) -> Result<BTreeSet<String>, AwsError> {
    let mut names = BTreeSet::new();
    let mut pages = client
        .list_schedules()
        .name_prefix(prefix)
        .max_results(100) // the API's maximum
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListSchedules", prefix, e))?;
        names.extend(page.schedules().iter().filter_map(|s| s.name.clone()));
    }
    Ok(names)
}

pub async fn read(
    client: &Client,
    name: &str,
    our_target: &str,
) -> Result<Option<ScheduleRecord>, AwsError> {
    let schedule = match client.get_schedule().name(name).send().await {
        Ok(out) => out,
        Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(None),
        Err(err) => return Err(AwsError::call("GetSchedule", name, err)),
    };
    let target = schedule.target.clone();
    let target_arn = target.as_ref().map(|t| t.arn.clone()).unwrap_or_default();
    let input = target
        .as_ref()
        .and_then(|t| t.input.as_deref())
        .map(|i| serde_json::from_str(i).unwrap_or(Value::String(i.to_string())))
        .unwrap_or(Value::Null);
    Ok(Some(ScheduleRecord {
        created: schedule
            .creation_date
            .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
        observed: Observed {
            managed: target_arn == our_target,
            spec: ScheduleSpec {
                name: name.to_string(),
                expression: schedule.schedule_expression.unwrap_or_default(),
                timezone: schedule
                    .schedule_expression_timezone
                    .unwrap_or_else(|| "UTC".to_string()),
                enabled: schedule.state != Some(ScheduleState::Disabled),
                role_arn: target.map(|t| t.role_arn).unwrap_or_default(),
                target_arn,
                input,
                description: schedule.description.filter(|d| !d.is_empty()),
            },
        },
    }))
}

pub async fn converge(
    client: &Client,
    desired: &ScheduleSpec,
    exists: bool,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let target = Target::builder()
        .arn(&desired.target_arn)
        .role_arn(&desired.role_arn)
        .input(desired.input.to_string())
        .build()
        .expect("arn and role are set");
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .expect("mode is set");
    let state = if desired.enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    };
    // CreateSchedule and UpdateSchedule take the same fields through
    // different builder types.
    macro_rules! with_schedule_fields {
        ($request:expr) => {
            $request
                .name(name)
                .schedule_expression(&desired.expression)
                .schedule_expression_timezone(&desired.timezone)
                .flexible_time_window(window.clone())
                .target(target.clone())
                .state(state.clone())
                .set_description(desired.description.clone())
                .send()
        };
    }
    if exists {
        wait_for_role("UpdateSchedule", name, || {
            with_schedule_fields!(client.update_schedule())
        })
        .await?;
        return Ok(());
    }
    let created = wait_for_role("CreateSchedule", name, || {
        with_schedule_fields!(client.create_schedule())
    })
    .await;
    match created {
        // Created since the plan read it (a concurrent deploy, or a listing
        // that had not caught up): bring it to ours, if it is ours.
        Err(err @ AwsError::Call { .. }) if err.to_string().contains("ConflictException") => {
            match read(client, name, &desired.target_arn).await? {
                Some(found) if found.observed.managed => {
                    Box::pin(converge(client, desired, true)).await
                }
                Some(_) => Err(AwsError::NotManaged {
                    kind: "schedule",
                    name: name.to_string(),
                }),
                None => Err(err),
            }
        }
        other => other.map(|_| ()),
    }
}

pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client.delete_schedule().name(name).send().await {
        Err(err) if error_code(&err) != Some(NOT_FOUND) => {
            Err(AwsError::call("DeleteSchedule", name, err))
        }
        _ => Ok(()),
    }
}
