//! Carries out the base's steps. Creates and updates go before the jobs'
//! (a job is useless without its queue and handlers), deletes after the
//! jobs' removals, each part in dependency order: the topic before its
//! subscriptions, the role and log groups before the functions, the
//! security group before the compute environment before the queue; the
//! reverse to delete.

use super::converge_log_groups;
use crate::aws::{self, AwsError, Clients};
use crate::plan::base::{
    BasePlan, ComputeSteps, HandlerSteps, NotificationSteps, NEW_SECURITY_GROUP,
};
use crate::plan::Action;
use crate::target::Target;

/// Creates and updates, the three parts at once.
pub async fn converge(clients: &Clients, target: &Target, plan: &BasePlan) -> Result<(), AwsError> {
    tokio::try_join!(
        async {
            match &plan.notifications {
                Some(steps) => converge_notifications(clients, target, steps).await,
                None => Ok(()),
            }
        },
        async {
            match &plan.handlers {
                Some(steps) => converge_handlers(clients, target, steps).await,
                None => Ok(()),
            }
        },
        async {
            match &plan.compute {
                Some(steps) => converge_compute(clients, steps).await,
                None => Ok(()),
            }
        },
    )?;
    Ok(())
}

async fn converge_notifications(
    clients: &Clients,
    target: &Target,
    steps: &NotificationSteps,
) -> Result<(), AwsError> {
    let topic_arn = target.topic_arn(&steps.topic.name);
    if let Some(topic) = steps.topic.to_converge() {
        let current = steps.topic.observed.as_ref().map(|o| &o.spec);
        aws::sns::converge_topic(&clients.sns, topic, &topic_arn, current).await?;
    }
    for step in &steps.subscriptions {
        let Some(subscription) = step.to_converge() else {
            continue;
        };
        match step
            .observed
            .as_ref()
            .and_then(|s| s.arn.as_deref().map(|arn| (arn, s)))
        {
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
    steps: &HandlerSteps,
) -> Result<(), AwsError> {
    let role = async {
        if let Some(role) = steps.role.to_converge() {
            let current = steps.role.observed.as_ref().map(|o| &o.spec);
            aws::iam::converge(&clients.iam, role, current).await?;
        }
        Ok::<_, AwsError>(())
    };
    let log_groups = converge_log_groups(clients, target, steps.log_groups.iter());
    tokio::try_join!(role, log_groups)?;
    futures::future::try_join_all(steps.functions.iter().map(|step| async move {
        if let Some(handler) = step.to_converge() {
            let current = step.observed.as_ref().map(|o| &o.spec);
            aws::lambda::converge(
                &clients.lambda,
                &handler.function,
                &handler.package,
                current,
            )
            .await?;
        }
        Ok::<_, AwsError>(())
    }))
    .await?;
    Ok(())
}

async fn converge_compute(clients: &Clients, steps: &ComputeSteps) -> Result<(), AwsError> {
    let step = &steps.compute_environment;
    let mut environment = step.desired.clone();
    if let Some(group_step) = &steps.security_group {
        let id = match (&group_step.observed, &group_step.desired) {
            (Some(current), Some(group)) => {
                if group_step.to_converge().is_some() {
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
            (None, Some(group)) => aws::ec2::create_security_group(&clients.ec2, group).await?,
            (_, None) => unreachable!("a security group step is of a wanted group"),
        };
        if let Some(environment) = environment.as_mut() {
            if environment.security_group_ids.remove(NEW_SECURITY_GROUP) {
                environment.security_group_ids.insert(id);
            }
        }
    }
    if step.to_converge().is_some() {
        if let Some(environment) = &environment {
            let current = step.observed.as_ref().map(|o| &o.spec);
            aws::compute::converge_compute_environment(&clients.batch, environment, current)
                .await?;
        }
    }
    if let Some(queue) = steps.job_queue.to_converge() {
        let current = steps.job_queue.observed.as_ref().map(|o| &o.spec);
        aws::compute::converge_job_queue(&clients.batch, queue, current).await?;
    }
    // The groups the new one replaces, now that the compute environment
    // has moved off them.
    for step in &steps.other_security_groups {
        if let (Some(found), Some(Action::Replaced { .. })) = (&step.observed, &step.action) {
            aws::ec2::delete_security_group(&clients.ec2, &found.id).await?;
        }
    }
    Ok(())
}

/// Deletes, the three parts at once.
pub async fn remove(clients: &Clients, target: &Target, plan: &BasePlan) -> Result<(), AwsError> {
    let notifications = async {
        let Some(steps) = &plan.notifications else {
            return Ok(());
        };
        let topic_arn = target.topic_arn(&steps.topic.name);
        for subscription in steps.subscriptions.iter().filter_map(|s| s.to_delete()) {
            aws::sns::unsubscribe(&clients.sns, &topic_arn, subscription).await?;
        }
        if steps.topic.to_delete().is_some() {
            aws::sns::delete_topic(&clients.sns, &topic_arn).await?;
        }
        Ok::<_, AwsError>(())
    };
    let handlers = async {
        let Some(steps) = &plan.handlers else {
            return Ok(());
        };
        for step in steps.functions.iter() {
            if step.to_delete().is_some() {
                aws::lambda::delete(&clients.lambda, &step.name).await?;
            }
        }
        for step in steps.log_groups.iter() {
            if step.to_delete().is_some() {
                aws::logs::delete(&clients.logs, &step.name).await?;
            }
        }
        if let Some(role) = steps.role.to_delete() {
            aws::iam::delete(&clients.iam, &role.spec).await?;
        }
        Ok::<_, AwsError>(())
    };
    let compute = async {
        let Some(steps) = &plan.compute else {
            return Ok(());
        };
        if steps.job_queue.to_delete().is_some() {
            aws::compute::delete_job_queue(&clients.batch, &steps.job_queue.name).await?;
        }
        let environment = &steps.compute_environment;
        if environment.to_delete().is_some() {
            aws::compute::delete_compute_environment(&clients.batch, &environment.name).await?;
        }
        let groups = steps
            .security_group
            .iter()
            .chain(&steps.other_security_groups);
        for found in groups.filter_map(|s| s.to_delete()) {
            aws::ec2::delete_security_group(&clients.ec2, &found.id).await?;
        }
        Ok::<_, AwsError>(())
    };
    tokio::try_join!(notifications, handlers, compute)?;
    Ok(())
}
