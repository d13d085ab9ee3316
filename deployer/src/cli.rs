//! The command line: one module per command group, each an `Args` struct
//! whose `run` does the work through the library and returns a [`Report`].
//! This module holds what every command shares: the global options, the
//! [`Context`] they run in, and how a report reaches stdout.

mod execution;
mod local;
mod package;
mod plan;
mod render;
mod schedule;
mod shell;
mod stack;
mod validate;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{IntoDiagnostic, WrapErr};
use serde::Serialize;
use serde_json::{json, Value};
use sjob::aws::SdkOptions;
use sjob::config::{self, Config};
use sjob::input::{check_input, INPUT_HELP};
use sjob::session::Session;

#[derive(Parser)]
#[command(
    name = "sjob",
    version,
    about = "Scheduled AWS Batch jobs: validate, plan, deploy, run"
)]
pub struct Cli {
    /// The config file.
    #[arg(long, global = true, default_value = "sjob.toml", env = "SJOB_CONFIG")]
    pub config: PathBuf,
    /// Result format on stdout (logs and diagnostics follow it on stderr).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The AWS profile to use, instead of AWS_PROFILE's.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region to use, instead of the config's `region` (which wins
    /// over AWS_REGION and the profile's).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check the config and report every problem with its place.
    Validate(validate::ValidateArgs),
    /// Print the documents that would be deployed.
    Render(render::RenderArgs),
    /// Compare the config with what exists in AWS.
    Plan(stack::PlanArgs),
    /// Print the plan, then converge AWS to the config.
    Deploy(stack::DeployArgs),
    /// Build the handler zips `[base.handlers]` deploys, with cargo-lambda.
    Package(package::PackageArgs),
    /// Take over resources the Terraform module created under sjob's names.
    Adopt(stack::AdoptArgs),
    /// Delete everything sjob created for these jobs (all, with the base,
    /// by default). Asks first on a terminal; needs --yes otherwise.
    Destroy(stack::DestroyArgs),
    /// Start an execution now.
    Run(execution::RunArgs),
    /// Recent executions and next fire times.
    Status(execution::StatusArgs),
    /// Print a run's container output; --follow streams it.
    Logs(execution::LogsArgs),
    /// Run jobs, their schedules and their handlers on this machine.
    Local {
        #[command(subcommand)]
        command: local::LocalCommand,
    },
    /// Print (or send) the exact handler event for an outcome.
    Simulate(local::SimulateArgs),
    /// Schedule expressions.
    Schedule {
        #[command(subcommand)]
        command: schedule::ScheduleCommand,
    },
    /// Print a shell completion script.
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff).
    Man(shell::ManArgs),
    /// Print the JSON Schema of `sjob.toml`, for editors (taplo, Even Better TOML).
    Schema(validate::SchemaArgs),
}

impl Cli {
    /// Runs the command and prints its report; the process's exit code.
    pub async fn run(&self) -> miette::Result<ExitCode> {
        let ctx = Context {
            config: self.config.clone(),
            output: self.output,
            aws: SdkOptions {
                profile: self.profile.clone(),
                region: self.region.clone(),
            },
        };
        match &self.command {
            Command::Validate(args) => ctx.emit(args.run(&ctx)?),
            Command::Render(args) => ctx.emit(args.run(&ctx).await?),
            Command::Plan(args) => ctx.emit(args.run(&ctx).await?),
            Command::Deploy(args) => ctx.emit(args.run(&ctx).await?),
            Command::Package(args) => ctx.emit(args.run(&ctx)?),
            Command::Adopt(args) => ctx.emit(args.run(&ctx).await?),
            Command::Destroy(args) => ctx.emit(args.run(&ctx).await?),
            Command::Run(args) => ctx.emit(args.run(&ctx).await?),
            Command::Status(args) => ctx.emit(args.run(&ctx).await?),
            Command::Logs(args) => ctx.emit(args.run(&ctx).await?),
            Command::Local { command } => command.run(&ctx).await,
            Command::Simulate(args) => ctx.emit(args.run(&ctx).await?),
            Command::Schedule { command } => command.run(&ctx),
            Command::Completions(args) => ctx.emit(args.run()),
            Command::Man(args) => ctx.emit(args.run()?),
            Command::Schema(args) => ctx.emit(args.run()),
        }
    }
}

