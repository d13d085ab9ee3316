//! Malformed command lines: each gets its own message and exit code, and
//! none reaches AWS (the endpoint is a closed port). Problems inside a
//! config file are covered by deployer/tests/config.rs; here the file is
//! valid or missing. Every error exits 1, usage errors too: 2 is what
//! `plan --detailed-exitcode` means by "changes".

use sjob_e2e::myapp::{offline_config, Targets};
use sjob_e2e::{unused_loopback_port, Sjob, SjobRun};

/// Jobs whose command always succeeds, under the offline `myapp` config.
const JOBS: &str = r#"
[jobs.crawler]
command = ["true"]
schedule_expression = "rate(5 minutes)"

[jobs.report]
command = ["true"]
schedule_expression = "cron(0 3 * * ? *)"
"#;

fn config() -> String {
    offline_config(&Targets::nowhere(), &[JOBS])
}

const UNKNOWN_JOB: &str = "unknown job `nosuch`; the config has: crawler, report";
const BAD_INPUT: &str = "--input is not valid JSON";

/// (arguments after `--config <valid file>`, exit code, what stderr says).
const CASES: &[(&[&str], i32, &str)] = &[
    // Arguments clap rejects.
    (
        &["--output", "xml", "validate"],
        1,
        "invalid value 'xml' for '--output <OUTPUT>'",
    ),
    (&["frobnicate"], 1, "unrecognized subcommand 'frobnicate'"),
    (&[], 1, "Usage: sjob"),
    (
        &["render", "--what", "bogus"],
        1,
        "invalid value 'bogus' for '--what <WHAT>'",
    ),
    (
        &["status", "--count", "abc"],
        1,
        "invalid value 'abc' for '--count <COUNT>'",
    ),
    (
        &["simulate", "crawler", "--outcome", "explode"],
        1,
        "invalid value 'explode' for '--outcome <OUTCOME>'",
    ),
    (
        &["simulate", "crawler"],
        1,
        "the following required arguments were not provided",
    ),
    (
        &["run"],
        1,
        "the following required arguments were not provided",
    ),
    (
        &["local", "schedule", "--grace", "-1"],
        1,
        "unexpected argument '-1'",
    ),
    (
        &["deploy", "--prune=yes"],
        1,
        "unexpected value 'yes' for '--prune'",
    ),
    // Unknown job names.
    (&["render", "nosuch"], 1, UNKNOWN_JOB),
    (&["plan", "nosuch"], 1, UNKNOWN_JOB),
    (&["plan", "crawler", "nosuch"], 1, UNKNOWN_JOB),
    (&["deploy", "nosuch"], 1, UNKNOWN_JOB),
    (&["destroy", "nosuch"], 1, UNKNOWN_JOB),
    (&["run", "nosuch"], 1, UNKNOWN_JOB),
    (&["status", "nosuch"], 1, UNKNOWN_JOB),
    (&["local", "run", "nosuch"], 1, UNKNOWN_JOB),
    (&["local", "schedule", "nosuch"], 1, UNKNOWN_JOB),
    (
        &["simulate", "nosuch", "--outcome", "success"],
        1,
        UNKNOWN_JOB,
    ),
    (&["schedule", "next", "nosuch"], 1, UNKNOWN_JOB),
    // Bad --input JSON.
    (&["run", "crawler", "--input", "{bad"], 1, BAD_INPUT),
    (&["run", "crawler", "--input", ""], 1, BAD_INPUT),
    (
        &["local", "run", "crawler", "--input", "{\"a\":"],
        1,
        BAD_INPUT,
    ),
    (
        &[
            "simulate",
            "crawler",
            "--outcome",
            "failed",
            "--input",
            "nan",
        ],
        1,
        BAD_INPUT,
    ),
    // Schedule expressions and zones.
    (&["schedule", "next", "cron(bad)"], 1, "cron needs 6 fields"),
    (
        &["schedule", "next", "rate(0 minutes)"],
        1,
        "rate value `0` must be a positive whole number",
    ),
    (
        &["schedule", "next", "rate(99999999999999999 days)"],
        1,
        "is too large",
    ),
    (
        &[
            "schedule",
            "next",
            "rate(5 minutes)",
            "--tz",
            "Mars/Olympus",
        ],
        1,
        "`Mars/Olympus` is not an IANA timezone",
    ),
];

#[tokio::test]
async fn each_malformed_command_line_gets_its_message_and_exit_code() {
    // Nothing listens there: a command that tried AWS would fail differently.
    let nowhere = format!("http://127.0.0.1:{}", unused_loopback_port());
    let sjob = Sjob::at(&nowhere);
    sjob.write_config(&config());
    let mut failures = Vec::new();
    for (args, code, says) in CASES {
        let run = sjob.run(args).await;
        if run.code != Some(*code) || !says_squashed(&run, says) {
            failures.push(format!("expected exit {code} and `{says}`:\n{run}"));
        }
        if run.stderr.contains("panicked") {
            failures.push(format!("a panic:\n{run}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn config_paths_that_are_not_config_files_are_named() {
    let sjob = Sjob::offline();
    let missing = sjob.dir().join("missing/sjob.toml");
    let missing = missing.display().to_string();
    let dir = sjob.dir().display().to_string();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--config", &missing, "validate"],
            format!("cannot read config {missing}: No such file or directory"),
        ),
        (
            vec!["--config", &missing, "plan"],
            format!("cannot read config {missing}: No such file or directory"),
        ),
        (
            vec!["--config", &dir, "validate"],
            format!("cannot read config {dir}: Is a directory"),
        ),
        (
            vec!["--config", "/dev/null", "validate"],
            "problem(s) in the config".to_string(),
        ),
    ];
    for (args, says) in cases {
        let run = sjob.run_raw(&args).await;
        assert_eq!(run.code, Some(1), "{run}");
        assert!(says_squashed(&run, &says), "stderr lacks `{says}`:\n{run}");
    }
    // SJOB_CONFIG names the file when --config is absent.
    let env = Sjob::offline().with_env("SJOB_CONFIG", &missing);
    let run = env.run_raw(&["validate"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        says_squashed(&run, &format!("cannot read config {missing}")),
        "{run}"
    );
}

#[tokio::test]
async fn json_output_keeps_errors_machine_readable() {
    let sjob = Sjob::offline();
    sjob.write_config(&config());
    let run = sjob.run(&["--output", "json", "render", "nosuch"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not one JSON document ({e}):\n{run}"));
    assert_eq!(error["message"], UNKNOWN_JOB);
    assert_eq!(error["code"], "sjob::session::job");

    let missing = sjob.dir().join("nope.toml").display().to_string();
    let run = sjob
        .run_raw(&["--config", &missing, "--output", "json", "validate"])
        .await;
    assert_eq!(run.code, Some(1), "{run}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{run}"));
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["file"], missing.as_str());
}

/// Whether stderr says `text`, however miette wrapped it.
fn says_squashed(run: &SjobRun, text: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    squash(&run.stderr).contains(&squash(text))
}
