//! The missed-run alarm (`expect_success_within`): a CloudWatch metric alarm
//! on the state machine's `ExecutionsSucceeded`, missing data breaching, so
//! it fires when no run succeeded within the window, whatever the reason
//! (the schedule could not start runs, the state machine is gone, runs
//! failed). Its actions invoke the error handler, on ALARM and on OK.

use super::diff::field_diff;
use super::identity::Tags;

/// The longest window: CloudWatch evaluates an alarm over at most 7 days.
const MAX_SECONDS: u32 = 7 * 86_400;
/// The shortest: a few minutes of the metric's one-minute periods.
const MIN_SECONDS: u32 = 5 * 60;
/// Periods of an hour from a window of an hour on: CloudWatch allows 7 days
/// of evaluation only with periods of at least an hour (1 day otherwise).
const HOUR: u32 = 3_600;
const MINUTE: u32 = 60;

/// How long a job may go without a successful run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessWindow {
    /// As configured: `90m`, `26h`, `2d`.
    pub text: String,
    pub seconds: u32,
}

impl SuccessWindow {
    /// Reads `<whole number><m|h|d>`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<SuccessWindow, String> {
        const ACCEPTED: &str = "a whole number of minutes (m), hours (h) or days (d) from 5m to 7d, whole hours from 1h on: \"26h\"";
        let seconds = crate::duration::seconds(text, "mhd")
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| (MIN_SECONDS..=MAX_SECONDS).contains(s))
            .filter(|s| *s < HOUR || s % HOUR == 0)
            .ok_or_else(|| ACCEPTED.to_string())?;
        Ok(SuccessWindow {
            text: text.to_string(),
            seconds,
        })
    }

    /// The alarm's period and how many of them make the window.
    pub fn periods(&self) -> (u32, u32) {
        let period = if self.seconds < HOUR { MINUTE } else { HOUR };
        (period, self.seconds / period)
    }
}

/// What a missed-run alarm evaluates: the sum of successful executions in
/// each period, below one in every period of the window, a period without
/// data counting as none.
pub const NAMESPACE: &str = "AWS/States";
pub const METRIC: &str = "ExecutionsSucceeded";
pub const STATISTIC: &str = "Sum";
pub const COMPARISON: &str = "LessThanThreshold";
pub const THRESHOLD: f64 = 1.0;
pub const MISSING_DATA: &str = "breaching";
/// The metric's dimension: the job's state machine.
pub const DIMENSION: &str = "StateMachineArn";

/// An alarm's rule in one line, as [`AlarmSpec::rule`] compares it.
pub fn rule(
    namespace: &str,
    metric: &str,
    statistic: &str,
    comparison: &str,
    threshold: &str,
    missing_data: &str,
    datapoints: u32,
) -> String {
    let threshold = threshold
        .parse::<f64>()
        .map_or(threshold.to_string(), |t| t.to_string());
    format!("{namespace} {metric} {statistic} {comparison} {threshold} in {datapoints} periods, missing data {missing_data}")
}

/// The rule of sjob's alarms over `periods` periods.
pub fn missed_rule(periods: u32) -> String {
    rule(
        NAMESPACE,
        METRIC,
        STATISTIC,
        COMPARISON,
        &THRESHOLD.to_string(),
        MISSING_DATA,
        periods,
    )
}

/// The parts of a missed-run alarm sjob sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    /// The `StateMachineArn` dimension of `AWS/States` `ExecutionsSucceeded`.
    pub state_machine_arn: String,
    pub period_seconds: u32,
    /// Every one of them without a success: the alarm fires.
    pub evaluation_periods: u32,
    /// What it evaluates, in one line ([`rule`]).
    pub rule: String,
    /// A sentence for people, then the job's identity for the error handler.
    pub description: String,
    /// The error handler, invoked on ALARM and on OK.
    pub action_arn: String,
    /// Whether the error handler's policy lets this alarm invoke it.
    pub invokable: bool,
    pub tags: Tags,
}

field_diff!(AlarmSpec {
    state_machine_arn,
    period_seconds,
    evaluation_periods,
    rule,
    description,
    action_arn,
    invokable,
    tags
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_become_periods_cloudwatch_accepts() {
        let periods = |text: &str| SuccessWindow::parse(text).map(|w| w.periods());
        assert_eq!(periods("26h"), Ok((3_600, 26)));
        assert_eq!(periods("90m"), Err(periods("0m").unwrap_err()));
        assert_eq!(periods("120m"), Ok((3_600, 2)));
        assert_eq!(periods("45m"), Ok((60, 45)));
        assert_eq!(periods("7d"), Ok((3_600, 168)));
        for bad in ["8d", "4m", "26", "h", "-1h", "+26h", "1.5h", "26H", ""] {
            assert!(SuccessWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
