//! Carries out the base's steps. Creates and updates go before the jobs'
//! (a job is useless without its queue and handlers), deletes after the
//! jobs' removals, each part in dependency order: the topic before its
//! subscriptions, the role and log groups before the functions, the
//! security group before the compute environment before the queue; the
//! reverse to delete.

use futures::future::try_join_all;

use crate::aws::{self, AwsError};
use crate::plan::base::{
    BasePlan, ComputeSteps, HandlerSteps, NotificationSteps, NEW_SECURITY_GROUP,
};
use crate::plan::{Action, Context, Converge};

/// Creates and updates, the three parts at once.
pub async fn converge(cx: Context<'_>, plan: &BasePlan) -> Result<(), AwsError> {
    tokio::try_join!(
        async {
            match &plan.notifications {
                Some(steps) => converge_notifications(cx, steps).await,
                None => Ok(()),
            }
        },
        async {
            match &plan.handlers {
                Some(steps) => converge_handlers(cx, steps).await,
                None => Ok(()),
            }
        },
        async {
            match &plan.compute {
                Some(steps) => converge_compute(cx, steps).await,
                None => Ok(()),
            }
        },
    )?;
    Ok(())
}

async fn converge_notifications(
    cx: Context<'_>,
    steps: &NotificationSteps,
) -> Result<(), AwsError> {
    let clients = cx.clients;
    let topic_arn = cx.stack.target.topic_arn(&steps.topic.name);
    steps.topic.converge(cx).await?;
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

async fn converge_handlers(cx: Context<'_>, steps: &HandlerSteps) -> Result<(), AwsError> {
    let clients = cx.clients;
    tokio::try_join!(
        steps.role.converge(cx),
        try_join_all(steps.log_groups.iter().map(|step| step.converge(cx))),
    )?;
    try_join_all(steps.functions.iter().map(|step| async move {
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

async fn converge_compute(cx: Context<'_>, steps: &ComputeSteps) -> Result<(), AwsError> {
    let clients = cx.clients;
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
            environment.converge(cx, current).await?;
        }
    }
    steps.job_queue.converge(cx).await?;
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
pub async fn remove(cx: Context<'_>, plan: &BasePlan) -> Result<(), AwsError> {
    let clients = cx.clients;
    let notifications = async {
        let Some(steps) = &plan.notifications else {
            return Ok(());
        };
        let topic_arn = cx.stack.target.topic_arn(&steps.topic.name);
        for subscription in steps.subscriptions.iter().filter_map(|s| s.to_delete()) {
            aws::sns::unsubscribe(&clients.sns, &topic_arn, subscription).await?;
        }
        steps.topic.delete(cx).await
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
            step.delete(cx).await?;
        }
        steps.role.delete(cx).await
    };
    let compute = async {
        let Some(steps) = &plan.compute else {
            return Ok(());
        };
        steps.job_queue.delete(cx).await?;
        steps.compute_environment.delete(cx).await?;
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
