//! `sjob validate`.

use std::fmt;
use std::path::PathBuf;

use miette::Result;
use serde::Serialize;

use sjob::config::ProblemRecord;

use super::context::{Context, Document, Report};

#[derive(clap::Args)]
pub struct ValidateArgs {}

/// A valid config: its jobs and the parts of its base.
#[derive(Serialize)]
pub struct Validated {
    #[serde(skip)]
    path: PathBuf,
    valid: bool,
    jobs: Vec<String>,
    base: Vec<&'static str>,
    warnings: Vec<ProblemRecord>,
}

impl ValidateArgs {
    pub fn run(&self, ctx: &Context) -> Result<Validated> {
        let config = ctx.load()?;
        let base = config.base.as_ref().map_or_else(Vec::new, |b| {
            [
                ("notifications", b.notifications.is_some()),
                ("handlers", b.handlers.is_some()),
                ("compute", b.compute.is_some()),
            ]
            .into_iter()
            .filter_map(|(part, present)| present.then_some(part))
            .collect()
        });
        Ok(Validated {
            path: ctx.config.clone(),
            valid: true,
            jobs: config.jobs.keys().cloned().collect(),
            base,
            warnings: config.warnings,
        })
    }
}

impl fmt::Display for Validated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, jobs) = (self.path.display(), self.jobs.len());
        if self.base.is_empty() {
            writeln!(f, "{path}: {jobs} job(s), valid")
        } else {
            let base = self.base.join(", ");
            writeln!(f, "{path}: {jobs} job(s) and a base ({base}), valid")
        }
    }
}

impl Report for Validated {}

#[derive(clap::Args)]
pub struct SchemaArgs {}

impl SchemaArgs {
    pub fn run(&self) -> Document {
        Document(sjob::config::json_schema())
    }
}
