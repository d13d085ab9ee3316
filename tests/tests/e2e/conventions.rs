//! The conventions users bring from the AWS CLI, Terraform and cargo-lambda:
//! completions and a man page, `--profile` / `--region`, the SDK's retry
//! settings, `NO_COLOR` / `CLICOLOR_FORCE`, Lambda's logging controls in the
//! handlers, and a JSON Schema of `sjob.toml` that `validate` agrees with.

use std::process::Command;
use std::time::Duration;

use aws_config::Region;
use serde_json::{json, Value};
use sjob_e2e::myapp::{config, Targets, CRAWLER};
use sjob_e2e::{
    fixture, handler_binary, workspace_root, Aws, Emulator, Fault, FaultPlan, FaultProxy, Fixture,
    Sjob,
};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

#[tokio::test]
async fn completions_generate_for_every_shell_and_bash_completes_dep_to_deploy() {
    let sjob = Sjob::offline();
    for shell in SHELLS {
        let run = sjob.run_expecting(0, &["completions", shell]).await;
        assert!(run.stdout.contains("deploy"), "{shell}: {run}");
    }

    let script = sjob.dir().join("sjob.bash");
    std::fs::write(
        &script,
        sjob.run_expecting(0, &["completions", "bash"]).await.stdout,
    )
    .unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(sjob dep); COMP_CWORD=1; COMP_LINE='sjob dep'; \
             COMP_POINT=8; _sjob sjob dep sjob; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash runs");
    let words = String::from_utf8_lossy(&completed.stdout);
    assert_eq!(words.trim(), "deploy", "{completed:?}");
}

#[tokio::test]
async fn the_man_page_documents_every_command() {
    let page = Sjob::offline().run_expecting(0, &["man"]).await.stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH sjob"),
        "{page}"
    );
    for command in [
        "validate",
        "plan",
        "deploy",
        "destroy",
        "local",
        "completions",
    ] {
        assert!(page.contains(command), "{command} is not in the man page");
    }
}

/// `--region` wins over the config's `region`; `--profile` picks a profile
/// whose region applies when the config names none.
#[tokio::test]
async fn region_and_profile_flags_reach_the_sdk() {
    let fixture = Fixture::new().await;
    let text = config(&fixture.existing_targets().await, &[CRAWLER]);
    fixture.sjob.write_config(&text);
    fixture
        .sjob
        .run_expecting(0, &["--region", "us-west-2", "deploy"])
        .await;
    let there = Aws::new(
        &fixture
            .emulator
            .sdk_config()
            .into_builder()
            .region(Region::new("us-west-2"))
            .build(),
    );
    let machines = |aws: &Aws| {
        let sfn = aws.sfn.clone();
        async move {
            sfn.list_state_machines()
                .send()
                .await
                .unwrap()
                .state_machines()
                .len()
        }
    };
    assert_eq!(machines(&there).await, 1);
    assert_eq!(
        machines(&fixture.aws).await,
        0,
        "the config's region is untouched"
    );

    let profiles = fixture.sjob.dir().join("profiles");
    std::fs::write(&profiles, "[profile elsewhere]\nregion = ap-southeast-2\n").unwrap();
    let without_region: String = text
        .lines()
        .filter(|l| !l.starts_with("region"))
        .map(|l| format!("{l}\n"))
        .collect();
    let sjob = Sjob::new(&fixture.emulator)
        .with_env("AWS_CONFIG_FILE", &profiles.display().to_string())
        .without_env("AWS_REGION");
    sjob.write_config(&without_region);
    let rendered = sjob
        .run_expecting(0, &["--profile", "elsewhere", "render", "crawler"])
        .await;
    assert!(
        rendered.stdout.contains(":ap-southeast-2:"),
        "the profile's region is in the ARNs: {rendered}"
    );
    let unknown = sjob
        .run_expecting(1, &["--profile", "nobody", "plan"])
        .await;
    assert!(
        unknown.stderr_says("profile `nobody` is not in the AWS config or credentials file"),
        "{unknown}"
    );
}

/// `AWS_MAX_ATTEMPTS=1` is one attempt at a call the SDK would retry (a
/// 500); without it, sjob's own retries carry the call through. Throttling is
/// paced, not counted (`faults::throttled_deploys_slow_down_and_finish`).
#[tokio::test]
async fn aws_max_attempts_is_honoured() {
    let emulator = Emulator::start().await;
    let targets = Targets::nowhere();
    Aws::new(&emulator.sdk_config())
        .create_targets(&targets)
        .await;
    // `sjob plan` through a proxy that fails its first GetCallerIdentity;
    // how many GetCallerIdentity calls reached the proxy.
    let plan = |env: Option<(&'static str, &'static str)>, code: i32| {
        let (endpoint, targets) = (emulator.endpoint(), &targets);
        async move {
            let failed_once =
                FaultPlan::none().on_calls("sts:GetCallerIdentity", &[1], Fault::InternalError);
            let proxy = FaultProxy::start(&endpoint, failed_once).await;
            let mut sjob = Sjob::at(proxy.endpoint());
            if let Some((name, value)) = env {
                sjob = sjob.with_env(name, value);
            }
            sjob.write_config(&config(targets, &[CRAWLER]));
            let run = sjob.run_expecting(code, &["plan"]).await;
            (run, proxy.count("GetCallerIdentity"))
        }
    };

    let (once, calls) = plan(Some(("AWS_MAX_ATTEMPTS", "1")), 1).await;
    assert!(once.stderr.contains("InternalFailure"), "{once}");
    assert_eq!(calls, 1, "AWS_MAX_ATTEMPTS=1 is one attempt");

    let (_, calls) = plan(None, 0).await;
    assert_eq!(calls, 2, "sjob's own retries: one failed, one retried");
}

