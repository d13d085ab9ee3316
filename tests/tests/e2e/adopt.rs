//! `sjob adopt` against a stack built the way the seed's Terraform module
//! builds it: a deploy first stops on the name clashes, adopt shows and then
//! tags the unowned resources, deploy converges them in place (the seed's
//! attached policies replaced by sjob's inline ones), and a second adopt
//! deletes the seed's policies nothing uses any more.

use serde_json::Value;
use sjob_e2e::myapp::Targets;
use sjob_e2e::{Aws, Emulator, SeedJob, Sjob, REGION, SEED_POLICIES};
use std::collections::BTreeSet;

const ACCOUNT: &str = "123456789012";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp";

fn seed_job<'a>(queue: &'a str, success: &'a str, error: &'a str) -> SeedJob<'a> {
    SeedJob {
        app_name: "myapp",
        stage: "dev",
        batch_name: "crawler",
        queue_arn: queue,
        success_handler_arn: success,
        error_handler_arn: error,
        image: IMAGE,
        command: &["python", "/opt/app/job/crawler.py"],
    }
}

#[tokio::test]
async fn adopt_takes_over_the_seed_modules_stack_and_deploy_converges_it() {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    let queue = format!("arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/myapp-dev-Batch");
    let success =
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:myapp-dev-BatchSuccessHandler");
    let error = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:myapp-dev-BatchErrorHandler");
    let seed = seed_job(&queue, &success, &error);
    seed.create(&aws).await;
    aws.create_targets(&Targets {
        queue: queue.clone(),
        success_handler: success.clone(),
        error_handler: error.clone(),
    })
    .await;
    let job = seed.job_name();

    let sjob = Sjob::new(&emulator);
    sjob.write_config(&format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[jobs.crawler]
image_uri = "{IMAGE}"
batch_job_queue_arn = "{queue}"
success_handler_arn = "{success}"
error_handler_arn = "{error}"
command = ["python", "/opt/app/job/crawler.py"]
env = {{ STAGE = "dev" }}
schedule_expression = "rate(5 minutes)"
sfn_input = {{ message = "hello" }}
"#
    ));
    let clash = sjob.run_expecting(1, &["deploy"]).await;
    assert!(
        clash.stderr_says("exist under this stack's names but are not its own"),
        "{clash}"
    );

    // Read-only: what would be adopted, and what deploy then changes.
    let shown = sjob
        .run_expecting(0, &["--output", "json", "adopt"])
        .await
        .json();
    assert_eq!(shown["applied"], false);
    let adopt = shown["adopt"].as_array().expect("adoptees");
    let kinds: Vec<(&str, &str)> = adopt
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["name"].as_str().unwrap()))
        .collect();
    for role in [
        "EcsTaskExecRole",
        "EcsTaskRole",
        "BatchSfnRole",
        "PipesRole",
    ] {
        assert!(
            kinds.contains(&("role", format!("{job}-{role}").as_str())),
            "{shown}"
        );
    }
    for kind in ["log_group", "job_definition", "state_machine", "schedule"] {
        assert!(
            kinds.iter().any(|(k, _)| *k == kind),
            "{kind} missing: {shown}"
        );
    }
    assert_eq!(
        adopt.len(),
        8,
        "the schedule targets the state machine, so it is adopted with it: {shown}"
    );
    let sfn_role = adopt
        .iter()
        .find(|a| a["name"] == format!("{job}-BatchSfnRole"))
        .unwrap();
    let fields = sfn_role["then"]["fields"]
        .as_array()
        .expect("deploy updates the role");
    assert!(
        fields.contains(&Value::from("managed_policies")),
        "{sfn_role}"
    );
    assert_eq!(
        shown["seed_policies"].as_array().unwrap().len(),
        SEED_POLICIES.len(),
        "{shown}"
    );
    assert!(
        aws.role_tags(&format!("{job}-EcsTaskRole"))
            .await
            .is_empty(),
        "adopt without --yes wrote tags"
    );

    let adopted = sjob.run_expecting(0, &["adopt", "--yes"]).await;
    assert!(
        adopted.stdout.contains("8 resource(s) adopted"),
        "{adopted}"
    );
    let tags = aws.role_tags(&format!("{job}-EcsTaskRole")).await;
    assert!(
        tags.contains(&("sjob:managed-by".to_string(), "sjob".to_string())),
        "{tags:?}"
    );
    for suffix in SEED_POLICIES {
        assert!(
            aws.policy_exists(&seed.policy_arn(suffix)).await,
            "{suffix} deleted while attached"
        );
    }

    // Deploy updates in place: no conflict, and then nothing left to do.
    sjob.run_expecting(0, &["deploy"]).await;
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
    // The state machine moved to the vended log group; the seed's, with its
    // history, is adopted and waits for --prune.
    let seed_group = "myapp/dev/scheduled/crawler";
    let vended_group = "/aws/vendedlogs/states/myapp/dev/crawler";
    let machine = aws
        .sfn
        .describe_state_machine()
        .state_machine_arn(format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{job}"
        ))
        .send()
        .await
        .unwrap();
    let destination = format!("{:?}", machine.logging_configuration());
    assert!(destination.contains(vended_group), "{destination}");
    assert!(aws.log_group(vended_group).await.is_some());
    assert!(
        aws.log_group(seed_group).await.is_some(),
        "removed without --prune"
    );
    let pruned = sjob.run_expecting(0, &["deploy", "--prune", "--yes"]).await;
    assert!(aws.log_group(seed_group).await.is_none(), "{pruned}");
    let attached = aws.attached_policies(&format!("{job}-BatchSfnRole")).await;
    assert!(
        attached.is_empty(),
        "the seed's policies are still attached: {attached:?}"
    );
    // The seed's AWS-managed task execution policy gives way to sjob's
    // own, on the job's log group and repository only.
    assert_eq!(
        aws.attached_policies(&format!("{job}-EcsTaskExecRole"))
            .await,
        BTreeSet::new()
    );
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(format!("{job}-BatchSfnRole"))
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names().len(), 3, "{inline:?}");

    // The seed's policies are now unattached: a second adopt deletes them.
    let cleaned = sjob
        .run_expecting(0, &["--output", "json", "adopt", "--yes"])
        .await
        .json();
    assert!(cleaned["adopt"].as_array().unwrap().is_empty(), "{cleaned}");
    for suffix in SEED_POLICIES {
        assert!(
            !aws.policy_exists(&seed.policy_arn(suffix)).await,
            "{suffix} is still there"
        );
    }
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    sjob.run_expecting(0, &["destroy", "--yes"]).await;
    let roles = aws.iam.list_roles().send().await.unwrap();
    assert!(
        roles.roles().iter().all(|r| !r.role_name.starts_with(&job)),
        "destroy left roles"
    );
}
