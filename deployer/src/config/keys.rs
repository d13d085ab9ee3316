//! What a key of `sjob.toml` is: one entry each, with its name, type,
//! default and meaning. The entries are listed section by section beside
//! what they fill (`config::job`, `config::base`, the top level in
//! `config`). Validation refuses a key its section does not list and takes
//! each default from its entry; `sjob schema`, the README's key tables and
//! the Terraform module's variables are written from the same entries, so
//! none of them can disagree with `sjob validate`.

use serde_json::{json, Map, Value};

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: ValueType,
    pub default: Default,
    /// Markdown: the README's table prints it as it is.
    pub doc: &'static str,
}

/// The shape of a key's value.
#[derive(Debug, Clone, Copy)]
pub enum ValueType {
    String,
    /// A string or a number (`vcpus = 0.5`, `memory = "2048"`).
    Scalar,
    Integer,
    Boolean,
    /// An array of strings.
    Strings,
    /// A table of string values.
    StringMap,
    /// Any TOML value, read as JSON.
    Json,
    /// A table with these keys.
    Table(&'static [Key]),
    /// An array of tables with these keys.
    Tables(&'static [Key]),
    /// A table of named tables, each with these keys (`[jobs.NAME]`).
    Named(&'static [Key]),
}

/// What a key left out means.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    /// It must be given.
    Required,
    /// Nothing: what the key would add is not there.
    None,
    /// This value, which validation takes.
    Value(Literal),
    /// What other keys, or AWS, decide: the text says what.
    Described(&'static str),
}

/// A default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal {
    Text(&'static str),
    Integer(i64),
    Boolean(bool),
    /// An empty table or array.
    Empty,
}

pub const REQUIRED: Default = Default::Required;
pub const NONE: Default = Default::None;
pub const EMPTY: Default = Default::Value(Literal::Empty);

pub const fn text(value: &'static str) -> Default {
    Default::Value(Literal::Text(value))
}

pub const fn int(value: i64) -> Default {
    Default::Value(Literal::Integer(value))
}

pub const fn boolean(value: bool) -> Default {
    Default::Value(Literal::Boolean(value))
}

pub const fn described(text: &'static str) -> Default {
    Default::Described(text)
}

pub const fn key(name: &'static str, kind: ValueType, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        doc,
    }
}

impl Key {
    /// The default of a text key, or of a scalar one as text.
    pub fn default_text(&self) -> String {
        match self.default {
            Default::Value(Literal::Text(text)) => text.to_string(),
            Default::Value(Literal::Integer(value)) => value.to_string(),
            _ => panic!("`{}` has no default text", self.name),
        }
    }

    pub fn default_integer(&self) -> i64 {
        match self.default {
            Default::Value(Literal::Integer(value)) => value,
            _ => panic!("`{}` has no default number", self.name),
        }
    }

    pub fn default_boolean(&self) -> bool {
        match self.default {
            Default::Value(Literal::Boolean(value)) => value,
            _ => panic!("`{}` has no default boolean", self.name),
        }
    }

    /// The default as JSON, when it is a value.
    pub fn default_json(&self) -> Option<Value> {
        let Default::Value(literal) = self.default else {
            return None;
        };
        Some(match literal {
            Literal::Text(text) => text.into(),
            Literal::Integer(value) => value.into(),
            Literal::Boolean(value) => value.into(),
            Literal::Empty => match self.kind {
                ValueType::Strings | ValueType::Tables(_) => json!([]),
                _ => json!({}),
            },
        })
    }

    /// The README's default column: the value in code, or the words.
    pub fn default_markdown(&self) -> String {
        match self.default {
            Default::Required => "required".to_string(),
            Default::None => "none".to_string(),
            Default::Described(text) => text.to_string(),
            Default::Value(_) => {
                let value = self.default_json().expect("a value");
                match value {
                    Value::String(text) => format!("`{text}`"),
                    other => format!("`{other}`"),
                }
            }
        }
    }
}

/// The entry of `name` among `keys`, which must list it.
pub fn entry(keys: &'static [Key], name: &str) -> &'static Key {
    keys.iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("`{name}` has an entry"))
}

/// A README table of keys, one row each: `(path, key)`.
pub fn markdown_table<'k>(rows: impl IntoIterator<Item = (String, &'k Key)>) -> String {
    let mut table = String::from("| key | default | meaning |\n|---|---|---|\n");
    for (path, key) in rows {
        table.push_str(&format!(
            "| `{path}` | {} | {} |\n",
            key.default_markdown().replace('|', "\\|"),
            key.doc.replace('|', "\\|")
        ));
    }
    table
}

/// Every key of `keys` with its path under `prefix`, tables opened: a
/// table is a row, then its keys under `path.`; an array of tables, under
/// `path[].`.
pub fn flattened<'k>(prefix: &str, keys: &'k [Key]) -> Vec<(String, &'k Key)> {
    let mut rows = Vec::new();
    for key in keys {
        let path = format!("{prefix}{}", key.name);
        match key.kind {
            ValueType::Table(inner) => {
                rows.push((path.clone(), key));
                rows.extend(flattened(&format!("{path}."), inner));
            }
            ValueType::Tables(inner) => {
                rows.push((path.clone(), key));
                rows.extend(flattened(&format!("{path}[]."), inner));
            }
            _ => rows.push((path, key)),
        }
    }
    rows
}

/// The names of `keys`.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}

/// The JSON Schema (draft-07, which taplo and Even Better TOML read) of a
/// file whose top level holds `top`.
pub fn json_schema(top: &[Key]) -> Value {
    let required: Vec<&str> = top
        .iter()
        .filter(|k| matches!(k.default, Default::Required))
        .map(|k| k.name)
        .collect();
    let mut schema = table(top);
    let object = schema.as_object_mut().expect("a table is an object");
    object.insert(
        "$schema".into(),
        "http://json-schema.org/draft-07/schema#".into(),
    );
    object.insert("title".into(), "sjob.toml".into());
    object.insert("required".into(), json!(required));
    schema
}

fn table(keys: &[Key]) -> Value {
    let properties: Map<String, Value> = keys
        .iter()
        .map(|k| {
            let mut property = kind(k.kind);
            let object = property.as_object_mut().expect("every kind is an object");
            object.insert("description".into(), k.doc.into());
            if let Some(default) = k.default_json() {
                object.insert("default".into(), default);
            }
            (k.name.to_string(), property)
        })
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": properties })
}

fn kind(kind: ValueType) -> Value {
    match kind {
        ValueType::String => json!({ "type": "string" }),
        ValueType::Scalar => json!({ "type": ["string", "number"] }),
        ValueType::Integer => json!({ "type": "integer" }),
        ValueType::Boolean => json!({ "type": "boolean" }),
        ValueType::Strings => json!({ "type": "array", "items": { "type": "string" } }),
        ValueType::StringMap => {
            json!({ "type": "object", "additionalProperties": { "type": "string" } })
        }
        ValueType::Json => json!({}),
        ValueType::Table(keys) => table(keys),
        ValueType::Tables(keys) => json!({ "type": "array", "items": table(keys) }),
        ValueType::Named(keys) => json!({ "type": "object", "additionalProperties": table(keys) }),
    }
}
