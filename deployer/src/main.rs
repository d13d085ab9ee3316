//! `sjob`: the command line over the `deployer` library. Parses arguments,
//! sets up logging and error reporting, and dispatches; nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use deployer::base;
use deployer::config::{self, Config, ConfigError};
use deployer::execution;
use deployer::input::{check_input, INPUT_HELP};
use deployer::local::deliver::{self, Delivery};
use deployer::local::{self as local_run, process, SimulatedOutcome};
use deployer::plan::Change;
use deployer::render::definition::definition;
use deployer::report::{Mode, PlanReport};
use deployer::schedule::{parse_timezone, Schedule};
use deployer::session::{self, Session};
use miette::{IntoDiagnostic, Result, WrapErr};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "sjob",
    version,
    about = "Scheduled AWS Batch jobs: validate, plan, deploy, run"
)]
struct Cli {
    /// The config file.
    #[arg(long, global = true, default_value = "sjob.toml", env = "SJOB_CONFIG")]
    config: PathBuf,
    /// Result format on stdout (logs and diagnostics follow it on stderr).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    Asl,
    Iam,
    All,
    /// The shared base of `[base]`: topic, subscriptions, functions, compute.
    Base,
    /// The `templatefile()` templates of `infra/terraform`, by path; needs no config.
    Terraform,
}

#[derive(Subcommand)]
enum Command {
    /// Check the config and report every problem with its place.
    Validate,
    /// Print the documents that would be deployed.
    Render {
        job: Option<String>,
        #[arg(long, value_enum, default_value_t = What::All)]
        what: What,
    },
    /// Compare the config with what exists in AWS.
    Plan {
        /// Jobs to plan (all, with the base and removed jobs, by default).
        jobs: Vec<String>,
        /// Exit 0 when nothing would change, 2 when `deploy` would change
        /// something, 1 on an error or a conflict.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Count the deletes of jobs and base parts gone from the config as
        /// changes, as `deploy --prune` makes them.
        #[arg(long)]
        prune: bool,
    },
    /// Print the plan, then converge AWS to the config.
    Deploy {
        /// Jobs to deploy (all, with the base, by default).
        jobs: Vec<String>,
        /// Also delete jobs and base parts that are no longer in the config
        /// (asks first on a terminal; needs --yes otherwise).
        #[arg(long)]
        prune: bool,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Build the handler zips `[base.handlers]` deploys, with cargo-lambda.
    Package {
        /// sjob's workspace `Cargo.toml` (the config's directory's by default).
        #[arg(long)]
        manifest_path: Option<PathBuf>,
        /// A debug build instead of release.
        #[arg(long)]
        debug: bool,
        /// More `cargo lambda build` arguments, after `--` (e.g. `-- --compiler cargo`).
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Take over resources the Terraform module created under sjob's names.
    Adopt {
        jobs: Vec<String>,
        /// Tag them as sjob's (and delete the module's policies nothing uses).
        #[arg(long)]
        yes: bool,
    },
    /// Delete everything sjob created for these jobs (all, with the base,
    /// by default). Asks first on a terminal; needs --yes otherwise.
    Destroy {
        /// Jobs to destroy (all, with the base, by default).
        jobs: Vec<String>,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Start an execution now.
    Run {
        job: String,
        /// Execution input (JSON); the schedule's input by default.
        #[arg(long)]
        input: Option<String>,
        /// Follow the execution to its end; exit 3 when it did not succeed.
        #[arg(long)]
        wait: bool,
    },
    /// Recent executions and next fire times.
    Status {
        job: Option<String>,
        /// How many recent executions to list, 1 to 1000 (ListExecutions' limit).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=1000))]
        count: i32,
    },
    /// Run jobs, their schedules and their handlers on this machine.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Print (or send) the exact handler event for an outcome.
    Simulate {
        job: String,
        #[arg(long, value_enum)]
        outcome: SimulatedOutcome,
        /// Execution input (JSON); the schedule's input by default.
        #[arg(long)]
        input: Option<String>,
        /// Invoke the handler through the Lambda Invoke API at this endpoint
        /// (`cargo lambda watch` serves http://127.0.0.1:9000).
        #[arg(long, num_args = 0..=1, default_missing_value = LAMBDA_WATCH_ENDPOINT)]
        invoke: Option<String>,
    },
    /// Schedule expressions.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
}

/// Where `sjob local` sends the handler event.
#[derive(clap::Args)]
struct DeliveryArgs {
    /// Invoke the handler binaries through the Lambda Invoke API at this
    /// endpoint instead of in-process (`cargo lambda watch`'s by default).
    #[arg(long, num_args = 0..=1, default_missing_value = LAMBDA_WATCH_ENDPOINT)]
    lambda_endpoint: Option<String>,
    /// Publish to this SNS topic (AWS settings and AWS_ENDPOINT_URL apply)
    /// instead of the local outbox.
    #[arg(long, env = "SNS_TOPIC_ARN")]
    topic_arn: Option<String>,
    /// The local outbox (JSON lines); `.sjob/notifications.jsonl` beside the config by default.
    #[arg(long)]
    outbox: Option<PathBuf>,
}

impl DeliveryArgs {
    fn delivery(&self, config: &Config) -> Delivery {
        match (&self.lambda_endpoint, &self.topic_arn) {
            (Some(endpoint), _) => Delivery::Lambda(endpoint.clone()),
            (None, Some(topic)) => Delivery::Sns(topic.clone()),
            (None, None) => {
                Delivery::Outbox(self.outbox.clone().unwrap_or_else(|| {
                    process::state_dir(&config.path).join("notifications.jsonl")
                }))
            }
        }
    }
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Run a job's command here, then deliver the event its outcome produces
    /// to the matching handler. Exits with the job's exit code.
    Run {
        job: String,
        /// Execution input (JSON); the schedule's input by default.
        #[arg(long)]
        input: Option<String>,
        #[command(flatten)]
        delivery: DeliveryArgs,
    },
    /// Fire the jobs' schedules in the foreground until Ctrl-C.
    Schedule {
        jobs: Vec<String>,
        /// Seconds to wait for running jobs after Ctrl-C before killing them,
        /// 0 to 1209600 (14 days, the longest job timeout).
        #[arg(
            long,
            default_value_t = 30,
            value_parser = clap::value_parser!(u64).range(0..=local_run::scheduler::MAX_GRACE_SECONDS)
        )]
        grace: u64,
        #[command(flatten)]
        delivery: DeliveryArgs,
    },
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// The next fire times of an expression or of a job's schedule.
    Next {
        /// `rate(...)`, `cron(...)`, `at(...)` or a job name from the config.
        expression: String,
        /// IANA timezone (a job's own zone by default, else UTC).
        #[arg(long)]
        tz: Option<String>,
        /// How many fire times to print, 1 to 1000.
        #[arg(
            long,
            default_value_t = 5,
            value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_NEXT_COUNT)
        )]
        count: usize,
    },
}

