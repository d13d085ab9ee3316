//! A job's missed-run alarm, as the error handler receives it: CloudWatch
//! invokes the function when no run succeeded within the job's
//! `expect_success_within` (state `ALARM`: a `missed` notification) and when
//! one succeeds again (state `OK`: `recovered`). The schedule failing to
//! start runs, a deleted state machine or a disabled schedule all end in
//! this alarm, since no run succeeds.
//!
//! The event names the alarm, not the job: the deployer writes the job's
//! identity into the alarm's description, after [`IDENTITY_MARKER`].

use aws_lambda_events::event::cloudwatch_alarms::{
    CloudWatchAlarmStateValue, CloudWatchMetricAlarm,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::InvalidEvent;

/// What separates the description's text for people from the identity.
pub const IDENTITY_MARKER: &str = " sjob:";

/// The metric dimension that names the job's state machine.
const STATE_MACHINE_DIMENSION: &str = "StateMachineArn";

/// The job an alarm watches, as its description records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmIdentity {
    pub app_name: String,
    pub stage: String,
    pub batch_name: String,
    pub job_name: String,
    /// The window, as configured (`26h`).
    pub window: String,
}

impl AlarmIdentity {
    /// The alarm's description: a sentence, then the identity.
    pub fn description(&self) -> String {
        format!(
            "No successful run of {} ({}/{}) within {}.{IDENTITY_MARKER}{}",
            self.batch_name,
            self.app_name,
            self.stage,
            self.window,
            serde_json::to_string(self).expect("an identity serialises")
        )
    }

    fn from_description(description: &str) -> Option<AlarmIdentity> {
        let (_, identity) = description.rsplit_once(IDENTITY_MARKER)?;
        serde_json::from_str(identity).ok()
    }
}

/// Whether the error handler's payload is an alarm's, not a run's.
pub fn is_alarm(payload: &Value) -> bool {
    payload.get("source").and_then(Value::as_str) == Some("aws.cloudwatch")
        && payload.get("alarmData").is_some()
}

/// What the alarm says about its job.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub identity: AlarmIdentity,
    /// `false` for a return to OK.
    pub missed: bool,
    pub alarm_arn: Option<String>,
    pub state_machine_arn: Option<String>,
    /// CloudWatch's reason for the new state.
    pub reason: String,
    /// When the alarm changed state (RFC 3339).
    pub changed_at: String,
}

impl AlarmChange {
    /// Reads an alarm event; one that is not an sjob job's, or in a state
    /// sjob does not notify, is an error naming why. `None`: nothing to
    /// tell, the alarm went to OK without having fired (a new alarm's first
    /// evaluation on a job that runs well).
    pub fn from_value(payload: Value) -> Result<Option<AlarmChange>, InvalidEvent> {
        let event: CloudWatchMetricAlarm<Value> = serde_path_to_error::deserialize(payload)
            .map_err(|err| InvalidEvent {
                path: err.path().to_string(),
                reason: err.inner().to_string(),
            })?;
        let data = &event.alarm_data;
        let invalid = |path: &str, reason: String| InvalidEvent {
            path: path.to_string(),
            reason,
        };
        let identity = data
            .configuration
            .description
            .as_deref()
            .and_then(AlarmIdentity::from_description)
            .ok_or_else(|| {
                invalid(
                    "alarmData.configuration.description",
                    format!("alarm {} does not name an sjob job", data.alarm_name),
                )
            })?;
        let state = data
            .state
            .as_ref()
            .ok_or_else(|| invalid("alarmData.state", "missing".to_string()))?;
        let missed = match state.value {
            CloudWatchAlarmStateValue::Alarm => true,
            CloudWatchAlarmStateValue::Ok => false,
            _ => {
                return Err(invalid(
                    "alarmData.state.value",
                    "only ALARM and OK are notified".to_string(),
                ))
            }
        };
        let fired_before = data
            .previous_state
            .as_ref()
            .is_some_and(|p| p.value == CloudWatchAlarmStateValue::Alarm);
        if !missed && !fired_before {
            return Ok(None);
        }
        let state_machine_arn = data
            .configuration
            .metrics
            .iter()
            .find_map(|m| m.metric_stat.metric.dimensions.get(STATE_MACHINE_DIMENSION))
            .cloned();
        Ok(Some(AlarmChange {
            identity,
            missed,
            alarm_arn: event.alarm_arn.clone(),
            state_machine_arn,
            reason: state.reason.clone(),
            changed_at: state
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_the_description() {
        let identity = AlarmIdentity {
            app_name: "my-app".into(),
            stage: "dev".into(),
            batch_name: "night-crawler".into(),
            job_name: "my-app-dev-night-crawler-ScheduledJob".into(),
            window: "26h".into(),
        };
        let description = identity.description();
        assert!(description
            .starts_with("No successful run of night-crawler (my-app/dev) within 26h. sjob:{"));
        assert_eq!(
            AlarmIdentity::from_description(&description),
            Some(identity)
        );
        assert_eq!(AlarmIdentity::from_description("made by hand"), None);
    }
}
