//! The README's key tables are written from the keys' entries: this test
//! fails when they differ, and `SJOB_BLESS=1` rewrites them. The Terraform
//! module's job variables are checked against the same entries: every job
//! key has one (or a reason it cannot), with the entry's default.

use sjob::config::keys::{flattened, markdown_table, ValueType};
use sjob::config::{BASE_KEYS, JOB_KEYS, TOP_KEYS};

const BLESS: &str = "SJOB_BLESS";

/// Each table, by the marker around it, and its text.
fn tables() -> [(&'static str, String); 2] {
    let top = TOP_KEYS
        .iter()
        .filter(|k| !matches!(k.kind, ValueType::Table(_) | ValueType::Named(_)))
        .map(|k| (k.name.to_string(), k));
    [
        ("jobs", markdown_table(top.chain(flattened("", JOB_KEYS)))),
        ("base", markdown_table(flattened("", BASE_KEYS))),
    ]
}

#[test]
fn readme_key_tables_are_the_entries() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let mut written = readme.clone();
    for (marker, table) in tables() {
        let open = format!("<!-- keys:{marker} ");
        let close = format!("<!-- /keys:{marker} -->");
        let start = written.find(&open).expect("the README marks the table");
        let start = start + written[start..].find("-->\n").expect("the marker ends") + 4;
        let end = written.find(&close).expect("the README closes the table");
        written.replace_range(start..end, &table);
    }
    if std::env::var_os(BLESS).is_some() {
        std::fs::write(&path, &written).unwrap();
    } else {
        assert!(
            written == readme,
            "the README's key tables differ from the keys' entries: run {BLESS}=1 cargo test -p sjob --test keys"
        );
    }
}

#[test]
fn every_default_fits_its_key() {
    let mut rows = flattened("", TOP_KEYS);
    rows.extend(flattened("", JOB_KEYS));
    for (path, key) in rows {
        if let Some(default) = key.default_json() {
            let fits = match key.kind {
                ValueType::String => default.is_string(),
                ValueType::Scalar => default.is_string() || default.is_number(),
                ValueType::Integer => default.is_i64(),
                ValueType::Boolean => default.is_boolean(),
                ValueType::Strings | ValueType::Tables(_) => default == serde_json::json!([]),
                ValueType::StringMap
                | ValueType::Json
                | ValueType::Table(_)
                | ValueType::Named(_) => default.is_object(),
            };
            assert!(fits, "`{path}`'s default {default} is not a {:?}", key.kind);
        }
    }
}

/// The `scheduled_job` module's variables: name and default's text (the
/// text after `default =` on one line; `None` when it has none).
fn module_variables() -> Vec<(String, Option<String>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra/terraform/modules/scheduled_job/variables.tf");
    let text = std::fs::read_to_string(path).unwrap();
    let mut variables: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("variable \"") {
            let name = name.split('"').next().unwrap();
            variables.push((name.to_string(), None));
        } else if let Some(rest) = line.strip_prefix("  default") {
            let value = rest.trim_start().strip_prefix('=').unwrap().trim();
            variables.last_mut().unwrap().1 = Some(value.to_string());
        }
    }
    variables
}

/// Job keys the module does not take, each for the reason its README
/// section gives: the task execution role's grants for `secrets` are derived
/// from each ARN by a rule a `templatefile()` template cannot express
/// without a second copy of it in HCL.
const NOT_IN_THE_MODULE: &[&str] = &["secrets", "secrets_kms_key_arn"];

#[test]
fn the_terraform_modules_variables_default_as_the_entries() {
    use sjob::config::keys::Default;

    let variables = module_variables();
    let mut problems = Vec::new();
    for key in JOB_KEYS {
        let Some((_, default)) = variables.iter().find(|(name, _)| name == key.name) else {
            if !NOT_IN_THE_MODULE.contains(&key.name) {
                problems.push(format!("`{}` has no variable in the module", key.name));
            }
            continue;
        };
        let tf = default.as_deref().map(|text| {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|_| panic!("`{}`'s default is not a literal: {text}", key.name))
        });
        let agrees = match (key.default, &tf) {
            (Default::Required, tf) => tf.is_none(),
            (Default::None, Some(tf)) => tf.is_null(),
            (Default::Value(_), Some(tf)) => {
                let entry = key.default_json().expect("a value");
                // Batch takes vcpus and memory as strings; the module too.
                *tf == entry || tf.as_str() == Some(entry.to_string().as_str())
            }
            (Default::Described(_), _) => true,
            _ => false,
        };
        if !agrees {
            problems.push(format!(
                "`{}`: the entry's default is {:?}, the module's {}",
                key.name,
                key.default,
                default.as_deref().unwrap_or("(none: required)")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "infra/terraform/modules/scheduled_job/variables.tf disagrees with the keys' entries:\n{}",
        problems.join("\n")
    );
}
