//! `infra/terraform`: the committed templates are what `sjob render --what
//! terraform` prints, the state machine template renders sjob's definition
//! in every shape, the modules are formatted and valid, the example
//! applies, plans clean and destroys against the patched moto, and the state
//! machines it deploys equal the ones `sjob deploy` makes from the same
//! inputs. Also the checkov scan of `infra/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use sjob_e2e::myapp::{offline_config, Targets, ACCOUNT};
use sjob_e2e::{files_under, workspace_root, Aws, Emulator, Sjob, Terraform, REGION};

const MODULES: &str = "infra/terraform/modules";
/// The modules whose `templates/` sjob renders.
const TEMPLATED_MODULES: [&str; 2] = ["job_base", "scheduled_job"];
/// Set to rewrite the committed templates from `sjob render --what terraform`.
const BLESS: &str = "SJOB_BLESS";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp";

#[tokio::test]
async fn committed_templates_are_what_sjob_renders() {
    let rendered = Sjob::offline()
        .run_expecting(0, &["render", "--what", "terraform"])
        .await
        .json();
    let rendered = rendered.as_object().expect("a map of templates");
    let dir = workspace_root().join(MODULES);
    if std::env::var_os(BLESS).is_some() {
        for module in TEMPLATED_MODULES {
            let _ = std::fs::remove_dir_all(dir.join(module).join("templates"));
        }
        for (path, text) in rendered {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent"))
                .expect("create the directory");
            std::fs::write(&path, text.as_str().expect("template text"))
                .expect("write the template");
        }
    }
    let stale = format!("{MODULES}/*/templates are stale: run `{BLESS}=1 cargo test -p sjob-e2e --test e2e terraform::committed_templates` and commit the result");
    let mut committed: Vec<PathBuf> = TEMPLATED_MODULES
        .iter()
        .flat_map(|module| {
            let templates = PathBuf::from(module).join("templates");
            files_under(&dir.join(&templates))
                .into_iter()
                .map(move |file| templates.join(file))
        })
        .collect();
    committed.sort();
    let expected: Vec<PathBuf> = rendered.keys().map(PathBuf::from).collect();
    assert_eq!(committed, expected, "{stale}");
    for (path, text) in rendered {
        let on_disk = std::fs::read_to_string(dir.join(path)).expect("read the template");
        assert_eq!(Some(on_disk.as_str()), text.as_str(), "{path}: {stale}");
    }
}

#[test]
fn modules_are_formatted_and_valid() {
    let terraform = Terraform::offline();
    terraform.run_expecting(
        0,
        ".",
        &["fmt", "-check", "-recursive", "-diff", "-no-color"],
    );
    for module in ["modules/job_base", "modules/scheduled_job", "examples"] {
        terraform.run_expecting(0, module, &["init", "-backend=false", "-no-color"]);
        terraform.run_expecting(0, module, &["validate", "-no-color"]);
    }
}

