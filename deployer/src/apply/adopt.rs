//! `sjob adopt`: takes over a stack the seed's Terraform module built under
//! sjob's names. The plan's conflicts are exactly the resources to adopt;
//! adopting tags them as sjob's, so the next `sjob deploy` updates them in
//! place. Deploy then replaces the seed's attached policies by sjob's inline
//! ones and detaches them (they differ from the roles' desired
//! `managed_policies`); the seed's customer-managed policies left with no
//! attachment are deleted by the next `sjob adopt --yes`.
//!
//! Only resources no sjob stack owns are adopted: those without identity
//! tags, or with fewer than this stack's (an older sjob's lack the region),
//! never another stack's. Schedules carry no tags: the seed's targets the
//! state machine of the same name and is adopted with it; one targeting
//! anything else cannot be adopted.

use std::fmt;

use serde::Serialize;

use crate::aws::{self, AwsError, Clients};
use crate::model::{Identity, Tags};
use crate::plan::{
    Action, Change, JobPlan, JobSteps, Plan, Reading, ResourceKind, EXTRA_REVISIONS,
};
use crate::target::Target;

/// The customer-managed policies the seed's module attached to a job's
/// roles, by suffix after the job name. sjob's own policies are inline.
pub const SEED_POLICY_SUFFIXES: &[&str] = &[
    "EcsTaskRolePolicy",
    "SchedulerTargetPolicy",
    "BatchJobManagementAccessPolicy",
    "CloudWatchLogsDeliveryFullAccessPolicy",
    "XRayAccessPolicy",
];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AdoptError {
    #[error("{0} cannot be adopted: schedules carry no tags, and it does not start this job's state machine")]
    #[diagnostic(
        code(sjob::adopt::schedule),
        help("nothing was changed; delete the schedule or point it at the state machine, then re-run")
    )]
    ForeignSchedule(String),
    #[error("{kind} `{name}` belongs to another stack ({owner}): adopt takes over only resources no sjob stack owns")]
    #[diagnostic(
        code(sjob::adopt::other_stack),
        help("nothing was changed; two stacks' names collide: rename a job, the app or the stage (see Ownership in the README)")
    )]
    OtherStack {
        kind: ResourceKind,
        name: String,
        owner: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
}

/// One resource to adopt, and what `sjob deploy` will then do to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adoptee {
    pub job: String,
    pub kind: ResourceKind,
    pub name: String,
    /// `no_op`, or `update` with the fields deploy changes.
    pub then: Action,
}

/// A customer-managed policy of the seed's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedPolicy {
    pub job: String,
    pub name: String,
    pub arn: String,
    /// Roles and users it is attached to; deleted only when none.
    pub attachments: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    pub app_name: String,
    pub stage: String,
    pub region: String,
    pub account_id: String,
    pub adopt: Vec<Adoptee>,
    pub seed_policies: Vec<SeedPolicy>,
    /// Whether the tags were written and unattached seed policies deleted.
    pub applied: bool,
}

/// What adopting the plan's conflicts means, read-only.
pub async fn inspect(clients: &Clients, plan: &Plan) -> Result<Adoption, AdoptError> {
    let mut adopt = Vec::new();
    let mut seed_policies = Vec::new();
    for job in &plan.jobs {
        adopt.extend(adoptees(job, &plan.stack.target)?);
        for suffix in SEED_POLICY_SUFFIXES {
            let name = format!("{}-{suffix}", job.names.job_name);
            let arn = format!(
                "arn:{}:iam::{}:policy/{name}",
                plan.stack.target.partition(),
                plan.stack.target.account_id
            );
            if let Some(attachments) = aws::iam::policy_attachments(&clients.iam, &arn).await? {
                seed_policies.push(SeedPolicy {
                    job: job.batch_name.clone(),
                    name,
                    arn,
                    attachments,
                });
            }
        }
    }
    Ok(Adoption {
        app_name: plan.stack.app_name.clone(),
        stage: plan.stack.stage.clone(),
        region: plan.stack.target.region.clone(),
        account_id: plan.stack.target.account_id.clone(),
        adopt,
        seed_policies,
        applied: false,
    })
}

