//! A TOML document as a tree of spanned nodes: every key and value keeps its
//! byte range in the file, so each problem found later can point at it.

use std::ops::Range;

use serde_json::Value;
use toml::de::{DeTable, DeValue};

pub type Span = Range<usize>;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub node: Node,
}

/// A TOML syntax error with its place.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let document = DeTable::parse(text).map_err(|err| SyntaxError {
        message: err.message().to_string(),
        span: err.span().unwrap_or(0..0),
    })?;
    let span = document.span();
    Ok(Node {
        span,
        value: NodeValue::Table(table(document.into_inner())),
    })
}

fn table(source: DeTable<'_>) -> Table {
    Table {
        entries: source
            .into_iter()
            .map(|(key, value)| Entry {
                key: key.get_ref().to_string(),
                key_span: key.span(),
                node: node(value.span(), value.into_inner()),
            })
            .collect(),
    }
}

fn node(span: Span, value: DeValue<'_>) -> Node {
    let value = match value {
        DeValue::String(s) => NodeValue::String(s.into_owned()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let digits = digits
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            match i64::from_str_radix(digits, i.radix()) {
                Ok(n) => NodeValue::Integer(n),
                Err(_) => NodeValue::String(i.as_str().to_string()),
            }
        }
        DeValue::Float(f) => {
            NodeValue::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN))
        }
        DeValue::Boolean(b) => NodeValue::Boolean(b),
        DeValue::Datetime(d) => NodeValue::Datetime(d.to_string()),
        DeValue::Array(items) => NodeValue::Array(
            items
                .into_iter()
                .map(|item| {
                    let span = item.span();
                    node(span, item.into_inner())
                })
                .collect(),
        ),
        DeValue::Table(t) => NodeValue::Table(table(t)),
    };
    Node { span, value }
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::String(_) => "a string",
            NodeValue::Integer(_) => "an integer",
            NodeValue::Float(_) => "a float",
            NodeValue::Boolean(_) => "a boolean",
            NodeValue::Datetime(_) => "a datetime",
            NodeValue::Array(_) => "an array",
            NodeValue::Table(_) => "a table",
        }
    }

    /// The JSON equivalent (datetimes become strings).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::String(s) | NodeValue::Datetime(s) => Value::String(s.clone()),
            NodeValue::Integer(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Boolean(b) => Value::Bool(*b),
            NodeValue::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Table(t) => Value::Object(
                t.entries
                    .iter()
                    .map(|e| (e.key.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}
