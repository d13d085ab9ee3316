//! The roles a deploy passes to the services, on IAM's terms: a role IAM
//! has not yet propagated is waited for (the harness refuses it for a while,
//! in each service's own words), and a permission the deploying principal
//! lacks is reported at once, naming the action and the resource.

use std::time::{Duration, Instant};

use sjob_e2e::myapp::{config, Targets, CRAWLER};
use sjob_e2e::{Aws, Emulator, Fault, FaultPlan, FaultProxy, Fixture, Sjob, DENIED_CALLER};

use super::{role_arn, Names};

/// How long the harness keeps a new role from the services: a few seconds,
/// as IAM often takes on AWS.
const PROPAGATION_SECONDS: f64 = 3.0;

/// How many calls of `operation` the harness refused for a new role.
async fn refusals(emulator: &Emulator, operation: &str) -> u64 {
    emulator
        .iam_refusals()
        .await
        .get(operation)
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_state_machine_waits_for_its_new_role_to_propagate() {
    let fixture = Fixture::new().await;
    fixture
        .sjob
        .write_config(&config(&Targets::nowhere(), &[CRAWLER]));
    fixture
        .emulator
        .set_iam_propagation(PROPAGATION_SECONDS)
        .await;

    fixture.sjob.run_expecting(0, &["deploy"]).await;

    assert!(
        refusals(&fixture.emulator, "CreateStateMachine").await > 0,
        "Step Functions refused the new role at first: {:?}",
        fixture.emulator.iam_refusals().await
    );
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
    let fixture = Fixture::new().await;
    fixture
        .sjob
        .write_config(&config(&Targets::nowhere(), &[CRAWLER]));
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
    fixture
        .emulator
        .set_iam_propagation(PROPAGATION_SECONDS)
        .await;

    fixture.sjob.run_expecting(0, &["deploy"]).await;

    assert!(
        refusals(&fixture.emulator, "CreateSchedule").await > 0,
        "Scheduler refused the new role at first: {:?}",
        fixture.emulator.iam_refusals().await
    );
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
    sjob.write_config(&config(&Targets::nowhere(), &[CRAWLER]));

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
