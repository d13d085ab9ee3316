//! The typed readers: a value of the expected type at a key (of a table,
//! or of a job with its `[defaults]`), or a problem at its place.

use std::collections::BTreeMap;

use super::rules::{is_arn, is_name, is_scheduler_dead_letter_arn, is_tag_text, similar};
use super::Validator;
use crate::config::keys::{self, Key};
use crate::config::tree::{Entry, Node, NodeValue, Span, Table};
use crate::config::{Architecture, ArnRef};
use crate::model::STACK_TAGS;

/// A job key holding an ARN a base part can provide.
#[derive(Clone, Copy)]
pub(super) struct ArnKey {
    pub key: &'static str,
    pub service: &'static str,
    pub prefix: &'static str,
    /// The `[base.<part>]` that creates it.
    pub base_part: &'static str,
}

impl ArnKey {
    pub const QUEUE: ArnKey = ArnKey {
        key: "batch_job_queue_arn",
        service: "batch",
        prefix: "job-queue/",
        base_part: "compute",
    };
    pub const SUCCESS_HANDLER: ArnKey = ArnKey {
        key: "success_handler_arn",
        service: "lambda",
        prefix: "function:",
        base_part: "handlers",
    };
    pub const ERROR_HANDLER: ArnKey = ArnKey {
        key: "error_handler_arn",
        service: "lambda",
        prefix: "function:",
        base_part: "handlers",
    };
}

/// The tags a resource takes beside sjob's identity tags: AWS's 50 per
/// resource (Batch: 50 on a job and its job definition together).
const MAX_USER_TAGS: usize = 50 - STACK_TAGS;

/// A job key looked up in the job's table, then in `[defaults]`.
pub(super) struct Lookup<'a> {
    pub job: &'a Table,
    pub job_path: String,
    pub defaults: Option<&'a Table>,
    /// The entries of the table's keys, whose defaults the readers take.
    pub keys: &'static [Key],
}

