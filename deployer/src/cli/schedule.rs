//! `sjob schedule next`.

use std::fmt;
use std::process::ExitCode;

use clap::Subcommand;
use miette::Result;
use serde::Serialize;
use sjob::config;
use sjob::schedule::{parse_timezone, Schedule};

use super::context::{Context, Report};

/// The most fire times `schedule next --count` prints.
const MAX_NEXT_COUNT: u64 = 1000;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// The next fire times of an expression or of a job's schedule.
    Next(NextArgs),
}

#[derive(clap::Args)]
pub struct NextArgs {
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
}

/// The next fire times, in the schedule's zone.
#[derive(Serialize)]
pub struct NextFires {
    expression: String,
    timezone: String,
    next: Vec<String>,
}

impl ScheduleCommand {
    pub fn run(&self, ctx: &Context) -> Result<ExitCode> {
        match self {
            ScheduleCommand::Next(args) => ctx.emit(args.run(ctx)?),
        }
    }
}

impl NextArgs {
    pub fn run(&self, ctx: &Context) -> Result<NextFires> {
        let (schedule, zone) = match Schedule::parse(&self.expression) {
            Ok(schedule) => (schedule, self.tz.clone().unwrap_or_else(|| "UTC".into())),
            // Job names have no `(`: that is a malformed expression, not a job.
            Err(parse_error) if self.expression.contains('(') => return Err(parse_error.into()),
            Err(parse_error) => {
                let config =
                    config::load(&ctx.config).map_err(|_| miette::miette!("{parse_error}"))?;
                let job = config.select(std::slice::from_ref(&self.expression))?[0];
                let zone = self
                    .tz
                    .clone()
                    .unwrap_or_else(|| job.schedule.timezone.clone());
                (job.schedule.when.clone(), zone)
            }
        };
        let zone_tz = parse_timezone(&zone)?;
        let now = chrono::Utc::now();
        let next = schedule
            .upcoming(now, zone_tz, now, self.count)
            .iter()
            .map(|t| t.with_timezone(&zone_tz).to_rfc3339())
            .collect();
        Ok(NextFires {
            expression: schedule.expression,
            timezone: zone,
            next,
        })
    }
}

impl fmt::Display for NextFires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.next.iter().try_for_each(|t| writeln!(f, "{t}"))
    }
}

impl Report for NextFires {}
