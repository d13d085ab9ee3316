//! `sjob completions` and `sjob man`, generated from the same clap
//! definition that parses the arguments, so they cannot drift from it.

use std::fmt;

use clap_complete::Shell;
use miette::{IntoDiagnostic, Result};
use serde::Serialize;

use super::context::Report;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {}

/// Generated text, printed as it is (a JSON string with `--output json`).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Generated(String);

impl CompletionsArgs {
    /// `cli`: the whole command line's definition.
    pub fn run(&self, mut cli: clap::Command) -> Generated {
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut cli, "sjob", &mut script);
        Generated(String::from_utf8_lossy(&script).into_owned())
    }
}

impl ManArgs {
    /// `cli`: the whole command line's definition.
    pub fn run(&self, cli: clap::Command) -> Result<Generated> {
        let mut page = Vec::new();
        clap_mangen::Man::new(cli)
            .render(&mut page)
            .into_diagnostic()?;
        Ok(Generated(String::from_utf8_lossy(&page).into_owned()))
    }
}

impl fmt::Display for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Report for Generated {}