impl<'a> Lookup<'a> {
    /// The entry of `key`, which the table's section lists.
    pub fn entry(&self, key: &str) -> &'static Key {
        keys::entry(self.keys, key)
    }

    /// The option of `options` that `key`'s entry names as its default.
    pub fn default_choice<T: Copy>(&self, key: &str, options: &[(&str, T)]) -> T {
        let word = self.entry(key).default_text();
        options
            .iter()
            .find(|(option, _)| *option == word)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("`{key}`'s default is an option"))
    }

    pub fn get(&self, key: &str) -> Option<(&'a Entry, String)> {
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
    /// A problem for each key of `table` that `allowed` does not list.
    pub(super) fn known_keys(&mut self, table: &Table, path: &str, allowed: &[Key]) {
        let allowed = keys::names(allowed);
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

    pub(super) fn table<'t>(&mut self, entry: &'t Entry, key: &str) -> Option<&'t Table> {
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

    pub(super) fn string(&mut self, entry: &Entry, key: &str) -> Option<String> {
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

    pub(super) fn required_name(&mut self, top: &Table, key: &str, root: &Span) -> Option<String> {
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

    pub(super) fn required_string(
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

    /// `key`, an SQS queue Scheduler can send undeliverable runs to.
    pub(super) fn dead_letter_arn(
        &mut self,
        at: &Lookup,
        key: &str,
        header: &Span,
        job_path: &str,
    ) -> Option<String> {
        let (arn, span, path) = self.required_string(at, key, header, job_path)?;
        if arn.ends_with(".fifo") {
            self.problem(&span, &path, format!("`{arn}` is a FIFO queue, which EventBridge Scheduler cannot use as a dead-letter queue (its DeadLetterConfig.Arn pattern allows no `.`)"), Some("use a standard SQS queue".into()));
            return None;
        }
        if !is_scheduler_dead_letter_arn(&arn) {
            self.problem(&span, &path, format!("`{arn}` is not an SQS queue ARN"), Some("expected arn:aws:sqs:<region>:<12-digit account>:<queue name of letters, digits, - and _>".into()));
            return None;
        }
        Some(arn)
    }

    pub(super) fn required_arn(
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
    pub(super) fn arn_ref(
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

    pub(super) fn scalar_text(&mut self, at: &Lookup, key: &str) -> Option<String> {
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

    pub(super) fn boolean(&mut self, at: &Lookup, key: &str) -> Option<bool> {
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

    /// One word of a closed set, each with its value; `what` names the set
    /// in the problem ("an overlap policy").
    pub(super) fn choice<T: Copy>(
        &mut self,
        at: &Lookup,
        key: &str,
        options: &[(&str, T)],
        what: &str,
    ) -> Option<T> {
        let (e, path) = at.get(key)?;
        let word = self.string(e, &path)?;
        if let Some((_, value)) = options.iter().find(|(option, _)| *option == word) {
            return Some(*value);
        }
        let allowed: Vec<String> = options.iter().map(|(o, _)| format!("\"{o}\"")).collect();
        self.problem(
            &e.node.span,
            &path,
            format!("`{word}` is not {what}"),
            Some(allowed.join(" or ")),
        );
        None
    }

    /// `arm64` or `x86_64`: `what` names what runs on it, for the problem.
    pub(super) fn architecture(
        &mut self,
        at: &Lookup,
        key: &str,
        what: &str,
    ) -> Option<Architecture> {
        let options = Architecture::ALL.map(|a| (a.as_str(), a));
        self.choice(at, key, &options, what)
    }

    pub(super) fn integer(
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

    /// The tables of an array of tables (`[[...]]`, or `[{ ... }, ...]`),
    /// each with its keys checked against `allowed` and looked up at its own
    /// path (`key[i]`). `items` names the array's members in problems
    /// ("subscription tables"), `item` one of them; `example` helps with an
    /// array of the wrong type.
    pub(super) fn array_of_tables<'t>(
        &mut self,
        entry: &'t Entry,
        path: &str,
        allowed: &'static [Key],
        (items, item, example): (&str, &str, &str),
    ) -> Vec<(Lookup<'t>, &'t Node)> {
        let NodeValue::Array(members) = &entry.node.value else {
            self.problem(
                &entry.node.span,
                path,
                format!(
                    "expected an array of {items}, found {}",
                    entry.node.type_name()
                ),
                Some(format!("e.g. {example}")),
            );
            return Vec::new();
        };
        let mut tables = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let member_path = format!("{path}[{i}]");
            let NodeValue::Table(table) = &member.value else {
                self.problem(
                    &member.span,
                    &member_path,
                    format!("expected {item}, found {}", member.type_name()),
                    None,
                );
                continue;
            };
            self.known_keys(table, &member_path, allowed);
            let at = Lookup {
                job: table,
                job_path: member_path,
                defaults: None,
                keys: allowed,
            };
            tables.push((at, member));
        }
        tables
    }

    /// `[defaults]` entries overlaid by the job's, each remembering its place.
    #[allow(clippy::type_complexity)]
    pub(super) fn merged_map(
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

    /// User tags: `[defaults]` overlaid by the job's (or `[base]`'s alone),
    /// as the services take them: each key and value in their character set
    /// and length, and few enough that sjob's identity tags fit beside them.
    pub(super) fn tags(&mut self, at: &Lookup) -> BTreeMap<String, String> {
        let (tags, places) = self.merged_map(at, "tags");
        for (name, (span, key)) in &places {
            let value = &tags[name];
            let problem = if name.to_ascii_lowercase().starts_with("aws:")
                || name.starts_with("sjob:")
            {
                Some(format!(
                    "tag `{name}` is not allowed: the `aws:` and `sjob:` prefixes are reserved"
                ))
            } else if name.is_empty() || name.chars().count() > 128 || value.chars().count() > 256 {
                Some(format!(
                    "tag `{name}` is not allowed: keys take 1 to 128 characters, values up to 256"
                ))
            } else if !is_tag_text(name) || !is_tag_text(value) {
                Some(format!("tag `{name}` = `{value}` is not allowed: keys and values take letters, digits, spaces and `_ . : / = + - @` only"))
            } else {
                None
            };
            if let Some(problem) = problem {
                self.problem(span, key, problem, None);
            }
        }
        if tags.len() > MAX_USER_TAGS {
            // The last tag read is where the count went over; the problem
            // is the table's (a tag's own name may hold dots).
            let (name, (span, key)) = places
                .iter()
                .max_by_key(|(_, (span, _))| span.start)
                .expect("more tags than the limit were read");
            let path = key.strip_suffix(&format!(".{name}")).unwrap_or(key);
            self.problem(
                span,
                path,
                format!(
                    "{} tags, at most {MAX_USER_TAGS} allowed: AWS takes 50 tags per resource (and Batch 50 on a job and its job definition together), and sjob adds its {STACK_TAGS} identity tags to every resource",
                    tags.len()
                ),
                Some("merge or drop tags; `[defaults]` tags count for every job".into()),
            );
        }
        tags
    }
}
