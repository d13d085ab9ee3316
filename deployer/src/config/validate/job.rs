//! The rules of one job (`[jobs.NAME]`, with `[defaults]`).

use serde_json::Value;

use super::base::ValidBase;
use super::read::ArnKey;
use super::read::Lookup;
use super::rules::{
    fargate_size, fargate_sizes_help, is_env_name, is_exit_code_pattern, is_name, is_reason_pattern,
};
use super::Validator;
use crate::config::tree::{Entry, NodeValue, Span, Table};
use crate::config::*;
use crate::input::{check_input, INPUT_HELP};
use crate::kms::{KeyForm, KmsKey};
use crate::names::{JobNames, NameLimit};
use crate::schedule::{parse_timezone, Schedule};
use crate::secret::SecretSource;

impl Validator {
    pub(super) fn job(
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
            keys: JOB_KEYS,
        };
        let header = entry.key_span.clone();

        let command = self.command(&at, &header, &job_path);
        let vcpus = self
            .scalar_text(&at, "vcpus")
            .unwrap_or_else(|| at.entry("vcpus").default_text());
        let memory = self
            .scalar_text(&at, "memory")
            .unwrap_or_else(|| at.entry("memory").default_text());
        let size = fargate_size(&vcpus, &memory).map_err(|problem| {
            let (e, key) = at
                .get("memory")
                .or_else(|| at.get("vcpus"))
                .map_or((None, job_path.clone()), |(e, k)| (Some(e), k));
            let span = e.map_or(header.clone(), |e| e.node.span.clone());
            self.problem(&span, &key, problem, Some(fargate_sizes_help(&vcpus)));
        });
        let schedule = self.required_string(&at, "schedule_expression", &header, &job_path).and_then(|(text, span, key)| {
            Schedule::parse(&text)
                .map_err(|err| self.problem(&span, &key, err.to_string(), Some("see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html".into())))
                .ok()
        });
        let schedule_timezone = match at.get("schedule_timezone") {
            None => at.entry("schedule_timezone").default_text(),
            Some((e, key)) => {
                let tz = self.string(e, &key).unwrap_or_default();
                if let Err(err) = parse_timezone(&tz) {
                    self.problem(&e.node.span, &key, err.to_string(), None);
                }
                tz
            }
        };
        let sfn_input = match at.get("sfn_input") {
            None => at.entry("sfn_input").default_json().expect("a value"),
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
            self.container_variable(name, span, key);
        }
        let secrets = self.merged_map(&at, "secrets");
        for (name, (span, key)) in &secrets.1 {
            self.container_variable(name, span, key);
            if env.0.contains_key(name) {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is in both `env` and `secrets`"),
                    Some("the task would get one of the two values; keep the secret".into()),
                );
            }
            let arn = &secrets.0[name];
            if SecretSource::parse(arn).is_none() {
                self.problem(
                    span,
                    key,
                    format!("`{arn}` is not a Secrets Manager secret or SSM parameter ARN"),
                    Some("arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key:version-stage:version-id], or arn:aws:ssm:<region>:<account>:parameter/<name>".into()),
                );
            }
        }
        let secrets_kms_key_arn = match at.get("secrets_kms_key_arn") {
            Some((e, key)) => self.string(e, &key).and_then(|text| {
                match KmsKey::parse(&text).map(|k| k.form()) {
                    Some(KeyForm::KeyArn) => Some(Some(text)),
                    _ => {
                        self.problem(
                            &e.node.span,
                            &key,
                            format!("`{text}` is not a KMS key ARN"),
                            Some("expected arn:aws:kms:<region>:<12-digit account>:key/<key id>: the task execution role's grant names the key itself, which an alias or a bare id cannot".into()),
                        );
                        None
                    }
                }
            }),
            None => Some(None),
        };
        let image_uri = self
            .required_string(&at, "image_uri", &header, &job_path)
            .map(|t| t.0);
        let image_tag = at
            .get("image_tag")
            .and_then(|(e, k)| self.string(e, &k))
            .unwrap_or_else(|| at.entry("image_tag").default_text());
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
        let enabled = self
            .boolean(&at, "enabled")
            .unwrap_or_else(|| at.entry("enabled").default_boolean());
        let assign_public_ip = self
            .boolean(&at, "assign_public_ip")
            .unwrap_or_else(|| at.entry("assign_public_ip").default_boolean());
        let timeout_seconds = self
            .integer(
                &at,
                "timeout_seconds",
                60,
                1_209_600,
                "from 60 (Batch's minimum) to 1209600 (14 days)",
            )
            .map(|v| v as u32);
        let run_timeout_seconds = self
            .integer(
                &at,
                "run_timeout_seconds",
                60,
                31_536_000,
                "from 60 to 31536000 (a year, the longest a run may last)",
            )
            .map(|v| v as u32);
        let array_size = self
            .integer(
                &at,
                "array_size",
                2,
                10_000,
                "from 2 to 10000 (Batch's array job sizes)",
            )
            .map(|v| v as u32);
        let expect_success_within = at.get("expect_success_within").and_then(|(e, key)| {
            let text = self.string(e, &key)?;
            SuccessWindow::parse(&text)
                .map_err(|accepted| {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!("`{text}` is not a window sjob can alarm on: expected {accepted}"),
                        None,
                    )
                })
                .ok()
        });
        let overlaps = [("allow", Overlap::Allow), ("skip", Overlap::Skip)];
        let overlap = self
            .choice(&at, "overlap", &overlaps, "an overlap policy")
            .unwrap_or_else(|| at.default_choice("overlap", &overlaps));
        let notify_on_skip = self
            .boolean(&at, "notify_on_skip")
            .unwrap_or_else(|| at.entry("notify_on_skip").default_boolean());
        if notify_on_skip && overlap != Overlap::Skip {
            if let Some((e, key)) = at.get("notify_on_skip") {
                self.problem(
                    &e.node.span,
                    &key,
                    "notify_on_skip needs overlap = \"skip\": no run is ever skipped",
                    None,
                );
            }
        }
        let retry_attempts =
            self.integer(&at, "retry_attempts", 1, 10, "1 to 10")
                .unwrap_or_else(|| at.entry("retry_attempts").default_integer()) as u32;
        let retry_on = self.retry_on(&at, retry_attempts);
        let log_retention_days = self.log_retention(&at, "log_retention_days");
        let log_groups = [
            ("vended", ExecutionLogGroup::Vended),
            ("seed", ExecutionLogGroup::Seed),
        ];
        let execution_log_group = self
            .choice(
                &at,
                "execution_log_group",
                &log_groups,
                "an execution log group",
            )
            .unwrap_or_else(|| at.default_choice("execution_log_group", &log_groups));
        if execution_log_group == ExecutionLogGroup::Seed {
            if let Some((e, key)) = at.get("execution_log_group") {
                self.warning(
                    &e.node.span,
                    &key,
                    "a log group outside /aws/vendedlogs/ adds an entry to the account's CloudWatch Logs resource policy, which holds 5,120 characters: about 50 such jobs per account and region, after which Step Functions refuses to create or update state machines (InvalidLoggingConfiguration)",
                    Some("keep the default `vended` unless something reads the seed's log group name".into()),
                );
            }
        }
        let cpu_architecture =
            self.architecture(&at, "cpu_architecture", "a CPU architecture Fargate runs");
        let spot_only = base.and_then(|b| b.config.compute.as_ref()).filter(|c| {
            c.capacity == Capacity::FargateSpot && matches!(queue, Some(ArnRef::Base(_)))
        });
        if let (Some(Architecture::Arm64), Some(_)) = (cpu_architecture, spot_only) {
            let (e, key) = at.get("cpu_architecture")?;
            self.problem(
                &e.node.span,
                &key,
                "Fargate Spot does not run ARM64 tasks: the job would wait in [base.compute]'s queue forever",
                Some("use capacity = \"fargate\" in [base.compute], cpu_architecture = \"x86_64\", or a job queue with Fargate capacity".into()),
            );
        }
        let ephemeral_storage_gib = self
            .integer(
                &at,
                "ephemeral_storage_gib",
                21,
                200,
                "from 21 to 200 (GiB; every Fargate task has 20)",
            )
            .map(|v| v as u32);
        let versions = ["LATEST", "1.4.0", "1.3.0"].map(|v| (v, v));
        let platform_version = self
            .choice(
                &at,
                "platform_version",
                &versions,
                "a Fargate platform version",
            )
            .unwrap_or_else(|| at.default_choice("platform_version", &versions))
            .to_string();
        // Amazon ECS Developer Guide, "Fargate Linux platform versions": more
        // than 20 GiB of task storage, and ARM64, need 1.4.0 or later.
        let needs_1_4: Vec<&str> = [
            (ephemeral_storage_gib.is_some(), "ephemeral_storage_gib"),
            (
                cpu_architecture == Some(Architecture::Arm64),
                "cpu_architecture = \"arm64\"",
            ),
        ]
        .into_iter()
        .filter_map(|(used, what)| used.then_some(what))
        .collect();
        if platform_version == "1.3.0" && !needs_1_4.is_empty() {
            let (e, key) = at.get("platform_version")?;
            self.problem(
                &e.node.span,
                &key,
                format!(
                    "Fargate platform version 1.3.0 does not support {}: it needs 1.4.0 or later",
                    needs_1_4.join(" or ")
                ),
                Some("use platform_version = \"1.4.0\" or \"LATEST\"".into()),
            );
        }
        let schedule_retry = self.schedule_retry(&at);
        let schedule_dead_letter_arn = match at.get("schedule_dead_letter_arn") {
            Some(_) => self
                .dead_letter_arn(&at, "schedule_dead_letter_arn", &header, &job_path)
                .map(Some),
            None => Some(None),
        };
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
        let (vcpus, memory_mib) = size.ok()?;
        Some(Job {
            batch_name,
            container: Container {
                command: command?,
                image_uri: image_uri?,
                image_tag,
                vcpus,
                memory_mib,
                env: env.0,
                secrets: secrets.0,
                secrets_kms_key_arn: secrets_kms_key_arn?,
                timeout_seconds,
                assign_public_ip,
                cpu_architecture,
                ephemeral_storage_gib,
                platform_version,
                task_policy_statements,
            },
            schedule: JobSchedule {
                when: schedule?,
                timezone: schedule_timezone,
                enabled,
                input: sfn_input,
                description,
                retry: schedule_retry,
                dead_letter_arn: schedule_dead_letter_arn?,
            },
            retry: Retry {
                attempts: retry_attempts,
                on: retry_on,
            },
            run: Run {
                batch_job_queue: queue?,
                overlap,
                run_timeout_seconds,
                array_size,
            },
            notification: Notification {
                success_handler: success?,
                error_handler: error?,
                notify_on_skip,
                topic: notification_topic,
            },
            alarm: Alarm {
                expect_success_within,
            },
            logs: Logs {
                log_retention_days,
                execution_log_group,
            },
            tags,
        })
    }

    /// A problem at `span` for each name longer than AWS allows.
    pub(super) fn name_limits(
        &mut self,
        limits: Vec<NameLimit>,
        span: &Span,
        key: &str,
        help: &str,
    ) {
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

    /// A container variable's name (of `env` or `secrets`).
    fn container_variable(&mut self, name: &str, span: &Span, key: &str) {
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

    /// `retry_on = [{ exit_code | reason | status_reason, action }]`: Batch's
    /// `evaluateOnExit`, under its own pattern rules.
    fn retry_on(&mut self, at: &Lookup, retry_attempts: u32) -> Vec<RetryRule> {
        const MAX_RULES: usize = 5;
        let Some((e, path)) = at.get("retry_on") else {
            return Vec::new();
        };
        let shape = (
            "rules",
            "a rule table",
            "retry_on = [{ exit_code = 137, action = \"retry\" }, { exit_code = \"*\", action = \"exit\" }]",
        );
        let items = self.array_of_tables(e, &path, RETRY_ON_KEYS, shape);
        if items.len() > MAX_RULES {
            self.problem(
                &e.node.span,
                &path,
                format!("{} rules; Batch takes at most {MAX_RULES}", items.len()),
                None,
            );
        }
        if retry_attempts < 2 && !items.is_empty() {
            self.problem(
                &e.node.span,
                &path,
                "with retry_attempts = 1 there is no retry for these rules to decide",
                Some("set retry_attempts to 2 or more".into()),
            );
        }
        let mut rules = Vec::new();
        for (rule_at, item) in items {
            let item_path = rule_at.job_path.clone();
            let on_exit_code = self.scalar_text(&rule_at, "exit_code");
            if let (Some(code), Some((e, key))) = (&on_exit_code, rule_at.get("exit_code")) {
                if !is_exit_code_pattern(code) {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!("`{code}` is not an exit code pattern Batch accepts"),
                        Some("a number, or digits ending in `*` (`13*`); `*` alone matches every exit".into()),
                    );
                }
            }
            let mut reason = |key: &str| {
                let (e, key) = rule_at.get(key)?;
                let text = self.string(e, &key)?;
                if !is_reason_pattern(&text) {
                    self.problem(
                        &e.node.span,
                        &key,
                        format!("`{text}` is not a reason pattern Batch accepts"),
                        Some("letters, digits, `.`, `:` and spaces, up to 512, optionally ending in `*`".into()),
                    );
                }
                Some(text)
            };
            let on_reason = reason("reason");
            let on_status_reason = reason("status_reason");
            if on_exit_code.is_none() && on_reason.is_none() && on_status_reason.is_none() {
                self.problem(
                    &item.span,
                    &item_path,
                    "a rule needs `exit_code`, `reason` or `status_reason`",
                    Some("`exit_code = \"*\"` matches every attempt that exited".into()),
                );
            }
            let actions = [("retry", RetryAction::Retry), ("exit", RetryAction::Exit)];
            let action = match rule_at.get("action") {
                None => {
                    self.problem(
                        &item.span,
                        &item_path,
                        "`action` is required",
                        Some("\"retry\" or \"exit\"".into()),
                    );
                    None
                }
                Some(_) => self.choice(&rule_at, "action", &actions, "an action"),
            };
            if let Some(action) = action {
                rules.push(RetryRule {
                    on_exit_code,
                    on_reason,
                    on_status_reason,
                    action,
                });
            }
        }
        rules
    }

    /// `schedule_retry = { maximum_retry_attempts, maximum_event_age_seconds }`,
    /// each defaulting to what Scheduler applies without a retry policy.
    fn schedule_retry(&mut self, at: &Lookup) -> ScheduleRetry {
        let Some((e, path)) = at.get("schedule_retry") else {
            return ScheduleRetry::AWS;
        };
        let Some(table) = self.table(e, &path) else {
            return ScheduleRetry::AWS;
        };
        self.known_keys(table, &path, SCHEDULE_RETRY_KEYS);
        let at = Lookup {
            job: table,
            job_path: path,
            defaults: None,
            keys: SCHEDULE_RETRY_KEYS,
        };
        let integer = |key: &str| at.entry(key).default_integer();
        ScheduleRetry {
            maximum_retry_attempts: self
                .integer(&at, "maximum_retry_attempts", 0, 185, "from 0 to 185")
                .unwrap_or_else(|| integer("maximum_retry_attempts"))
                as u32,
            maximum_event_age_seconds: self
                .integer(
                    &at,
                    "maximum_event_age_seconds",
                    60,
                    86_400,
                    "from 60 to 86400 (seconds)",
                )
                .unwrap_or_else(|| integer("maximum_event_age_seconds"))
                as u32,
        }
    }

    pub(super) fn log_retention(&mut self, at: &Lookup, key: &str) -> i32 {
        let default = at.entry(key).default_integer() as i32;
        let Some((e, key)) = at.get(key) else {
            return default;
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
                default
            }
        }
    }

    pub(super) fn command(
        &mut self,
        at: &Lookup,
        header: &Span,
        job_path: &str,
    ) -> Option<Vec<String>> {
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

    pub(super) fn statements(&mut self, at: &Lookup) -> Vec<Value> {
        let Some((e, path)) = at.get("task_policy_statements") else {
            return Vec::new();
        };
        let shape = (
            "IAM policy statements",
            "a statement table with Effect, Action and Resource",
            "task_policy_statements = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"arn:aws:s3:::bucket/*\" }]",
        );
        let mut statements = Vec::new();
        for (statement, item) in self.array_of_tables(e, &path, STATEMENT_KEYS, shape) {
            let (t, item_path) = (statement.job, &statement.job_path);
            let effect = t.get("Effect").map(|e| e.node.to_json());
            if !matches!(
                effect.as_ref().and_then(Value::as_str),
                Some("Allow" | "Deny")
            ) {
                self.problem(
                    &item.span,
                    item_path,
                    "`Effect` must be \"Allow\" or \"Deny\"",
                    None,
                );
            }
            for required in [["Action", "NotAction"], ["Resource", "NotResource"]] {
                if !required.iter().any(|k| t.get(k).is_some()) {
                    self.problem(
                        &item.span,
                        item_path,
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
