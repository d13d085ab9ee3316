//! The README's key tables are written from the keys' entries: this test
//! fails when they differ, and `SJOB_BLESS=1` rewrites them.

use sjob::config::keys::{flattened, markdown_table, Kind};
use sjob::config::{BASE_KEYS, JOB_KEYS, TOP_KEYS};

const BLESS: &str = "SJOB_BLESS";

/// Each table, by the marker around it, and its text.
fn tables() -> [(&'static str, String); 2] {
    let top = TOP_KEYS
        .iter()
        .filter(|k| !matches!(k.kind, Kind::Table(_) | Kind::Named(_)))
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
                Kind::String => default.is_string(),
                Kind::Scalar => default.is_string() || default.is_number(),
                Kind::Integer => default.is_i64(),
                Kind::Boolean => default.is_boolean(),
                Kind::Strings | Kind::Tables(_) => default == serde_json::json!([]),
                Kind::StringMap | Kind::Json | Kind::Table(_) | Kind::Named(_) => {
                    default.is_object()
                }
            };
            assert!(fits, "`{path}`'s default {default} is not a {:?}", key.kind);
        }
    }
}
