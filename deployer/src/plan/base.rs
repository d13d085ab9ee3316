//! The base's part of a plan: read what exists under the base's names, and
//! list the changes that bring it to the config's `[base]`.

use std::collections::BTreeSet;

use super::{action, Action, Change, Context, Inventory, ResourceKind};
use crate::aws::{self, AwsError, Clients};
use crate::model::{
    BaseStack, ComputeEnvironmentSpec, FunctionSpec, JobQueueSpec, ObservedSubscription,
    SecurityGroupSpec, TopicSpec,
};
use crate::model::{LogGroupSpec, Observed, RoleSpec};
use crate::names::BaseNames;
use crate::target::Target;

/// The update field of a subscription sjob did not create that the config
/// lists: applying records it as sjob's.
pub const RECORDED: &str = "recorded";

/// Stands for the id of a security group sjob is yet to create.
pub const NEW_SECURITY_GROUP: &str = "(new security group)";

/// What exists of the base.
#[derive(Debug, Clone, Default)]
pub struct ActualBase {
    pub topic: Option<Observed<TopicSpec>>,
    pub subscriptions: Vec<ObservedSubscription>,
    pub role: Option<Observed<RoleSpec>>,
    /// Success, then error, as [`crate::model::HandlersStack::functions`].
    pub log_groups: [Option<Observed<LogGroupSpec>>; 2],
    pub functions: [Option<Observed<FunctionSpec>>; 2],
    /// The base's groups in every VPC, and another owner's group under the
    /// base's name in the configured VPC.
    pub security_groups: Vec<FoundSecurityGroup>,
    pub compute_environment: Option<Observed<ComputeEnvironmentSpec>>,
    pub job_queue: Option<Observed<JobQueueSpec>>,
}

/// A security group a plan read.
#[derive(Debug, Clone)]
pub struct FoundSecurityGroup {
    pub id: String,
    /// What the plan's change for it is named: the base's group name for
    /// the group in the configured VPC (or the only one, when the config
    /// wants none), with its id and VPC for any other.
    pub label: String,
    pub group: Observed<SecurityGroupSpec>,
}

impl ActualBase {
    /// The group, of whatever owner, in the VPC `desired` names.
    pub fn security_group_for(&self, desired: &SecurityGroupSpec) -> Option<&FoundSecurityGroup> {
        self.security_groups
            .iter()
            .find(|found| found.group.spec.vpc_id == desired.vpc_id)
    }
}

#[derive(Debug, Clone)]
pub struct BasePlan {
    /// The config's base, with the id of a security group sjob created
    /// filled in where the compute environment uses it.
    pub desired: BaseStack,
    pub actual: ActualBase,
    pub changes: Vec<Change>,
}

/// Reads the base and diffs it. `in_use` holds the ARNs the config's jobs
/// use: a base part they use is never deleted, even when `[base]` no longer
/// asks for it (the jobs now name it themselves).
pub async fn plan(
    cx: Context<'_>,
    inventory: &Inventory,
    mut desired: BaseStack,
    in_use: &BTreeSet<String>,
) -> Result<BasePlan, AwsError> {
    let target = &cx.stack.target;
    let actual = read(cx.clients, inventory, target, &desired).await?;
    if let Some(compute) = desired.compute.as_mut() {
        if let Some(group) = &compute.security_group {
            let id = actual
                .security_group_for(group)
                .map_or(NEW_SECURITY_GROUP, |found| found.id.as_str());
            compute
                .compute_environment
                .security_group_ids
                .insert(id.to_string());
        }
    }
    let changes = diff(&desired, &actual, target, in_use);
    Ok(BasePlan {
        desired,
        actual,
        changes,
    })
}

