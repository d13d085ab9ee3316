//! `[base]`: the notification topic, the handler functions and the compute
//! environment sjob creates when the config asks, checked like jobs are.

use std::path::Path;

use serde_json::Value;

use super::read::{ArnKey, Lookup};
use super::rules::{is_arn, is_env_name, is_name};
use super::Validator;
use crate::config::tree::{Entry, NodeValue, Table};
use crate::config::*;
use crate::kms::{KmsKey, KEY_FORMS};
use crate::names::BaseNames;

/// A valid `[base]` with the names jobs refer to.
pub(super) struct ValidBase {
    pub config: Base,
    pub names: BaseNames,
}

/// Environment names the handlers' environment may not set: Lambda
/// reserves `AWS_*` and `LAMBDA_*`, sjob sets the topic.
const RESERVED_HANDLER_ENV: &[&str] = &["SNS_TOPIC_ARN", "SNS_ARN", "_HANDLER", "TZ"];

impl Validator {
    pub(super) fn base(
        &mut self,
        config_path: &Path,
        entry: &Entry,
        defaults: Option<&Table>,
        app: &str,
        stage: &str,
    ) -> Option<ValidBase> {
        let table = self.table(entry, "base")?;
        self.known_keys(table, "base", BASE_KEYS);
        let at = |table| Lookup {
            job: table,
            job_path: "base".to_string(),
            defaults: None,
            keys: BASE_KEYS,
        };
        let tags = self.tags(&at(table));
        let notifications = table
            .get("notifications")
            .and_then(|e| self.notifications(e, app, stage));
        let handlers = table
            .get("handlers")
            .and_then(|e| self.handlers(config_path, e, notifications.is_some()));
        let compute = table.get("compute").and_then(|e| self.compute(e));
        for (part, present, keys) in [
            ("compute", compute.is_some(), &[ArnKey::QUEUE][..]),
            (
                "handlers",
                handlers.is_some(),
                &[ArnKey::SUCCESS_HANDLER, ArnKey::ERROR_HANDLER][..],
            ),
        ] {
            for key in keys.iter().filter(|_| present) {
                if let Some(e) = defaults.and_then(|d| d.get(key.key)) {
                    self.problem(
                        &e.key_span,
                        &format!("defaults.{}", key.key),
                        format!("[base.{part}] creates this for every job, so [defaults] must not name another"),
                        Some(format!("remove `{}` from [defaults], or remove [base.{part}] to keep using the given one", key.key)),
                    );
                }
            }
        }
        let names = BaseNames::new(
            app,
            stage,
            notifications.as_ref().map(|n| n.topic_name.clone()),
        );
        self.name_limits(
            names.limits(),
            &entry.key_span,
            "base",
            "shorten app_name or stage",
        );
        Some(ValidBase {
            config: Base {
                tags,
                notifications,
                handlers,
                compute,
            },
            names,
        })
    }

