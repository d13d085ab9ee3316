//! Ownership is exact: a stack changes or deletes only what carries every
//! one of its identity tags (app, stage, region, job), whatever the names
//! say. Each test leaves another stack in place and checks, resource by
//! resource, that the commands left it exactly as it was.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::Region;
use serde_json::{json, Value};
use sjob_e2e::myapp::{Targets, ACCOUNT};
use sjob_e2e::{
    snapshot_differences, trust_policy, Aws, Fault, FaultPlan, FaultProxy, Fixture, Gate, Sjob,
    SjobRun, REGION,
};

/// A second region of the same account.
const OTHER_REGION: &str = "us-west-2";
/// How long a test waits for the calls it holds to arrive.
const HELD_WAIT: Duration = Duration::from_secs(30);

/// The job queue and functions every stack's jobs use in `region`.
fn targets(region: &str) -> Targets {
    Targets {
        queue: format!("arn:aws:batch:{region}:{ACCOUNT}:job-queue/queue"),
        success_handler: format!("arn:aws:lambda:{region}:{ACCOUNT}:function:success"),
        error_handler: format!("arn:aws:lambda:{region}:{ACCOUNT}:function:error"),
    }
}

/// Makes [`targets`] exist in `region`.
async fn create_targets(fixture: &Fixture, region: &str) {
    let config = fixture
        .emulator
        .sdk_config()
        .into_builder()
        .region(Region::new(region.to_string()))
        .build();
    Aws::new(&config).create_targets(&targets(region)).await;
}

/// One stack's config: app, stage and region, with jobs named `batch_names`.
fn stack(app: &str, stage: &str, region: &str, batch_names: &[&str]) -> String {
    let Targets {
        queue,
        success_handler,
        error_handler,
    } = targets(region);
    let mut text = format!(
        r#"app_name = "{app}"
stage = "{stage}"
region = "{region}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/app"
batch_job_queue_arn = "{queue}"
success_handler_arn = "{success_handler}"
error_handler_arn = "{error_handler}"
"#
    );
    for name in batch_names {
        text.push_str(&format!(
            "\n[jobs.{name}]\ncommand = [\"true\"]\nschedule_expression = \"rate(1 hour)\"\n"
        ));
    }
    text
}

/// `sjob` for another stack on the fixture's emulator.
fn another_sjob(fixture: &Fixture, config: &str) -> Sjob {
    let sjob = Sjob::new(&fixture.emulator);
    sjob.write_config(config);
    sjob
}

async fn assert_unchanged(aws: &Aws, app: &str, stage: &str, before: &BTreeMap<String, Value>) {
    let after = aws.snapshot(app, stage).await;
    assert!(
        &after == before,
        "{app}/{stage} changed:\n{}",
        snapshot_differences(before, &after)
    );
}

