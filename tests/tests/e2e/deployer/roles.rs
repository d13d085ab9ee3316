//! The roles a deploy passes to the services, on IAM's terms: a role IAM
//! has not yet propagated is waited for (the harness refuses it for a while,
//! in each service's own words), and a permission the deploying principal
//! lacks is reported at once, naming the action and the resource.

use std::time::{Duration, Instant};

use sjob_e2e::myapp::{config, Targets, CRAWLER};
use sjob_e2e::{
    Aws, Emulator, Fault, FaultPlan, FaultProxy, Fixture, Sjob, DENIED_CALLER,
    IAM_PROPAGATION_SECONDS,
};

use super::{role_arn, Names};

/// Deploys while IAM propagates new roles, and checks that `operation`
/// was refused for a role at first, so the deploy did wait.
async fn deploy_while_iam_propagates(fixture: &Fixture, operation: &str) {
    fixture
        .emulator
        .set_iam_propagation(IAM_PROPAGATION_SECONDS)
        .await;
    fixture.sjob.run_expecting(0, &["deploy"]).await;
    let refused = fixture.emulator.iam_refusals().await;
    assert!(
        refused.get(operation).is_some_and(|n| *n > 0),
        "{operation} was refused for a new role at first: {refused:?}"
    );
}

/// A fixture whose config has the crawler job, its targets existing.
async fn crawler() -> Fixture {
    let fixture = Fixture::new().await;
    let targets = fixture.existing_targets().await;
    fixture.sjob.write_config(&config(&targets, &[CRAWLER]));
    fixture
}

#[tokio::test]
async fn a_state_machine_waits_for_its_new_role_to_propagate() {
    let fixture = crawler().await;

    deploy_while_iam_propagates(&fixture, "CreateStateMachine").await;

    let names = Names::of("crawler");
    let machine = fixture
        .aws
        .state_machine(&names.state_machine_arn())
        .await
        .expect("the state machine was created once the role propagated");
    assert_eq!(machine.role_arn(), role_arn(&names.sfn_role));
}

/// Deletes `role` and its inline policies, as someone cleaning up by hand.
async fn delete_role(aws: &Aws, role: &str) {
    for policy in aws.inline_policies(role).await.keys() {
        aws.iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteRolePolicy {role} {policy}: {e:?}"));
    }
    aws.iam
        .delete_role()
        .role_name(role)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteRole {role}: {e:?}"));
}

#[tokio::test]
async fn a_schedule_waits_for_its_new_role_to_propagate() {
    let fixture = crawler().await;
    fixture.sjob.run_expecting(0, &["deploy"]).await;
    // The schedule and its role gone: the next deploy makes both anew, and
    // the schedule names a role IAM has not propagated yet.
    let names = Names::of("crawler");
    fixture
        .aws
        .scheduler
        .delete_schedule()
        .name(&names.schedule)
        .send()
        .await
        .expect("DeleteSchedule");
    delete_role(&fixture.aws, &names.scheduler_role).await;

    deploy_while_iam_propagates(&fixture, "CreateSchedule").await;

    let schedule = fixture
        .aws
        .schedule(&names.schedule)
        .await
        .expect("the schedule was created once the role propagated");
    assert_eq!(
        schedule.target().map(|t| t.role_arn()),
        Some(role_arn(&names.scheduler_role).as_str())
    );
}

#[tokio::test]
async fn a_permission_the_deployer_lacks_is_reported_at_once_naming_action_and_resource() {
    let emulator = Emulator::start().await;
    let targets = Targets::nowhere();
    Aws::new(&emulator.sdk_config())
        .create_targets(&targets)
        .await;
    let names = Names::of("crawler");
    let sfn_role = role_arn(&names.sfn_role);
    // Step Functions checks that the caller may pass the role; a deployer
    // without `iam:PassRole` on it is denied every time.
    let proxy = FaultProxy::start(
        &emulator.endpoint(),
        FaultPlan::none().on_calls(
            "states:CreateStateMachine",
            &(1..=100).collect::<Vec<_>>(),
            Fault::NotAuthorized {
                permission: "iam:PassRole".to_string(),
                resource: sfn_role.clone(),
            },
        ),
    )
    .await;
    let sjob = Sjob::at(proxy.endpoint());
    sjob.write_config(&config(&targets, &[CRAWLER]));

    let started = Instant::now();
    let deploy = sjob.run(&["deploy"]).await;

    assert_ne!(deploy.code, Some(0), "{deploy}");
    assert_eq!(
        proxy.count("CreateStateMachine"),
        1,
        "a denial of the caller is not retried as if the role were propagating: {deploy}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "reported at once, not after waiting for IAM: {:?}",
        started.elapsed()
    );
    for named in [
        "CreateStateMachine",
        names.job.as_str(),
        "iam:PassRole",
        sfn_role.as_str(),
        DENIED_CALLER,
    ] {
        assert!(deploy.stderr_says(named), "names {named}: {deploy}");
    }
    assert!(
        !deploy.stderr_says("still not usable"),
        "not reported as a role that has not propagated: {deploy}"
    );
    let aws = Aws::new(&emulator.sdk_config());
    assert!(
        aws.state_machine(&names.state_machine_arn())
            .await
            .is_none(),
        "nothing was made of the state machine"
    );
}
