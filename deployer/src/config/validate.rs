//! From the spanned tree to a [`Config`], recording every problem instead of
//! stopping at the first, each with its key path and place in the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::diagnostic::Problem;
use super::model::*;
use super::tree::{Entry, Node, NodeValue, Span, Table};
use crate::input::{check_input, INPUT_HELP};
use crate::names::{JobNames, NameLimit};
use crate::schedule::{parse_timezone, Schedule};
use base::{ArnKey, ValidBase};

mod base;

pub(super) fn validate(path: &Path, root: &Node) -> Result<Config, Vec<Problem>> {
    let mut v = Validator::default();
    let config = v.config(path, root);
    match config {
        Some(config) if v.problems.is_empty() => Ok(config),
        _ => Err(v.problems),
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

/// A job key looked up in the job's table, then in `[defaults]`.
struct Lookup<'a> {
    job: &'a Table,
    job_path: String,
    defaults: Option<&'a Table>,
}

impl<'a> Lookup<'a> {
    fn get(&self, key: &str) -> Option<(&'a Entry, String)> {
        self.job
            .get(key)
            .map(|e| (e, format!("{}.{key}", self.job_path)))
            .or_else(|| {
                self.defaults
                    .and_then(|d| d.get(key))
                    .map(|e| (e, format!("defaults.{key}")))
            })
    }
}

impl Validator {
    fn problem(
        &mut self,
        span: &Span,
        key: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.problems.push(Problem {
            span: span.clone(),
            key: key.to_string(),
            message: message.into(),
            help,
        });
    }

    fn config(&mut self, path: &Path, root: &Node) -> Option<Config> {
        let NodeValue::Table(top) = &root.value else {
            return None;
        };
        self.known_keys(top, "", TOP_KEYS);
        let app_name = self.required_name(top, "app_name", &root.span);
        let stage = self.required_name(top, "stage", &root.span);
        let region = top.get("region").and_then(|e| self.string(e, "region"));
        if let (Some(region), Some(e)) = (&region, top.get("region")) {
            if !is_region(region) {
                self.problem(
                    &e.node.span,
                    "region",
                    format!("`{region}` is not an AWS region name"),
                    Some("e.g. ap-northeast-1, us-east-1".into()),
                );
            }
        }
        let account_id = top
            .get("account_id")
            .and_then(|e| self.string(e, "account_id"));
        if let (Some(id), Some(e)) = (&account_id, top.get("account_id")) {
            if !is_account_id(id) {
                self.problem(
                    &e.node.span,
                    "account_id",
                    format!("`{id}` is not a 12-digit AWS account id"),
                    None,
                );
            }
        }
        let defaults = top.get("defaults").and_then(|e| self.table(e, "defaults"));
        if let Some(defaults) = defaults {
            self.known_keys(defaults, "defaults", JOB_KEYS);
            if let Some(e) = defaults.get("command") {
                self.problem(
                    &e.key_span,
                    "defaults.command",
                    "a command belongs to each job, not to [defaults]",
                    None,
                );
            }
        }
        let base = match (top.get("base"), &app_name, &stage) {
            (Some(entry), Some(app), Some(stage)) => self.base(path, entry, defaults, app, stage),
            _ => None,
        };
        let mut jobs = BTreeMap::new();
        match top.get("jobs") {
            None => self.problem(
                &(0..0),
                "jobs",
                "no jobs: add a [jobs.<name>] table",
                Some("e.g. [jobs.crawler] with command and schedule_expression".into()),
            ),
            Some(entry) => {
                if let Some(table) = self.table(entry, "jobs") {
                    if table.entries.is_empty() {
                        self.problem(
                            &entry.key_span,
                            "jobs",
                            "no jobs: add a [jobs.<name>] table",
                            None,
                        );
                    }
                    for job_entry in &table.entries {
                        if let Some(job) = self.job(
                            job_entry,
                            defaults,
                            base.as_ref(),
                            app_name.as_deref(),
                            stage.as_deref(),
                        ) {
                            jobs.insert(job.batch_name.clone(), job);
                        }
                    }
                }
            }
        }
        Some(Config {
            path: path.to_path_buf(),
            app_name: app_name?,
            stage: stage?,
            region,
            account_id,
            base: base.map(|b| b.config),
            jobs,
        })
    }

    fn job(
        &mut self,
        entry: &Entry,
        defaults: Option<&Table>,
        base: Option<&ValidBase>,
        app: Option<&str>,
        stage: Option<&str>,
    ) -> Option<Job> {
        let batch_name = entry.key.clone();
        let job_path = format!("jobs.{batch_name}");
        let table = self.table(entry, &job_path)?;
        self.known_keys(table, &job_path, JOB_KEYS);
        if !is_name(&batch_name) {
            self.problem(
                &entry.key_span,
                &job_path,
                format!("job name `{batch_name}` may only hold letters, digits, `-` and `_`"),
                None,
            );
        }
        if let (Some(app), Some(stage)) = (app, stage) {
            let names = JobNames::new(app, stage, &batch_name);
            self.name_limits(
                names.limits(),
                &entry.key_span,
                &job_path,
                "shorten app_name, stage or the job name",
            );
        }
        let at = Lookup {
            job: table,
            job_path: job_path.clone(),
            defaults,
        };
        let header = entry.key_span.clone();

        let command = self.command(&at, &header, &job_path);
        let vcpus = self
            .scalar_text(&at, "vcpus")
            .unwrap_or_else(|| DEFAULT_VCPUS.to_string());
        let memory = self
            .scalar_text(&at, "memory")
            .unwrap_or_else(|| DEFAULT_MEMORY.to_string());
        if let Some(problem) = fargate_size_problem(&vcpus, &memory) {
            let (e, key) = at
                .get("memory")
                .or_else(|| at.get("vcpus"))
                .map_or((None, job_path.clone()), |(e, k)| (Some(e), k));
            let span = e.map_or(header.clone(), |e| e.node.span.clone());
            self.problem(&span, &key, problem, Some(fargate_sizes_help(&vcpus)));
        }
        let schedule = self.required_string(&at, "schedule_expression", &header, &job_path).and_then(|(text, span, key)| {
            Schedule::parse(&text)
                .map_err(|err| self.problem(&span, &key, err.to_string(), Some("see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html".into())))
                .ok()
        });
        let schedule_timezone = match at.get("schedule_timezone") {
            None => DEFAULT_TIMEZONE.to_string(),
            Some((e, key)) => {
                let tz = self.string(e, &key).unwrap_or_default();
                if let Err(err) = parse_timezone(&tz) {
                    self.problem(&e.node.span, &key, err.to_string(), None);
                }
                tz
            }
        };
        let sfn_input = match at.get("sfn_input") {
            None => serde_json::json!({}),
            Some((e, key)) => match &e.node.value {
                NodeValue::Table(_) => {
                    let input = e.node.to_json();
                    if let Err(err) = check_input(&input) {
                        self.problem(&e.node.span, &key, err.to_string(), Some(INPUT_HELP.into()));
                    }
                    input
                }
                _ => {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!(
                            "expected a table (the execution input object), found {}",
                            e.node.type_name()
                        ),
                        None,
                    );
                    Value::Null
                }
            },
        };
        let env = self.merged_map(&at, "env");
        for (name, (span, key)) in &env.1 {
            if !is_env_name(name) {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is not a valid environment variable name"),
                    Some("use letters, digits and `_`, not starting with a digit".into()),
                );
            } else if name.starts_with("AWS_BATCH") || name.starts_with("SJOB_") {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is reserved (AWS_BATCH* by Batch, SJOB_* by sjob)"),
                    None,
                );
            }
        }
        let image_uri = self
            .required_string(&at, "image_uri", &header, &job_path)
            .map(|t| t.0);
        let image_tag = at
            .get("image_tag")
            .and_then(|(e, k)| self.string(e, &k))
            .unwrap_or_else(|| DEFAULT_IMAGE_TAG.to_string());
        let base_names = base.map(|b| &b.names);
        let queue = self.arn_ref(
            &at,
            ArnKey::QUEUE,
            base.filter(|b| b.config.compute.is_some())
                .and(base_names.map(|n| n.job_queue.as_str())),
            &header,
            &job_path,
        );
        let has_handlers = base.filter(|b| b.config.handlers.is_some());
        let success = self.arn_ref(
            &at,
            ArnKey::SUCCESS_HANDLER,
            has_handlers.and(base_names.map(|n| n.success_function.as_str())),
            &header,
            &job_path,
        );
        let error = self.arn_ref(
            &at,
            ArnKey::ERROR_HANDLER,
            has_handlers.and(base_names.map(|n| n.error_function.as_str())),
            &header,
            &job_path,
        );
        let notification_topic = match at.get("notification_topic_arn") {
            Some(_) => self
                .required_arn(&at, "notification_topic_arn", "sns", "", &header, &job_path)
                .map(NotificationTopic::given),
            None => base.and_then(|b| b.config.notification_topic()),
        };
        let enabled = self.boolean(&at, "enabled").unwrap_or(true);
        let assign_public_ip = self.boolean(&at, "assign_public_ip").unwrap_or(false);
        let timeout_seconds = self
            .integer(
                &at,
                "timeout_seconds",
                60,
                1_209_600,
                "from 60 (Batch's minimum) to 1209600 (14 days)",
            )
            .map(|v| v as u32);
        let retry_attempts = self
            .integer(&at, "retry_attempts", 1, 10, "1 to 10")
            .map_or(DEFAULT_RETRY_ATTEMPTS, |v| v as u32);
        let log_retention_days = self.log_retention(&at, "log_retention_days");
        let task_policy_statements = self.statements(&at);
        let tags = self.tags(&at);
        let description = at.get("description").and_then(|(e, k)| self.string(e, &k));
        if let Some(d) = &description {
            if d.len() > 512 {
                let (e, key) = at.get("description")?;
                self.problem(
                    &e.node.span,
                    &key,
                    "description is longer than 512 characters (the Scheduler's limit)",
                    None,
                );
            }
        }
        Some(Job {
            batch_name,
            command: command?,
            vcpus,
            memory,
            schedule: schedule?,
            schedule_timezone,
            sfn_input,
            env: env.0,
            image_uri: image_uri?,
            image_tag,
            batch_job_queue: queue?,
            success_handler: success?,
            error_handler: error?,
            enabled,
            timeout_seconds,
            retry_attempts,
            log_retention_days,
            task_policy_statements,
            tags,
            description,
            assign_public_ip,
            notification_topic,
        })
    }

    /// A problem at `span` for each name longer than AWS allows.
    fn name_limits(&mut self, limits: Vec<NameLimit>, span: &Span, key: &str, help: &str) {
        for limit in limits.iter().filter(|l| l.name.len() > l.max) {
            self.problem(
                span,
                key,
                format!(
                    "the {} `{}` would be {} characters; AWS allows {}",
                    limit.what,
                    limit.name,
                    limit.name.len(),
                    limit.max
                ),
                Some(help.to_string()),
            );
        }
    }

    fn known_keys(&mut self, table: &Table, path: &str, allowed: &[&str]) {
        for entry in &table.entries {
            if !allowed.contains(&entry.key.as_str()) {
                let key = if path.is_empty() {
                    entry.key.clone()
                } else {
                    format!("{path}.{}", entry.key)
                };
                let near = allowed.iter().find(|a| similar(a, &entry.key));
                let help = match near {
                    Some(near) => format!(
                        "did you mean `{near}`? allowed keys: {}",
                        allowed.join(", ")
                    ),
                    None => format!("allowed keys: {}", allowed.join(", ")),
                };
                self.problem(
                    &entry.key_span,
                    &key,
                    format!("unknown key `{}`", entry.key),
                    Some(help),
                );
            }
        }
    }

    fn table<'t>(&mut self, entry: &'t Entry, key: &str) -> Option<&'t Table> {
        match &entry.node.value {
            NodeValue::Table(t) => Some(t),
            _ => {
                self.problem(
                    &entry.node.span,
                    key,
                    format!("expected a table, found {}", entry.node.type_name()),
                    None,
                );
                None
            }
        }
    }

    fn string(&mut self, entry: &Entry, key: &str) -> Option<String> {
        match &entry.node.value {
            NodeValue::String(s) => Some(s.clone()),
            _ => {
                self.problem(
                    &entry.node.span,
                    key,
                    format!("expected a string, found {}", entry.node.type_name()),
                    None,
                );
                None
            }
        }
    }

    fn required_name(&mut self, top: &Table, key: &str, root: &Span) -> Option<String> {
        let Some(entry) = top.get(key) else {
            self.problem(
                &(root.start..root.start),
                key,
                format!("`{key}` is required"),
                None,
            );
            return None;
        };
        let value = self.string(entry, key)?;
        if !is_name(&value) {
            self.problem(
                &entry.node.span,
                key,
                format!("`{value}` may only hold letters, digits, `-` and `_`"),
                Some("it becomes part of IAM, Step Functions and Scheduler names".into()),
            );
        }
        Some(value)
    }

    fn required_string(
        &mut self,
        at: &Lookup,
        key: &str,
        header: &Span,
        job_path: &str,
    ) -> Option<(String, Span, String)> {
        match at.get(key) {
            None => {
                self.problem(
                    header,
                    &format!("{job_path}.{key}"),
                    format!("`{key}` is required (in the job or in [defaults])"),
                    None,
                );
                None
            }
            Some((e, path)) => {
                let value = self.string(e, &path)?;
                if value.trim().is_empty() {
                    self.problem(&e.node.span, &path, "must not be empty", None);
                    return None;
                }
                Some((value, e.node.span.clone(), path))
            }
        }
    }

    fn required_arn(
        &mut self,
        at: &Lookup,
        key: &str,
        service: &str,
        resource_prefix: &str,
        header: &Span,
        job_path: &str,
    ) -> Option<String> {
        let (arn, span, path) = self.required_string(at, key, header, job_path)?;
        if !is_arn(&arn, service, resource_prefix) {
            self.problem(&span, &path, format!("`{arn}` is not a {service} ARN"), Some(format!("expected arn:aws:{service}:<region>:<12-digit account>:{resource_prefix}<name>")));
            return None;
        }
        Some(arn)
    }

    /// A job's ARN key: given (in the job or `[defaults]`), else the base
    /// resource named `base`, else a problem.
    fn arn_ref(
        &mut self,
        at: &Lookup,
        key: ArnKey,
        base: Option<&str>,
        header: &Span,
        job_path: &str,
    ) -> Option<ArnRef> {
        match (at.get(key.key), base) {
            (None, Some(name)) => Some(ArnRef::Base(name.to_string())),
            (None, None) => {
                self.problem(
                    header,
                    &format!("{job_path}.{}", key.key),
                    format!("`{}` is required (in the job or in [defaults])", key.key),
                    Some(format!(
                        "or add [base.{}] to have sjob create it",
                        key.base_part
                    )),
                );
                None
            }
            (Some(_), _) => self
                .required_arn(at, key.key, key.service, key.prefix, header, job_path)
                .map(ArnRef::Given),
        }
    }

    fn log_retention(&mut self, at: &Lookup, key: &str) -> i32 {
        let Some((e, key)) = at.get(key) else {
            return DEFAULT_LOG_RETENTION_DAYS;
        };
        // Converted, not cast: `as i32` would wrap 2^32 + 1 into a valid 1.
        let days = match e.node.value {
            NodeValue::Integer(days) => i32::try_from(days).ok(),
            _ => None,
        };
        match days.filter(|d| LOG_RETENTION_DAYS.contains(d)) {
            Some(days) => days,
            None => {
                self.problem(
                    &e.node.span,
                    &key,
                    "not a retention period CloudWatch Logs accepts",
                    Some(format!("one of {LOG_RETENTION_DAYS:?}")),
                );
                DEFAULT_LOG_RETENTION_DAYS
            }
        }
    }

    fn scalar_text(&mut self, at: &Lookup, key: &str) -> Option<String> {
        let (e, path) = at.get(key)?;
        match &e.node.value {
            NodeValue::String(s) => Some(s.trim().to_string()),
            NodeValue::Integer(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            _ => {
                self.problem(
                    &e.node.span,
                    &path,
                    format!(
                        "expected a string or a number, found {}",
                        e.node.type_name()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn boolean(&mut self, at: &Lookup, key: &str) -> Option<bool> {
        let (e, path) = at.get(key)?;
        match e.node.value {
            NodeValue::Boolean(b) => Some(b),
            _ => {
                self.problem(
                    &e.node.span,
                    &path,
                    format!("expected true or false, found {}", e.node.type_name()),
                    None,
                );
                None
            }
        }
    }

    fn integer(
        &mut self,
        at: &Lookup,
        key: &str,
        min: i64,
        max: i64,
        allowed: &str,
    ) -> Option<i64> {
        let (e, path) = at.get(key)?;
        match e.node.value {
            NodeValue::Integer(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.problem(
                    &e.node.span,
                    &path,
                    format!("expected a whole number {allowed}"),
                    None,
                );
                None
            }
        }
    }

    fn command(&mut self, at: &Lookup, header: &Span, job_path: &str) -> Option<Vec<String>> {
        let Some((e, path)) = at.get("command") else {
            self.problem(
                header,
                &format!("{job_path}.command"),
                "`command` is required",
                Some("e.g. command = [\"python\", \"/opt/app/job.py\"]".into()),
            );
            return None;
        };
        let NodeValue::Array(items) = &e.node.value else {
            self.problem(
                &e.node.span,
                &path,
                format!("expected an array of strings, found {}", e.node.type_name()),
                None,
            );
            return None;
        };
        if items.is_empty() {
            self.problem(
                &e.node.span,
                &path,
                "the command is empty",
                Some("e.g. command = [\"python\", \"/opt/app/job.py\"]".into()),
            );
            return None;
        }
        let mut command = Vec::new();
        for item in items {
            match &item.value {
                NodeValue::String(s) => command.push(s.clone()),
                _ => self.problem(
                    &item.span,
                    &path,
                    format!("command items must be strings, found {}", item.type_name()),
                    None,
                ),
            }
        }
        (command.len() == items.len()).then_some(command)
    }

    /// `[defaults]` entries overlaid by the job's, each remembering its place.
    #[allow(clippy::type_complexity)]
    fn merged_map(
        &mut self,
        at: &Lookup,
        key: &str,
    ) -> (BTreeMap<String, String>, BTreeMap<String, (Span, String)>) {
        let mut values = BTreeMap::new();
        let mut places = BTreeMap::new();
        let sources = [
            at.defaults
                .and_then(|d| d.get(key))
                .map(|e| (e, format!("defaults.{key}"))),
            at.job
                .get(key)
                .map(|e| (e, format!("{}.{key}", at.job_path))),
        ];
        for (entry, path) in sources.into_iter().flatten() {
            let Some(table) = self.table(entry, &path) else {
                continue;
            };
            for item in &table.entries {
                let item_path = format!("{path}.{}", item.key);
                let value = match &item.node.value {
                    NodeValue::String(s) => s.clone(),
                    NodeValue::Integer(i) => i.to_string(),
                    NodeValue::Float(f) => f.to_string(),
                    NodeValue::Boolean(b) => b.to_string(),
                    _ => {
                        self.problem(
                            &item.node.span,
                            &item_path,
                            format!("expected a string, found {}", item.node.type_name()),
                            None,
                        );
                        continue;
                    }
                };
                values.insert(item.key.clone(), value);
                places.insert(item.key.clone(), (item.key_span.clone(), item_path));
            }
        }
        (values, places)
    }

    /// User tags: `[defaults]` overlaid by the job's (or `[base]`'s alone).
    fn tags(&mut self, at: &Lookup) -> BTreeMap<String, String> {
        let (tags, places) = self.merged_map(at, "tags");
        for (name, (span, key)) in &places {
            let value = &tags[name];
            if name.to_ascii_lowercase().starts_with("aws:")
                || name.len() > 128
                || value.len() > 256
                || name.starts_with("sjob:")
            {
                self.problem(span, key, format!("tag `{name}` is not allowed: keys up to 128 characters, values up to 256, no `aws:` or `sjob:` prefix"), None);
            }
        }
        tags
    }

    fn statements(&mut self, at: &Lookup) -> Vec<Value> {
        let Some((e, path)) = at.get("task_policy_statements") else {
            return Vec::new();
        };
        let NodeValue::Array(items) = &e.node.value else {
            self.problem(
                &e.node.span,
                &path,
                "expected an array of IAM policy statements",
                None,
            );
            return Vec::new();
        };
        let mut statements = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let NodeValue::Table(t) = &item.value else {
                self.problem(
                    &item.span,
                    &item_path,
                    "expected a statement table with Effect, Action and Resource",
                    None,
                );
                continue;
            };
            self.known_keys(
                t,
                &item_path,
                &[
                    "Sid",
                    "Effect",
                    "Action",
                    "NotAction",
                    "Resource",
                    "NotResource",
                    "Condition",
                ],
            );
            let effect = t.get("Effect").map(|e| e.node.to_json());
            if !matches!(
                effect.as_ref().and_then(Value::as_str),
                Some("Allow" | "Deny")
            ) {
                self.problem(
                    &item.span,
                    &item_path,
                    "`Effect` must be \"Allow\" or \"Deny\"",
                    None,
                );
            }
            for required in [["Action", "NotAction"], ["Resource", "NotResource"]] {
                if !required.iter().any(|k| t.get(k).is_some()) {
                    self.problem(
                        &item.span,
                        &item_path,
                        format!("`{}` is required", required[0]),
                        None,
                    );
                }
            }
            statements.push(item.to_json());
        }
        statements
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// `arn:<partition>:<service>:<region>:<account>:<prefix><name>`.
fn is_arn(arn: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_literal, partition, svc, region, account, resource] = parts[..] else {
        return false;
    };
    arn_literal == "arn"
        && partition.starts_with("aws")
        && svc == service
        && is_region(region)
        && is_account_id(account)
        && resource
            .strip_prefix(resource_prefix)
            .is_some_and(|name| !name.is_empty() && !name.contains(char::is_whitespace))
}

fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a.contains(&b) || b.contains(&a) || edit_distance(&a, &b) <= 2
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = cur;
        }
    }
    row[b.len()]
}

/// Fargate's vCPU and memory (MiB) pairs.
fn fargate_memory_options(vcpus: &str) -> Option<Vec<u32>> {
    let range =
        |from: u32, to: u32, step: u32| (from..=to).step_by(step as usize).collect::<Vec<_>>();
    Some(match vcpus {
        "0.25" => vec![512, 1024, 2048],
        "0.5" => range(1024, 4096, 1024),
        "1" => range(2048, 8192, 1024),
        "2" => range(4096, 16384, 1024),
        "4" => range(8192, 30720, 1024),
        "8" => range(16384, 61440, 4096),
        "16" => range(32768, 122880, 8192),
        _ => return None,
    })
}

fn fargate_size_problem(vcpus: &str, memory: &str) -> Option<String> {
    let Some(options) = fargate_memory_options(vcpus) else {
        return Some(format!(
            "Fargate does not offer {vcpus} vCPU; it offers 0.25, 0.5, 1, 2, 4, 8 and 16"
        ));
    };
    match memory.parse::<u32>() {
        Ok(m) if options.contains(&m) => None,
        Ok(m) => Some(format!("Fargate does not offer {m} MiB with {vcpus} vCPU")),
        Err(_) => Some(format!("memory `{memory}` is not a whole number of MiB")),
    }
}

fn fargate_sizes_help(vcpus: &str) -> String {
    match fargate_memory_options(vcpus) {
        Some(options) => format!(
            "with {vcpus} vCPU: {} to {} MiB in steps of {}",
            options[0],
            options[options.len() - 1],
            options.get(1).map_or(0, |s| s - options[0])
        ),
        None => "vcpus: 0.25, 0.5, 1, 2, 4, 8 or 16".to_string(),
    }
}