/// With colour forced, diagnostics and logs are coloured; `NO_COLOR` turns
/// every escape sequence off, even then.
#[tokio::test]
async fn no_color_removes_every_escape_sequence_from_stderr() {
    let fixture = Fixture::new().await;
    let targets = fixture.existing_targets().await;
    fixture.sjob.write_config(&config(&targets, &[CRAWLER]));
    let forced = Sjob::new(&fixture.emulator)
        .without_env("NO_COLOR")
        .with_env("CLICOLOR_FORCE", "1");
    forced.write_config(&config(&targets, &[CRAWLER]));
    let coloured = forced.run_expecting(0, &["deploy"]).await;
    assert!(coloured.stderr.contains('\u{1b}'), "{coloured}");
    let bad = forced.run_expecting(1, &["run", "no-such-job"]).await;
    assert!(bad.stderr.contains('\u{1b}'), "{bad}");

    let plain = forced.with_env("NO_COLOR", "1");
    for args in [
        &["deploy"][..],
        &["run", "no-such-job"],
        &["validate", "--bogus"],
    ] {
        let run = plain.run(args).await;
        assert!(!run.stderr.contains('\u{1b}'), "{args:?}: {run}");
        assert!(!run.stderr.is_empty(), "{args:?} says something on stderr");
    }
}

/// Lambda's `AWS_LAMBDA_LOG_FORMAT`: JSON lines with the invocation's
/// request id on every line it logs, or text lines that are not JSON.
#[tokio::test]
async fn the_handlers_follow_lambdas_log_format() {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    let topic = aws.create_topic("logs").await;
    for format in ["JSON", "Text"] {
        let function = format!("error-handler-{format}");
        aws.create_function(
            &function,
            &[("SNS_TOPIC_ARN", &topic), ("AWS_LAMBDA_LOG_FORMAT", format)],
            Duration::from_secs(30),
        )
        .await;
        emulator
            .register_lambda(&function, &handler_binary("error-handler"))
            .await;
        aws.invoke(&function, &fixture("failed_oom"))
            .await
            .succeeded();
    }
    let log = emulator.lambda_log();
    let sections = invocation_logs(&log);
    let (json_id, json_lines) = &sections["error-handler-JSON"];
    assert!(!json_lines.is_empty(), "{log}");
    for line in json_lines {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(line["requestId"], json!(json_id), "{line}");
        for field in ["timestamp", "level", "message"] {
            assert!(line.get(field).is_some(), "{field} in {line}");
        }
    }
    let (text_id, text_lines) = &sections["error-handler-Text"];
    assert!(!text_lines.is_empty(), "{log}");
    for line in text_lines {
        assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
    }
    assert!(
        text_lines.iter().any(|l| l.contains(text_id.as_str())),
        "the request id is in the text lines' span: {text_lines:#?}"
    );
}

/// Each function's log lines, after the harness's
/// `=== <time> <function> request <id> (...) ===` header, with the id.
fn invocation_logs(log: &str) -> std::collections::BTreeMap<String, (String, Vec<String>)> {
    let mut sections = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if let Some(header) = line.strip_prefix("=== ") {
            let words: Vec<&str> = header.split_whitespace().collect();
            let (function, id) = (words[1].to_string(), words[3].to_string());
            sections.insert(function.clone(), (id, Vec::new()));
            current = Some(function);
        } else if let Some(function) = &current {
            if !line.trim().is_empty() {
                sections.get_mut(function).unwrap().1.push(line.to_string());
            }
        }
    }
    sections
}

/// `sjob schema` accepts the example config and the README's, and every key
/// it does not know, `validate` refuses too.
#[tokio::test]
async fn the_schema_and_validate_agree() {
    let sjob = Sjob::offline();
    let schema = sjob.dir().join("sjob.schema.json");
    std::fs::write(&schema, sjob.run_expecting(0, &["schema"]).await.stdout).unwrap();
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let readme_config = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a TOML example");
    let readme_file = sjob.dir().join("readme.toml");
    std::fs::write(&readme_file, readme_config).unwrap();
    let example = workspace_root().join("examples/sjob.toml");
    for file in [&example, &readme_file] {
        assert_eq!(schema_errors(&schema, file), "", "{}", file.display());
    }

    let valid = std::fs::read_to_string(&example).unwrap();
    for (section, insert_after) in [
        ("top level", "stage"),
        ("[defaults]", "[defaults]"),
        ("[jobs.hello]", "[jobs.hello]"),
    ] {
        let line = valid
            .lines()
            .find(|l| l.starts_with(insert_after))
            .unwrap_or_else(|| panic!("the example has {insert_after}"));
        let with_unknown = valid.replacen(line, &format!("{line}\nbogus_key = 1"), 1);
        let file = sjob.dir().join("unknown.toml");
        std::fs::write(&file, &with_unknown).unwrap();
        let errors = schema_errors(&schema, &file);
        assert!(
            errors.contains("bogus_key"),
            "{section}: the schema refuses it: {errors}"
        );
        sjob.write_config(&with_unknown);
        let run = sjob.run_expecting(1, &["validate"]).await;
        assert!(run.stderr.contains("bogus_key"), "{section}: {run}");
    }
}

/// What Python's `jsonschema` finds wrong with a TOML file; empty when valid.
fn schema_errors(schema: &std::path::Path, file: &std::path::Path) -> String {
    let script = "import json, sys, tomllib, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        document = tomllib.load(open(sys.argv[2], 'rb'))\n\
        v = jsonschema.Draft7Validator(schema)\n\
        print('\\n'.join(e.message for e in v.iter_errors(document)))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(schema)
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
