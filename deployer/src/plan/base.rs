//! The base's part of a plan: read what exists under the base's names, and
//! list the changes that bring it to the config's `[base]`.

use std::collections::BTreeSet;

use super::inventory::Inventory;
use super::step::{
    action, Action, Change, Context, Converge, Reading, Resource, ResourceKind, Step,
};
use crate::aws::{self, AwsError, Clients};
use crate::model::{
    BaseStack, ComputeEnvironmentSpec, FunctionSpec, HandlerFunction, Handlers, JobQueueSpec,
    LogGroupSpec, Observed, ObservedSubscription, RoleSpec, SecurityGroupSpec, SubscriptionSpec,
    TopicSpec,
};
use crate::names::BaseNames;
use crate::target::Target;

impl Resource for TopicSpec {
    const KIND: ResourceKind = ResourceKind::Topic;
}
impl Converge for TopicSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        let arn = cx.stack.target.topic_arn(&self.name);
        aws::sns::converge_topic(&cx.clients.sns, self, &arn, current).await
    }

    /// Deletes every subscription on it too.
    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        let arn = cx.stack.target.topic_arn(&self.name);
        aws::sns::delete_topic(&cx.clients.sns, &arn).await
    }
}
impl Resource for SubscriptionSpec {
    const KIND: ResourceKind = ResourceKind::Subscription;
}
impl Resource for HandlerFunction {
    const KIND: ResourceKind = ResourceKind::Function;
}
impl Resource for SecurityGroupSpec {
    const KIND: ResourceKind = ResourceKind::SecurityGroup;
}
impl Resource for ComputeEnvironmentSpec {
    const KIND: ResourceKind = ResourceKind::ComputeEnvironment;
}
impl Converge for ComputeEnvironmentSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        aws::compute::converge_compute_environment(&cx.clients.batch, self, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::compute::delete_compute_environment(&cx.clients.batch, &self.name).await
    }
}

impl Resource for JobQueueSpec {
    const KIND: ResourceKind = ResourceKind::JobQueue;
}
impl Converge for JobQueueSpec {
    async fn converge(&self, cx: Context<'_>, current: Option<&Self>) -> Result<(), AwsError> {
        aws::compute::converge_job_queue(&cx.clients.batch, self, current).await
    }

    async fn delete(&self, cx: Context<'_>) -> Result<(), AwsError> {
        aws::compute::delete_job_queue(&cx.clients.batch, &self.name).await
    }
}

impl Reading<SecurityGroupSpec> for FoundSecurityGroup {
    fn observed(&self) -> &Observed<SecurityGroupSpec> {
        &self.group
    }

    fn observed_mut(&mut self) -> &mut Observed<SecurityGroupSpec> {
        &mut self.group
    }
}

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
    pub log_groups: Handlers<Option<Observed<LogGroupSpec>>>,
    pub functions: Handlers<Option<Observed<FunctionSpec>>>,
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

/// The base's steps; a part is `None` when the config drops it but its
/// jobs still use it: it stays as it is.
#[derive(Debug, Clone)]
pub struct BasePlan {
    pub notifications: Option<NotificationSteps>,
    pub handlers: Option<HandlerSteps>,
    pub compute: Option<ComputeSteps>,
}

#[derive(Debug, Clone)]
pub struct NotificationSteps {
    pub topic: Step<TopicSpec>,
    /// Named by protocol and endpoint. None when the topic is another's.
    pub subscriptions: Vec<Step<SubscriptionSpec, ObservedSubscription>>,
}

#[derive(Debug, Clone)]
pub struct HandlerSteps {
    pub role: Step<RoleSpec>,
    pub log_groups: Handlers<Step<LogGroupSpec>>,
    pub functions: Handlers<Step<HandlerFunction, Observed<FunctionSpec>>>,
}

#[derive(Debug, Clone)]
pub struct ComputeSteps {
    /// The group in the configured VPC, when the config gives one.
    pub security_group: Option<Step<SecurityGroupSpec, FoundSecurityGroup>>,
    /// With the id of the security group sjob created, or
    /// [`NEW_SECURITY_GROUP`] for one yet to create.
    pub compute_environment: Step<ComputeEnvironmentSpec>,
    pub job_queue: Step<JobQueueSpec>,
    /// The base's groups elsewhere: in another VPC than the config's, a
    /// group is replaced (deleted once the compute environment has moved
    /// to the new one); with no group wanted, each is deleted.
    pub other_security_groups: Vec<Step<SecurityGroupSpec, FoundSecurityGroup>>,
}

