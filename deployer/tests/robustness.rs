//! Bad input never panics the config and schedule parsers. Property tests
//! feed `config::parse` arbitrary and mutated TOML, and `Schedule::parse` +
//! `upcoming` expressions built from cron/rate/at tokens; `tests/corpus/`
//! keeps inputs worth re-checking on every run.
//!
//! Properties: no panic; a config error lists problems that each carry a
//! line and column inside the text; a schedule error is a message; a parsed
//! schedule's fire times are strictly increasing and after the start.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use sjob::config::{parse, ConfigError};
use sjob::schedule::Schedule;

const VALID: &str = r#"app_name = "myapp"
stage    = "dev"
region   = "ap-northeast-1"

[defaults]
batch_job_queue_arn = "arn:aws:batch:ap-northeast-1:123456789012:job-queue/myapp-dev-Batch"
success_handler_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchSuccessHandler"
error_handler_arn   = "arn:aws:lambda:ap-northeast-1:123456789012:function:myapp-dev-BatchErrorHandler"
image_uri           = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp"
env                 = { STAGE = "dev" }

[jobs.crawler]
command             = ["python", "/opt/app/job/crawler.py"]
vcpus               = "1"
memory              = 2048
schedule_expression = "rate(5 minutes)"
sfn_input           = { message = "hello" }
env                 = { DB_NAME = "dev" }
timeout_seconds     = 3600
retry_attempts      = 2
log_retention_days  = 30
task_policy_statements = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }]
tags                = { team = "data" }
"#;

fn corpus() -> &'static Path {
    static ROOT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"))
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

fn check_config(text: &str) -> Result<(), String> {
    match parse(Path::new("sjob.toml"), text) {
        Ok(_) => Ok(()),
        Err(ConfigError::Read { .. }) => Err("parse never reads a file".into()),
        Err(err @ ConfigError::Invalid { .. }) => {
            let records = err.records();
            if records.is_empty() {
                return Err("an invalid config with no problem listed".into());
            }
            let lines = text.split('\n').count();
            for record in &records {
                if record.line == 0 || record.column == 0 || record.line > lines {
                    return Err(format!(
                        "a problem outside the text ({lines} lines): {record:?}"
                    ));
                }
                if record.message.is_empty() {
                    return Err(format!("a problem without a message: {record:?}"));
                }
            }
            // Rendering the diagnostics (what `sjob validate` prints) must not panic either.
            let _ = format!("{:?}", miette::Report::new(err));
            Ok(())
        }
    }
}

