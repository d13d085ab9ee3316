//! Keeps the job's environment out of notifications and logs.
//!
//! A Batch job record carries the container's environment (`Container.
//! Environment`, a list of `{Name, Value}`), and the event carries the job's
//! configured `env`. Neither is ever copied into a notification; on top of
//! that, text read from a cause has every known environment value replaced
//! with [`REDACTED`], in case a reason quotes one.

use std::fmt;

use serde_json::Value;

/// What an environment value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter values (`1`, `true`, `prod`) would match ordinary words and
/// numbers in every reason, so they are not searched for.
pub const MIN_REDACTED_CHARS: usize = 6;

/// Where a JSON value sits, as far as environments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Plain,
    /// Inside an environment (`Environment`, `environment` or `env`): its
    /// strings are values, except those under a `Name` key.
    Env,
    EnvName,
}

impl Place {
    /// The place of the member `key` of an object at `self`.
    pub(crate) fn child(self, key: &str) -> Place {
        match self {
            Place::Plain if is_env_key(key) => Place::Env,
            Place::Env if key.eq_ignore_ascii_case("name") => Place::EnvName,
            place => place,
        }
    }
}

fn is_env_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("environment") || key.eq_ignore_ascii_case("env")
}

/// Environment values to withhold. Its `Debug` shows how many, not which.
#[derive(Clone, Default)]
pub struct EnvValues {
    /// Longest first, so a value is replaced before any value inside it.
    values: Vec<String>,
}

impl fmt::Debug for EnvValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvValues")
            .field("count", &self.values.len())
            .finish()
    }
}

impl EnvValues {
    pub fn new<S: Into<String>>(values: impl IntoIterator<Item = S>) -> EnvValues {
        let mut values: Vec<String> = values
            .into_iter()
            .map(Into::into)
            .filter(|v| v.chars().count() >= MIN_REDACTED_CHARS)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        EnvValues { values }
    }

    /// These values and those of every environment inside `tree`.
    pub(crate) fn with_tree(&self, tree: &Value, more: Option<String>) -> EnvValues {
        let mut found = self.values.clone();
        collect(tree, Place::Plain, &mut found);
        EnvValues::new(found.into_iter().chain(more))
    }

    pub fn redact(&self, text: &str) -> String {
        self.values.iter().fold(text.to_string(), |text, value| {
            text.replace(value, REDACTED)
        })
    }

    /// `tree` without its environments, with the values redacted from every
    /// other string.
    pub(crate) fn scrub(&self, tree: Value) -> Value {
        match tree {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.scrub(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(key, _)| !is_env_key(key))
                    .map(|(key, value)| (self.redact(&key), self.scrub(value)))
                    .collect(),
            ),
            other => other,
        }
    }
}

fn collect(tree: &Value, place: Place, out: &mut Vec<String>) {
    match tree {
        Value::String(s) if place == Place::Env => out.push(s.clone()),
        Value::Number(n) if place == Place::Env => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect(v, place, out)),
        Value::Object(map) => map
            .iter()
            .for_each(|(key, value)| collect(value, place.child(key), out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn environments_are_found_in_each_shape_and_removed() {
        let tree = json!({
            "Container": {"Environment": [{"Name": "DB_PASSWORD", "Value": "hunter2-secret"},
                                          {"Name": "PORT", "Value": 8443012}]},
            "eksProperties": {"containers": [{"env": [{"name": "TOKEN", "value": "tok-123456"}]}]},
            "overrides": {"environment": {"API_KEY": "key-abcdef"}},
            "StatusReason": "login as hunter2-secret refused; tok-123456"
        });
        let env = EnvValues::default().with_tree(&tree, Some("cut-off-value".into()));
        let scrubbed = env.scrub(tree);
        assert_eq!(
            scrubbed,
            json!({
                "Container": {},
                "eksProperties": {"containers": [{}]},
                "overrides": {},
                "StatusReason": "login as [redacted] refused; [redacted]"
            })
        );
        assert_eq!(
            env.redact("8443012 key-abcdef cut-off-value"),
            "[redacted] [redacted] [redacted]"
        );
        assert_eq!(format!("{env:?}"), "EnvValues { count: 5 }");
    }

    #[test]
    fn a_value_inside_another_does_not_leave_the_rest_showing() {
        let env = EnvValues::new(["hunter2-sec", "hunter2-secret", "hunter2-secret"]);
        assert_eq!(env.redact("pw=hunter2-secret"), "pw=[redacted]");
    }

    #[test]
    fn short_values_are_not_searched_for() {
        let env = EnvValues::new(["1", "true", "prod", "staging"]);
        assert_eq!(
            env.redact("exit code 1 in acme-prod-staging"),
            "exit code 1 in acme-prod-[redacted]"
        );
    }
}