async fn read(
    clients: &Clients,
    inventory: &Inventory,
    target: &Target,
    desired: &BaseStack,
) -> Result<ActualBase, AwsError> {
    let names = &desired.names;
    let topic_arn = target.topic_arn(&names.topic);
    let notifications = async {
        let topic = aws::sns::read_topic(&clients.sns, &topic_arn).await?;
        let subscriptions = match &topic {
            Some(topic) => {
                aws::sns::read_subscriptions(
                    &clients.sns,
                    &topic_arn,
                    &topic.spec.recorded_subscriptions,
                )
                .await?
            }
            None => Vec::new(),
        };
        Ok::<_, AwsError>((topic, subscriptions))
    };
    let log_group = |function: &str| {
        let name = BaseNames::function_log_group(function);
        async move {
            let arn = target.log_group_arn(&name);
            aws::logs::read(&clients.logs, &name, &arn).await
        }
    };
    let handlers = async {
        tokio::try_join!(
            inventory.role(&clients.iam, &names.handler_role),
            log_group(&names.success_function),
            log_group(&names.error_function),
            aws::lambda::read(&clients.lambda, &names.success_function),
            aws::lambda::read(&clients.lambda, &names.error_function),
        )
    };
    let vpc_id = desired
        .compute
        .as_ref()
        .and_then(|c| c.security_group.as_ref())
        .map(|g| g.vpc_id.as_str());
    let compute = async {
        tokio::try_join!(
            aws::ec2::read_security_groups(
                &clients.ec2,
                &names.security_group,
                &desired.identity,
                vpc_id
            ),
            aws::compute::read_compute_environment(&clients.batch, &names.compute_environment),
            aws::compute::read_job_queue(&clients.batch, &names.job_queue),
        )
    };
    let (
        (topic, subscriptions),
        (role, success_logs, error_logs, success, error),
        (security_groups, compute_environment, job_queue),
    ) = tokio::try_join!(notifications, handlers, compute)?;
    let single = security_groups.len() == 1;
    let security_groups = security_groups
        .into_iter()
        .map(|(id, group)| {
            let label = if vpc_id.map_or(single, |vpc| vpc == group.spec.vpc_id) {
                names.security_group.clone()
            } else {
                format!("{} ({id} in {})", names.security_group, group.spec.vpc_id)
            };
            FoundSecurityGroup { id, label, group }
        })
        .collect();
    Ok(ActualBase {
        topic,
        subscriptions,
        role,
        log_groups: [success_logs, error_logs],
        functions: [success, error],
        security_groups,
        compute_environment,
        job_queue,
    })
}

