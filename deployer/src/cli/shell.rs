//! `sjob completions` and `sjob man`, generated from the same clap
//! definition that parses the arguments, so they cannot drift from it.

use std::fmt;

use clap::CommandFactory;
use clap_complete::Shell;
use miette::{IntoDiagnostic, Result};
use serde::Serialize;

use super::{Cli, Report};

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
    pub fn run(&self) -> Generated {
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut Cli::command(), "sjob", &mut script);
        Generated(String::from_utf8_lossy(&script).into_owned())
    }
}

impl ManArgs {
    pub fn run(&self) -> Result<Generated> {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
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
