//! The commands that change what exists in AWS, and `plan`, which shows
//! what they would change: `plan`, `deploy`, `destroy`, `adopt`.

use std::process::ExitCode;

use super::plan::PlanReport;
use miette::{IntoDiagnostic, Result};
use sjob::apply;
use sjob::apply::adopt::{self, Adoption};
use sjob::plan::{self, Change, Plan, Removals};
use sjob::progress::Progress;

use super::context::{Context, Done, Report};

/// Exit code for `plan --detailed-exitcode` when `deploy` would change something.
const EXIT_PLAN_CHANGES: u8 = 2;

#[derive(clap::Args)]
pub struct PlanArgs {
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
}

#[derive(clap::Args)]
pub struct DeployArgs {
    /// Jobs to deploy (all, with the base, by default).
    jobs: Vec<String>,
    /// Also delete jobs and base parts that are no longer in the config
    /// (asks first on a terminal; needs --yes otherwise).
    #[arg(long)]
    prune: bool,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
}

#[derive(clap::Args)]
pub struct DestroyArgs {
    /// Jobs to destroy (all, with the base, by default).
    jobs: Vec<String>,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
}

#[derive(clap::Args)]
pub struct AdoptArgs {
    /// Jobs whose resources to take over (all by default).
    jobs: Vec<String>,
    /// Tag them as sjob's (and delete the module's policies nothing uses).
    #[arg(long)]
    yes: bool,
}

impl PlanArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Done> {
        let session = ctx.session().await?;
        let removals = Removals::prune(self.prune);
        let plan =
            plan::build::deploy(session.context(), &session.config, &self.jobs, removals).await?;
        show(ctx, &plan)?;
        apply::refuse_conflicts(&plan)?;
        Ok(Done(if self.detailed_exitcode && plan.has_changes() {
            ExitCode::from(EXIT_PLAN_CHANGES)
        } else {
            ExitCode::SUCCESS
        }))
    }
}

impl DeployArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Done> {
        let session = ctx.session().await?;
        let removals = Removals::prune(self.prune);
        let plan =
            plan::build::deploy(session.context(), &session.config, &self.jobs, removals).await?;
        show(ctx, &plan)?;
        apply::refuse_conflicts(&plan)?;
        confirm(&plan.deletes(), self.yes)?;
        let progress = Progress::jobs(
            "deploy",
            plan.jobs_to_apply().len(),
            super::context::stderr_color(),
        );
        apply::apply(&session.clients, &plan, &progress).await?;
        tracing::info!("deploy complete");
        Ok(Done(ExitCode::SUCCESS))
    }
}

impl DestroyArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Done> {
        let session = ctx.session().await?;
        let plan = plan::build::destroy(session.context(), &session.config, &self.jobs).await?;
        show(ctx, &plan)?;
        confirm(&plan.deletes(), self.yes)?;
        let progress = Progress::jobs(
            "destroy",
            plan.jobs_to_apply().len(),
            super::context::stderr_color(),
        );
        apply::apply(&session.clients, &plan, &progress).await?;
        tracing::info!("destroy complete");
        Ok(Done(ExitCode::SUCCESS))
    }
}

impl AdoptArgs {
    pub async fn run(&self, ctx: &Context) -> Result<Adoption> {
        let session = ctx.session().await?;
        let plan = plan::build::adopt(session.context(), &session.config, &self.jobs).await?;
        let adoption = adopt::inspect(&session.clients, &plan).await?;
        Ok(if self.yes {
            adopt::apply(&session.clients, &plan, adoption).await?
        } else {
            adoption
        })
    }
}

impl Report for PlanReport<'_> {}
impl Report for Adoption {}

/// Prints the plan before anything is refused, asked or applied.
fn show(ctx: &Context, plan: &Plan) -> Result<ExitCode> {
    ctx.emit(PlanReport::new(plan))
}

/// Asks before deleting on a terminal; refuses without `--yes` elsewhere,
/// so that no script deletes by accident.
fn confirm(deletes: &[Change], yes: bool) -> Result<()> {
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