#[tokio::test]
async fn stacks_whose_names_collide_never_touch_each_other() {
    let fixture = Fixture::new().await;
    create_targets(&fixture, REGION).await;
    let aws = &fixture.aws;
    // a/b-c's job x is named a-b-c-x-ScheduledJob...
    let first = another_sjob(&fixture, &stack("a", "b-c", REGION, &["x"]));
    first.run_expecting(0, &["deploy"]).await;
    let deployed = aws.snapshot("a", "b-c").await;
    assert_eq!(deployed.len(), 9, "{deployed:#?}");

    // ...which a/b reads as a job `c-x` of its own by name alone.
    let second = another_sjob(&fixture, &stack("a", "b", REGION, &["y"]));
    second.run_expecting(0, &["deploy"]).await;
    let plan = second
        .run_expecting(0, &["--output", "json", "plan", "--prune"])
        .await
        .json();
    assert_eq!(plan["removed_jobs"], json!([]), "{plan}");
    assert!(
        !plan.to_string().contains("a-b-c-x"),
        "a/b plans a/b-c's resources: {plan}"
    );
    second
        .run_expecting(0, &["deploy", "--prune", "--yes"])
        .await;
    assert_unchanged(aws, "a", "b-c", &deployed).await;
    let destroy = second.run_expecting(0, &["destroy", "--yes"]).await;
    assert!(destroy.stdout.contains("9 to delete"), "{destroy}");
    assert_unchanged(aws, "a", "b-c", &deployed).await;
    let left: Vec<String> = aws
        .snapshot("a", "b")
        .await
        .into_keys()
        .filter(|k| !k.contains("a-b-c-") && !k.contains("a/b-c/"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "a/b's own stack is gone");

    // a-b/c's job x has exactly a/b-c's names: a conflict naming the owner.
    let third = another_sjob(&fixture, &stack("a-b", "c", REGION, &["x"]));
    let plan = third
        .run_expecting(1, &["plan", "--detailed-exitcode"])
        .await;
    assert!(
        plan.stdout.contains(
            "! state machine   a-b-c-x-ScheduledJob  (exists, not this stack's: app `a`, stage `b-c`, region `eu-west-1`, job `x`)"
        ),
        "{plan}"
    );
    // Log groups are named `app/stage/...`: theirs do not collide.
    assert!(plan.stdout.contains("2 to create"), "{plan}");
    assert!(plan.stdout.contains("7 in conflict"), "{plan}");
    let deploy = third.run_expecting(1, &["deploy"]).await;
    assert!(
        deploy.stderr_says("exist under this stack's names but are not its own"),
        "{deploy}"
    );
    third.run_expecting(0, &["destroy", "--yes"]).await;
    assert_unchanged(aws, "a", "b-c", &deployed).await;
}

#[tokio::test]
async fn one_app_and_stage_in_two_regions_never_touch_each_other() {
    let fixture = Fixture::new().await;
    create_targets(&fixture, REGION).await;
    create_targets(&fixture, OTHER_REGION).await;
    let here = &fixture.aws;
    let there = Aws::new(
        &fixture
            .emulator
            .sdk_config()
            .into_builder()
            .region(Region::new(OTHER_REGION))
            .build(),
    );
    let first = another_sjob(&fixture, &stack("myapp", "dev", REGION, &["crawler"]));
    first.run_expecting(0, &["deploy"]).await;
    let deployed = here.snapshot("myapp", "dev").await;
    assert_eq!(deployed.len(), 9, "{deployed:#?}");

    // The same job in the other region: IAM roles are global, so its role
    // names are the first region's; they are a conflict, not an update.
    let second = another_sjob(&fixture, &stack("myapp", "dev", OTHER_REGION, &["crawler"]));
    let deploy = second.run_expecting(1, &["deploy"]).await;
    assert!(
        deploy.stdout.contains(
            "! role            myapp-dev-crawler-ScheduledJob-BatchSfnRole  (exists, not this stack's: app `myapp`, stage `dev`, region `eu-west-1`, job `crawler`)"
        ),
        "{deploy}"
    );
    assert_unchanged(here, "myapp", "dev", &deployed).await;

    // A job of its own deploys; pruning and destroying never reach the
    // first region's crawler.
    second.write_config(&stack("myapp", "dev", OTHER_REGION, &["report"]));
    second
        .run_expecting(0, &["deploy", "--prune", "--yes"])
        .await;
    assert_eq!(
        there
            .snapshot("myapp", "dev")
            .await
            .keys()
            .filter(|k| k.contains("-report-") || k.ends_with("/report"))
            .count(),
        9
    );
    let destroy = second.run_expecting(0, &["destroy", "--yes"]).await;
    assert!(destroy.stdout.contains("9 to delete"), "{destroy}");
    assert_unchanged(here, "myapp", "dev", &deployed).await;
    assert!(
        there
            .snapshot("myapp", "dev")
            .await
            .keys()
            .all(|k| k.starts_with("role myapp-dev-crawler-")),
        "the other region's own stack is gone"
    );
    first
        .run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}

#[tokio::test]
async fn destroy_and_prune_refuse_without_a_terminal_or_yes() {
    let fixture = Fixture::new().await;
    create_targets(&fixture, REGION).await;
    let aws = &fixture.aws;
    let sjob = another_sjob(
        &fixture,
        &stack("myapp", "dev", REGION, &["crawler", "report"]),
    );
    sjob.run_expecting(0, &["deploy"]).await;
    let deployed = aws.snapshot("myapp", "dev").await;

    let destroy = sjob.run_expecting(1, &["destroy"]).await;
    assert!(
        destroy.stderr_says(
            "refusing to delete 18 resource(s) without confirmation: stdin is not a terminal"
        ),
        "{destroy}"
    );
    assert!(destroy.stderr_says("--yes"), "{destroy}");
    assert_unchanged(aws, "myapp", "dev", &deployed).await;

    sjob.write_config(&stack("myapp", "dev", REGION, &["crawler"]));
    sjob.run_expecting(1, &["deploy", "--prune"]).await;
    assert_unchanged(aws, "myapp", "dev", &deployed).await;
    // Nothing to delete: nothing to confirm.
    sjob.run_expecting(0, &["deploy"]).await;
    assert_unchanged(aws, "myapp", "dev", &deployed).await;
}

#[tokio::test]
async fn plan_detailed_exitcode_means_what_ci_expects() {
    let fixture = Fixture::new().await;
    create_targets(&fixture, REGION).await;
    let sjob = another_sjob(
        &fixture,
        &stack("myapp", "dev", REGION, &["crawler", "report"]),
    );
    let exit = |args: &'static [&'static str]| {
        let sjob = &sjob;
        async move { sjob.run(args).await.code }
    };
    assert_eq!(exit(&["plan", "--detailed-exitcode"]).await, Some(2));
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(exit(&["plan", "--detailed-exitcode"]).await, Some(0));

    // A removed job is a change only for `deploy --prune`.
    sjob.write_config(&stack("myapp", "dev", REGION, &["crawler"]));
    assert_eq!(exit(&["plan", "--detailed-exitcode"]).await, Some(0));
    assert_eq!(
        exit(&["plan", "--detailed-exitcode", "--prune"]).await,
        Some(2)
    );
    // A usage error is an error, not "changes".
    assert_eq!(
        exit(&["plan", "--detailed-exitcode", "--nosuch"]).await,
        Some(1)
    );
}

