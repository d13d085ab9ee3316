//! What the config names but does not own: the subnets, security groups and
//! VPC of `[base.compute]`, the job queue, handler functions, topic and
//! dead-letter queue of each job, the KMS keys, and the job secrets. `plan`
//! (and so `deploy`) reads each before anything is written, and refuses the
//! whole config, naming every one that is missing and the keys that name
//! it: a deploy that stopped at the first one would leave half a stack
//! behind. Secrets are read for their existence only, never their values.
//!
//! What sjob creates in the same deploy (the base's topic, functions and
//! queue) is not read: it is the plan's to create. A read AWS denies (a
//! resource of another account whose policy lets sjob use it but not
//! describe it) cannot tell, and counts as present, with a warning; only
//! AWS's own "not found" makes a resource missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures::stream::{self, StreamExt, TryStreamExt};
use handlers::links::arn_region;

use crate::aws::ec2::{self, Named};
use crate::aws::{self, AwsError, Clients, Readers};
use crate::config::{ArnRef, Config, Job};
use crate::kms::{KeyForm, KmsKey, ResolvedKey};
use crate::names::BaseNames;
use crate::secret::SecretSource;
use crate::target::Target;

/// How many reads are in flight at once (each service's gate paces them).
const CONCURRENCY: usize = 16;

/// The codes of a read AWS denied, across the services read here.
const DENIED: [&str; 5] = [
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReferenceKind {
    Subnet,
    SecurityGroup,
    Vpc,
    JobQueue,
    Function,
    Topic,
    DeadLetterQueue,
    KmsKey,
    Secret,
    Parameter,
}

impl fmt::Display for ReferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReferenceKind::Subnet => "subnet",
            ReferenceKind::SecurityGroup => "security group",
            ReferenceKind::Vpc => "VPC",
            ReferenceKind::JobQueue => "job queue",
            ReferenceKind::Function => "Lambda function",
            ReferenceKind::Topic => "SNS topic",
            ReferenceKind::DeadLetterQueue => "SQS queue",
            ReferenceKind::KmsKey => "KMS key",
            ReferenceKind::Secret => "Secrets Manager secret",
            ReferenceKind::Parameter => "SSM parameter",
        })
    }
}

impl ReferenceKind {
    /// Read many at a time, by [`check`] itself: EC2's by id filter, job
    /// queues a hundred to a call.
    fn is_read_in_batches(self) -> bool {
        matches!(
            self,
            ReferenceKind::Subnet
                | ReferenceKind::SecurityGroup
                | ReferenceKind::Vpc
                | ReferenceKind::JobQueue
        )
    }
}

/// One resource the config names, with every key that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: ReferenceKind,
    /// Its id or ARN, as the config gives it (a secret's without its key
    /// and version fields).
    pub id: String,
    pub keys: BTreeSet<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 3;
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        write!(
            f,
            "{} `{}` ({}",
            self.kind,
            self.id,
            keys[..keys.len().min(SHOWN)].join(", ")
        )?;
        if keys.len() > SHOWN {
            write!(f, " and {} more", keys.len() - SHOWN)?;
        }
        f.write_str(")")
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReferenceError {
    #[error("{} resource(s) the config names do not exist, so nothing was changed:{}", .0.len(), .0.iter().map(|r| format!("\n  - {r}")).collect::<String>())]
    #[diagnostic(
        code(sjob::references::missing),
        help("create each one, or correct the keys that name it (in the job or in [defaults])")
    )]
    Missing(Vec<Reference>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
}

/// What the reads found besides existence: each KMS key named, resolved
/// (by the text the config gives).
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub keys: BTreeMap<String, ResolvedKey>,
}

impl Checked {
    /// `config` with its topic's key resolved, where it names one.
    pub fn resolve(&self, config: Config) -> Config {
        let topic_key = config
            .base
            .as_ref()
            .and_then(|b| b.notifications.as_ref())
            .and_then(|n| n.kms_key_id.as_ref())
            .and_then(|k| self.keys.get(k.given()))
            .cloned();
        match topic_key {
            Some(key) => config.with_topic_key(&key),
            None => config,
        }
    }
}