/// Values that stress the validator when put where another value was.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("0x7fffffffffffffff".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[[1], {a = 1}]".to_string()),
        Just(r#""""#.to_string()),
        Just(r#""rate(0 minutes)""#.to_string()),
        Just(r#""rate(9223372036854775807 minutes)""#.to_string()),
        Just(r#""cron(0 0 31 2 ? *)""#.to_string()),
        Just(r#""at(2199-12-31T23:59:59)""#.to_string()),
        Just(r#""arn:aws:batch:::""#.to_string()),
        ".{0,20}".prop_map(|s| format!("{s:?}")),
        "[a-zA-Z0-9_ ./:(*?)-]{0,30}".prop_map(|s| format!("\"{s}\"")),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    /// Put a value in place of line `n`'s value (the part after `=`).
    Value(usize, String),
    DeleteLine(usize),
    DuplicateLine(usize),
    /// Insert text at a byte position (rounded to a char boundary).
    Insert(usize, String),
    /// Delete a byte range (rounded to char boundaries).
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), toml_value()).prop_map(|(l, v)| Edit::Value(l, v)),
        1 => any::<usize>().prop_map(Edit::DeleteLine),
        1 => any::<usize>().prop_map(Edit::DuplicateLine),
        2 => (any::<usize>(), prop_oneof![
            Just("\n".to_string()), Just("[".to_string()), Just("]".to_string()), Just("\"".to_string()),
            Just("=".to_string()), Just("[jobs.x]\n".to_string()), Just("\u{feff}".to_string()),
            Just("é".to_string()), Just("\r\n".to_string()), Just("\0".to_string()), ".{1,3}",
        ]).prop_map(|(p, s)| Edit::Insert(p, s)),
        1 => (any::<usize>(), 0usize..20).prop_map(|(p, n)| Edit::Delete(p, n)),
    ]
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: String, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let line = |i: usize| i % lines.len().max(1);
    match edit {
        Edit::Value(i, value) => {
            let i = line(*i);
            if let Some((key, _)) = lines[i].split_once('=') {
                lines[i] = format!("{key}= {value}");
            }
            lines.join("\n")
        }
        Edit::DeleteLine(i) => {
            let i = line(*i);
            lines.remove(i);
            lines.join("\n")
        }
        Edit::DuplicateLine(i) => {
            let i = line(*i);
            let copy = lines[i].clone();
            lines.insert(i, copy);
            lines.join("\n")
        }
        Edit::Insert(at, s) => {
            let at = floor_boundary(&text, at % (text.len() + 1));
            format!("{}{s}{}", &text[..at], &text[at..])
        }
        Edit::Delete(at, n) => {
            let start = floor_boundary(&text, at % (text.len() + 1));
            let end = floor_boundary(&text, start + n);
            format!("{}{}", &text[..start], &text[end..])
        }
    }
}

#[test]
fn the_config_corpus_keeps_the_properties() {
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        check_config(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(checked >= 5, "{checked} corpus configs");
    check_config(VALID).unwrap();
    assert!(parse(Path::new("sjob.toml"), VALID).is_ok());
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn arbitrary_text_never_panics_the_config_parser(text in ".{0,300}") {
        check_config(&text).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_configs_never_panic(edits in prop::collection::vec(edit(), 1..5)) {
        let text = edits.iter().fold(VALID.to_string(), apply);
        check_config(&text).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------
// Schedule expressions
// ---------------------------------------------------------------------------

const ZONES: &[&str] = &[
    "UTC",
    "Asia/Tokyo",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
];

fn check_schedule(
    text: &str,
    zone: &str,
    after: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Result<(), String> {
    let schedule = match Schedule::parse(text) {
        Ok(schedule) => schedule,
        Err(err) => {
            return if err.to_string().trim().is_empty() {
                Err(format!("{text:?}: an empty error message"))
            } else {
                Ok(())
            };
        }
    };
    let tz: Tz = zone.parse().unwrap();
    let times = schedule.upcoming(after, tz, anchor, 5);
    let mut previous = after;
    for t in &times {
        if *t <= previous {
            return Err(format!(
                "{text:?} in {zone} after {after}: {times:?} is not increasing"
            ));
        }
        previous = *t;
    }
    if schedule.is_one_time() && times.len() > 1 {
        return Err(format!(
            "{text:?}: a one-time schedule fires {} times",
            times.len()
        ));
    }
    Ok(())
}

fn cron_atom() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        4 => 0u64..70,
        1 => 0u64..3000,
        1 => any::<u64>(),
    ];
    prop_oneof![
        Just("*".to_string()),
        Just("?".to_string()),
        Just("L".to_string()),
        Just("LW".to_string()),
        Just("W".to_string()),
        number.clone().prop_map(|n| n.to_string()),
        (number.clone(), number.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        (number.clone(), number.clone()).prop_map(|(a, b)| format!("{a}/{b}")),
        (number.clone(), number.clone()).prop_map(|(a, b)| format!("{a}#{b}")),
        number.clone().prop_map(|n| format!("{n}W")),
        number.clone().prop_map(|n| format!("{n}L")),
        number.prop_map(|n| format!("*/{n}")),
        prop::sample::select(vec![
            "MON", "FRI", "SUN-SAT", "MON-FRI", "JAN", "DEC", "JAN-DEC", "FEB", "mon", "MON#5",
            "FRIL",
        ])
        .prop_map(str::to_string),
        "[A-Z0-9*?/#,-]{1,5}",
    ]
}

fn cron_field() -> impl Strategy<Value = String> {
    prop::collection::vec(cron_atom(), 1..3).prop_map(|atoms| atoms.join(","))
}

fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(cron_field(), 4..8).prop_map(|f| format!("cron({})", f.join(" "))),
        // Six fields with exactly one `?`: what passes the first checks.
        3 => (prop::collection::vec(cron_field(), 5), any::<bool>()).prop_map(|(f, dom)| {
            let (d, w) = if dom { (f[2].clone(), "?".to_string()) } else { ("?".to_string(), f[4].clone()) };
            format!("cron({} {} {d} {} {w} {})", f[0], f[1], f[3], f[3 + usize::from(dom)])
        }),
        2 => (prop_oneof![any::<i64>().prop_map(|n| n.to_string()), (0i64..100).prop_map(|n| n.to_string()), "[0-9a-z.-]{0,6}"],
              prop::sample::select(vec!["minute", "minutes", "hour", "hours", "day", "days", "week", "", "seconds"]))
            .prop_map(|(n, unit)| format!("rate({n} {unit})")),
        1 => (1900i32..2300, 0u32..14, 0u32..33, 0u32..26, 0u32..62).prop_map(|(y, mo, d, h, mi)| {
            format!("at({y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00)")
        }),
        1 => ".{0,40}",
    ]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 to 2200, the years cron accepts, and a little beyond.
    (0i64..7_300_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

#[test]
fn the_schedule_corpus_keeps_the_properties() {
    let text = std::fs::read_to_string(corpus().join("schedules.txt")).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 3, 8, 1, 30, 0).unwrap();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        for zone in ZONES {
            for start in [
                after,
                Utc.with_ymd_and_hms(2199, 12, 31, 23, 59, 0).unwrap(),
                Utc.timestamp_opt(0, 0).unwrap(),
            ] {
                check_schedule(line, zone, start, start - Duration::days(400))
                    .unwrap_or_else(|e| panic!("corpus line {line:?}: {e}"));
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} corpus expressions");
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn schedule_expressions_never_panic(
        text in expression(),
        zone in prop::sample::select(ZONES),
        after in instant(),
        anchor in instant(),
    ) {
        check_schedule(&text, zone, after, anchor).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------
// Extreme numbers: instants at chrono's limits, counts and durations from the
// command line, config integers wider than their fields
// ---------------------------------------------------------------------------

/// Any instant chrono can hold, with the limits themselves and the years
/// around cron's range more likely.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        3 => (min..=max).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
        1 => instant(),
    ]
}

/// Expressions whose arithmetic reaches far: long rates, late and early
/// `at` times, every-day crons and crons that never match.
fn far_reaching_expression() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            1i64..=i64::MAX / 86_400,
            prop::sample::select(vec!["minutes", "hours", "days"])
        )
            .prop_map(|(n, unit)| format!("rate({n} {unit})")),
        (-262_143i32..=262_142, 1u32..=12, 1u32..=28).prop_map(|(y, mo, d)| {
            let year = if (0..=9999).contains(&y) {
                format!("{y:04}")
            } else {
                format!("{y:+}")
            };
            format!("at({year}-{mo:02}-{d:02}T23:59:59)")
        }),
        prop::sample::select(vec![
            "rate(1 minute)",
            "cron(0 0 * * ? *)",
            "cron(59 23 31 12 ? 2199)",
            "cron(0 0 1 1 ? 1970)",
            "cron(0 0 31 2 ? *)",
            "cron(0 12 ? * 6L *)",
        ])
        .prop_map(str::to_string),
    ]
}

/// chrono panics on a local time past its range (`naive_local`); a cron
/// search starting at its limits in a zone ahead of or behind UTC used to.
#[test]
fn fire_times_at_chronos_limits_are_found_or_none() {
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let daily = Schedule::parse("cron(0 0 * * ? *)").unwrap();
    for zone in ZONES {
        let tz: Tz = zone.parse().unwrap();
        assert_eq!(daily.next_after(max, tz, min), None, "{zone}");
        // Before cron's first year the first fire time is midnight local on 1970-01-01.
        let first = daily.next_after(min, tz, max).unwrap();
        assert_eq!(
            first.with_timezone(&tz).naive_local(),
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            "{zone}"
        );
        for expression in [
            "rate(1 minute)",
            "rate(100000000 days)",
            "at(+262142-12-31T23:59:59)",
        ] {
            let schedule = Schedule::parse(expression).unwrap();
            for (after, anchor) in [(max, min), (min, max), (max, max), (min, min)] {
                check_schedule(expression, zone, after, anchor).unwrap();
                let _ = schedule.upcoming(after, tz, anchor, 3);
            }
        }
    }
}

/// `count` is how many at most: nothing is reserved for it up front.
#[test]
fn upcoming_reserves_nothing_for_a_huge_count() {
    let now = Utc::now();
    let once = Schedule::parse("at(2199-12-31T23:59:59)").unwrap();
    assert_eq!(once.upcoming(now, Tz::UTC, now, usize::MAX).len(), 1);
    let yearly = Schedule::parse("cron(0 0 1 1 ? *)").unwrap();
    let after = Utc.with_ymd_and_hms(2100, 6, 1, 0, 0, 0).unwrap();
    assert_eq!(yearly.upcoming(after, Tz::UTC, after, usize::MAX).len(), 99);
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn extreme_instants_never_panic_the_schedule(
        text in far_reaching_expression(),
        zone in prop::sample::select(ZONES),
        after in any_instant(),
        anchor in any_instant(),
    ) {
        check_schedule(&text, zone, after, anchor).map_err(TestCaseError::fail)?;
    }
}

/// Runs the built `sjob` in `dir` with `args`: (exit code, stderr).
fn sjob(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sjob"))
        .args(args)
        .current_dir(dir)
        .env_remove("SJOB_CONFIG")
        .env_remove("SJOB_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("sjob runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch directory holding `text` as `sjob.toml`.
fn scratch(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sjob-robustness-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sjob.toml"), text).unwrap();
    dir
}

/// Out-of-range numbers on the command line are refused by name and range,
/// never reach `Vec::with_capacity` or `Instant + Duration`, and panic nowhere.
#[test]
fn huge_numbers_on_the_command_line_are_refused_by_name() {
    let dir = scratch("cli", VALID);
    let cases: &[(&[&str], &str)] = &[
        (
            &["schedule", "next", "rate(5 minutes)", "--count", "18446744073709551615"],
            "invalid value '18446744073709551615' for '--count <COUNT>': 18446744073709551615 is not in 1..=1000",
        ),
        (
            &["schedule", "next", "rate(5 minutes)", "--count", "1000000000000"],
            "invalid value '1000000000000' for '--count <COUNT>': 1000000000000 is not in 1..=1000",
        ),
        (
            &["schedule", "next", "cron(0 0 * * ? *)", "--count", "1001"],
            "1001 is not in 1..=1000",
        ),
        (
            &["schedule", "next", "rate(5 minutes)", "--count", "0"],
            "0 is not in 1..=1000",
        ),
        (
            &["schedule", "next", "rate(5 minutes)", "--count", "99999999999999999999999"],
            "invalid value '99999999999999999999999' for '--count <COUNT>'",
        ),
        (
            &["local", "schedule", "--grace", "18446744073709551615"],
            "invalid value '18446744073709551615' for '--grace <GRACE>': 18446744073709551615 is not in 0..=1209600",
        ),
        (
            &["local", "schedule", "crawler", "--grace", "1209601"],
            "1209601 is not in 0..=1209600",
        ),
        (
            &["status", "--count", "4294967297"],
            "invalid value '4294967297' for '--count <COUNT>'",
        ),
        (&["status", "--count=0"], "0 is not in 1..=1000"),
        (&["status", "--count", "1001"], "1001 is not in 1..=1000"),
    ];
    for (args, says) in cases {
        let (code, _, stderr) = sjob(&dir, args);
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
        assert!(
            matches!(code, Some(c) if c != 0),
            "{args:?} exited {code:?}:\n{stderr}"
        );
        assert!(
            stderr.contains(says),
            "{args:?}: stderr lacks `{says}`:\n{stderr}"
        );
    }

    // The limits are in the help, and the largest count is served.
    let (_, help, _) = sjob(&dir, &["schedule", "next", "--help"]);
    assert!(help.contains("1 to 1000"), "{help}");
    let (_, help, _) = sjob(&dir, &["local", "schedule", "--help"]);
    assert!(help.contains("0 to 1209600"), "{help}");
    let (code, stdout, stderr) = sjob(
        &dir,
        &["schedule", "next", "rate(1 minute)", "--count", "1000"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1000);
    // A schedule that stops firing prints what there is.
    let (code, stdout, stderr) = sjob(
        &dir,
        &[
            "schedule",
            "next",
            "at(+262142-12-31T23:59:59)",
            "--tz",
            "Pacific/Kiritimati",
            "--count",
            "1000",
        ],
    );
    assert_eq!((code, stdout.lines().count()), (Some(0), 1), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `log_retention_days = 2^32 + 30` would be 30 after `as i32`: `sjob
/// validate` refuses it at its key, file and line instead.
#[test]
fn a_wrapping_log_retention_is_refused_at_its_key_and_line() {
    let text = VALID.replace(
        "log_retention_days  = 30",
        "log_retention_days  = 4294967326",
    );
    let line = text.lines().position(|l| l.contains("4294967326")).unwrap() + 1;
    let dir = scratch("retention", &text);
    let (code, stdout, stderr) = sjob(&dir, &["--output", "json", "validate"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let problem = &report["problems"][0];
    assert_eq!(
        report["problems"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(problem["file"], "sjob.toml");
    assert_eq!(problem["line"], line);
    assert_eq!(problem["key"], "jobs.crawler.log_retention_days");
    assert_eq!(
        problem["message"],
        "not a retention period CloudWatch Logs accepts"
    );
    // The text report shows the file, the key and the line as written.
    let (code, _, stderr) = sjob(&dir, &["validate"]);
    assert_eq!(code, Some(1), "{stderr}");
    // miette wraps long lines: compare without the wrapping.
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    for says in [
        format!("sjob.toml:{line}:"),
        "jobs.crawler.log_retention_days: not a retention period CloudWatch Logs accepts".into(),
        "log_retention_days  = 4294967326".into(),
        "one of [1, 3, 5, 7, 14, 30".into(),
    ] {
        assert!(
            squash(&stderr).contains(&squash(&says)),
            "stderr lacks `{says}`:\n{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