/// A command's result: JSON with `--output json`, its `Display` otherwise.
/// A report that serialises to `null` prints nothing (see [`Done`]).
pub trait Report: Serialize + fmt::Display {
    fn exit_code(&self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

/// The report of a command whose results were printed as they came (the
/// plan before `deploy` asks to go on): nothing more, and an exit code.
pub struct Done(pub ExitCode);

impl Serialize for Done {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl fmt::Display for Done {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl Report for Done {
    fn exit_code(&self) -> ExitCode {
        self.0
    }
}

/// A JSON document, printed as JSON whatever `--output` says (`render`,
/// `simulate`).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Document(pub Value);

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", pretty(&self.0))
    }
}

impl Report for Document {}

/// What every command runs with: the global options.
pub struct Context {
    pub config: PathBuf,
    pub output: Output,
    pub aws: SdkOptions,
}

impl Context {
    /// The validated config; with `--output json`, its problems on stdout too.
    pub fn load(&self) -> miette::Result<Config> {
        let config = config::load(&self.config).map_err(|err| {
            if self.output == Output::Json {
                let problems = json!({ "valid": false, "problems": err.records() });
                // The config's error is what the command reports.
                let _ = self.emit(Document(problems));
            }
            miette::Report::new(err)
        })?;
        for warning in &config.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(config)
    }

    /// The config bound to the account and region it deploys to.
    pub async fn session(&self) -> miette::Result<Session> {
        Ok(Session::open(self.load()?, &self.aws).await?)
    }

    /// Prints a report on stdout; its exit code. A reader that went away
    /// (`sjob ... | head`) ends the output, not the command.
    pub fn emit<R: Report>(&self, report: R) -> miette::Result<ExitCode> {
        let text = match self.output {
            Output::Json => match serde_json::to_value(&report).into_diagnostic()? {
                Value::Null => String::new(),
                value => format!("{}\n", pretty(&value)),
            },
            Output::Text => report.to_string(),
        };
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err)
                .into_diagnostic()
                .wrap_err("cannot write to stdout")?,
            _ => {}
        }
        Ok(report.exit_code())
    }
}

fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("results serialise")
}

/// `--input`: JSON that fits the job's container overrides.
pub fn parse_input(input: &Option<String>) -> miette::Result<Option<Value>> {
    let Some(text) = input.as_deref() else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(text)
        .into_diagnostic()
        .wrap_err("--input is not valid JSON")?;
    check_input(&value).map_err(|err| {
        miette::miette!(
            code = "sjob::input_too_large",
            help = INPUT_HELP,
            "--input: {err}"
        )
    })?;
    Ok(Some(value))
}

/// Whether stderr (logs and diagnostics) gets colour: never with `NO_COLOR`
/// set (<https://no-color.org>), always with `CLICOLOR_FORCE` set and not
/// `0`, else when stderr is a terminal.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        false
    } else if set("CLICOLOR_FORCE")
        && std::env::var_os("CLICOLOR_FORCE").as_deref() != Some("0".as_ref())
    {
        true
    } else {
        std::io::stderr().is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every argument and flag of every command says what it is, in
    /// `--help`, the man page and the completions.
    #[test]
    fn every_argument_has_help() {
        fn missing(command: &clap::Command, path: &str, found: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !["help", "version"].contains(&id) {
                    found.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                missing(sub, &format!("{path} {}", sub.get_name()), found);
            }
        }
        let mut found = Vec::new();
        missing(&Cli::command(), "sjob", &mut found);
        assert!(found.is_empty(), "without help: {found:?}");
    }
}
