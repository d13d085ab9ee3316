//! `sjob package`.

use std::fmt;
use std::path::PathBuf;

use miette::Result;
use serde::Serialize;
use sjob::package::{self, Build, Package};

use super::context::{Context, Report};

#[derive(clap::Args)]
pub struct PackageArgs {
    /// sjob's workspace `Cargo.toml` (the config's directory's by default).
    #[arg(long)]
    manifest_path: Option<PathBuf>,
    /// A debug build instead of release.
    #[arg(long)]
    debug: bool,
    /// More `cargo lambda build` arguments, after `--` (e.g. `-- --compiler cargo`).
    #[arg(last = true)]
    extra: Vec<String>,
}

/// The zips built.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Packages(Vec<Package>);

impl PackageArgs {
    pub fn run(&self, ctx: &Context) -> Result<Packages> {
        let build = Build {
            manifest_path: self.manifest_path.clone(),
            debug: self.debug,
            extra: self.extra.clone(),
        };
        Ok(Packages(package::package(&ctx.load()?, &build)?))
    }
}

impl fmt::Display for Packages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            let (binary, path, architecture) = (p.binary, p.path.display(), p.architecture);
            writeln!(f, "{binary}  {path} ({architecture}, {} bytes)", p.bytes)?;
        }
        Ok(())
    }
}

impl Report for Packages {}
