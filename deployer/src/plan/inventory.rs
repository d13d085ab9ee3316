//! What exists under one app and stage's names, from a few listings that
//! every job's read shares. Reading a job then costs at most two calls (its
//! state machine and schedule; two more for a claim table), and none for a
//! resource the listings show absent, instead of a describe and a tag read for every resource of every
//! job. Those two reads start as soon as their listing names the job, while
//! the longer listings (roles, log groups, tags) are still paging.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::batch::Revisions;
use crate::aws::iam::Roles;
use crate::aws::scheduler::ScheduleRecord;
use crate::aws::tagging::TagIndex;
use crate::aws::{self, AwsError, Clients};
use crate::model::{
    AlarmSpec, ClaimTableSpec, Identity, LogGroupSpec, Observed, RoleSpec, StateMachineSpec, Tags,
    JOB_TAG,
};
use crate::names::{JobNames, JobRoles};
use crate::stack::StackRef;

use super::step::{Context, JOB_CONCURRENCY};

/// What exists for one job.
#[derive(Debug, Clone, Default)]
pub struct ActualJob {
    pub roles: JobRoles<Option<Observed<RoleSpec>>>,
    /// Those of [`JobNames::log_groups`] that exist.
    pub log_groups: Vec<Option<Observed<LogGroupSpec>>>,
    pub job_definition: Option<Revisions>,
    pub state_machine: Option<Observed<StateMachineSpec>>,
    pub schedule: Option<ScheduleRecord>,
    pub alarm: Option<Observed<AlarmSpec>>,
    pub claim_table: Option<Observed<ClaimTableSpec>>,
}

/// Listing every ACTIVE job definition of the account replaces one describe
/// per job only while it takes fewer calls: one page (100 definitions) per
/// this many jobs to read, and at least one page. Past that, in accounts
/// with many other definitions, each job's definition is read on its own.
const JOBS_PER_DEFINITION_PAGE: usize = 10;

#[derive(Debug)]
pub struct Inventory {
    stack: StackRef,
    roles: Roles,
    /// Log groups under the jobs' prefixes (both kinds): retention by name.
    log_groups: BTreeMap<String, Option<i32>>,
    state_machines: Listing<aws::sfn::Described>,
    /// Schedules under the jobs' prefix.
    schedules: Listing<ScheduleRecord>,
    /// Alarms under the jobs' prefix.
    alarms: BTreeMap<String, aws::cloudwatch::Listed>,
    /// Every DynamoDB table, and the jobs' claim tables among them, read.
    claim_tables: Listing<Observed<ClaimTableSpec>>,
    /// The alarm statements of the policy of each function those alarms
    /// invoke (one read per function, however many alarms).
    alarm_statements: BTreeMap<String, BTreeSet<(String, String)>>,
    tags: TagIndex,
    /// The account's ACTIVE job definitions by name, `None` when there were
    /// too many to list.
    job_definitions: Option<BTreeMap<String, Vec<aws::batch::Definition>>>,
}

