//! From the spanned tree to a [`Config`], recording every problem instead of
//! stopping at the first, each with its key path and place in the file.
//!
//! This module is the driver (the top-level keys, and the problem list);
//! `read` holds the typed readers, `rules` the pure predicates, and `job`
//! and `base` the rules of their sections.

mod base;
mod job;
mod read;
mod rules;

use std::collections::BTreeMap;
use std::path::Path;

use super::diagnostic::Problem;
use super::file::*;
use super::job::*;
use super::tree::{Node, NodeValue, Span};
use rules::{is_account_id, is_region};

/// The config and what it is warned of, or every problem.
pub(super) fn validate(path: &Path, root: &Node) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
    let mut v = Validator::default();
    let config = v.config(path, root);
    match config {
        Some(config) if v.problems.is_empty() => Ok((config, v.warnings)),
        _ => Err(v.problems),
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
    /// What deploys, but that the user should know.
    warnings: Vec<Problem>,
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

    fn warning(
        &mut self,
        span: &Span,
        key: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.warnings.push(Problem {
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
            warnings: Vec::new(),
        })
    }
}