/// Every resource `config` names for `jobs` and the base that this deploy
/// does not create.
pub fn collect(config: &Config, jobs: &[&Job], target: &Target) -> Vec<Reference> {
    let mut found = Collected::default();
    let base = config.base.as_ref();
    let created = created_arns(config, target);
    let given = |found: &mut Collected, kind: ReferenceKind, arn: &ArnRef, key: String| {
        if let ArnRef::Given(arn) = arn {
            if !created.contains(arn) {
                found.add(kind, arn, key);
            }
        }
    };
    let base_topic = base.and_then(|b| b.notification_topic());
    if base.is_some_and(|b| b.handlers.is_some()) {
        if let Some(topic) = &base_topic {
            given(
                &mut found,
                ReferenceKind::Topic,
                &topic.arn,
                "base.handlers.topic_arn".into(),
            );
        }
    }
    if let Some(compute) = base.and_then(|b| b.compute.as_ref()) {
        for subnet in &compute.subnets {
            found.add(ReferenceKind::Subnet, subnet, "base.compute.subnets".into());
        }
        for group in &compute.security_groups {
            found.add(
                ReferenceKind::SecurityGroup,
                group,
                "base.compute.security_groups".into(),
            );
        }
        if let Some(vpc) = &compute.vpc_id {
            found.add(ReferenceKind::Vpc, vpc, "base.compute.vpc_id".into());
        }
    }
    if let Some(key) = base
        .and_then(|b| b.notifications.as_ref())
        .and_then(|n| n.kms_key_id.as_ref())
    {
        found.add(
            ReferenceKind::KmsKey,
            key.given(),
            "base.notifications.kms_key_id".into(),
        );
    }
    for job in jobs {
        let key = |name: &str| format!("jobs.{}.{name}", job.batch_name);
        given(
            &mut found,
            ReferenceKind::JobQueue,
            &job.run.batch_job_queue,
            key("batch_job_queue_arn"),
        );
        given(
            &mut found,
            ReferenceKind::Function,
            &job.notification.success_handler,
            key("success_handler_arn"),
        );
        given(
            &mut found,
            ReferenceKind::Function,
            &job.notification.error_handler,
            key("error_handler_arn"),
        );
        if let Some(topic) = &job.notification.topic {
            // A job without its own topic takes the base's.
            let named_by = if Some(topic) == base_topic.as_ref() {
                "base.handlers.topic_arn".to_string()
            } else {
                key("notification_topic_arn")
            };
            given(&mut found, ReferenceKind::Topic, &topic.arn, named_by);
        }
        if let Some(queue) = &job.schedule.dead_letter_arn {
            found.add(
                ReferenceKind::DeadLetterQueue,
                queue,
                key("schedule_dead_letter_arn"),
            );
        }
        if let Some(arn) = &job.container.secrets_kms_key_arn {
            found.add(ReferenceKind::KmsKey, arn, key("secrets_kms_key_arn"));
        }
        for (name, value) in &job.container.secrets {
            let (kind, arn) = match SecretSource::parse(value) {
                Some(SecretSource::SecretsManager { secret_arn, .. }) => {
                    (ReferenceKind::Secret, secret_arn)
                }
                Some(SecretSource::Parameter { parameter_arn }) => {
                    (ReferenceKind::Parameter, parameter_arn)
                }
                None => continue,
            };
            found.add(kind, &arn, key(&format!("secrets.{name}")));
        }
    }
    found
        .0
        .into_iter()
        .map(|((kind, id), keys)| Reference { kind, id, keys })
        .collect()
}

/// The references found so far, by kind and id, with the keys naming each.
#[derive(Default)]
struct Collected(BTreeMap<(ReferenceKind, String), BTreeSet<String>>);

impl Collected {
    fn add(&mut self, kind: ReferenceKind, id: &str, key: String) {
        self.0
            .entry((kind, id.to_string()))
            .or_default()
            .insert(key);
    }
}

/// The ARNs of what `[base]` creates: the topic, the functions, the queue.
fn created_arns(config: &Config, target: &Target) -> BTreeSet<String> {
    let Some(base) = &config.base else {
        return BTreeSet::new();
    };
    let names = BaseNames::new(
        &config.app_name,
        &config.stage,
        base.notifications.as_ref().map(|n| n.topic_name.clone()),
    );
    let mut created = BTreeSet::new();
    if base.notifications.is_some() {
        created.insert(target.topic_arn(&names.topic));
    }
    if base.handlers.is_some() {
        created.insert(target.function_arn(&names.success_function));
        created.insert(target.function_arn(&names.error_function));
    }
    if base.compute.is_some() {
        created.insert(target.job_queue_arn(&names.job_queue));
    }
    created
}

/// What one read found.
enum Found {
    Present,
    Missing,
    Key(ResolvedKey),
}