/// The module's one state machine template, rendered by Terraform's
/// `templatefile()` as the module renders it, is the definition sjob renders
/// for the same job in every shape: each `overlap` (and `notify_on_skip`)
/// with a standard and a FIFO topic, with and without the optional numbers.
#[tokio::test]
async fn state_machine_template_is_sjobs_definition_in_every_shape() {
    let targets = Targets::nowhere();
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:myapp-dev-notifications");
    let mut tables = Vec::new();
    let mut variables = serde_json::Map::new();
    let shapes = [("allow", false), ("skip", false), ("skip", true)]
        .into_iter()
        .flat_map(|(overlap, notify)| [false, true].map(|fifo| (overlap, notify, fifo)));
    for (at, (overlap, notify_on_skip, fifo)) in shapes.enumerate() {
        let name = [
            overlap,
            if notify_on_skip { "-notify" } else { "" },
            if fifo { "-fifo" } else { "" },
        ]
        .concat();
        let topic = if fifo {
            format!("{topic}.fifo")
        } else {
            topic.clone()
        };
        // Each optional number set in some jobs of either topic kind and
        // not in others, and not always with the other.
        let run_timeout_seconds = (at % 3 != 0).then_some(10800);
        let array_size = (at % 3 != 1).then_some(4);
        let mut table = format!(
            r#"
[jobs.{name}]
command = ["python", "-m", "{name}"]
env = {{ STAGE = "dev" }}
schedule_expression = "rate(1 hour)"
vcpus = "0.5"
memory = "1024"
image_tag = "v2"
overlap = "{overlap}"
notify_on_skip = {notify_on_skip}
notification_topic_arn = "{topic}"
"#
        );
        if let Some(seconds) = run_timeout_seconds {
            table.push_str(&format!("run_timeout_seconds = {seconds}\n"));
        }
        if let Some(size) = array_size {
            table.push_str(&format!("array_size = {size}\n"));
        }
        tables.push(table);
        variables.insert(
            name.clone(),
            json!({
                "partition": "aws",
                "region": REGION,
                "account_id": ACCOUNT,
                "app_name": "myapp",
                "stage": "dev",
                "batch_name": name,
                "batch_job_queue_arn": targets.queue,
                "success_handler_arn": targets.success_handler,
                "error_handler_arn": targets.error_handler,
                "image_uri": format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"),
                "image_tag": "v2",
                "vcpus": "0.5",
                "memory": "1024",
                "command": ["python", "-m", name],
                "env": { "STAGE": "dev" },
                "notification_topic_arn": topic,
                "run_timeout_seconds": run_timeout_seconds,
                "array_size": array_size,
                "overlap": overlap,
                "notify_on_skip": notify_on_skip,
            }),
        );
    }

    // A root module of outputs only: no provider, no AWS.
    let terraform = Terraform::offline();
    let dir = terraform.dir("shapes");
    std::fs::create_dir_all(&dir).expect("create the module directory");
    std::fs::write(dir.join("jobs.json"), Value::Object(variables).to_string())
        .expect("write the variables");
    std::fs::write(
        dir.join("main.tf"),
        r#"locals {
  templates  = "${path.module}/../modules/scheduled_job/templates"
  partitions = jsondecode(file("${local.templates}/partitions.json"))
}

output "definitions" {
  value = {
    for name, variables in jsondecode(file("${path.module}/jobs.json")) : name => templatefile(
      "${local.templates}/state_machine.json.tftpl",
      merge(variables, { console_host = local.partitions[variables.partition].console_host }),
    )
  }
}
"#,
    )
    .expect("write the module");
    terraform.run_expecting(0, "shapes", &["apply", "-auto-approve", "-no-color"]);
    let by_terraform = terraform
        .run_expecting(
            0,
            "shapes",
            &["output", "-json", "-no-color", "definitions"],
        )
        .json();

    let sjob = Sjob::offline();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    sjob.write_config(&offline_config(&targets, &tables));
    let by_sjob = sjob
        .run_expecting(0, &["render", "--what", "asl"])
        .await
        .json();
    let by_terraform = by_terraform.as_object().expect("definitions by job");
    assert_eq!(by_terraform.len(), 6);
    for (job, text) in by_terraform {
        let definition: Value = serde_json::from_str(text.as_str().expect("template text"))
            .unwrap_or_else(|e| panic!("job {job}: the template renders no JSON ({e}):\n{text}"));
        assert_eq!(
            definition, by_sjob[job],
            "job {job}: the template renders another state machine than sjob's"
        );
    }
}

/// The checkov scan of `infra/` finds nothing: every failing check is
/// fixed or skipped with its reason beside the code. `$SJOB_CHECKOV` names
/// the checkov executable, else `checkov` on PATH (tests/requirements.txt).
#[test]
fn checkov_finds_no_failed_check() {
    let checkov = std::env::var("SJOB_CHECKOV").unwrap_or_else(|_| "checkov".to_string());
    let output = Command::new(&checkov)
        .args(["-d", "infra", "--framework", "terraform", "--compact", "--quiet", "--skip-download", "-o", "json"])
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {checkov} (pip install -r tests/requirements.txt, or set SJOB_CHECKOV): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "checkov failed checks:\n{stdout}");
    assert!(
        summary["passed"].as_u64().unwrap_or(0) > 0,
        "checkov scanned nothing:\n{stdout}"
    );
}