/// Tags every adoptee as sjob's and deletes the seed policies nothing uses.
pub async fn apply(
    clients: &Clients,
    plan: &Plan,
    mut adoption: Adoption,
) -> Result<Adoption, AdoptError> {
    for adoptee in &adoption.adopt {
        let job = plan
            .jobs
            .iter()
            .find(|j| j.batch_name == adoptee.job)
            .expect("adoptees come from the plan's jobs");
        tag(
            clients,
            &plan.stack.target,
            job,
            adoptee,
            job.identity.tags(),
        )
        .await?;
    }
    for policy in adoption.seed_policies.iter().filter(|p| p.attachments == 0) {
        aws::iam::delete_policy(&clients.iam, &policy.arn).await?;
        tracing::info!(
            policy = policy.arn.as_str(),
            "deleted the seed's unattached policy"
        );
    }
    adoption.applied = true;
    Ok(adoption)
}

/// The job's conflicts, each with the change deploy makes once it is
/// sjob's: the plan's decision over the resources as they will be after
/// tagging.
fn adoptees(job: &JobPlan, target: &Target) -> Result<Vec<Adoptee>, AdoptError> {
    let is_conflict = |c: &&Change| matches!(c.action, Action::Conflict { .. });
    let machine_arn = target.state_machine_arn(&job.names.job_name);
    let schedule = &job.steps.schedule;
    if let Some(observed) = &schedule.observed {
        let conflicting = matches!(schedule.action, Some(Action::Conflict { .. }));
        if conflicting && observed.observed.spec.target_arn != machine_arn {
            return Err(AdoptError::ForeignSchedule(job.names.schedule.clone()));
        }
    }
    let after =
        adopted(&job.steps, &job.identity, &machine_arn).changes(&job.batch_name, job.wanted);
    if let Some(Change {
        kind,
        name,
        action: Action::Conflict { owner },
        ..
    }) = after.iter().find(is_conflict)
    {
        return Err(AdoptError::OtherStack {
            kind: *kind,
            name: name.clone(),
            owner: owner.clone(),
        });
    }
    // The seed's execution log group, which the job no longer writes to, is
    // taken over too, so that `--prune` can remove it.
    let retired_log_groups = job
        .steps
        .log_groups
        .iter()
        .filter(|step| {
            step.observed
                .as_ref()
                .is_some_and(|g| g.owner != job.identity && g.owner.adoptable_by(&job.identity))
        })
        .map(|step| (ResourceKind::LogGroup, step.name.clone()));
    let conflicts: Vec<(ResourceKind, String)> = job
        .changes()
        .iter()
        .filter(is_conflict)
        .map(|c| (c.kind, c.name.clone()))
        .chain(retired_log_groups)
        .collect();
    Ok(after
        .into_iter()
        .filter(|c| conflicts.contains(&(c.kind, c.name.clone())))
        .map(
            |Change {
                 kind, name, action, ..
             }| Adoptee {
                job: job.batch_name.clone(),
                kind,
                name,
                then: action,
            },
        )
        .collect())
}

/// The steps decided again once every resource no stack owns carries
/// `ours`, and the schedule that targets the job's state machine is the
/// state machine's.
fn adopted(steps: &JobSteps, ours: &Identity, machine_arn: &str) -> JobSteps {
    let mut adopted = steps.clone();
    macro_rules! own {
        ($step:expr) => {{
            let step = $step;
            if let Some(observed) = step
                .observed
                .as_mut()
                .map(Reading::observed_mut)
                .filter(|o| o.owner.adoptable_by(ours))
            {
                observed.owner = ours.clone();
                observed.spec.tags.extend(ours.tags().clone());
            }
            step.decide(ours);
        }};
    }
    let roles = adopted.roles.as_mut();
    for role in [roles.exec, roles.task, roles.sfn, roles.scheduler] {
        own!(role);
    }
    for group in adopted.log_groups.iter_mut() {
        own!(group);
    }
    own!(&mut adopted.job_definition);
    own!(&mut adopted.state_machine);
    own!(&mut adopted.alarm);
    own!(&mut adopted.claim_table);
    if let Some(machine) = &adopted.state_machine.observed {
        adopted.schedule.observed = adopted
            .schedule
            .observed
            .take()
            .map(|s| s.owned_through(machine_arn, &machine.owner));
    }
    adopted.schedule.decide(ours);
    adopted.retire_revisions(ours);
    adopted
}

