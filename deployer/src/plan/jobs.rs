//! A job's part of a plan: what exists of each job, and the typed steps
//! that bring it to its rendered stack (or remove it).

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::inventory::{ActualJob, Inventory};
use super::step::{
    Action, Change, Context, Converge, Reading, Resource, ResourceKind, Step, JOB_CONCURRENCY,
};
use crate::aws::batch::Revisions;
use crate::aws::scheduler::ScheduleRecord;
use crate::aws::{self, AwsError};
use crate::model::{
    AlarmSpec, ClaimTableSpec, Identity, JobDefinitionSpec, JobStack, LogGroupSpec, Observed,
    RoleSpec, ScheduleSpec, StateMachineSpec,
};
use crate::names::{JobNames, JobRoles};

impl Resource for RoleSpec {
    const KIND: ResourceKind = ResourceKind::Role;
}
impl Converge for RoleSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        aws::iam::converge(&cx.clients.iam, self, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::iam::delete(&cx.clients.iam, self).await
    }
}

impl Resource for LogGroupSpec {
    const KIND: ResourceKind = ResourceKind::LogGroup;
}
impl Converge for LogGroupSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        let arn = cx.stack.target.log_group_arn(&self.name);
        aws::logs::converge(&cx.clients.logs, self, &arn, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::logs::delete(&cx.clients.logs, &self.name).await
    }
}

impl Resource for ClaimTableSpec {
    const KIND: ResourceKind = ResourceKind::ClaimTable;
}
impl Converge for ClaimTableSpec {
    /// Waits until the table is ACTIVE: the state machine claims in it.
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        let arn = cx.stack.target.table_arn(&self.name);
        aws::dynamodb::converge(&cx.clients.dynamodb, self, &arn, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::dynamodb::delete(&cx.clients.dynamodb, &self.name).await
    }
}
impl Resource for JobDefinitionSpec {
    const KIND: ResourceKind = ResourceKind::JobDefinition;
}
impl Resource for StateMachineSpec {
    const KIND: ResourceKind = ResourceKind::StateMachine;
}
impl Converge for StateMachineSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        let arn = cx.stack.target.state_machine_arn(&self.name);
        aws::sfn::converge(&cx.clients.sfn, self, &arn, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        let arn = cx.stack.target.state_machine_arn(&self.name);
        aws::sfn::delete(&cx.clients.sfn, &self.name, &arn).await
    }
}
impl Resource for ScheduleSpec {
    const KIND: ResourceKind = ResourceKind::Schedule;
}
impl Resource for AlarmSpec {
    const KIND: ResourceKind = ResourceKind::Alarm;
}
impl Converge for AlarmSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        let arn = cx.stack.target.alarm_arn(&self.name);
        aws::cloudwatch::converge(
            &cx.clients.cloudwatch,
            &cx.clients.lambda,
            self,
            &arn,
            current,
        )
        .await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::cloudwatch::delete(&cx.clients.cloudwatch, &cx.clients.lambda, self).await
    }
}

impl Reading<JobDefinitionSpec> for Revisions {
    fn observed(&self) -> &Observed<JobDefinitionSpec> {
        &self.latest
    }

    fn observed_mut(&mut self) -> &mut Observed<JobDefinitionSpec> {
        &mut self.latest
    }
}

impl Reading<ScheduleSpec> for ScheduleRecord {
    fn observed(&self) -> &Observed<ScheduleSpec> {
        &self.observed
    }

    fn observed_mut(&mut self) -> &mut Observed<ScheduleSpec> {
        &mut self.observed
    }
}

/// A job's steps, one for each resource it may have.
#[derive(Debug, Clone)]
pub struct JobSteps {
    pub roles: JobRoles<Step<RoleSpec>>,
    /// One for each of [`JobNames::log_groups`].
    pub log_groups: Vec<Step<LogGroupSpec>>,
    pub claim_table: Step<ClaimTableSpec>,
    pub job_definition: Step<JobDefinitionSpec, Revisions>,
    pub state_machine: Step<StateMachineSpec>,
    pub schedule: Step<ScheduleSpec, ScheduleRecord>,
    pub alarm: Step<AlarmSpec>,
}

