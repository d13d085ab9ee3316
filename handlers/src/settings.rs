//! The handler's settings, read from the Lambda's environment once at start.

use std::time::Duration;

use crate::message::BodyFormat;

/// How long enrichment may wait for `DescribeJobs` by default.
pub const DEFAULT_ENRICH_TIMEOUT: Duration = Duration::from_millis(3_000);

#[derive(Debug, Clone, PartialEq)]
pub struct HandlerSettings {
    /// `SNS_TOPIC_ARN`, or the seed's `SNS_ARN`.
    pub topic_arn: String,
    /// `NOTIFY_FORMAT`: `json` (default) or `chatbot`.
    pub format: BodyFormat,
    /// `SJOB_ENRICH`: call `DescribeJobs` when a cause lacks the job record
    /// (default true).
    pub enrich: bool,
    /// `SJOB_ENRICH_TIMEOUT_MS`: how long `DescribeJobs` may take, retries
    /// included, before the notification goes out without it.
    pub enrich_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "SNS_TOPIC_ARN is not set (nor the older SNS_ARN): the handler has nowhere to publish"
    )]
    MissingTopic,
    #[error("{name}={value:?} is not allowed; expected one of: {allowed}")]
    Invalid {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("{name}={value:?} is not allowed; expected a whole number of milliseconds above 0")]
    InvalidMillis { name: &'static str, value: String },
}

impl HandlerSettings {
    pub fn from_env() -> Result<HandlerSettings, SettingsError> {
        HandlerSettings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<HandlerSettings, SettingsError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let topic_arn = non_empty("SNS_TOPIC_ARN")
            .or_else(|| non_empty("SNS_ARN"))
            .ok_or(SettingsError::MissingTopic)?;
        let format = match non_empty("NOTIFY_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => BodyFormat::Document,
            Some(v) if v == "json" => BodyFormat::Document,
            Some(v) if v == "chatbot" => BodyFormat::Chatbot,
            Some(value) => {
                return Err(SettingsError::Invalid {
                    name: "NOTIFY_FORMAT",
                    value,
                    allowed: "json, chatbot",
                })
            }
        };
        let enrich = match non_empty("SJOB_ENRICH")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => true,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            Some(value) => {
                return Err(SettingsError::Invalid {
                    name: "SJOB_ENRICH",
                    value,
                    allowed: "true, false",
                })
            }
        };
        let enrich_timeout = match non_empty("SJOB_ENRICH_TIMEOUT_MS") {
            None => DEFAULT_ENRICH_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(millis) if millis > 0 => Duration::from_millis(millis),
                _ => {
                    return Err(SettingsError::InvalidMillis {
                        name: "SJOB_ENRICH_TIMEOUT_MS",
                        value,
                    })
                }
            },
        };
        Ok(HandlerSettings {
            topic_arn,
            format,
            enrich,
            enrich_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn seed_variable_is_accepted_and_new_one_wins() {
        let s = HandlerSettings::from_lookup(lookup(&[("SNS_ARN", "old")])).unwrap();
        assert_eq!(s.topic_arn, "old");
        let s =
            HandlerSettings::from_lookup(lookup(&[("SNS_ARN", "old"), ("SNS_TOPIC_ARN", "new")]))
                .unwrap();
        assert_eq!(s.topic_arn, "new");
    }

    #[test]
    fn missing_topic_and_bad_format_are_named() {
        assert_eq!(
            HandlerSettings::from_lookup(lookup(&[])),
            Err(SettingsError::MissingTopic)
        );
        let err =
            HandlerSettings::from_lookup(lookup(&[("SNS_ARN", "t"), ("NOTIFY_FORMAT", "xml")]))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NOTIFY_FORMAT=\"xml\" is not allowed; expected one of: json, chatbot"
        );
    }

    #[test]
    fn the_enrichment_timeout_has_a_default_and_takes_milliseconds() {
        let s = HandlerSettings::from_lookup(lookup(&[("SNS_ARN", "t")])).unwrap();
        assert_eq!(s.enrich_timeout, DEFAULT_ENRICH_TIMEOUT);
        let s = HandlerSettings::from_lookup(lookup(&[
            ("SNS_ARN", "t"),
            ("SJOB_ENRICH_TIMEOUT_MS", "750"),
        ]))
        .unwrap();
        assert_eq!(s.enrich_timeout, Duration::from_millis(750));
        for bad in ["0", "-5", "3s"] {
            let err = HandlerSettings::from_lookup(lookup(&[
                ("SNS_ARN", "t"),
                ("SJOB_ENRICH_TIMEOUT_MS", bad),
            ]))
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("SJOB_ENRICH_TIMEOUT_MS={bad:?} is not allowed; expected a whole number of milliseconds above 0")
            );
        }
    }
}
