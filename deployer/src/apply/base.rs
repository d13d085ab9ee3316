//! Carries out the base's changes. Creates and updates go before the jobs'
//! (a job is useless without its queue and handlers), deletes after the
//! jobs' removals, each part in dependency order: the topic before its
//! subscriptions, the role and log groups before the functions, the
//! security group before the compute environment before the queue; the
//! reverse to delete.

use futures::future::try_join_all;

use crate::aws::{self, AwsError, Clients};
use crate::model::{LogGroupSpec, Observed};
use crate::plan::base::{BasePlan, NEW_SECURITY_GROUP};
use crate::plan::{Action, Change, ResourceKind};
use crate::target::Target;

/// Whether `changes` create or update this resource.
fn pending(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes.iter().any(|c| {
        c.kind == kind
            && c.name == name
            && matches!(c.action, Action::Create | Action::Update { .. })
    })
}

/// Converges, at once, each log group of `desired` that `changes` create
/// or update; `actual` holds what exists.
async fn converge_log_groups<'a>(
    clients: &Clients,
    target: &Target,
    changes: &[Change],
    desired: impl IntoIterator<Item = &'a LogGroupSpec>,
    actual: &[Option<Observed<LogGroupSpec>>],
) -> Result<(), AwsError> {
    let groups = desired
        .into_iter()
        .filter(|g| pending(changes, ResourceKind::LogGroup, &g.name))
        .map(|group| {
            let current = actual
                .iter()
                .flatten()
                .map(|o| &o.spec)
                .find(|spec| spec.name == group.name);
            let arn = target.log_group_arn(&group.name);
            async move { aws::logs::converge(&clients.logs, group, &arn, current).await }
        });
    try_join_all(groups).await?;
    Ok(())
}

/// Whether `changes` delete this resource.
fn deleting(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes
        .iter()
        .any(|c| c.kind == kind && c.name == name && c.action == Action::Delete)
}

/// Whether `changes` delete this resource as replaced by another.
fn replaced(changes: &[Change], kind: ResourceKind, name: &str) -> bool {
    changes
        .iter()
        .any(|c| c.kind == kind && c.name == name && matches!(c.action, Action::Replaced { .. }))
}

/// Creates and updates, the three parts at once.
pub async fn converge(clients: &Clients, target: &Target, plan: &BasePlan) -> Result<(), AwsError> {
    tokio::try_join!(
        converge_notifications(clients, target, plan),
        converge_handlers(clients, target, plan),
        converge_compute(clients, plan),
    )?;
    Ok(())
}

async fn converge_notifications(
    clients: &Clients,
    target: &Target,
    plan: &BasePlan,
) -> Result<(), AwsError> {
    let Some(wanted) = &plan.desired.notifications else {
        return Ok(());
    };
    let changes = &plan.changes;
    let topic_arn = target.topic_arn(&wanted.topic.name);
    if pending(changes, ResourceKind::Topic, &wanted.topic.name) {
        let current = plan.actual.topic.as_ref().map(|o| &o.spec);
        aws::sns::converge_topic(&clients.sns, &wanted.topic, &topic_arn, current).await?;
    }
    for subscription in &wanted.subscriptions {
        if !pending(changes, ResourceKind::Subscription, &subscription.label()) {
            continue;
        }
        let found = plan.actual.subscriptions.iter().find(|s| {
            s.spec.protocol == subscription.protocol && s.spec.endpoint == subscription.endpoint
        });
        match found.and_then(|s| s.arn.as_deref().map(|arn| (arn, s))) {
            Some((arn, current)) => {
                aws::sns::update_subscription(&clients.sns, arn, subscription, &current.spec)
                    .await?;
                if !current.recorded {
                    aws::sns::record_subscription(&clients.sns, &topic_arn, subscription).await?;
                }
            }
            None => {
                aws::sns::subscribe(&clients.sns, &topic_arn, subscription).await?;
                aws::sns::record_subscription(&clients.sns, &topic_arn, subscription).await?;
            }
        }
    }
    Ok(())
}

