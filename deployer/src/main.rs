//! `sjob`: the command line over the `deployer` library. Parses arguments,
//! sets up logging, runs the command (`cli`) and renders its error; the
//! commands print their own reports.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Output};

fn main() -> ExitCode {
    // clap exits 2 on a usage error, which `plan --detailed-exitcode` means
    // "changes": usage errors exit 1 instead.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = cli::stderr_color();
    init_logging(cli.output, color);
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().color(color).build())
    }));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(report) => {
            if cli.output == Output::Json {
                let mut rendered = String::new();
                let _ =
                    miette::JSONReportHandler::new().render_report(&mut rendered, report.as_ref());
                eprintln!("{rendered}");
            } else {
                eprintln!("{report:?}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(output: Output, color: bool) {
    let filter = std::env::var("SJOB_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(sdk_bodies_hidden(&f)).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("sjob=info,warn"));
    let builder = tracing_subscriber::fmt()
        .with_ansi(color)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match output {
        Output::Json => builder.json().init(),
        Output::Text => builder.without_time().init(),
    }
}

/// The SDK traces whole request and response bodies (job definitions and
/// state machines, with the jobs' environment values) at `trace`: cap its
/// crates at `debug` unless the filter names them itself.
fn sdk_bodies_hidden(filter: &str) -> String {
    if filter.contains("aws_smithy") || filter.contains("aws_sigv4") {
        return filter.to_string();
    }
    format!("{filter},aws_smithy_runtime=debug,aws_smithy_runtime_api=debug,aws_sigv4=debug")
}