impl Inventory {
    /// The listings, concurrently, for a command about the jobs whose batch
    /// names are `jobs`.
    pub async fn load(cx: Context<'_>, jobs: &BTreeSet<String>) -> Result<Self, AwsError> {
        let (clients, stack, target) = (cx.clients, cx.stack, &cx.stack.target);
        let definition_pages = (jobs.len() / JOBS_PER_DEFINITION_PAGE).max(1);
        let job_prefix = stack.job_prefix();
        let names: Vec<JobNames> = jobs.iter().map(|batch| stack.job_names(batch)).collect();
        let log_groups = async {
            let listings = stack
                .log_group_prefixes()
                .map(|prefix| async move { aws::logs::list(&clients.logs, &prefix).await });
            let listed = futures::future::try_join_all(listings).await?;
            Ok::<_, AwsError>(listed.into_iter().flatten().collect())
        };
        let state_machines = async {
            let listed = aws::sfn::list_names(&clients.sfn).await?;
            let wanted = names.iter().map(|n| n.job_name.as_str());
            Listing::read(listed, wanted, |name| async move {
                aws::sfn::describe(&clients.sfn, name, &target.state_machine_arn(name)).await
            })
            .await
        };
        let schedules = async {
            let listed = aws::scheduler::list_names(&clients.scheduler, &job_prefix).await?;
            let wanted = names.iter().map(|n| n.schedule.as_str());
            Listing::read(listed, wanted, |name| {
                aws::scheduler::read(&clients.scheduler, name)
            })
            .await
        };
        let claim_tables = async {
            let listed = aws::dynamodb::list(&clients.dynamodb).await?;
            let wanted = names.iter().map(|n| n.claim_table.as_str());
            Listing::read(listed, wanted, |name| async move {
                aws::dynamodb::read(&clients.dynamodb, name, &target.table_arn(name)).await
            })
            .await
        };
        let (
            roles,
            log_groups,
            state_machines,
            schedules,
            alarms,
            tags,
            job_definitions,
            claim_tables,
        ) = tokio::try_join!(
            Roles::load(&clients.iam),
            log_groups,
            state_machines,
            schedules,
            aws::cloudwatch::list(&clients.cloudwatch, &job_prefix),
            TagIndex::load(&clients.tagging, &stack.app_name, &stack.stage),
            aws::batch::list_active(&clients.batch, definition_pages),
            claim_tables,
        )?;
        let functions: BTreeSet<&str> = alarms
            .values()
            .map(|a| a.action_arn())
            .filter(|a| aws::lambda::is_function(a))
            .collect();
        let alarm_statements =
            futures::future::try_join_all(functions.into_iter().map(|f| async move {
                Ok::<_, AwsError>((
                    f.to_string(),
                    aws::lambda::alarm_statements(&clients.lambda, f).await?,
                ))
            }))
            .await?
            .into_iter()
            .collect();
        Ok(Inventory {
            alarm_statements,
            stack: stack.clone(),
            roles,
            log_groups,
            state_machines,
            schedules,
            alarms,
            tags,
            job_definitions,
            claim_tables,
        })
    }

    /// The batch names of the jobs this app, stage and region have in AWS:
    /// the `sjob:job` tag of every listed resource whose other identity tags
    /// are this stack's. Where a listing is not allowed, the names of the
    /// state machines and roles suggest candidates; planning them keeps only
    /// the resources whose tags say they are this stack's.
    pub async fn jobs(&self, clients: &Clients) -> Result<BTreeSet<String>, AwsError> {
        let ours = |tags: &Tags| {
            let job = tags.get(JOB_TAG)?;
            (Identity::of(tags) == self.stack.job_identity(job)).then(|| job.clone())
        };
        let definitions: Vec<Tags> = self
            .job_definitions
            .iter()
            .flat_map(|d| d.values().flatten())
            .filter_map(|d| d.tags.clone())
            .map(|t| t.into_iter().collect())
            .collect();
        let mut jobs: BTreeSet<String> = self
            .tags
            .all()
            .into_iter()
            .flatten()
            .chain(self.roles.all().into_iter().flatten().map(|r| &r.spec.tags))
            .chain(&definitions)
            .filter_map(ours)
            .collect();
        let candidate = |name: &String| self.stack.batch_name_of(name);
        if self.tags.all().is_none() {
            jobs.extend(self.state_machines.names.iter().filter_map(candidate));
        }
        if self.roles.all().is_none() {
            let roles = self.roles.names(&clients.iam).await?;
            jobs.extend(roles.iter().filter_map(candidate));
        }
        Ok(jobs)
    }

    /// The role named `name`, `None` when it does not exist.
    pub async fn role(
        &self,
        clients: &Clients,
        name: &str,
    ) -> Result<Option<Observed<RoleSpec>>, AwsError> {
        self.roles.get(&clients.iam, name).await
    }

