//! What every command shares: the [`Context`] it runs in (the config
//! path, the output format, the AWS settings), and the [`Report`] it
//! returns, printed as text or JSON.

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use miette::{IntoDiagnostic, WrapErr};
use serde::Serialize;
use serde_json::{json, Value};
use sjob::aws::SdkOptions;
use sjob::config::{self, Config};
use sjob::input::{check_input, INPUT_HELP};
use sjob::session::Session;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
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
