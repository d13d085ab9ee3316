//! CloudWatch alarms in the emulator, read through CloudWatch's Query API
//! (the tests, like sjob, have no CloudWatch SDK crate).

use crate::http::{self, xml_values};
use crate::{Emulator, REGION};

/// A metric alarm as DescribeAlarms gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub arn: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    /// The value of each dimension, in order.
    pub dimensions: Vec<String>,
    pub period: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing_data: String,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
}

impl Emulator {
    /// The metric alarm named `name`, if there is one.
    pub async fn alarm(&self, name: &str) -> Option<Alarm> {
        let response = http::send_query(
            self.port(),
            "monitoring",
            REGION,
            &[
                ("Action", "DescribeAlarms"),
                ("Version", "2010-08-01"),
                ("AlarmNames.member.1", name),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("DescribeAlarms {name}: {e}"));
        let xml = String::from_utf8_lossy(&response.body).into_owned();
        assert_eq!(response.status, 200, "DescribeAlarms {name}: {xml}");
        let alarm = xml_values(&xml, "MetricAlarms").into_iter().next()?;
        let one = |tag: &str| {
            xml_values(&alarm, tag)
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        let number = |tag: &str| {
            one(tag)
                .parse()
                .unwrap_or_else(|_| panic!("{tag}: {alarm}"))
        };
        let members = |tag: &str| {
            xml_values(&alarm, tag)
                .first()
                .map(|list| xml_values(list, "member"))
                .unwrap_or_default()
        };
        Some(Alarm {
            arn: one("AlarmArn"),
            description: one("AlarmDescription"),
            namespace: one("Namespace"),
            metric: one("MetricName"),
            statistic: one("Statistic"),
            dimensions: xml_values(&alarm, "Value"),
            period: number("Period"),
            evaluation_periods: number("EvaluationPeriods"),
            datapoints_to_alarm: number("DatapointsToAlarm"),
            threshold: one("Threshold").parse().unwrap_or(f64::NAN),
            comparison: one("ComparisonOperator"),
            treat_missing_data: one("TreatMissingData"),
            alarm_actions: members("AlarmActions"),
            ok_actions: members("OKActions"),
        })
    }
}