#[tokio::test]
async fn a_resource_made_under_its_name_after_the_plan_is_left_alone() {
    let fixture = Fixture::new().await;
    create_targets(&fixture, REGION).await;
    let aws = &fixture.aws;
    let gate = Gate::default();
    let proxy = FaultProxy::start(
        &fixture.emulator.endpoint(),
        FaultPlan::none().on_calls("CreateRole", &[1, 2, 3, 4], Fault::Hold(gate.clone())),
    )
    .await;
    let sjob = Sjob::at(proxy.endpoint());
    sjob.write_config(&stack("myapp", "dev", REGION, &["crawler"]));

    // The plan found nothing; while the creates wait, someone else takes
    // the names: roles with no tags, a log group of another stack.
    let deploy = tokio::spawn({
        let command = sjob.command(&["deploy"]);
        async move { run_to_end(command).await }
    });
    assert!(
        proxy.wait_for_action("CreateRole", 4, HELD_WAIT).await,
        "the roles' creates never came"
    );
    let roles = [
        "EcsTaskExecRole",
        "EcsTaskRole",
        "BatchSfnRole",
        "PipesRole",
    ]
    .map(|suffix| format!("myapp-dev-crawler-ScheduledJob-{suffix}"));
    for role in &roles {
        aws.iam
            .create_role()
            .role_name(role)
            .assume_role_policy_document(trust_policy("ecs-tasks.amazonaws.com").to_string())
            .send()
            .await
            .expect("CreateRole");
    }
    let foreign = aws.snapshot("myapp", "dev").await;
    gate.open();
    let deploy = deploy.await.expect("deploy ran");
    deploy.assert_code(1);
    assert!(
        deploy.stderr_says("exists but is not this stack's"),
        "{deploy}"
    );
    // The roles are untouched, and nothing that needs them was made. The
    // log groups need no role and go at the same time: they may be made,
    // as the job's own.
    let after = aws.snapshot("myapp", "dev").await;
    let is_group = |resource: &str| resource.starts_with("log group ");
    for (resource, state) in foreign.iter().filter(|(r, _)| !is_group(r)) {
        assert_eq!(after.get(resource), Some(state), "{resource} was changed");
    }
    let made: Vec<&String> = after.keys().filter(|r| !foreign.contains_key(*r)).collect();
    assert!(
        made.iter().all(|r| is_group(r)),
        "made despite the conflict: {made:?}"
    );

    // The same for a log group, on a job whose roles are its own.
    for role in &roles {
        aws.iam
            .delete_role()
            .role_name(role)
            .send()
            .await
            .expect("DeleteRole");
    }
    for group in after.keys().filter(|r| is_group(r)) {
        let name = group.trim_start_matches("log group ");
        aws.logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .expect("DeleteLogGroup");
    }
    let gate = Gate::default();
    // The job's two log groups are created at once: hold both (the proxy
    // numbers an action's calls from its start).
    let earlier = proxy.count("CreateLogGroup");
    proxy.set_plan(FaultPlan::none().on_calls(
        "CreateLogGroup",
        &[earlier + 1, earlier + 2],
        Fault::Hold(gate.clone()),
    ));
    let deploy = tokio::spawn({
        let command = sjob.command(&["deploy"]);
        async move { run_to_end(command).await }
    });
    assert!(
        proxy
            .wait_for_action("CreateLogGroup", earlier + 2, HELD_WAIT)
            .await,
        "the log groups' creates never came"
    );
    aws.logs
        .create_log_group()
        .log_group_name("/aws/vendedlogs/states/myapp/dev/crawler")
        .tags("sjob:managed-by", "sjob")
        .tags("sjob:app", "myapp")
        .tags("sjob:stage", "dev")
        .tags("sjob:region", OTHER_REGION)
        .tags("sjob:job", "crawler")
        .send()
        .await
        .expect("CreateLogGroup");
    let before = aws.snapshot("myapp", "dev").await;
    let foreign_group = before["log group /aws/vendedlogs/states/myapp/dev/crawler"].clone();
    gate.open();
    let deploy = deploy.await.expect("deploy ran");
    deploy.assert_code(1);
    assert!(
        deploy.stderr_says(
            "log group `/aws/vendedlogs/states/myapp/dev/crawler` exists but is not this stack's"
        ),
        "{deploy}"
    );
    assert_eq!(
        aws.snapshot("myapp", "dev").await["log group /aws/vendedlogs/states/myapp/dev/crawler"],
        foreign_group,
        "its retention and tags were changed"
    );
}

async fn run_to_end(mut command: tokio::process::Command) -> SjobRun {
    let output = command.output().await.expect("sjob runs");
    SjobRun {
        args: vec!["deploy".to_string()],
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