async fn converge_handlers(
    clients: &Clients,
    target: &Target,
    plan: &BasePlan,
) -> Result<(), AwsError> {
    let Some(wanted) = &plan.desired.handlers else {
        return Ok(());
    };
    let (changes, actual) = (&plan.changes, &plan.actual);
    let role = async {
        if pending(changes, ResourceKind::Role, &wanted.role.name) {
            let current = actual.role.as_ref().map(|o| &o.spec);
            aws::iam::converge(&clients.iam, &wanted.role, current).await?;
        }
        Ok::<_, AwsError>(())
    };
    let log_groups = converge_log_groups(
        clients,
        target,
        changes,
        wanted.functions.iter().map(|f| &f.log_group),
        &actual.log_groups,
    );
    tokio::try_join!(role, log_groups)?;
    futures::future::try_join_all(wanted.functions.iter().enumerate().map(
        |(i, handler)| async move {
            if pending(changes, ResourceKind::Function, &handler.function.name) {
                let current = actual.functions[i].as_ref().map(|o| &o.spec);
                aws::lambda::converge(
                    &clients.lambda,
                    &handler.function,
                    &handler.package,
                    current,
                )
                .await?;
            }
            Ok::<_, AwsError>(())
        },
    ))
    .await?;
    Ok(())
}

async fn converge_compute(clients: &Clients, plan: &BasePlan) -> Result<(), AwsError> {
    let Some(wanted) = &plan.desired.compute else {
        return Ok(());
    };
    let (changes, actual) = (&plan.changes, &plan.actual);
    let mut environment = wanted.compute_environment.clone();
    if let Some(group) = &wanted.security_group {
        let id = match actual.security_group_for(group) {
            Some(current) => {
                if pending(changes, ResourceKind::SecurityGroup, &group.name) {
                    aws::ec2::sync_security_group_tags(
                        &clients.ec2,
                        &current.id,
                        group,
                        &current.group.spec,
                    )
                    .await?;
                }
                current.id.clone()
            }
            None => aws::ec2::create_security_group(&clients.ec2, group).await?,
        };
        if environment.security_group_ids.remove(NEW_SECURITY_GROUP) {
            environment.security_group_ids.insert(id);
        }
    }
    if pending(changes, ResourceKind::ComputeEnvironment, &environment.name) {
        let current = actual.compute_environment.as_ref().map(|o| &o.spec);
        aws::compute::converge_compute_environment(&clients.batch, &environment, current).await?;
    }
    if pending(changes, ResourceKind::JobQueue, &wanted.job_queue.name) {
        let current = actual.job_queue.as_ref().map(|o| &o.spec);
        aws::compute::converge_job_queue(&clients.batch, &wanted.job_queue, current).await?;
    }
    // The groups the new one replaces, now that the compute environment
    // has moved off them.
    for found in &actual.security_groups {
        if replaced(changes, ResourceKind::SecurityGroup, &found.label) {
            aws::ec2::delete_security_group(&clients.ec2, &found.id).await?;
        }
    }
    Ok(())
}

/// Deletes, the three parts at once.
pub async fn remove(clients: &Clients, target: &Target, plan: &BasePlan) -> Result<(), AwsError> {
    let (changes, actual, names) = (&plan.changes, &plan.actual, &plan.desired.names);
    let notifications = async {
        let topic_arn = target.topic_arn(&names.topic);
        for subscription in &actual.subscriptions {
            if deleting(
                changes,
                ResourceKind::Subscription,
                &subscription.spec.label(),
            ) {
                aws::sns::unsubscribe(&clients.sns, &topic_arn, subscription).await?;
            }
        }
        if deleting(changes, ResourceKind::Topic, &names.topic) {
            aws::sns::delete_topic(&clients.sns, &topic_arn).await?;
        }
        Ok::<_, AwsError>(())
    };
    let handlers = async {
        for function in [&names.success_function, &names.error_function] {
            if deleting(changes, ResourceKind::Function, function) {
                aws::lambda::delete(&clients.lambda, function).await?;
            }
        }
        for group in actual.log_groups.iter().flatten() {
            if deleting(changes, ResourceKind::LogGroup, &group.spec.name) {
                aws::logs::delete(&clients.logs, &group.spec.name).await?;
            }
        }
        if let Some(role) = &actual.role {
            if deleting(changes, ResourceKind::Role, &role.spec.name) {
                aws::iam::delete(&clients.iam, &role.spec).await?;
            }
        }
        Ok::<_, AwsError>(())
    };
    let compute = async {
        if deleting(changes, ResourceKind::JobQueue, &names.job_queue) {
            aws::compute::delete_job_queue(&clients.batch, &names.job_queue).await?;
        }
        if deleting(
            changes,
            ResourceKind::ComputeEnvironment,
            &names.compute_environment,
        ) {
            aws::compute::delete_compute_environment(&clients.batch, &names.compute_environment)
                .await?;
        }
        for found in &actual.security_groups {
            if deleting(changes, ResourceKind::SecurityGroup, &found.label) {
                aws::ec2::delete_security_group(&clients.ec2, &found.id).await?;
            }
        }
        Ok::<_, AwsError>(())
    };
    tokio::try_join!(notifications, handlers, compute)?;
    Ok(())
}
