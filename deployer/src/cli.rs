//! The command line: one module per command group, each an `Args` struct
//! whose `run` does the work through the library and returns a [`Report`].
//! This module holds what every command shares: the global options, the
//! [`Context`] they run in, and how a report reaches stdout.

mod context;
mod execution;
mod local;
mod package;
mod plan;
mod render;
mod schedule;
mod shell;
mod stack;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use sjob::aws::SdkOptions;

use context::Context;
pub use context::{stderr_color, Output};

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
            Command::Completions(args) => ctx.emit(args.run(Cli::command())),
            Command::Man(args) => ctx.emit(args.run(Cli::command())?),
            Command::Schema(args) => ctx.emit(args.run()),
        }
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