/// The example against the emulator: apply, a no-change plan, the state
/// machines equal sjob's for the same inputs, destroy.
#[tokio::test]
async fn example_applies_plans_clean_matches_sjob_and_destroys() {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    let network = emulator.default_network().await;
    let terraform = Terraform::for_emulator(&emulator);
    let success_zip = terraform.dummy_zip("success.zip");
    let error_zip = terraform.dummy_zip("error.zip");
    let subnets = serde_json::to_string(&network.subnets).expect("a JSON list");
    let vars: Vec<String> = [
        format!("region={REGION}"),
        format!("image_uri={IMAGE}"),
        format!("success_handler_zip={}", success_zip.display()),
        format!("error_handler_zip={}", error_zip.display()),
        format!("subnet_ids={subnets}"),
        format!("security_group_ids=[\"{}\"]", network.security_group),
    ]
    .into_iter()
    .flat_map(|v| ["-var".to_string(), v])
    .collect();
    let with_vars = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(vars.iter().cloned())
            .collect()
    };
    let run = |code: i32, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        terraform.run_expecting(code, "examples", &args)
    };

    run(0, vec!["init".into(), "-no-color".into()]);
    let started = std::time::Instant::now();
    run(0, with_vars(&["apply", "-auto-approve", "-no-color"]));
    eprintln!("terraform apply: {:?}", started.elapsed());
    let started = std::time::Instant::now();
    run(0, with_vars(&["plan", "-detailed-exitcode", "-no-color"]));
    eprintln!("terraform plan (no change): {:?}", started.elapsed());

    let outputs = run(0, vec!["output".into(), "-json".into(), "-no-color".into()]).json();
    let output = |name: &str| {
        outputs[name]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no output {name}: {outputs}"))
            .to_string()
    };
    let machines = outputs["state_machine_arns"]["value"]
        .as_object()
        .expect("state machine ARNs")
        .clone();
    let mut deployed_by_terraform = Vec::new();
    let roles_by_terraform = role_policies(&aws, &machines).await;
    for (job, arn) in &machines {
        let definition = aws.definition(arn.as_str().expect("an ARN")).await;
        deployed_by_terraform.push((job.clone(), definition));
    }

    // The crawler skips overlapping runs: the module made its claim table.
    let claim_table = "myapp-dev-crawler-ScheduledJob-Claim";
    assert!(
        emulator.table(claim_table).await.is_some(),
        "no claim table"
    );
    let report_by_terraform = report_job_options(&aws, &emulator).await;
    assert_eq!(
        report_by_terraform,
        json!({
            "runtime_platform": ["LINUX", "ARM64"],
            "retry_on": [[null, "CannotPullContainerError*", "EXIT"], ["*", null, "RETRY"]],
            "ephemeral_storage": 30,
            "retry": [3, 86_400],
            "dead_letter": output("undelivered_runs_queue_arn"),
            "missed_alarm": {
                "period": 3600, "evaluation_periods": 26, "datapoints_to_alarm": 26,
                "rule": ["AWS/States", "ExecutionsSucceeded", "Sum", "LessThanThreshold", 1.0, "breaching"],
                "actions": [[output("error_handler_arn")], [output("error_handler_arn")]],
                "description": "No successful run of report (myapp/dev) within 26h. sjob:{\"app_name\":\"myapp\",\"stage\":\"dev\",\"batch_name\":\"report\",\"job_name\":\"myapp-dev-report-ScheduledJob\",\"window\":\"26h\"}",
            },
        })
    );

    let started = std::time::Instant::now();
    run(0, with_vars(&["destroy", "-auto-approve", "-no-color"]));
    eprintln!("terraform destroy: {:?}", started.elapsed());
    let left = aws
        .sfn
        .list_state_machines()
        .send()
        .await
        .expect("ListStateMachines");
    assert!(
        left.state_machines().is_empty(),
        "destroy left {:?}",
        left.state_machines()
    );
    assert_eq!(
        emulator.table(claim_table).await,
        None,
        "destroy left the claim table"
    );

    // The same inputs through sjob, into the now empty emulator but for
    // what the jobs name, which sjob's plan reads before it writes: the
    // queue, the handlers (the report's alarm invokes the error handler),
    // the topic and the dead-letter queue, under the same names.
    aws.create_targets(&Targets {
        queue: output("job_queue_arn"),
        success_handler: output("success_handler_arn"),
        error_handler: output("error_handler_arn"),
    })
    .await;
    let name = |arn: String| arn.rsplit(':').next().unwrap_or_default().to_string();
    aws.create_topic(&name(output("sns_topic_arn"))).await;
    aws.create_queue(&name(output("undelivered_runs_queue_arn")))
        .await;
    let sjob = Sjob::new(&emulator);
    sjob.write_config(&format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{IMAGE}"
batch_job_queue_arn = "{queue}"
success_handler_arn = "{success}"
error_handler_arn = "{error}"
notification_topic_arn = "{topic}"

[jobs.crawler]
command = ["python", "/opt/app/job/crawler.py"]
env = {{ STAGE = "dev", DB_NAME = "dev" }}
schedule_expression = "rate(5 minutes)"
sfn_input = {{ message = "hello" }}
overlap = "skip"
notify_on_skip = true

[jobs.report]
command = ["python", "/opt/app/job/report.py"]
vcpus = "0.5"
memory = "1024"
schedule_expression = "cron(0 3 * * ? *)"
timeout_seconds = 3600
run_timeout_seconds = 10800
array_size = 4
retry_attempts = 2
expect_success_within = "26h"
retry_on = [{{ reason = "CannotPullContainerError*", action = "exit" }}, {{ exit_code = "*", action = "retry" }}]
cpu_architecture = "arm64"
ephemeral_storage_gib = 30
schedule_retry = {{ maximum_retry_attempts = 3 }}
schedule_dead_letter_arn = "{undelivered}"
tags = {{ team = "data" }}
task_policy_statements = [{{ Effect = "Allow", Action = ["sns:Publish"], Resource = ["{topic}"] }}]
"#,
        queue = output("job_queue_arn"),
        success = output("success_handler_arn"),
        error = output("error_handler_arn"),
        topic = output("sns_topic_arn"),
        undelivered = output("undelivered_runs_queue_arn"),
    ));
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(deployed_by_terraform.len(), 2);
    for (job, terraform_definition) in deployed_by_terraform {
        let arn = machines[&job].as_str().expect("an ARN");
        let sjob_definition = aws.definition(arn).await;
        assert_eq!(
            terraform_definition, sjob_definition,
            "job {job}: Terraform and sjob deploy different state machines"
        );
    }
    assert_eq!(
        roles_by_terraform,
        role_policies(&aws, &machines).await,
        "Terraform and sjob deploy different IAM documents"
    );
    assert_eq!(
        report_by_terraform,
        report_job_options(&aws, &emulator).await,
        "Terraform and sjob deploy the report's job definition or schedule differently"
    );
    sjob.run_expecting(0, &["destroy", "--yes"]).await;
}

