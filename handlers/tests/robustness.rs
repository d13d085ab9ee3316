//! Bad input never panics the handlers. Property tests feed
//! `HandlerEvent::from_value` and the whole `handle` (with a recording
//! publisher) arbitrary JSON and mutations of the committed example events;
//! `tests/corpus/` keeps inputs worth re-checking on every run.
//!
//! Properties: no panic; a rejection is always an `InvalidEvent` that names
//! a path, and publishes nothing; an accepted event publishes exactly one
//! message that SNS would take.

use std::path::Path;
use std::sync::Mutex;

use handlers::alarm::is_alarm;
use handlers::event::HandlerEvent;
use handlers::message::{BodyFormat, Publication, SNS_MAX_MESSAGE_BYTES, SUBJECT_MAX_CHARS};
use handlers::publish::{PublishError, Publisher};
use handlers::{handle, HandlerError, HandlerKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Map, Number, Value};

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Publication>>,
}

impl Publisher for Recorder {
    async fn publish(&self, publication: &Publication) -> Result<String, PublishError> {
        self.sent.lock().unwrap().push(publication.clone());
        Ok("msg-1".to_string())
    }
}

/// Keys the handlers read, so random objects often hit real fields.
const KEYS: &[&str] = &[
    "state",
    "context",
    "metadata",
    "input",
    "batch",
    "error",
    "Error",
    "Cause",
    "app_name",
    "stage",
    "batch_name",
    "job_name",
    "command",
    "vcpus",
    "memory",
    "image_uri",
    "image_tag",
    "env",
    "Execution",
    "StateMachine",
    "State",
    "Id",
    "Name",
    "StartTime",
    "Attempts",
    "Container",
    "ExitCode",
    "Reason",
    "LogStreamName",
    "LogConfiguration",
    "Options",
    "JobId",
    "JobName",
    "Status",
    "StatusReason",
    "StartedAt",
    "StoppedAt",
    "CreatedAt",
    "RetryCount",
    "errorType",
    "errorMessage",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        // Causes are often JSON text, whole or cut.
        (leaf_json_text(), 0usize..200).prop_map(|(t, cut)| {
            let cut = t.char_indices().nth(cut).map_or(t.len(), |(i, _)| i);
            Value::String(t[..cut].to_string())
        }),
        prop::sample::select(vec![
            "",
            "0",
            "-1",
            "1e400",
            "2024-01-01T00:00:00Z",
            "null",
            "{",
            "[]",
            "States.TaskFailed",
            "Sandbox.Timedout",
            "Lambda.Unknown",
            "Batch.ClientException",
            "null (Service: AWSBatch; Status Code: 429; Error Code: TooManyRequestsException)",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn leaf_json_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#"{"JobId":"j","Status":"FAILED","StatusReason":"Essential container in task exited","Attempts":[{"Container":{"ExitCode":137,"Reason":"OutOfMemoryError"}}]}"#,
        r#"{"errorType":"PublishFailed","errorMessage":"publishing failed"}"#,
        r#"{"Attempts":[],"JobId":"abc-1","Status":"FAILED","Container":{"Command":["x"]}}"#,
        r#"{"Attempts":"nope","StartedAt":"soon","Container":{"ExitCode":"x"}}"#,
    ])
    .prop_map(str::to_string)
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_string),
                        "[a-zA-Z_]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// The committed example events, plus the corpus.
fn seeds() -> &'static [(String, Value)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, Value)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut seeds = Vec::new();
    for dir in ["fixtures", "corpus"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("tests/{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            seeds.push((path.display().to_string(), value));
        }
    }
    seeds
}

/// One edit of a JSON document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the node reached by following these child indices.
    Replace(Vec<usize>, Value),
    /// Remove it from its parent.
    Remove(Vec<usize>),
    /// Add a key to the object there (or the nearest object above).
    Insert(Vec<usize>, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let path = prop::collection::vec(0usize..8, 0..6);
    prop_oneof![
        (path.clone(), json_value()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        path.clone().prop_map(Mutation::Remove),
        (
            path,
            prop::sample::select(KEYS).prop_map(str::to_string),
            json_value()
        )
            .prop_map(|(p, k, v)| Mutation::Insert(p, k, v)),
    ]
}

fn child(value: &mut Value, index: usize) -> Option<&mut Value> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            items.get_mut(index % len)
        }
        Value::Object(map) if !map.is_empty() => {
            let len = map.len();
            map.values_mut().nth(index % len)
        }
        _ => None,
    }
}

fn apply(mut value: Value, mutation: &Mutation) -> Value {
    let (path, edit) = match mutation {
        Mutation::Replace(p, _) | Mutation::Remove(p) | Mutation::Insert(p, _, _) => {
            (p.as_slice(), mutation)
        }
    };
    fn walk(node: &mut Value, path: &[usize], edit: &Mutation) {
        match (path.split_first(), edit) {
            (Some((&i, rest)), _) if !rest.is_empty() || !matches!(edit, Mutation::Remove(_)) => {
                match child(node, i) {
                    Some(next) => walk(next, rest, edit),
                    None => edit_here(node, None, edit),
                }
            }
            (Some((&i, _)), _) => edit_here(node, Some(i), edit),
            (None, _) => edit_here(node, None, edit),
        }
    }
    fn edit_here(node: &mut Value, index: Option<usize>, edit: &Mutation) {
        match edit {
            Mutation::Replace(_, v) => *node = v.clone(),
            Mutation::Remove(_) => match (node, index) {
                (Value::Object(map), Some(i)) if !map.is_empty() => {
                    let key = map.keys().nth(i % map.len()).cloned().unwrap();
                    map.remove(&key);
                }
                (Value::Array(items), Some(i)) if !items.is_empty() => {
                    let len = items.len();
                    items.remove(i % len);
                }
                (node, _) => *node = Value::Null,
            },
            Mutation::Insert(_, k, v) => match node {
                Value::Object(map) => {
                    map.insert(k.clone(), v.clone());
                }
                other => {
                    let mut map = Map::new();
                    map.insert(k.clone(), v.clone());
                    *other = Value::Object(map);
                }
            },
        }
    }
    walk(&mut value, path, edit);
    value
}