async fn tag(
    clients: &Clients,
    target: &Target,
    job: &JobPlan,
    adoptee: &Adoptee,
    tags: &Tags,
) -> Result<(), AwsError> {
    let name = adoptee.name.as_str();
    match adoptee.kind {
        ResourceKind::Role => aws::iam::tag(&clients.iam, name, tags).await?,
        ResourceKind::LogGroup => {
            aws::logs::tag(&clients.logs, name, &target.log_group_arn(name), tags).await?;
        }
        ResourceKind::JobDefinition => {
            let arn = job
                .steps
                .job_definition
                .observed
                .as_ref()
                .map(|r| r.latest_arn.clone())
                .unwrap_or_default();
            aws::batch::tag(&clients.batch, &arn, tags).await?;
        }
        ResourceKind::StateMachine => {
            let arn = target.state_machine_arn(name);
            aws::sfn::tag(&clients.sfn, name, &arn, tags).await?;
        }
        // Untaggable: it is the state machine's, adopted with it.
        ResourceKind::Schedule => {}
        ResourceKind::Alarm => {
            aws::cloudwatch::tag(&clients.cloudwatch, &target.alarm_arn(name), tags).await?;
        }
        ResourceKind::ClaimTable => {
            aws::dynamodb::tag(&clients.dynamodb, &target.table_arn(name), tags).await?;
        }
        ResourceKind::Topic
        | ResourceKind::Subscription
        | ResourceKind::Function
        | ResourceKind::SecurityGroup
        | ResourceKind::ComputeEnvironment
        | ResourceKind::JobQueue => unreachable!("adoption covers jobs' resources only"),
    }
    tracing::info!(job = %adoptee.job, kind = %adoptee.kind, name, "adopted");
    Ok(())
}

impl fmt::Display for Adoption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}/{} in {} (account {})",
            self.app_name, self.stage, self.region, self.account_id
        )?;
        let verb = if self.applied { "adopted" } else { "adopt" };
        let mut current_job: Option<&str> = None;
        for a in &self.adopt {
            if current_job != Some(a.job.as_str()) {
                current_job = Some(&a.job);
                writeln!(f, "\n  {}", a.job)?;
            }
            let then = match &a.then {
                Action::Update { fields } => format!("deploy updates {}", fields.join(", ")),
                Action::RetireRevisions => format!("deploy updates {EXTRA_REVISIONS}"),
                _ => "deploy leaves it as is".to_string(),
            };
            writeln!(
                f,
                "    {verb} {:<15} {}  ({then})",
                a.kind.to_string(),
                a.name
            )?;
        }
        if !self.seed_policies.is_empty() {
            writeln!(f, "\n  the seed's customer-managed policies")?;
        }
        for p in &self.seed_policies {
            let status = match (p.attachments, self.applied) {
                (0, true) => "deleted".to_string(),
                (0, false) => "unattached: `adopt --yes` deletes it".to_string(),
                (n, _) => format!("attached {n} time(s): `sjob deploy` detaches it from adopted roles, then `sjob adopt --yes` deletes it"),
            };
            writeln!(f, "    {}  ({status})", p.name)?;
        }
        write!(
            f,
            "\n{} resource(s) {}",
            self.adopt.len(),
            if self.applied { "adopted" } else { "to adopt" }
        )?;
        let pending =
            !self.adopt.is_empty() || self.seed_policies.iter().any(|p| p.attachments == 0);
        if !self.applied && pending {
            write!(f, "; run with --yes to adopt them")?;
        }
        writeln!(f, ".")
    }
}