/// Reads every reference; an error naming every missing one, or what was
/// found besides.
pub async fn check(
    clients: &Clients,
    target: &Target,
    references: Vec<Reference>,
) -> Result<Checked, ReferenceError> {
    let readers: BTreeMap<&str, Readers> = references
        .iter()
        .map(|r| region_of(r, target))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|region| (region, clients.readers(region)))
        .collect();
    let of_kind = |kind: ReferenceKind, region: Option<&str>| -> Vec<String> {
        references
            .iter()
            .filter(|r| {
                r.kind == kind && region.is_none_or(|region| region_of(r, target) == region)
            })
            .map(|r| r.id.clone())
            .collect()
    };
    let network = futures::future::try_join_all(
        [
            (ReferenceKind::Subnet, Named::Subnet),
            (ReferenceKind::SecurityGroup, Named::SecurityGroup),
            (ReferenceKind::Vpc, Named::Vpc),
        ]
        .map(|(kind, named)| {
            let ids = of_kind(kind, None);
            async move {
                let existing = match ids.is_empty() {
                    true => Ok(BTreeSet::new()),
                    false => ec2::existing(&clients.ec2, named, &ids).await,
                };
                absent(kind, ids, existing)
            }
        }),
    );
    let queues = futures::future::try_join_all(readers.iter().map(|(region, reader)| {
        let arns = of_kind(ReferenceKind::JobQueue, Some(region));
        async move {
            let existing = match arns.is_empty() {
                true => Ok(BTreeSet::new()),
                false => aws::compute::existing_job_queues(&reader.batch, &arns).await,
            };
            absent(ReferenceKind::JobQueue, arns, existing)
        }
    }));
    let singles = stream::iter(references.iter().filter(|r| !r.kind.is_read_in_batches()))
        .map(|reference| {
            let reader = &readers[region_of(reference, target)];
            async move { Ok::<_, AwsError>((reference, read(reader, reference).await?)) }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>();
    let (network, queues, singles) = tokio::try_join!(network, queues, singles)?;

    let mut missing: BTreeSet<(ReferenceKind, String)> =
        network.into_iter().chain(queues).flatten().collect();
    let mut checked = Checked::default();
    for (reference, found) in singles {
        match found {
            Found::Present => {}
            Found::Missing => {
                missing.insert((reference.kind, reference.id.clone()));
            }
            Found::Key(key) => {
                checked.keys.insert(reference.id.clone(), key);
            }
        }
    }
    if missing.is_empty() {
        return Ok(checked);
    }
    Err(ReferenceError::Missing(
        references
            .into_iter()
            .filter(|r| missing.contains(&(r.kind, r.id.clone())))
            .collect(),
    ))
}

/// The `(kind, id)` of each of `ids` that a read of many (`existing`)
/// lacks; none when AWS denied the read.
fn absent(
    kind: ReferenceKind,
    ids: Vec<String>,
    existing: Result<BTreeSet<String>, AwsError>,
) -> Result<Vec<(ReferenceKind, String)>, AwsError> {
    let existing = match existing {
        Ok(existing) => existing,
        Err(err) if is_denied(&err) => {
            tracing::warn!("cannot tell whether each {kind} exists: {err}");
            return Ok(Vec::new());
        }
        Err(err) => return Err(err),
    };
    Ok(ids
        .into_iter()
        .filter(|id| !existing.contains(id))
        .map(|id| (kind, id))
        .collect())
}

/// Whether the one resource `reference` names exists (and, for a key,
/// which key it is).
async fn read(readers: &Readers, reference: &Reference) -> Result<Found, AwsError> {
    let id = reference.id.as_str();
    let present = |exists: bool| {
        if exists {
            Found::Present
        } else {
            Found::Missing
        }
    };
    let read = match reference.kind {
        ReferenceKind::Function => aws::lambda::exists(&readers.lambda, id).await.map(present),
        ReferenceKind::Topic => aws::sns::topic_exists(&readers.sns, id).await.map(present),
        ReferenceKind::DeadLetterQueue => {
            aws::sqs::queue_exists(&readers.sqs, id).await.map(present)
        }
        ReferenceKind::Secret | ReferenceKind::Parameter => match SecretSource::parse(id) {
            Some(source) => readers.secrets.exists(&source).await.map(present),
            None => Ok(Found::Present),
        },
        ReferenceKind::KmsKey => {
            let Some(key) = KmsKey::parse(id) else {
                return Ok(Found::Missing);
            };
            match aws::kms::describe_key(&readers.kms, &key).await {
                Ok(Some(resolved)) => Ok(Found::Key(resolved)),
                Ok(None) => Ok(Found::Missing),
                // A key ARN denied its description stays usable as given;
                // an alias or id cannot become a key ARN without it.
                Err(err) if is_denied(&err) && key.form() == KeyForm::KeyArn => {
                    warn_denied(reference, &err);
                    return Ok(Found::Present);
                }
                Err(err) => return Err(err),
            }
        }
        ReferenceKind::Subnet
        | ReferenceKind::SecurityGroup
        | ReferenceKind::Vpc
        | ReferenceKind::JobQueue => {
            unreachable!("{} references are read in batches", reference.kind)
        }
    };
    match read {
        Err(err) if is_denied(&err) => {
            warn_denied(reference, &err);
            Ok(Found::Present)
        }
        other => other,
    }
}

fn is_denied(err: &AwsError) -> bool {
    err.service_code().is_some_and(|c| DENIED.contains(&c))
}

fn warn_denied(reference: &Reference, err: &AwsError) {
    tracing::warn!(
        resource = %reference.id,
        "cannot tell whether the {} exists: {err}",
        reference.kind
    );
}

/// The region a reference is read in: its ARN's, else the target's.
fn region_of<'a>(reference: &'a Reference, target: &'a Target) -> &'a str {
    match reference.kind {
        ReferenceKind::Subnet | ReferenceKind::SecurityGroup | ReferenceKind::Vpc => &target.region,
        _ => arn_region(&reference.id).unwrap_or(&target.region),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CONFIG: &str = r#"
app_name = "myapp"
stage = "dev"
region = "eu-west-1"

[defaults]
image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp"
success_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:theirs"
error_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:theirs"

[base.notifications]
kms_key_id = "alias/team"

[base.compute]
subnets = ["subnet-1", "subnet-2"]
vpc_id = "vpc-1"

[jobs.crawler]
command = ["true"]
schedule_expression = "rate(1 hour)"
secrets = { A = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-Ab12Cd:password::", B = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-Ab12Cd:user::" }

[jobs.report]
command = ["true"]
schedule_expression = "rate(1 hour)"
batch_job_queue_arn = "arn:aws:batch:eu-west-1:123456789012:job-queue/myapp-dev-Batch"
"#;

    #[test]
    fn each_resource_is_named_once_with_every_key_and_what_the_base_creates_is_left_out() {
        let config = crate::config::parse(Path::new("sjob.toml"), CONFIG).unwrap();
        let target = Target {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let jobs: Vec<&Job> = config.jobs.values().collect();
        let found = collect(&config, &jobs, &target);
        let function = "arn:aws:lambda:eu-west-1:123456789012:function:theirs";
        let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-Ab12Cd";
        let rendered: Vec<String> = found
            .iter()
            .map(|r| {
                let keys: Vec<&str> = r.keys.iter().map(String::as_str).collect();
                format!("{} {} {}", r.kind, r.id, keys.join(","))
            })
            .collect();
        assert_eq!(
            rendered,
            [
                "subnet subnet-1 base.compute.subnets".to_string(),
                "subnet subnet-2 base.compute.subnets".to_string(),
                "VPC vpc-1 base.compute.vpc_id".to_string(),
                format!(
                    "Lambda function {function} jobs.crawler.error_handler_arn,jobs.crawler.success_handler_arn,jobs.report.error_handler_arn,jobs.report.success_handler_arn"
                ),
                "KMS key alias/team base.notifications.kms_key_id".to_string(),
                format!("Secrets Manager secret {secret} jobs.crawler.secrets.A,jobs.crawler.secrets.B"),
            ]
        );
    }

    #[test]
    fn a_missing_one_reads_with_its_keys_and_how_many_more() {
        let reference = Reference {
            kind: ReferenceKind::JobQueue,
            id: "arn:aws:batch:eu-west-1:123456789012:job-queue/q".into(),
            keys: (1..=5)
                .map(|n| format!("jobs.j{n}.batch_job_queue_arn"))
                .collect(),
        };
        assert_eq!(
            reference.to_string(),
            "job queue `arn:aws:batch:eu-west-1:123456789012:job-queue/q` (jobs.j1.batch_job_queue_arn, jobs.j2.batch_job_queue_arn, jobs.j3.batch_job_queue_arn and 2 more)"
        );
    }
}