/// The base's changes in apply order: topic and subscriptions, the handlers'
/// role, log groups and functions, then security group, compute environment
/// and queue, then the security groups in other VPCs, which go last.
fn diff(
    desired: &BaseStack,
    actual: &ActualBase,
    target: &Target,
    in_use: &BTreeSet<String>,
) -> Vec<Change> {
    let names = &desired.names;
    let ours = &desired.identity;
    let mut changes = Vec::new();
    let mut push = |kind: ResourceKind, name: &str, action: Option<Action>| {
        if let Some(action) = action {
            changes.push(Change {
                job: None,
                kind,
                name: name.to_string(),
                action,
            });
        }
    };

    // A part the config drops but its jobs still use stays as it is.
    let topic_arn = target.topic_arn(&names.topic);
    let keep_topic = desired.notifications.is_none() && in_use.contains(&topic_arn);
    if !keep_topic {
        let wanted = desired.notifications.as_ref();
        // Deleting a topic deletes every subscription on it.
        let foreign_subscriptions = actual.subscriptions.iter().filter(|s| !s.recorded).count();
        push(
            ResourceKind::Topic,
            &names.topic,
            match action(wanted.map(|n| &n.topic), actual.topic.as_ref(), ours) {
                Some(Action::Delete) if foreign_subscriptions > 0 => Some(Action::Kept {
                    reason: format!(
                        "{foreign_subscriptions} subscription(s) on it were not made by sjob"
                    ),
                }),
                other => other,
            },
        );
        if actual.topic.as_ref().is_none_or(|t| t.owner == *ours) {
            for (label, change) in subscription_changes(
                wanted.map_or(&[][..], |n| &n.subscriptions),
                &actual.subscriptions,
            ) {
                push(ResourceKind::Subscription, &label, Some(change));
            }
        }
    }

    let functions = [&names.success_function, &names.error_function];
    let keep_handlers = desired.handlers.is_none()
        && functions
            .iter()
            .any(|f| in_use.contains(&target.function_arn(f)));
    if !keep_handlers {
        let wanted = desired.handlers.as_ref();
        push(
            ResourceKind::Role,
            &names.handler_role,
            action(wanted.map(|h| &h.role), actual.role.as_ref(), ours),
        );
        for (i, function) in functions.iter().enumerate() {
            push(
                ResourceKind::LogGroup,
                &BaseNames::function_log_group(function),
                action(
                    wanted.map(|h| &h.functions[i].log_group),
                    actual.log_groups[i].as_ref(),
                    ours,
                ),
            );
        }
        for (i, function) in functions.iter().enumerate() {
            push(
                ResourceKind::Function,
                function,
                action(
                    wanted.map(|h| &h.functions[i].function),
                    actual.functions[i].as_ref(),
                    ours,
                ),
            );
        }
    }

    let keep_compute =
        desired.compute.is_none() && in_use.contains(&target.job_queue_arn(&names.job_queue));
    if !keep_compute {
        let wanted = desired.compute.as_ref();
        let wanted_group = wanted.and_then(|c| c.security_group.as_ref());
        let current = wanted_group.and_then(|g| actual.security_group_for(g));
        if let Some(group) = wanted_group {
            push(
                ResourceKind::SecurityGroup,
                &names.security_group,
                action(Some(group), current.map(|found| &found.group), ours),
            );
        }
        push(
            ResourceKind::ComputeEnvironment,
            &names.compute_environment,
            action(
                wanted.map(|c| &c.compute_environment),
                actual.compute_environment.as_ref(),
                ours,
            ),
        );
        push(
            ResourceKind::JobQueue,
            &names.job_queue,
            action(
                wanted.map(|c| &c.job_queue),
                actual.job_queue.as_ref(),
                ours,
            ),
        );
        // The base's groups elsewhere: in another VPC than the config's, a
        // group is replaced (deleted once the compute environment has moved
        // to the new one); with no group wanted, each is deleted.
        for found in &actual.security_groups {
            if found.group.owner != *ours || current.is_some_and(|c| c.id == found.id) {
                continue;
            }
            push(
                ResourceKind::SecurityGroup,
                &found.label,
                Some(match wanted_group {
                    Some(group) => Action::Replaced {
                        by: format!("the group in {}", group.vpc_id),
                    },
                    None => Action::Delete,
                }),
            );
        }
    }
    changes
}

/// Subscriptions by protocol and endpoint. sjob deletes only those the
/// topic records it created; one awaiting confirmation can be neither read
/// nor removed, so it is left alone. One the config lists but sjob did not
/// create becomes sjob's (`recorded`).
fn subscription_changes(
    desired: &[crate::model::SubscriptionSpec],
    actual: &[ObservedSubscription],
) -> Vec<(String, Action)> {
    let same = |a: &crate::model::SubscriptionSpec, b: &crate::model::SubscriptionSpec| {
        a.protocol == b.protocol && a.endpoint == b.endpoint
    };
    let mut changes = Vec::new();
    for wanted in desired {
        let found = actual.iter().find(|a| same(&a.spec, wanted));
        let change = match found {
            None => Action::Create,
            Some(ObservedSubscription { arn: None, .. }) => Action::NoOp,
            Some(found) => {
                let mut fields = crate::model::Diff::diff(wanted, &found.spec);
                if !found.recorded {
                    fields.push(RECORDED.to_string());
                }
                if fields.is_empty() {
                    Action::NoOp
                } else {
                    Action::Update { fields }
                }
            }
        };
        changes.push((wanted.label(), change));
    }
    for found in actual {
        if found.arn.is_some() && found.recorded && !desired.iter().any(|d| same(d, &found.spec)) {
            changes.push((found.spec.label(), Action::Delete));
        }
    }
    changes
}
