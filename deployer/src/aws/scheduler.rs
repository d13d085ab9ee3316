//! The EventBridge Scheduler schedule. Schedules carry no tags: a schedule
//! belongs to the owner of the state machine it targets (see
//! `Inventory::read_job`).

use std::collections::BTreeSet;

use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use aws_sdk_scheduler::Client;
use serde_json::Value;

use super::error::{error_code, AwsError};
use super::wait::{wait_for_role, Assumer};
use crate::model::{Identity, Observed, ScheduleRetry, ScheduleSpec};

const NOT_FOUND: &str = "ResourceNotFoundException";

/// A schedule as read, plus when it was created (rates count from then).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub observed: Observed<ScheduleSpec>,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

impl ScheduleRecord {
    /// Gives the schedule the owner of `machine_arn` when it targets that
    /// state machine; one targeting anything else stays nobody's.
    pub fn owned_through(mut self, machine_arn: &str, machine_owner: &Identity) -> Self {
        if self.observed.spec.target_arn == machine_arn {
            self.observed.owner = machine_owner.clone();
        }
        self
    }
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

/// The schedule, owned by nobody until [`ScheduleRecord::owned_through`].
pub async fn read(client: &Client, name: &str) -> Result<Option<ScheduleRecord>, AwsError> {
    let schedule = match client.get_schedule().name(name).send().await {
        Ok(out) => out,
        Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(None),
        Err(err) => return Err(AwsError::call("GetSchedule", name, err)),
    };
    let target = schedule.target.clone();
    let target_arn = target.as_ref().map(|t| t.arn.clone()).unwrap_or_default();
    let retry = target.as_ref().and_then(|t| t.retry_policy.as_ref());
    let defaults = ScheduleRetry::AWS;
    let retry_policy = ScheduleRetry {
        maximum_retry_attempts: retry
            .and_then(|r| r.maximum_retry_attempts)
            .map_or(defaults.maximum_retry_attempts, |n| n as u32),
        maximum_event_age_seconds: retry
            .and_then(|r| r.maximum_event_age_in_seconds)
            .map_or(defaults.maximum_event_age_seconds, |n| n as u32),
    };
    let dead_letter_arn = target
        .as_ref()
        .and_then(|t| t.dead_letter_config.as_ref())
        .and_then(|d| d.arn.clone());
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
            owner: Identity::default(),
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
                retry_policy,
                dead_letter_arn,
            },
        },
    }))
}

/// Creates or updates the schedule. `owner` is its state machine's: one
/// found under the name on create is adopted only when it targets that.
pub async fn converge(
    client: &Client,
    desired: &ScheduleSpec,
    owner: &Identity,
    exists: bool,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let target = Target::builder()
        .arn(&desired.target_arn)
        .role_arn(&desired.role_arn)
        .input(desired.input.to_string())
        .retry_policy(
            RetryPolicy::builder()
                .maximum_retry_attempts(desired.retry_policy.maximum_retry_attempts as i32)
                .maximum_event_age_in_seconds(desired.retry_policy.maximum_event_age_seconds as i32)
                .build(),
        )
        .set_dead_letter_config(
            desired
                .dead_letter_arn
                .as_ref()
                .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
        )
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
        wait_for_role(Assumer::Scheduler, "UpdateSchedule", name, || {
            with_schedule_fields!(client.update_schedule())
        })
        .await?;
        return Ok(());
    }
    let create = async {
        wait_for_role(Assumer::Scheduler, "CreateSchedule", name, || {
            with_schedule_fields!(client.create_schedule())
        })
        .await
        .map(|_| ())
    };
    super::converge::create_or_adopt(
        "schedule",
        name,
        owner,
        create,
        || async {
            Ok(read(client, name)
                .await?
                .map(|found| found.owned_through(&desired.target_arn, owner).observed))
        },
        |_| async { Box::pin(converge(client, desired, owner, true)).await },
    )
    .await
}

pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client.delete_schedule().name(name).send().await {
        Err(err) if error_code(&err) != Some(NOT_FOUND) => {
            Err(AwsError::call("DeleteSchedule", name, err))
        }
        _ => Ok(()),
    }
}