impl BasePlan {
    /// The report's view, in apply order: topic and subscriptions, the
    /// handlers' role, log groups and functions, then security group,
    /// compute environment and queue, then the security groups in other
    /// VPCs, which go last.
    pub fn changes(&self) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(n) = &self.notifications {
            changes.extend(n.topic.change(None));
            changes.extend(n.subscriptions.iter().filter_map(|s| s.change(None)));
        }
        if let Some(h) = &self.handlers {
            changes.extend(h.role.change(None));
            changes.extend(h.log_groups.iter().filter_map(|s| s.change(None)));
            changes.extend(h.functions.iter().filter_map(|s| s.change(None)));
        }
        if let Some(c) = &self.compute {
            changes.extend(c.security_group.as_ref().and_then(|s| s.change(None)));
            changes.extend(c.compute_environment.change(None));
            changes.extend(c.job_queue.change(None));
            changes.extend(
                c.other_security_groups
                    .iter()
                    .filter_map(|s| s.change(None)),
            );
        }
        changes
    }
}

/// Reads the base and decides each step. `in_use` holds the ARNs the
/// config's jobs use: a base part they use is never deleted, even when
/// `[base]` no longer asks for it (the jobs now name it themselves).
pub async fn plan(
    cx: Context<'_>,
    inventory: &Inventory,
    desired: BaseStack,
    in_use: &BTreeSet<String>,
) -> Result<BasePlan, AwsError> {
    let target = &cx.stack.target;
    let actual = read(cx.clients, inventory, target, &desired).await?;
    Ok(decide(desired, actual, target, in_use))
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
            inventory.role(clients, &names.handler_role),
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
        log_groups: Handlers {
            success: success_logs,
            error: error_logs,
        },
        functions: Handlers { success, error },
        security_groups,
        compute_environment,
        job_queue,
    })
}