/// The properties, for one payload; `Err` describes the violation.
fn check(runtime: &tokio::runtime::Runtime, payload: &Value) -> Result<(), String> {
    if let Err(invalid) = HandlerEvent::from_value(payload.clone()) {
        if invalid.path.is_empty() || invalid.reason.is_empty() {
            return Err(format!("a rejection without path or reason: {invalid:?}"));
        }
        if !invalid
            .to_string()
            .starts_with("invalid handler event at `")
        {
            return Err(format!("unexpected message: {invalid}"));
        }
    }
    for kind in [HandlerKind::Success, HandlerKind::Error] {
        for format in [BodyFormat::Document, BodyFormat::Chatbot] {
            let recorder = Recorder::default();
            let result = runtime.block_on(handle(kind, payload.clone(), &recorder, &(), format));
            let sent = recorder.sent.into_inner().unwrap();
            match result {
                // A missed-run alarm that returns to OK without having
                // fired has nothing to tell: the error handler sends nothing
                // and says so with an empty message id.
                Ok(response)
                    if kind == HandlerKind::Error
                        && is_alarm(payload)
                        && response.message_id.is_empty()
                        && sent.is_empty() => {}
                Ok(response) => {
                    if sent.len() != 1 {
                        return Err(format!("{kind:?}: {} publications", sent.len()));
                    }
                    let publication = &sent[0];
                    if publication.size() > SNS_MAX_MESSAGE_BYTES {
                        return Err(format!("{kind:?}: {} bytes", publication.size()));
                    }
                    let subject = &publication.subject;
                    if subject.is_empty()
                        || subject.chars().count() > SUBJECT_MAX_CHARS
                        || !subject
                            .chars()
                            .all(|c| c.is_ascii() && !c.is_ascii_control())
                    {
                        return Err(format!("{kind:?}: subject SNS would refuse: {subject:?}"));
                    }
                    let envelope: Value = serde_json::from_str(&publication.message)
                        .map_err(|e| format!("{kind:?}: the message is not JSON: {e}"))?;
                    for key in ["default", "email", "sqs", "lambda", "https", "firehose"] {
                        if !envelope[key].is_string() {
                            return Err(format!("{kind:?}: no `{key}` in the message"));
                        }
                    }
                    if response.notification_id.is_empty() {
                        return Err(format!("{kind:?}: empty notification id"));
                    }
                }
                Err(HandlerError::InvalidEvent(invalid)) => {
                    if !sent.is_empty() {
                        return Err(format!("{kind:?}: rejected ({invalid}) but published"));
                    }
                    if invalid.path.is_empty() {
                        return Err(format!("{kind:?}: a rejection without a path"));
                    }
                }
                Err(other) => return Err(format!("{kind:?}: not an InvalidEvent: {other}")),
            }
        }
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

fn oom_event() -> Value {
    seeds()
        .iter()
        .find(|(n, _)| n.ends_with("failed_oom.json"))
        .unwrap()
        .1
        .clone()
}

/// Found by `oversized_fields_still_fit_sns`: only the input, the error
/// message and the status reason used to be cut, so a 21 kB batch name made
/// a message SNS would refuse.
#[test]
fn a_huge_name_is_cut_to_fit_sns() {
    let runtime = runtime();
    let mut payload = oom_event();
    payload["state"]["metadata"]["batch_name"] = Value::String("x".repeat(21_088));
    check(&runtime, &payload).unwrap();
    payload["state"]["metadata"]["job_name"] = Value::String("y".repeat(300_000));
    payload["context"]["Execution"]["Id"] = Value::String("z".repeat(300_000));
    check(&runtime, &payload).unwrap();
}

#[test]
fn the_corpus_and_the_fixtures_keep_the_properties() {
    let runtime = runtime();
    let seeds = seeds();
    assert!(seeds.len() > 20, "{} seeds", seeds.len());
    for (name, payload) in seeds {
        check(&runtime, payload).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn arbitrary_json_never_panics(payload in json_value()) {
        let runtime = runtime();
        check(&runtime, &payload).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_events_never_panic(seed in 0usize..64, mutations in prop::collection::vec(mutation(), 1..4)) {
        let seeds = seeds();
        let (_, original) = &seeds[seed % seeds.len()];
        let payload = mutations.iter().fold(original.clone(), apply);
        let runtime = runtime();
        check(&runtime, &payload).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn oversized_fields_still_fit_sns(size in 0usize..400_000, field in 0usize..4) {
        let mut payload = oom_event();
        let big = "x".repeat(size);
        match field {
            0 => payload["state"]["input"] = Value::String(big),
            1 => payload["state"]["error"]["Cause"] = Value::String(big),
            2 => payload["state"]["metadata"]["batch_name"] = Value::String(big),
            _ => payload["state"]["metadata"]["env"]["BIG"] = Value::String(big),
        }
        let runtime = runtime();
        check(&runtime, &payload).map_err(TestCaseError::fail)?;
    }
}