impl JobSteps {
    /// Decides each step of the job named `names`: towards `desired`, or
    /// its removal when `None`.
    pub fn new(
        names: &JobNames,
        ours: &Identity,
        desired: Option<JobStack>,
        actual: ActualJob,
    ) -> JobSteps {
        let (roles, log_groups, claim_table, job_definition, state_machine, schedule, alarm) =
            match desired {
                Some(d) => (
                    d.roles.map(Some),
                    d.log_groups,
                    d.claim_table,
                    Some(d.job_definition),
                    Some(d.state_machine),
                    Some(d.schedule),
                    d.alarm,
                ),
                None => (
                    JobRoles::default(),
                    Vec::new(),
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
            };
        let (named, observed) = (names.roles(), actual.roles);
        let roles = JobRoles {
            exec: Step::new(named.exec, roles.exec, observed.exec, ours),
            task: Step::new(named.task, roles.task, observed.task, ours),
            sfn: Step::new(named.sfn, roles.sfn, observed.sfn, ours),
            scheduler: Step::new(named.scheduler, roles.scheduler, observed.scheduler, ours),
        };
        let log_groups = names
            .log_groups()
            .into_iter()
            .map(|name| {
                Step::new(
                    name,
                    log_groups.iter().find(|g| g.name == name).cloned(),
                    actual
                        .log_groups
                        .iter()
                        .flatten()
                        .find(|o| o.spec.name == name)
                        .cloned(),
                    ours,
                )
            })
            .collect();
        let mut steps = JobSteps {
            roles,
            log_groups,
            claim_table: Step::new(&names.claim_table, claim_table, actual.claim_table, ours),
            job_definition: Step::new(&names.job_name, job_definition, actual.job_definition, ours),
            state_machine: Step::new(&names.job_name, state_machine, actual.state_machine, ours),
            schedule: Step::new(&names.schedule, schedule, actual.schedule, ours),
            alarm: Step::new(&names.missed_alarm, alarm, actual.alarm, ours),
        };
        steps.retire_revisions(ours);
        steps
    }

    /// A job definition as desired whose other revisions of ours are still
    /// ACTIVE has them retired.
    pub fn retire_revisions(&mut self, ours: &Identity) {
        let step = &mut self.job_definition;
        if step.action == Some(Action::NoOp)
            && step
                .observed
                .as_ref()
                .is_some_and(|r| r.owned_by(ours).len() > 1)
        {
            step.action = Some(Action::RetireRevisions);
        }
    }

    /// The report's view, in apply order (deletes in reverse); `job` is
    /// the batch name.
    pub fn changes(&self, job: &str, wanted: bool) -> Vec<Change> {
        let job = Some(job);
        let mut changes: Vec<Change> = self
            .roles
            .iter()
            .map(|s| s.change(job))
            .chain(self.log_groups.iter().map(|s| s.change(job)))
            .chain([
                self.claim_table.change(job),
                self.job_definition.change(job),
                self.state_machine.change(job),
                self.schedule.change(job),
                self.alarm.change(job),
            ])
            .flatten()
            .collect();
        if !wanted {
            changes.reverse();
        }
        changes
    }
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub batch_name: String,
    pub names: JobNames,
    /// The identity this job's resources carry.
    pub identity: Identity,
    /// `false`: the job is to be removed (pruned or destroyed).
    pub wanted: bool,
    pub steps: JobSteps,
}

impl JobPlan {
    /// Plans the job `batch_name` of the `cx`'s stack.
    pub fn new(
        cx: Context<'_>,
        batch_name: &str,
        desired: Option<JobStack>,
        actual: ActualJob,
    ) -> JobPlan {
        let names = cx.stack.job_names(batch_name);
        let identity = cx.stack.job_identity(batch_name);
        let wanted = desired.is_some();
        let steps = JobSteps::new(&names, &identity, desired, actual);
        JobPlan {
            batch_name: batch_name.to_string(),
            names,
            identity,
            wanted,
            steps,
        }
    }

    /// The report's view of the job's steps.
    pub fn changes(&self) -> Vec<Change> {
        self.steps.changes(&self.batch_name, self.wanted)
    }
}

/// Reads and plans each job. `removed` are jobs sjob deployed that are to go.
pub async fn plan(
    cx: Context<'_>,
    inventory: &Inventory,
    desired: Vec<JobStack>,
    removed: BTreeSet<String>,
) -> Result<Vec<JobPlan>, AwsError> {
    let wanted = desired
        .into_iter()
        .map(|stack| (stack.batch_name.clone(), Some(stack)));
    let gone = removed.into_iter().map(|name| (name, None));
    let jobs: Vec<JobPlan> = stream::iter(wanted.chain(gone))
        .map(|(batch_name, stack)| async move {
            let names = cx.stack.job_names(&batch_name);
            let actual = inventory.read_job(cx, &names).await?;
            Ok::<_, AwsError>(JobPlan::new(cx, &batch_name, stack, actual))
        })
        .buffered(JOB_CONCURRENCY)
        .try_collect()
        .await?;
    // A removal candidate none of whose resources is this stack's is
    // someone else's job.
    Ok(jobs
        .into_iter()
        .filter(|j| j.wanted || !j.changes().is_empty())
        .collect())
}