fn decide(
    desired: BaseStack,
    actual: ActualBase,
    target: &Target,
    in_use: &BTreeSet<String>,
) -> BasePlan {
    let names = &desired.names;
    let ours = &desired.identity;
    let current = desired
        .compute
        .as_ref()
        .and_then(|c| c.security_group.as_ref())
        .and_then(|g| actual.security_group_for(g))
        .cloned();

    // A part the config drops but its jobs still use stays as it is.
    let keep_topic =
        desired.notifications.is_none() && in_use.contains(&target.topic_arn(&names.topic));
    let notifications = (!keep_topic).then(|| {
        let (topic, subscriptions) = match desired.notifications {
            Some(n) => (Some(n.topic), n.subscriptions),
            None => (None, Vec::new()),
        };
        let mut topic = Step::new(&names.topic, topic, actual.topic, ours);
        // Deleting a topic deletes every subscription on it.
        let foreign = actual.subscriptions.iter().filter(|s| !s.recorded).count();
        if topic.action == Some(Action::Delete) && foreign > 0 {
            topic.action = Some(Action::Kept {
                reason: format!("{foreign} subscription(s) on it were not made by sjob"),
            });
        }
        let subscriptions = if topic.observed.as_ref().is_none_or(|t| t.owner == *ours) {
            subscription_steps(subscriptions, actual.subscriptions)
        } else {
            Vec::new()
        };
        NotificationSteps {
            topic,
            subscriptions,
        }
    });

    let functions = Handlers {
        success: &names.success_function,
        error: &names.error_function,
    };
    let keep_handlers = desired.handlers.is_none()
        && functions
            .iter()
            .any(|f| in_use.contains(&target.function_arn(f)));
    let handlers = (!keep_handlers).then(|| {
        let (role, wanted) = match desired.handlers {
            Some(h) => (Some(h.role), h.functions.map(Some)),
            None => (None, Handlers::default()),
        };
        let log_group = |function: &str,
                         wanted: Option<&HandlerFunction>,
                         observed: Option<Observed<LogGroupSpec>>| {
            Step::new(
                &BaseNames::function_log_group(function),
                wanted.map(|h| h.log_group.clone()),
                observed,
                ours,
            )
        };
        let function = |name: &str,
                        wanted: Option<HandlerFunction>,
                        observed: Option<Observed<FunctionSpec>>| {
            let action = action(
                wanted.as_ref().map(|h| &h.function),
                observed.as_ref(),
                ours,
            );
            Step {
                name: name.to_string(),
                desired: wanted,
                observed,
                action,
            }
        };
        HandlerSteps {
            role: Step::new(&names.handler_role, role, actual.role, ours),
            log_groups: Handlers {
                success: log_group(
                    functions.success,
                    wanted.success.as_ref(),
                    actual.log_groups.success,
                ),
                error: log_group(
                    functions.error,
                    wanted.error.as_ref(),
                    actual.log_groups.error,
                ),
            },
            functions: Handlers {
                success: function(functions.success, wanted.success, actual.functions.success),
                error: function(functions.error, wanted.error, actual.functions.error),
            },
        }
    });

    let keep_compute =
        desired.compute.is_none() && in_use.contains(&target.job_queue_arn(&names.job_queue));
    let compute = (!keep_compute).then(|| {
        let (security_group, environment, queue) = match desired.compute {
            Some(c) => (
                c.security_group,
                Some(c.compute_environment),
                Some(c.job_queue),
            ),
            None => (None, None, None),
        };
        let environment = environment.map(|mut environment| {
            if security_group.is_some() {
                let id = current
                    .as_ref()
                    .map_or(NEW_SECURITY_GROUP, |found| found.id.as_str());
                environment.security_group_ids.insert(id.to_string());
            }
            environment
        });
        let other_security_groups = actual
            .security_groups
            .iter()
            .filter(|found| found.group.owner == *ours)
            .filter(|found| current.as_ref().is_none_or(|c| c.id != found.id))
            .map(|found| Step {
                name: found.label.clone(),
                desired: None,
                observed: Some(found.clone()),
                action: Some(match &security_group {
                    Some(group) => Action::Replaced {
                        by: format!("the group in {}", group.vpc_id),
                    },
                    None => Action::Delete,
                }),
            })
            .collect();
        ComputeSteps {
            security_group: security_group
                .map(|group| Step::new(&names.security_group, Some(group), current, ours)),
            compute_environment: Step::new(
                &names.compute_environment,
                environment,
                actual.compute_environment,
                ours,
            ),
            job_queue: Step::new(&names.job_queue, queue, actual.job_queue, ours),
            other_security_groups,
        }
    });
    BasePlan {
        notifications,
        handlers,
        compute,
    }
}

/// Subscriptions by protocol and endpoint. sjob deletes only those the
/// topic records it created; one awaiting confirmation can be neither read
/// nor removed, so it is left alone. One the config lists but sjob did not
/// create becomes sjob's (`recorded`).
fn subscription_steps(
    desired: Vec<SubscriptionSpec>,
    actual: Vec<ObservedSubscription>,
) -> Vec<Step<SubscriptionSpec, ObservedSubscription>> {
    let same = |a: &SubscriptionSpec, b: &SubscriptionSpec| {
        a.protocol == b.protocol && a.endpoint == b.endpoint
    };
    let mut steps = Vec::new();
    let removed: Vec<ObservedSubscription> = actual
        .iter()
        .filter(|found| {
            found.arn.is_some() && found.recorded && !desired.iter().any(|d| same(d, &found.spec))
        })
        .cloned()
        .collect();
    for wanted in desired {
        let found = actual.iter().find(|a| same(&a.spec, &wanted)).cloned();
        let action = match &found {
            None => Action::Create,
            Some(ObservedSubscription { arn: None, .. }) => Action::NoOp,
            Some(found) => {
                let mut fields = crate::model::Diff::diff(&wanted, &found.spec);
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
        steps.push(Step {
            name: wanted.label(),
            desired: Some(wanted),
            observed: found,
            action: Some(action),
        });
    }
    for found in removed {
        steps.push(Step {
            name: found.spec.label(),
            desired: None,
            observed: Some(found),
            action: Some(Action::Delete),
        });
    }
    steps
}