/// The most fire times `schedule next --count` prints.
const MAX_NEXT_COUNT: u64 = 1000;

/// Exit code for `plan --detailed-exitcode` when `deploy` would change something.
const EXIT_PLAN_CHANGES: u8 = 2;
/// Exit code for `run --wait` when the execution did not succeed.
const EXIT_JOB_FAILED: u8 = 3;
/// Exit code of `local run` when the command could not start (as a shell's).
const EXIT_CANNOT_START: u8 = 127;
const LAMBDA_WATCH_ENDPOINT: &str = "http://127.0.0.1:9000";

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
    init_logging(cli.output);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(dispatch(&cli)) {
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

fn init_logging(output: Output) {
    let filter = std::env::var("SJOB_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(sdk_bodies_hidden(&f)).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("deployer=info,sjob=info,warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
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

fn load(cli: &Cli) -> Result<Config> {
    config::load(&cli.config).map_err(|e| report_config_error(cli, e))
}

fn report_config_error(cli: &Cli, err: ConfigError) -> miette::Report {
    if cli.output == Output::Json {
        print_json(&json!({ "valid": false, "problems": err.records() }));
    }
    miette::Report::new(err)
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("results serialise")
    );
}

fn print<T: Serialize + std::fmt::Display>(output: Output, value: &T) {
    match output {
        Output::Json => print_json(value),
        Output::Text => print!("{value}"),
    }
}

async fn dispatch(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Validate => {
            let config = load(cli)?;
            let base: Vec<&str> = config.base.as_ref().map_or_else(Vec::new, |b| {
                [
                    ("notifications", b.notifications.is_some()),
                    ("handlers", b.handlers.is_some()),
                    ("compute", b.compute.is_some()),
                ]
                .into_iter()
                .filter_map(|(part, present)| present.then_some(part))
                .collect()
            });
            match cli.output {
                Output::Json => print_json(&json!({
                    "valid": true,
                    "jobs": config.jobs.keys().collect::<Vec<_>>(),
                    "base": base,
                })),
                Output::Text if base.is_empty() => println!(
                    "{}: {} job(s), valid",
                    cli.config.display(),
                    config.jobs.len()
                ),
                Output::Text => println!(
                    "{}: {} job(s) and a base ({}), valid",
                    cli.config.display(),
                    config.jobs.len(),
                    base.join(", ")
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            what: What::Terraform,
            ..
        } => {
            let templates: serde_json::Map<String, Value> = deployer::terraform::templates()
                .into_iter()
                .map(|(path, text)| (path.display().to_string(), Value::String(text)))
                .collect();
            print_json(&templates);
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            what: What::Base, ..
        } => {
            let session = Session::open(load(cli)?).await?;
            print_json(&base::describe(&session.render_base()?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { job, what } => {
            let session = Session::open(load(cli)?).await?;
            let jobs = session.select(job.as_slice())?;
            let mut rendered = serde_json::Map::new();
            for job in jobs {
                let stack = session.render(job);
                let asl = definition(
                    &session.config.app_name,
                    &session.config.stage,
                    job,
                    &session.target,
                );
                let iam: serde_json::Map<String, Value> = stack
                    .roles
                    .iter()
                    .map(|r| {
                        (r.name.clone(), json!({"trust_policy": r.trust_policy, "policies": r.policies, "managed_policies": r.managed_policies}))
                    })
                    .collect();
                let value = match what {
                    What::Asl => asl,
                    What::Iam => Value::Object(iam),
                    What::Terraform | What::Base => unreachable!("rendered above"),
                    What::All => json!({"state_machine": asl, "iam": iam, "names": {
                        "state_machine": stack.names.job_name, "job_definition": stack.names.job_name,
                        "schedule": stack.names.schedule, "log_group": stack.names.log_group,
                    }}),
                };
                rendered.insert(job.batch_name.clone(), value);
            }
            let value = match (job, rendered.len()) {
                (Some(_), 1) => rendered
                    .into_iter()
                    .next()
                    .map(|(_, v)| v)
                    .unwrap_or_default(),
                _ => Value::Object(rendered),
            };
            print_json(&value);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            jobs,
            detailed_exitcode,
            prune,
        } => {
            let session = Session::open(load(cli)?).await?;
            let plan = session.plan_deploy(jobs).await?;
            let mode = if *prune { Mode::Prune } else { Mode::Keep };
            print(cli.output, &PlanReport::new(&plan, mode));
            deployer::apply::refuse_conflicts(&plan)?;
            Ok(if *detailed_exitcode && plan.has_changes(*prune) {
                ExitCode::from(EXIT_PLAN_CHANGES)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Deploy { jobs, prune, yes } => {
            let session = Session::open(load(cli)?).await?;
            let plan = session.plan_deploy(jobs).await?;
            let mode = if *prune { Mode::Prune } else { Mode::Keep };
            print(cli.output, &PlanReport::new(&plan, mode));
            deployer::apply::refuse_conflicts(&plan)?;
            confirm(&plan.deletes(*prune), *yes)?;
            deployer::apply::apply(&session.clients, &plan, *prune).await?;
            tracing::info!("deploy complete");
            Ok(ExitCode::SUCCESS)
        }
        Command::Package {
            manifest_path,
            debug,
            extra,
        } => {
            let config = load(cli)?;
            let build = deployer::package::Build {
                manifest_path: manifest_path.clone(),
                debug: *debug,
                extra: extra.clone(),
            };
            let packages = deployer::package::package(&config, &build)?;
            match cli.output {
                Output::Json => print_json(&packages),
                Output::Text => {
                    for p in &packages {
                        println!(
                            "{}  {} ({}, {} bytes)",
                            p.binary,
                            p.path.display(),
                            p.architecture,
                            p.bytes
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Adopt { jobs, yes } => {
            let session = Session::open(load(cli)?).await?;
            let plan = session.plan_adopt(jobs).await?;
            let mut adoption = deployer::adopt::inspect(&session.clients, &plan).await?;
            if *yes {
                adoption = deployer::adopt::apply(&session.clients, &plan, adoption).await?;
            }
            print(cli.output, &adoption);
            Ok(ExitCode::SUCCESS)
        }
        Command::Destroy { jobs, yes } => {
            let session = Session::open(load(cli)?).await?;
            let plan = session.plan_destroy(jobs).await?;
            print(cli.output, &PlanReport::new(&plan, Mode::Destroy));
            confirm(&plan.deletes(true), *yes)?;
            deployer::apply::apply(&session.clients, &plan, true).await?;
            tracing::info!("destroy complete");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { job, input, wait } => {
            let session = Session::open(load(cli)?).await?;
            let job = session.select(std::slice::from_ref(job))?[0];
            let arn = execution::start(&session, job, parse_input(input)?).await?;
            tracing::info!(execution = %arn, "started");
            let summary = if *wait {
                execution::wait(&session, &job.batch_name, &arn).await?
            } else {
                execution::describe(&session, &job.batch_name, &arn).await?
            };
            match cli.output {
                Output::Json => print_json(&summary),
                Output::Text => println!("{}\n{summary}", summary.execution_arn),
            }
            Ok(if *wait && !summary.succeeded() {
                ExitCode::from(EXIT_JOB_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Status { job, count } => {
            let session = Session::open(load(cli)?).await?;
            let mut statuses = Vec::new();
            for job in session.select(job.as_slice())? {
                statuses.push(execution::status(&session, job, *count).await?);
            }
            match cli.output {
                Output::Json => print_json(&statuses),
                Output::Text => statuses.iter().for_each(|s| print!("{s}")),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Local {
            command:
                LocalCommand::Run {
                    job,
                    input,
                    delivery,
                },
        } => {
            let config = load(cli)?;
            let job = session::select(&config, std::slice::from_ref(job))?[0];
            let run = local_run::run(
                &config,
                job,
                parse_input(input)?,
                &delivery.delivery(&config),
            )
            .await?;
            match cli.output {
                Output::Json => print_json(&run),
                Output::Text => {
                    eprintln!(
                        "{} {} after {} attempt(s); log: {}; {} answered {}",
                        run.job,
                        run.status,
                        run.attempts,
                        run.log_file,
                        run.handler,
                        run.handler_response
                    );
                    if let Some(text) = &run.notification_text {
                        print!("{text}");
                    }
                }
            }
            Ok(match run.exit_code {
                Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                None => ExitCode::from(EXIT_CANNOT_START),
            })
        }
        Command::Local {
            command:
                LocalCommand::Schedule {
                    jobs,
                    grace,
                    delivery,
                },
        } => {
            let config = load(cli)?;
            let selected = session::select(&config, jobs)?
                .into_iter()
                .cloned()
                .collect();
            let delivery = delivery.delivery(&config);
            local_run::scheduler::serve(
                &config,
                selected,
                delivery,
                std::time::Duration::from_secs(*grace),
            )
            .await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            job,
            outcome,
            input,
            invoke,
        } => {
            let config = load(cli)?;
            let job = session::select(&config, std::slice::from_ref(job))?[0];
            let (kind, event) = local_run::simulate(&config, job, *outcome, parse_input(input)?);
            match invoke {
                None => print_json(&event),
                Some(endpoint) => print_json(
                    &deliver::invoke(endpoint, deliver::function_name(kind), event).await?,
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schedule {
            command:
                ScheduleCommand::Next {
                    expression,
                    tz,
                    count,
                },
        } => {
            let (schedule, zone) = match Schedule::parse(expression) {
                Ok(schedule) => (schedule, tz.clone().unwrap_or_else(|| "UTC".to_string())),
                // Job names have no `(`: that is a malformed expression, not a job.
                Err(parse_error) if expression.contains('(') => return Err(parse_error.into()),
                Err(parse_error) => {
                    let config =
                        config::load(&cli.config).map_err(|_| miette::miette!("{parse_error}"))?;
                    let job = session::select(&config, std::slice::from_ref(expression))?[0];
                    (
                        job.schedule.clone(),
                        tz.clone().unwrap_or_else(|| job.schedule_timezone.clone()),
                    )
                }
            };
            let zone_tz = parse_timezone(&zone)?;
            let now = chrono::Utc::now();
            let times: Vec<String> = schedule
                .upcoming(now, zone_tz, now, *count)
                .iter()
                .map(|t| t.with_timezone(&zone_tz).to_rfc3339())
                .collect();
            match cli.output {
                Output::Json => print_json(
                    &json!({"expression": schedule.expression, "timezone": zone, "next": times}),
                ),
                Output::Text => times.iter().for_each(|t| println!("{t}")),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--input`: JSON that fits the job's container overrides.
fn parse_input(input: &Option<String>) -> Result<Option<Value>> {
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

/// Asks before deleting on a terminal; refuses without `--yes` elsewhere,
/// so that no script deletes by accident.
fn confirm(deletes: &[&Change], yes: bool) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if deletes.is_empty() || yes {
        return Ok(());
    }
    let count = deletes.len();
    if !std::io::stdin().is_terminal() {
        return Err(miette::miette!(
            code = "sjob::confirm",
            help = "review the plan above, then run again with --yes",
            "refusing to delete {count} resource(s) without confirmation: stdin is not a terminal"
        ));
    }
    eprint!("Delete the {count} resource(s) marked `-` above? Type `yes` to go on: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .into_diagnostic()?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(miette::miette!(
            code = "sjob::confirm",
            "not confirmed: nothing was changed"
        ))
    }
}
