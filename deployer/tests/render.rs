//! What `render` produces: the seed's state machine with its defects fixed,
//! least-privilege policies with the config's account and region, and a plan
//! that is empty when AWS already matches.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};
use sjob::config::{parse, Config};
use sjob::model::{Identity, JobStack, Observed};
use sjob::plan::{Action, ActualJob, Change, JobSteps, Removals};
use sjob::render::definition::definition;
use sjob::target::Target;

const CONFIG: &str = r#"
app_name = "myapp"
stage = "dev"
[jobs.crawler]
command = ["python", "/opt/app/job/crawler.py"]
schedule_expression = "rate(5 minutes)"
image_uri = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/myapp"
batch_job_queue_arn = "arn:aws:batch:eu-west-1:210987654321:job-queue/myapp-dev-Batch"
success_handler_arn = "arn:aws:lambda:eu-west-1:210987654321:function:myapp-dev-BatchSuccessHandler"
error_handler_arn = "arn:aws:lambda:eu-west-1:210987654321:function:myapp-dev-BatchErrorHandler"
env = { DB_NAME = "dev" }
task_policy_statements = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::myapp-dev-input/*" }]
"#;

fn config() -> Config {
    parse(Path::new("sjob.toml"), CONFIG).unwrap()
}

fn target() -> Target {
    Target {
        account_id: "210987654321".into(),
        region: "eu-west-1".into(),
    }
}

fn ours() -> Identity {
    Identity::job("myapp", "dev", "eu-west-1", "crawler")
}

fn observed<T>(spec: T) -> Option<Observed<T>> {
    Some(Observed {
        spec,
        owner: ours(),
    })
}

/// The report's view of the steps that take `actual` to `desired`.
fn diff(
    names: &sjob::names::JobNames,
    desired: Option<&JobStack>,
    actual: &ActualJob,
) -> Vec<Change> {
    JobSteps::new(names, &ours(), desired.cloned(), actual.clone())
        .changes("crawler", desired.is_some())
}

fn stack() -> JobStack {
    let config = config();
    JobStack::render(&config, &config.jobs["crawler"], &target())
}

#[test]
fn the_state_machine_keeps_the_seeds_shape_and_payload() {
    let config = config();
    let asl = definition("myapp", "dev", &config.jobs["crawler"], &target());
    let states = &asl["States"];
    assert_eq!(asl["StartAt"], "ExtractInputParameters");
    assert_eq!(
        states["ExtractInputParameters"]["Parameters"]["input.$"],
        "$"
    );
    let metadata: handlers::event::Metadata =
        serde_json::from_value(states["ExtractInputParameters"]["Parameters"]["metadata"].clone())
            .unwrap();
    assert_eq!(metadata.job_name, "myapp-dev-crawler-ScheduledJob");
    assert_eq!(metadata.command, ["python", "/opt/app/job/crawler.py"]);
    assert_eq!(metadata.memory.as_deref(), Some("2048"));
    let branch = &states["BatchGroup"]["Branches"][0]["States"];
    assert_eq!(
        branch["Batch"]["Resource"],
        "arn:aws:states:::batch:submitJob.sync"
    );
    assert_eq!(branch["Batch"]["ResultPath"], "$.batch");
    for (state, handler) in [
        (&branch["OnSuccess"], "myapp-dev-BatchSuccessHandler"),
        (&states["ErrorHandler"], "myapp-dev-BatchErrorHandler"),
    ] {
        // The state once; the context object without `Execution.Input`.
        let payload = &state["Parameters"]["Payload"];
        assert_eq!(payload["state.$"], "$");
        assert_eq!(payload["context"]["Execution"]["Id.$"], "$$.Execution.Id");
        assert!(payload["context"]["Execution"].get("Input.$").is_none());
        assert!(state["Parameters"]["FunctionName"]
            .as_str()
            .unwrap()
            .ends_with(handler));
    }
    assert_eq!(
        states["BatchGroup"]["Catch"],
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ErrorHandler"}])
    );
}

#[test]
fn the_seeds_defects_are_fixed() {
    let config = config();
    let asl = definition("myapp", "dev", &config.jobs["crawler"], &target());
    let batch = &asl["States"]["BatchGroup"]["Branches"][0]["States"]["Batch"]["Parameters"];
    // The input reaches the container as JSON text, never as a Batch parameter.
    assert!(batch.get("Parameters").is_none());
    assert_eq!(
        batch["ContainerOverrides"]["Environment"][0],
        json!({"Name": "SJOB_INPUT", "Value.$": "States.JsonToString($.input)"})
    );
    // Transient Lambda errors and failed publishes are retried on OnSuccess.
    let retry = &asl["States"]["BatchGroup"]["Branches"][0]["States"]["OnSuccess"]["Retry"][0];
    let retried: Vec<&str> = retry["ErrorEquals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(retried.contains(&"Lambda.ServiceException") && retried.contains(&"PublishFailed"));
    // A crashed handler (timeout, out of memory) is retried, a few times.
    let crashes = &asl["States"]["ErrorHandler"]["Retry"][1];
    assert_eq!(crashes["ErrorEquals"][0], "Lambda.Unknown");
    assert_eq!(crashes["MaxAttempts"], 2);
    // A failure ends the execution FAILED, named after what failed.
    assert_eq!(asl["States"]["ErrorHandler"]["Next"], "WhatFailed");
    assert_eq!(
        asl["States"]["WhatFailed"]["Choices"][0],
        json!({"Variable": "$.batch", "IsPresent": true, "Next": "NotificationFailed"})
    );
    assert_eq!(asl["States"]["WhatFailed"]["Default"], "JobFailed");
    assert_eq!(asl["States"]["JobFailed"]["Error"], "sjob.JobFailed");
    assert_eq!(
        asl["States"]["NotificationFailed"]["Error"],
        "sjob.NotificationFailed"
    );
}

#[test]
fn a_failed_success_notification_reaches_the_error_handler_with_the_batch_result() {
    let config = config();
    let asl = definition("myapp", "dev", &config.jobs["crawler"], &target());
    let branch = &asl["States"]["BatchGroup"]["Branches"][0]["States"];
    // Caught inside the branch, where `$.batch` is.
    assert_eq!(
        branch["OnSuccess"]["Catch"],
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SuccessNotificationFailed"}])
    );
    assert_eq!(branch["SuccessNotificationFailed"]["End"], true);
    assert_eq!(asl["States"]["BatchGroup"]["OutputPath"], "$[0]");
    assert_eq!(asl["States"]["BatchGroup"]["Next"], "Notified");
    assert_eq!(
        asl["States"]["Notified"]["Choices"][0],
        json!({"Variable": "$.error", "IsPresent": true, "Next": "ErrorHandler"})
    );
    assert_eq!(asl["States"]["Notified"]["Default"], "Succeeded");
}

#[test]
fn the_last_resort_publishes_to_the_topic_only_when_one_is_known() {
    let without = config();
    let asl = definition("myapp", "dev", &without.jobs["crawler"], &target());
    assert_eq!(
        asl["States"]["ErrorHandler"]["Catch"][0]["Next"],
        "Unnotified"
    );
    assert!(asl["States"].get("NotifyDirectly").is_none());
    let stack = JobStack::render(&without, &without.jobs["crawler"], &target());
    assert!(stack.roles.iter().all(|r| !r
        .policies
        .contains_key("myapp-dev-crawler-ScheduledJob-NotifyPolicy")));

    for (topic, fifo) in [
        ("arn:aws:sns:eu-west-1:210987654321:alerts", false),
        ("arn:aws:sns:eu-west-1:210987654321:alerts.fifo", true),
    ] {
        let text = format!("{CONFIG}notification_topic_arn = \"{topic}\"\n");
        let with = parse(Path::new("sjob.toml"), &text).unwrap();
        let job = &with.jobs["crawler"];
        let asl = definition("myapp", "dev", job, &target());
        let states = &asl["States"];
        assert_eq!(states["ErrorHandler"]["Catch"][0]["Next"], "ComposeNotice");
        let publish = &states["NotifyDirectly"];
        assert_eq!(publish["Resource"], "arn:aws:states:::sns:publish");
        assert_eq!(publish["Parameters"]["TopicArn"], topic);
        assert_eq!(publish["Parameters"]["MessageStructure"], "json");
        assert_eq!(publish["Next"], "HandlersFailed");
        assert_eq!(publish["Catch"][0]["Next"], "Unnotified");
        assert_eq!(
            publish["Parameters"].get("MessageGroupId").is_some(),
            fifo,
            "{publish:#}"
        );
        // The notice is a schema-v1 document the run fills in, with nothing
        // of the job's environment in it.
        let notice = &states["ComposeNotice"]["Parameters"];
        assert_eq!(notice["version"], "1");
        assert_eq!(notice["status"], "FAILED");
        assert_eq!(notice["batch_name"], "crawler");
        assert_eq!(notice["error"]["kind"], "handler_failed");
        assert_eq!(notice["execution"]["arn.$"], "$$.Execution.Id");
        assert!(!asl["States"]["ComposeNotice"]
            .to_string()
            .contains("DB_NAME"));
        assert_eq!(states["HandlersFailed"]["Error"], "sjob.HandlersFailed");
        // The state machine may publish there, and nowhere else.
        let stack = JobStack::render(&with, job, &target());
        let sfn_role = stack
            .roles
            .iter()
            .find(|r| r.name.ends_with("-BatchSfnRole"))
            .unwrap();
        let notify = &sfn_role.policies["myapp-dev-crawler-ScheduledJob-NotifyPolicy"];
        assert_eq!(
            notify["Statement"],
            json!([{"Sid": "LastResortNotice", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic}])
        );
    }
}

/// The config with a topic (so the last resort's paths exist too) and
/// `overlap` as given.
fn with_topic(overlap: &str) -> Config {
    let text = format!(
        "{CONFIG}overlap = \"{overlap}\"\nnotification_topic_arn = \"arn:aws:sns:eu-west-1:210987654321:alerts\"\n"
    );
    parse(Path::new("sjob.toml"), &text).unwrap()
}

/// The states each state can go to next: `Next`, `Default`, and the
/// `Next` of each choice and catcher.
fn successors(state: &Value) -> Vec<&str> {
    let rules = ["Choices", "Catch"]
        .into_iter()
        .flat_map(|key| state[key].as_array().into_iter().flatten())
        .map(|rule| &rule["Next"]);
    [&state["Next"], &state["Default"]]
        .into_iter()
        .chain(rules)
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn overlap_skip_claims_the_job_and_releases_the_claim_on_every_end() {
    let config = with_topic("skip");
    let asl = definition("myapp", "dev", &config.jobs["crawler"], &target());
    let states = asl["States"].as_object().unwrap();
    let table = "myapp-dev-crawler-ScheduledJob-Claim";
    assert_eq!(states["ExtractInputParameters"]["Next"], "Claim");
    let claim = &states["Claim"];
    assert_eq!(claim["Resource"], "arn:aws:states:::dynamodb:putItem");
    assert_eq!(
        claim["Parameters"],
        json!({
            "TableName": table,
            "Item": {
                "job": {"S": "myapp-dev-crawler-ScheduledJob"},
                "holder": {"S.$": "$$.Execution.Id"}
            },
            "ConditionExpression": "attribute_not_exists(#holder) OR #holder = :this",
            "ExpressionAttributeNames": {"#holder": "holder"},
            "ExpressionAttributeValues": {":this": {"S.$": "$$.Execution.Id"}}
        })
    );
    assert_eq!(
        claim["Catch"][0],
        json!({"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "ResultPath": null, "Next": "ReadClaim"})
    );
    assert_eq!(states["ReadClaim"]["Parameters"]["ConsistentRead"], true);
    assert_eq!(
        states["ReadHolder"]["Resource"],
        "arn:aws:states:::aws-sdk:sfn:describeExecution"
    );
    assert_eq!(
        states["TakeOver"]["Parameters"]["ConditionExpression"],
        "#holder = :holder OR #holder = :this"
    );
    assert_eq!(
        states["SkipReason"]["Parameters"]["skipped"],
        json!({"running_execution.$": "$.claim.Item.holder.S"})
    );

    // Every transition into a Succeed or Fail state but `Skipped` comes
    // from a release of this run's claim, whose failure goes on to the
    // same end.
    let ends: Vec<&String> = states
        .iter()
        .filter(|(_, s)| s["Type"] == "Succeed" || s["Type"] == "Fail")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(ends.len(), 6, "{ends:?}");
    for (name, state) in states {
        for next in successors(state) {
            if !ends.iter().any(|end| *end == next) || next == "Skipped" {
                continue;
            }
            assert_eq!(
                state["Resource"], "arn:aws:states:::dynamodb:deleteItem",
                "{name} goes to {next} without releasing the claim"
            );
            assert_eq!(
                state["Parameters"]["ConditionExpression"],
                "#holder = :this"
            );
            assert_eq!(state["Parameters"]["TableName"], table);
            assert_eq!(
                state["Catch"],
                json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.release_error", "Next": next}])
            );
        }
    }
    for end in [
        "Succeeded",
        "JobFailed",
        "NotificationFailed",
        "HandlersFailed",
        "Unnotified",
    ] {
        assert!(states.contains_key(&format!("Release{end}")), "{end}");
    }
    // Only the skip ends without a release: it never held the claim.
    let into_skipped: Vec<&String> = states
        .iter()
        .filter(|(_, s)| successors(s).contains(&"Skipped"))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(into_skipped, ["SkipReason"]);

    // Without `overlap = "skip"`, nothing claims.
    let allow = definition(
        "myapp",
        "dev",
        &with_topic("allow").jobs["crawler"],
        &target(),
    );
    assert!(!allow.to_string().contains("dynamodb"), "{allow:#}");
}

#[test]
fn the_claim_follows_the_partition() {
    for (region, partition) in [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        let target = Target {
            account_id: "210987654321".into(),
            region: region.into(),
        };
        let config = with_topic("skip");
        let job = &config.jobs["crawler"];
        let asl = definition("myapp", "dev", job, &target);
        for state in [
            "Claim",
            "ReadClaim",
            "ReadHolder",
            "TakeOver",
            "ReleaseSucceeded",
        ] {
            let resource = asl["States"][state]["Resource"].as_str().unwrap();
            assert!(
                resource.starts_with(&format!("arn:{partition}:states:::")),
                "{state}: {resource}"
            );
        }
        let stack = JobStack::render(&config, job, &target);
        let policy = &stack.roles.sfn.policies["myapp-dev-crawler-ScheduledJob-OverlapCheckPolicy"];
        assert!(!policy.to_string().contains("arn:aws:"), "{policy:#}");
    }
}

#[test]
fn the_claim_table_and_its_grants_exist_only_with_overlap_skip() {
    let config = with_topic("skip");
    let stack = JobStack::render(&config, &config.jobs["crawler"], &target());
    let table = stack.claim_table.as_ref().expect("a claim table");
    assert_eq!(table.name, "myapp-dev-crawler-ScheduledJob-Claim");
    assert_eq!(table.key_schema, ["job HASH"]);
    assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
    assert!(Identity::of(&table.tags) == ours(), "{:?}", table.tags);
    let sfn = stack
        .roles
        .iter()
        .find(|r| r.name.ends_with("-BatchSfnRole"))
        .unwrap();
    assert_eq!(
        sfn.policies["myapp-dev-crawler-ScheduledJob-OverlapCheckPolicy"]["Statement"],
        json!([
            {
                "Sid": "ClaimThisJob",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                "Resource": "arn:aws:dynamodb:eu-west-1:210987654321:table/myapp-dev-crawler-ScheduledJob-Claim"
            },
            {
                "Sid": "ReadClaimHolder",
                "Effect": "Allow",
                "Action": "states:DescribeExecution",
                "Resource": "arn:aws:states:eu-west-1:210987654321:execution:myapp-dev-crawler-ScheduledJob:*"
            }
        ])
    );
    assert!(!stack.roles.iter().any(|r| r
        .policies
        .values()
        .any(|p| p.to_string().contains("ListExecutions"))));

    // The plan creates the table with the job, and deletes it when the job
    // goes or stops skipping.
    let create = diff(&stack.names, Some(&stack), &ActualJob::default());
    let claim_table = |changes: &[sjob::plan::Change]| {
        changes
            .iter()
            .find(|c| c.kind == sjob::plan::ResourceKind::ClaimTable)
            .map(|c| (c.name.clone(), c.action.clone()))
    };
    assert_eq!(
        claim_table(&create),
        Some((table.name.clone(), Action::Create))
    );
    let existing = ActualJob {
        claim_table: observed(table.clone()),
        ..ActualJob::default()
    };
    let allowing = self::stack();
    assert_eq!(allowing.claim_table, None);
    for desired in [Some(&allowing), None] {
        let changes = diff(&stack.names, desired, &existing);
        assert_eq!(
            claim_table(&changes),
            Some((table.name.clone(), Action::Delete))
        );
    }
}

#[test]
fn inputs_that_do_not_fit_the_containers_overrides_are_refused() {
    use sjob::input::{check_input, MAX_INPUT_CHARS};
    // `{"d":"..."}` is 8 characters around the string, 12 once escaped.
    let input = |n: usize| json!({ "d": "x".repeat(n) });
    assert_eq!(check_input(&input(MAX_INPUT_CHARS - 12)), Ok(()));
    let err = check_input(&input(MAX_INPUT_CHARS - 11)).unwrap_err();
    assert_eq!(err.chars, MAX_INPUT_CHARS + 1);
    assert!(err.to_string().contains("at most 6144 fit"), "{err}");
    // Quotes count twice, as the overrides carry them escaped.
    let quotes = json!({ "d": "\"".repeat(MAX_INPUT_CHARS / 2) });
    assert!(check_input(&quotes).is_err());
}

/// Every `"Resource": "*"` in every policy, as `(policy, action)`.
fn wildcard_grants(stack: &JobStack) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for role in &stack.roles {
        for (name, document) in &role.policies {
            for statement in document["Statement"].as_array().unwrap() {
                if statement["Resource"] == "*" {
                    let actions = match &statement["Action"] {
                        Value::Array(a) => {
                            a.iter().map(|v| v.as_str().unwrap().to_string()).collect()
                        }
                        other => vec![other.as_str().unwrap().to_string()],
                    };
                    found.extend(actions.into_iter().map(|a| (name.clone(), a)));
                }
            }
        }
    }
    found
}

#[test]
fn policies_are_least_privilege_in_the_configured_account_and_region() {
    let stack = stack();
    let wildcard_actions: BTreeSet<String> = wildcard_grants(&stack)
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    // Only the actions AWS offers no resource-level permission for.
    assert!(
        wildcard_actions.iter().all(|a| [
            "batch:DescribeJobs",
            "batch:ListJobs",
            "ecr:GetAuthorizationToken"
        ]
        .contains(&a.as_str())
            || a.starts_with("logs:")),
        "{wildcard_actions:?}"
    );
    // The task execution role writes to the job's own log group and pulls
    // from the job's own repository, with no AWS-managed policy.
    let exec = stack
        .roles
        .iter()
        .find(|r| r.name.ends_with("-EcsTaskExecRole"))
        .unwrap();
    assert!(exec.managed_policies.is_empty(), "{exec:?}");
    assert_eq!(
        exec.policies["myapp-dev-crawler-ScheduledJob-EcsTaskExecRolePolicy"]["Statement"],
        json!([{
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:eu-west-1:210987654321:log-group:myapp/dev/batch/crawler:log-stream:*"
        }])
    );
    assert_eq!(
        exec.policies["myapp-dev-crawler-ScheduledJob-EcsTaskExecRoleImagePullPolicy"]["Statement"]
            [0]["Resource"],
        "arn:aws:ecr:eu-west-1:210987654321:repository/myapp"
    );
    let sfn = stack
        .roles
        .iter()
        .find(|r| r.name.ends_with("-BatchSfnRole"))
        .unwrap();
    let submit = &sfn.policies["myapp-dev-crawler-ScheduledJob-BatchJobManagementAccessPolicy"]
        ["Statement"][0];
    assert_eq!(submit["Action"], "batch:SubmitJob");
    assert_eq!(
        submit["Resource"],
        json!([
            "arn:aws:batch:eu-west-1:210987654321:job-definition/myapp-dev-crawler-ScheduledJob",
            "arn:aws:batch:eu-west-1:210987654321:job-definition/myapp-dev-crawler-ScheduledJob:*",
            "arn:aws:batch:eu-west-1:210987654321:job-queue/myapp-dev-Batch"
        ])
    );
    let invoke = &sfn.policies["myapp-dev-crawler-ScheduledJob-InvokeHandlersPolicy"]["Statement"]
        [0]["Resource"];
    assert_eq!(invoke.as_array().unwrap().len(), 4);
    let scheduler = stack
        .roles
        .iter()
        .find(|r| r.name.ends_with("-PipesRole"))
        .unwrap();
    assert_eq!(
        scheduler.policies["myapp-dev-crawler-ScheduledJob-SchedulerTargetPolicy"]["Statement"][0]
            ["Resource"],
        "arn:aws:states:eu-west-1:210987654321:stateMachine:myapp-dev-crawler-ScheduledJob"
    );
    let task = stack
        .roles
        .iter()
        .find(|r| r.name.ends_with("-EcsTaskRole"))
        .unwrap();
    assert_eq!(
        task.policies["myapp-dev-crawler-ScheduledJob-EcsTaskRolePolicy"]["Statement"][0]
            ["Resource"],
        "arn:aws:s3:::myapp-dev-input/*"
    );
}

#[test]
fn a_stack_that_matches_aws_plans_no_changes() {
    let stack = stack();
    let actual = ActualJob {
        roles: stack.roles.clone().map(observed),
        log_groups: stack.log_groups.iter().cloned().map(observed).collect(),
        job_definition: None,
        state_machine: observed(stack.state_machine.clone()),
        schedule: None,
        alarm: None,
        claim_table: None,
    };
    let changes = diff(&stack.names, Some(&stack), &actual);
    assert_eq!(changes.len(), 9);
    for change in &changes {
        let expected = match change.kind {
            sjob::plan::ResourceKind::JobDefinition | sjob::plan::ResourceKind::Schedule => {
                Action::Create
            }
            _ => Action::NoOp,
        };
        assert_eq!(change.action, expected, "{change:?}");
    }

    let mut drifted = actual.clone();
    drifted.log_groups[1].as_mut().unwrap().spec.retention_days = Some(7);
    // `myapp-dev`/`crawler` in another region: its names are the same.
    drifted.state_machine.as_mut().unwrap().owner =
        Identity::job("myapp", "dev", "us-east-1", "crawler");
    let changes = diff(&stack.names, Some(&stack), &drifted);
    let log_groups: Vec<_> = changes
        .iter()
        .filter(|c| c.kind == sjob::plan::ResourceKind::LogGroup)
        .map(|c| (c.name.as_str(), &c.action))
        .collect();
    assert_eq!(
        log_groups,
        [
            ("/aws/vendedlogs/states/myapp/dev/crawler", &Action::NoOp),
            (
                "myapp/dev/batch/crawler",
                &Action::Update {
                    fields: vec!["retention_days".into()]
                }
            )
        ]
    );
    let machine = changes
        .iter()
        .find(|c| c.kind == sjob::plan::ResourceKind::StateMachine)
        .unwrap();
    assert_eq!(
        machine.action,
        Action::Conflict {
            owner: "app `myapp`, stage `dev`, region `us-east-1`, job `crawler`".into()
        }
    );

    let removal = diff(&stack.names, None, &actual);
    assert_eq!(
        removal.first().map(|c| c.kind),
        Some(sjob::plan::ResourceKind::StateMachine)
    );
    assert!(removal.iter().all(|c| c.action == Action::Delete));

    // Only what carries every identity tag of this stack is deleted.
    let removal = diff(&stack.names, None, &drifted);
    assert!(!removal
        .iter()
        .any(|c| c.kind == sjob::plan::ResourceKind::StateMachine));
}

#[test]
fn a_resource_is_ours_only_when_every_identity_tag_matches() {
    let stack = stack();
    let untagged = Identity::default();
    let older_sjob = Identity::of(
        &ours()
            .tags()
            .iter()
            .filter(|(k, _)| k.as_str() != "sjob:region")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let other_stage = Identity::job("myapp", "dev-x", "eu-west-1", "crawler");
    for owner in [untagged.clone(), older_sjob.clone(), other_stage.clone()] {
        let actual = ActualJob {
            log_groups: vec![Some(Observed {
                spec: stack.log_groups[0].clone(),
                owner: owner.clone(),
            })],
            ..ActualJob::default()
        };
        let changes = diff(&stack.names, Some(&stack), &actual);
        let log_group = changes
            .iter()
            .find(|c| c.kind == sjob::plan::ResourceKind::LogGroup)
            .unwrap();
        assert!(
            matches!(&log_group.action, Action::Conflict { owner: found } if *found == owner.to_string()),
            "{owner}: {log_group:?}"
        );
    }
    assert!(untagged.adoptable_by(&ours()));
    assert!(older_sjob.adoptable_by(&ours()));
    assert!(!other_stage.adoptable_by(&ours()));
    assert_eq!(untagged.to_string(), "not sjob's (no sjob:managed-by tag)");
}

/// A job deployed with the seed's execution log group moves to the vended
/// one: the new group is created and the state machine logs there; the old
/// group, which holds the history, is deleted only as a removal (`--prune`).
#[test]
fn a_job_on_the_seeds_log_group_moves_to_the_vended_one() {
    let stack = stack();
    let seed_group = sjob::model::LogGroupSpec {
        name: stack.names.seed_log_group.clone(),
        ..stack.log_groups[0].clone()
    };
    let mut machine = stack.state_machine.clone();
    machine.log_destination = format!(
        "arn:aws:logs:eu-west-1:210987654321:log-group:{}:*",
        seed_group.name
    );
    let actual = ActualJob {
        roles: stack.roles.clone().map(observed),
        log_groups: vec![observed(seed_group), observed(stack.log_groups[1].clone())],
        job_definition: None,
        state_machine: observed(machine),
        schedule: None,
        alarm: None,
        claim_table: None,
    };
    let changes = diff(&stack.names, Some(&stack), &actual);
    let of = |name: &str| {
        changes
            .iter()
            .find(|c| c.name == name && c.kind != sjob::plan::ResourceKind::JobDefinition)
            .map(|c| c.action.clone())
    };
    assert_eq!(
        of("/aws/vendedlogs/states/myapp/dev/crawler"),
        Some(Action::Create)
    );
    assert_eq!(of("myapp/dev/scheduled/crawler"), Some(Action::Delete));
    assert_eq!(
        of("myapp-dev-crawler-ScheduledJob"),
        Some(Action::Update {
            fields: vec!["log_destination".into()]
        })
    );
    let stack_ref = sjob::stack::StackRef {
        app_name: "myapp".into(),
        stage: "dev".into(),
        target: target(),
    };
    let plan = |removals| sjob::plan::Plan {
        stack: stack_ref.clone(),
        removals,
        base: None,
        jobs: vec![sjob::plan::JobPlan {
            batch_name: "crawler".into(),
            names: stack.names.clone(),
            identity: ours(),
            wanted: true,
            steps: JobSteps::new(&stack.names, &ours(), Some(stack.clone()), actual.clone()),
        }],
    };
    let retired = changes.iter().find(|c| c.action == Action::Delete).unwrap();
    assert!(
        plan(Removals::Keep).is_removal(retired),
        "the old group goes only with --prune"
    );
    assert!(plan(Removals::Keep).deletes().is_empty());
    assert_eq!(plan(Removals::Prune).deletes().len(), 1);
}