    /// Every resource of one job; the reads the listings leave run
    /// concurrently.
    pub async fn read_job(&self, cx: Context<'_>, names: &JobNames) -> Result<ActualJob, AwsError> {
        let (clients, target) = (cx.clients, &cx.stack.target);
        let machine_arn = target.state_machine_arn(&names.job_name);
        let role = |name| self.roles.get(&clients.iam, name);
        let role_names = names.roles();
        let roles = async {
            let (exec, task, sfn, scheduler) = tokio::try_join!(
                role(role_names.exec),
                role(role_names.task),
                role(role_names.sfn),
                role(role_names.scheduler),
            )?;
            Ok::<_, AwsError>(JobRoles {
                exec,
                task,
                sfn,
                scheduler,
            })
        };
        let log_groups = futures::future::try_join_all(names.log_groups().map(|name| async move {
            let Some(&retention) = self.log_groups.get(name) else {
                return Ok(None);
            };
            let arn = target.log_group_arn(name);
            let tags = match self.tags.get(&arn) {
                Some(tags) => Some(tags.clone()),
                None => aws::logs::read_tags(&clients.logs, name, &arn).await?,
            };
            Ok::<_, AwsError>(tags.map(|tags| aws::logs::observed(name, retention, tags)))
        }));
        let job_definition = async {
            match &self.job_definitions {
                Some(listed) => Ok(aws::batch::revisions(
                    &names.job_name,
                    listed.get(&names.job_name).cloned().unwrap_or_default(),
                )),
                None => aws::batch::read(&clients.batch, &names.job_name).await,
            }
        };
        let state_machine = async {
            let machine = self
                .state_machines
                .get(&names.job_name, || {
                    aws::sfn::describe(&clients.sfn, &names.job_name, &machine_arn)
                })
                .await?;
            let Some(machine) = machine else {
                return Ok(None);
            };
            let tags = self.tags.get(&machine_arn);
            aws::sfn::observed(&clients.sfn, &names.job_name, &machine_arn, machine, tags)
                .await
                .map(Some)
        };
        let schedule = self.schedules.get(&names.schedule, || {
            aws::scheduler::read(&clients.scheduler, &names.schedule)
        });
        let alarm = async {
            let Some(listed) = self.alarms.get(&names.missed_alarm) else {
                return Ok(None);
            };
            let tags = match self.tags.get(&listed.arn) {
                Some(tags) => tags.clone(),
                None => aws::cloudwatch::read_tags(&clients.cloudwatch, &listed.arn).await?,
            };
            let statements = self
                .alarm_statements
                .get(listed.action_arn())
                .cloned()
                .unwrap_or_default();
            Ok(Some(aws::cloudwatch::observed(
                listed.clone(),
                tags,
                &statements,
            )))
        };
        let claim_table = self.claim_tables.get(&names.claim_table, || {
            let arn = target.table_arn(&names.claim_table);
            async move { aws::dynamodb::read(&clients.dynamodb, &names.claim_table, &arn).await }
        });
        let (roles, log_groups, job_definition, state_machine, schedule, alarm, claim_table) = tokio::try_join!(
            roles,
            log_groups,
            job_definition,
            state_machine,
            schedule,
            alarm,
            claim_table
        )?;
        // A schedule takes no tags: it is its state machine's owner's, or,
        // with the state machine gone, its role's.
        let scheduler_role = target.role_arn(&names.scheduler_role);
        let owner = match (&state_machine, &schedule) {
            (Some(machine), _) => machine.owner.clone(),
            (None, Some(s)) if s.observed.spec.role_arn == scheduler_role => roles
                .scheduler
                .as_ref()
                .map(|r| r.owner.clone())
                .unwrap_or_default(),
            (None, _) => Identity::default(),
        };
        let schedule = schedule.map(|s| s.owned_through(&machine_arn, &owner));
        Ok(ActualJob {
            roles,
            log_groups,
            job_definition,
            state_machine,
            schedule,
            alarm,
            claim_table,
        })
    }
}

/// The names a listing found, and each of the command's own resources
/// among them, read as soon as the listing was done.
#[derive(Debug)]
struct Listing<T> {
    names: BTreeSet<String>,
    read: BTreeMap<String, Option<T>>,
}

impl<T: Clone> Listing<T> {
    /// Reads (`read_one`) each of `wanted` that `names` holds,
    /// `JOB_CONCURRENCY` at a time (`None` for one gone since the listing).
    async fn read<'a, F, Fut>(
        names: BTreeSet<String>,
        wanted: impl Iterator<Item = &'a str>,
        read_one: F,
    ) -> Result<Self, AwsError>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = Result<Option<T>, AwsError>>,
    {
        let read_one = &read_one;
        let wanted: Vec<&str> = wanted.filter(|name| names.contains(*name)).collect();
        let read = stream::iter(wanted)
            .map(|name| async move { Ok::<_, AwsError>((name.to_string(), read_one(name).await?)) })
            .buffer_unordered(JOB_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(Listing { names, read })
    }

    /// `name` as read when listed, read now (`read`) when the listing named
    /// it but it was not among the wanted, `None` when it was not listed.
    async fn get<Fut>(&self, name: &str, read: impl FnOnce() -> Fut) -> Result<Option<T>, AwsError>
    where
        Fut: Future<Output = Result<Option<T>, AwsError>>,
    {
        match self.read.get(name) {
            Some(read) => Ok(read.clone()),
            None if self.names.contains(name) => read().await,
            None => Ok(None),
        }
    }
}