/// The report job's options beyond the state machine and IAM: runtime
/// platform, retry rules and task storage, its schedule's retry policy and
/// dead-letter queue, and its missed-run alarm.
async fn report_job_options(aws: &Aws, emulator: &Emulator) -> Value {
    let name = "myapp-dev-report-ScheduledJob";
    let definition = aws.active_job_definition(name).await;
    let container = definition.container_properties().expect("a container job");
    let schedule = aws
        .schedule(&format!("{name}-Scheduler"))
        .await
        .expect("the report's schedule");
    let target = schedule.target().expect("a target");
    let retry = target.retry_policy().expect("a retry policy");
    json!({
        "runtime_platform": container.runtime_platform().map(|p| (p.operating_system_family(), p.cpu_architecture())),
        "retry_on": definition.retry_strategy().map(|r| r.evaluate_on_exit().iter().map(|rule| {
            (rule.on_exit_code(), rule.on_reason(), rule.action().map(|a| a.as_str().to_ascii_uppercase()))
        }).collect::<Vec<_>>()),
        "ephemeral_storage": container.ephemeral_storage().and_then(|s| s.size_in_gib()),
        "retry": (retry.maximum_retry_attempts(), retry.maximum_event_age_in_seconds()),
        "dead_letter": target.dead_letter_config().and_then(|d| d.arn()),
        "missed_alarm": emulator.alarm(&format!("{name}-Missed")).await.map(|a| json!({
            "period": a.period, "evaluation_periods": a.evaluation_periods,
            "datapoints_to_alarm": a.datapoints_to_alarm,
            "rule": [a.namespace, a.metric, a.statistic, a.comparison, a.threshold, a.treat_missing_data],
            "actions": [a.alarm_actions, a.ok_actions],
            "description": a.description,
        })),
    })
}

/// Every job's roles: trust policy, inline policies and attached policy ARNs.
async fn role_policies(
    aws: &Aws,
    machines: &serde_json::Map<String, Value>,
) -> BTreeMap<String, Value> {
    let decode = |text: &str| -> Value {
        serde_json::from_str(&percent_decode_str(text).decode_utf8_lossy()).expect("a JSON policy")
    };
    let mut roles = BTreeMap::new();
    for job in machines.keys() {
        for suffix in [
            "EcsTaskExecRole",
            "EcsTaskRole",
            "BatchSfnRole",
            "PipesRole",
        ] {
            let role = format!("myapp-dev-{job}-ScheduledJob-{suffix}");
            let trust = aws
                .iam
                .get_role()
                .role_name(&role)
                .send()
                .await
                .expect("GetRole")
                .role
                .expect("a role");
            let mut inline = BTreeMap::new();
            let names = aws
                .iam
                .list_role_policies()
                .role_name(&role)
                .send()
                .await
                .expect("ListRolePolicies");
            for name in names.policy_names() {
                let policy = aws
                    .iam
                    .get_role_policy()
                    .role_name(&role)
                    .policy_name(name)
                    .send()
                    .await
                    .expect("GetRolePolicy");
                inline.insert(name.clone(), decode(&policy.policy_document));
            }
            let attached = aws
                .iam
                .list_attached_role_policies()
                .role_name(&role)
                .send()
                .await
                .expect("ListAttachedRolePolicies");
            let attached: Vec<String> = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn.clone())
                .collect();
            roles.insert(
                role,
                json!({
                    "trust_policy": decode(trust.assume_role_policy_document().unwrap_or("{}")),
                    "policies": inline,
                    "managed_policies": attached,
                }),
            );
        }
    }
    roles
}
