//! Reads as much as it can of JSON text that stops early: Step Functions cuts
//! a cause at its size cap wherever that falls, even inside a string.

use serde_json::{Map, Number, Value};

use crate::redact::Place;

/// Deeper nesting is not read (a real job record is a few levels deep).
const MAX_DEPTH: usize = 64;

/// What could be read of a JSON text.
#[derive(Debug, Default)]
pub(crate) struct Prefix {
    /// Every member and element read whole, with the containers left open
    /// closed where the text stopped; the token it stopped in is dropped.
    pub value: Option<Value>,
    /// The string the text stopped in, when it was an environment value.
    pub cut_env_value: Option<String>,
}

/// Reads `text` up to its end or its first error, whichever comes first.
pub(crate) fn parse(text: &str) -> Prefix {
    let mut parser = Parser {
        text,
        pos: 0,
        stopped: false,
        cut_env_value: None,
    };
    let value = parser.value(Place::Plain, 0);
    Prefix {
        value,
        cut_env_value: parser.cut_env_value,
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Set at the end of the text or at an error; every level then returns
    /// what it has.
    stopped: bool,
    cut_env_value: Option<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, place: Place, depth: usize) -> Option<Value> {
        self.skip_whitespace();
        let value = match self.peek() {
            _ if depth > MAX_DEPTH => None,
            Some(b'{') => Some(Value::Object(self.object(place, depth))),
            Some(b'[') => Some(Value::Array(self.array(place, depth))),
            Some(b'"') => match self.string() {
                Ok(s) => Some(Value::String(s)),
                Err(cut) => {
                    if place == Place::Env {
                        self.cut_env_value = Some(cut);
                    }
                    None
                }
            },
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => None,
        };
        self.stopped |= value.is_none();
        value
    }

    fn object(&mut self, place: Place, depth: usize) -> Map<String, Value> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return map;
                }
                Some(b'"') => {}
                _ => {
                    self.stopped = true;
                    return map;
                }
            }
            let Ok(key) = self.string() else {
                self.stopped = true;
                return map;
            };
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                self.stopped = true;
                return map;
            }
            self.pos += 1;
            if let Some(value) = self.value(place.child(&key), depth + 1) {
                map.insert(key, value);
            }
            if self.stopped || !self.separator(b'}') {
                return map;
            }
        }
    }

    fn array(&mut self, place: Place, depth: usize) -> Vec<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return items;
            }
            if let Some(value) = self.value(place, depth + 1) {
                items.push(value);
            }
            if self.stopped || !self.separator(b']') {
                return items;
            }
        }
    }

    /// After a member or element: `true` at a comma (more follow), `false`
    /// at the closing bracket or an error.
    fn separator(&mut self, close: u8) -> bool {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                true
            }
            Some(c) if c == close => {
                self.pos += 1;
                false
            }
            _ => {
                self.stopped = true;
                false
            }
        }
    }

    /// A string at `"`: `Err` with what was read when the text ends first.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => match unicode_escape(&mut chars) {
                        Some(c) => out.push(c),
                        None => break,
                    },
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.pos = self.text.len();
        Err(out)
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Some(value)
        } else {
            None
        }
    }

    /// A number, unless the text ends inside it (`12` may be `123` cut).
    fn number(&mut self) -> Option<Value> {
        let rest = &self.text.as_bytes()[self.pos..];
        let len = rest
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))?;
        let number: Number = serde_json::from_str(&self.text[self.pos..self.pos + len]).ok()?;
        self.pos += len;
        Some(Value::Number(number))
    }
}

/// The character of `\uXXXX` (after the `u`), joining a surrogate pair;
/// `None` when the text ends inside it. A malformed one reads as U+FFFD.
fn unicode_escape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    let first = hex4(chars)?;
    if !(0xD800..0xDC00).contains(&first) {
        return Some(char::from_u32(first).unwrap_or('\u{FFFD}'));
    }
    let mut ahead = chars.clone();
    match (ahead.next()?.1, ahead.next()?.1) {
        ('\\', 'u') => {
            let second = hex4(&mut ahead)?;
            *chars = ahead;
            let joined = 0x10000 + ((first - 0xD800) << 10) + second.wrapping_sub(0xDC00);
            Some(if (0xDC00..0xE000).contains(&second) {
                char::from_u32(joined).unwrap_or('\u{FFFD}')
            } else {
                '\u{FFFD}'
            })
        }
        _ => Some('\u{FFFD}'),
    }
}

fn hex4(chars: &mut std::str::CharIndices<'_>) -> Option<u32> {
    let digits: String = chars.take(4).map(|(_, c)| c).collect();
    if digits.chars().count() < 4 {
        return None;
    }
    Some(u32::from_str_radix(&digits, 16).unwrap_or(0xFFFD))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_whole_document_reads_as_serde_reads_it() {
        let text =
            r#"{"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"\\\/\n\u00e9\ud83d\ude00"},"d":[]}"#;
        let prefix = parse(text);
        assert_eq!(
            prefix.value,
            Some(serde_json::from_str::<Value>(text).unwrap())
        );
        assert_eq!(prefix.cut_env_value, None);
    }

    #[test]
    fn open_containers_are_closed_and_the_cut_token_dropped() {
        let cases = [
            (r#"{"a":"done","b":"half"#, json!({"a": "done"})),
            (r#"{"a":[1,2,{"b":12"#, json!({"a": [1, 2, {}]})),
            (r#"{"a":tr"#, json!({})),
            (r#"{"a":1,"b"#, json!({"a": 1})),
            (r#"{"a":1,"b":"#, json!({"a": 1})),
            (r#"[{"a":"x\u00"#, json!([{}])),
            (r#"{"a":"x\ud83d"#, json!({})),
            (r#"{"a":1} trailing"#, json!({"a": 1})),
            (r#"{"a":1,"b":nope,"c":2}"#, json!({"a": 1})),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).value, Some(expected), "{text}");
        }
        assert_eq!(parse("").value, None);
    }

    #[test]
    fn a_string_cut_inside_an_environment_value_is_kept_aside() {
        let text = r#"{"Container":{"Environment":[{"Name":"A","Value":"one"},{"Name":"DB_PASSWORD","Value":"hunter2-se"#;
        let prefix = parse(text);
        assert_eq!(prefix.cut_env_value.as_deref(), Some("hunter2-se"));
        assert_eq!(
            prefix.value,
            Some(
                json!({"Container": {"Environment": [{"Name": "A", "Value": "one"}, {"Name": "DB_PASSWORD"}]}})
            )
        );
        // Names, and strings outside an environment, are not values.
        let name = parse(r#"{"Environment":[{"Name":"DB_PASS"#);
        assert_eq!(name.cut_env_value, None);
        let reason = parse(r#"{"StatusReason":"hunter2-se"#);
        assert_eq!(reason.cut_env_value, None);
        let map = parse(r#"{"env":{"DB_PASSWORD":"hunter2-se"#);
        assert_eq!(map.cut_env_value.as_deref(), Some("hunter2-se"));
    }

    #[test]
    fn deep_nesting_stops_without_overflowing_the_stack() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).value.is_some());
    }
}