    fn notifications(&mut self, entry: &Entry, app: &str, stage: &str) -> Option<Notifications> {
        let path = "base.notifications";
        let table = self.table(entry, path)?;
        self.known_keys(table, path, NOTIFICATIONS_KEYS);
        let at = Lookup {
            job: table,
            job_path: path.to_string(),
            defaults: None,
            keys: NOTIFICATIONS_KEYS,
        };
        let fifo = self
            .boolean(&at, "fifo")
            .unwrap_or_else(|| at.entry("fifo").default_boolean());
        let topic_name = match at.get("topic_name") {
            None if fifo => format!("{}.fifo", BaseNames::default_topic(app, stage)),
            None => BaseNames::default_topic(app, stage),
            Some((e, key)) => {
                let name = self.string(e, &key)?;
                let stem = name.strip_suffix(".fifo").unwrap_or(&name);
                if !is_name(stem) || name.len() > 256 {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!("`{name}` is not a valid SNS topic name"),
                        Some(
                            "up to 256 letters, digits, `-` and `_` (FIFO topics end in `.fifo`)"
                                .into(),
                        ),
                    );
                } else if fifo != name.ends_with(".fifo") {
                    self.problem(
                        &e.node.span,
                        &key,
                        if fifo {
                            "a FIFO topic's name must end in `.fifo`"
                        } else {
                            "only a FIFO topic's name may end in `.fifo`; set `fifo = true`"
                        },
                        None,
                    );
                }
                name
            }
        };
        let kms_key_id = at.get("kms_key_id").and_then(|(e, key)| {
            let text = self.string(e, &key)?;
            let parsed = KmsKey::parse(&text);
            if parsed.is_none() {
                self.problem(
                    &e.node.span,
                    &key,
                    format!("`{text}` is not a KMS key"),
                    Some(format!("expected {KEY_FORMS}")),
                );
            }
            parsed
        });
        let subscriptions = match at.get("subscriptions") {
            None => Vec::new(),
            Some((e, key)) => self.subscriptions(e, &key, fifo),
        };
        Some(Notifications {
            topic_name,
            fifo,
            kms_key_id,
            subscriptions,
        })
    }

    fn subscriptions(&mut self, entry: &Entry, path: &str, fifo: bool) -> Vec<Subscription> {
        let shape = (
            "subscription tables",
            "a table with protocol and endpoint",
            "[[base.notifications.subscriptions]] with protocol and endpoint",
        );
        let mut subscriptions: Vec<Subscription> = Vec::new();
        for (at, item) in self.array_of_tables(entry, path, SUBSCRIPTION_KEYS, shape) {
            let item_path = at.job_path.clone();
            let protocol = self.required_string(&at, "protocol", &item.span, &item_path);
            let endpoint = self.required_string(&at, "endpoint", &item.span, &item_path);
            let raw_message_delivery = self
                .boolean(&at, "raw_message_delivery")
                .unwrap_or_else(|| at.entry("raw_message_delivery").default_boolean());
            let filter_policy = at
                .get("filter_policy")
                .and_then(|(e, key)| self.filter_policy(e, &key));
            let (
                Some((protocol, protocol_span, protocol_key)),
                Some((endpoint, endpoint_span, endpoint_key)),
            ) = (protocol, endpoint)
            else {
                continue;
            };
            if !SUBSCRIPTION_PROTOCOLS.contains(&protocol.as_str()) {
                self.problem(
                    &protocol_span,
                    &protocol_key,
                    format!("`{protocol}` is not a protocol sjob subscribes"),
                    Some(format!("one of {}", SUBSCRIPTION_PROTOCOLS.join(", "))),
                );
                continue;
            }
            if let Some(problem) = endpoint_problem(&protocol, &endpoint) {
                self.problem(&endpoint_span, &endpoint_key, problem, None);
            }
            if fifo && protocol != "sqs" {
                self.problem(
                    &protocol_span,
                    &protocol_key,
                    "a FIFO topic delivers only to SQS queues",
                    None,
                );
            }
            if let (true, Some((e, key))) = (
                raw_message_delivery && !matches!(protocol.as_str(), "sqs" | "https" | "http"),
                at.get("raw_message_delivery"),
            ) {
                self.problem(
                    &e.node.span,
                    &key,
                    format!("raw message delivery applies to sqs, http and https, not {protocol}"),
                    None,
                );
            }
            if subscriptions
                .iter()
                .any(|s| s.protocol == protocol && s.endpoint == endpoint)
            {
                self.problem(
                    &endpoint_span,
                    &endpoint_key,
                    format!("{protocol} `{endpoint}` is subscribed twice"),
                    None,
                );
                continue;
            }
            subscriptions.push(Subscription {
                protocol,
                endpoint,
                filter_policy,
                raw_message_delivery,
            });
        }
        subscriptions
    }

    /// A filter policy on the attributes the handlers set, with the values
    /// they can take where those are fixed.
    fn filter_policy(&mut self, entry: &Entry, path: &str) -> Option<Value> {
        let NodeValue::Table(table) = &entry.node.value else {
            self.problem(
                &entry.node.span,
                path,
                "expected a table of attribute = [values]",
                Some("e.g. filter_policy = { status = [\"FAILED\"] }".into()),
            );
            return None;
        };
        let attributes = handlers::message::FILTER_ATTRIBUTES;
        let mut valid = true;
        for item in &table.entries {
            let key = format!("{path}.{}", item.key);
            let Some((_, values)) = attributes.iter().find(|(name, _)| *name == item.key) else {
                let names: Vec<&str> = attributes.iter().map(|(name, _)| *name).collect();
                self.problem(
                    &item.key_span,
                    &key,
                    format!("the handlers set no `{}` attribute", item.key),
                    Some(format!("filter on {}", names.join(", "))),
                );
                valid = false;
                continue;
            };
            let NodeValue::Array(conditions) = &item.node.value else {
                self.problem(
                    &item.node.span,
                    &key,
                    "expected an array of values or conditions",
                    Some(format!("e.g. {} = [\"...\"]", item.key)),
                );
                valid = false;
                continue;
            };
            for condition in conditions {
                if let (NodeValue::String(value), Some(allowed)) = (&condition.value, values) {
                    if !allowed.contains(&value.as_str()) {
                        self.problem(
                            &condition.span,
                            &key,
                            format!("`{}` never has the value `{value}`", item.key),
                            Some(format!("it is one of {}", allowed.join(", "))),
                        );
                        valid = false;
                    }
                }
            }
        }
        valid.then(|| entry.node.to_json())
    }

    fn handlers(
        &mut self,
        config_path: &Path,
        entry: &Entry,
        topic_created: bool,
    ) -> Option<Handlers> {
        let path = "base.handlers";
        let table = self.table(entry, path)?;
        self.known_keys(table, path, HANDLERS_KEYS);
        let at = Lookup {
            job: table,
            job_path: path.to_string(),
            defaults: None,
            keys: HANDLERS_KEYS,
        };
        let dir = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut package = |key: &str| {
            let relative = at
                .get(key)
                .and_then(|(e, k)| self.string(e, &k))
                .unwrap_or_else(|| at.entry(key).default_text());
            dir.join(relative)
        };
        let success_package = package("success_package");
        let error_package = package("error_package");
        let architecture = self
            .architecture(&at, "architecture", "a Lambda architecture")
            .unwrap_or_else(|| {
                at.default_choice("architecture", &Architecture::ALL.map(|a| (a.as_str(), a)))
            });
        let memory_mb = self
            .integer(&at, "memory", 128, 10_240, "from 128 to 10240 (MB)")
            .unwrap_or_else(|| at.entry("memory").default_integer()) as i32;
        let timeout_seconds =
            self.integer(
                &at,
                "timeout_seconds",
                1,
                900,
                "from 1 to 900 (Lambda's limit)",
            )
            .unwrap_or_else(|| at.entry("timeout_seconds").default_integer()) as i32;
        let log_retention_days = self.log_retention(&at, "log_retention_days");
        let (env, places) = self.merged_map(&at, "env");
        for (name, (span, key)) in &places {
            if !is_env_name(name) {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is not a valid environment variable name"),
                    None,
                );
            } else if name.starts_with("AWS_")
                || name.starts_with("LAMBDA_")
                || RESERVED_HANDLER_ENV.contains(&name.as_str())
            {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is reserved (AWS_* and LAMBDA_* by Lambda, SNS_TOPIC_ARN by sjob)"),
                    None,
                );
            }
        }
        let topic_arn = match (at.get("topic_arn"), topic_created) {
            (None, true) => None,
            (None, false) => {
                self.problem(
                    &entry.key_span,
                    "base.handlers.topic_arn",
                    "the handlers need a topic: add [base.notifications] or give `topic_arn`",
                    None,
                );
                None
            }
            (Some((e, key)), true) => {
                self.problem(
                    &e.key_span,
                    &key,
                    "[base.notifications] creates the topic; `topic_arn` would name another",
                    Some("remove one of them".into()),
                );
                None
            }
            (Some((e, key)), false) => {
                let arn = self.string(e, &key)?;
                if !is_arn(&arn, "sns", "") {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!("`{arn}` is not an SNS topic ARN"),
                        None,
                    );
                }
                Some(arn)
            }
        };
        Some(Handlers {
            success_package,
            error_package,
            architecture,
            memory_mb,
            timeout_seconds,
            log_retention_days,
            env,
            topic_arn,
        })
    }

    fn compute(&mut self, entry: &Entry) -> Option<Compute> {
        let path = "base.compute";
        let table = self.table(entry, path)?;
        self.known_keys(table, path, COMPUTE_KEYS);
        let at = Lookup {
            job: table,
            job_path: path.to_string(),
            defaults: None,
            keys: COMPUTE_KEYS,
        };
        let subnets = self.ids(&at, "subnets", "subnet-");
        if subnets.is_empty() && at.get("subnets").is_none() {
            self.problem(
                &entry.key_span,
                "base.compute.subnets",
                "`subnets` is required: the subnets Fargate tasks run in",
                Some("e.g. subnets = [\"subnet-0123456789abcdef0\"]".into()),
            );
        }
        let security_groups = self.ids(&at, "security_groups", "sg-");
        let vpc_id = at.get("vpc_id").and_then(|(e, key)| {
            let id = self.string(e, &key)?;
            if !is_resource_id(&id, "vpc-") {
                self.problem(
                    &e.node.span,
                    &key,
                    format!("`{id}` is not a VPC id"),
                    Some("e.g. vpc-0123456789abcdef0".into()),
                );
            }
            Some(id)
        });
        if security_groups.is_empty() && vpc_id.is_none() {
            self.problem(
                &entry.key_span,
                path,
                "Fargate tasks need a security group: give `security_groups`, or `vpc_id` to have sjob create one",
                None,
            );
        }
        let max_vcpus =
            self.integer(&at, "max_vcpus", 1, 10_000, "from 1 to 10000")
                .unwrap_or_else(|| at.entry("max_vcpus").default_integer()) as i32;
        let capacities = [
            ("fargate", Capacity::Fargate),
            ("fargate_spot", Capacity::FargateSpot),
        ];
        let capacity = self
            .choice(&at, "capacity", &capacities, "a capacity sjob offers")
            .unwrap_or_else(|| at.default_choice("capacity", &capacities));
        Some(Compute {
            subnets,
            security_groups,
            vpc_id,
            max_vcpus,
            capacity,
        })
    }

    /// An array of AWS resource ids with the given prefix.
    fn ids(&mut self, at: &Lookup, key: &str, prefix: &str) -> Vec<String> {
        let Some((e, path)) = at.get(key) else {
            return Vec::new();
        };
        let NodeValue::Array(items) = &e.node.value else {
            self.problem(
                &e.node.span,
                &path,
                format!("expected an array of `{prefix}...` ids"),
                None,
            );
            return Vec::new();
        };
        let mut ids = Vec::new();
        for item in items {
            match &item.value {
                NodeValue::String(id) if is_resource_id(id, prefix) => ids.push(id.clone()),
                _ => self.problem(
                    &item.span,
                    &path,
                    format!("expected a `{prefix}...` id"),
                    None,
                ),
            }
        }
        if items.is_empty() {
            self.problem(&e.node.span, &path, "must not be empty", None);
        }
        ids
    }
}

fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()))
}

fn endpoint_problem(protocol: &str, endpoint: &str) -> Option<String> {
    let ok = match protocol {
        "email" | "email-json" => endpoint.contains('@') && !endpoint.contains(char::is_whitespace),
        "https" => endpoint.starts_with("https://"),
        "http" => endpoint.starts_with("http://"),
        "sqs" => is_arn(endpoint, "sqs", ""),
        "lambda" => is_arn(endpoint, "lambda", "function:"),
        "sms" => endpoint.starts_with('+') && endpoint[1..].chars().all(|c| c.is_ascii_digit()),
        _ => true,
    };
    (!ok).then(|| {
        format!(
            "`{endpoint}` is not a {protocol} endpoint ({})",
            match protocol {
                "email" | "email-json" => "an email address",
                "https" => "an https:// URL",
                "http" => "an http:// URL",
                "sqs" => "an SQS queue ARN",
                "lambda" => "a Lambda function ARN",
                _ => "a phone number in E.164 form, e.g. +15555550100",
            }
        )
    })
}
