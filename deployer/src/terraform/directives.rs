//! One JSON document in every combination of a few conditions, as one
//! template: what differs goes under `%{ if }` directives, so a new
//! condition adds branches where the document changes, not another copy of
//! it.
//!
//! Where the variants differ, the template branches on the first condition
//! the difference depends on there; a condition that changes nothing at a
//! place never appears at it. An object member that some variants lack goes
//! under its conditions whole, with the comma that joins it to the last
//! member every variant has; any other difference branches in place.

use std::cmp::Ordering;

use serde_json::Value;

/// `variants[bits]` is the document when condition `i` holds exactly for
/// the bits `i` set in `bits`. The text is `serde_json`'s pretty form, with
/// directives where the variants differ.
pub fn merge(conditions: &[&str], variants: &[Value]) -> String {
    assert_eq!(
        variants.len(),
        1 << conditions.len(),
        "one variant per combination of the conditions"
    );
    let all: Vec<(usize, &Value)> = variants.iter().enumerate().collect();
    Merge { conditions }.value(&all, 0)
}

struct Merge<'a> {
    conditions: &'a [&'a str],
}

/// Each variant's value at one place, by the variant's bits. The variants
/// always form a subcube: every combination of the conditions not yet
/// branched on.
type Place<T> = Vec<(usize, T)>;

impl<'a> Merge<'a> {
    /// The value at one place, starting on a line indented `depth` levels.
    fn value(&self, values: &[(usize, &Value)], depth: usize) -> String {
        let first = values[0].1;
        if values.iter().all(|(_, value)| *value == first) {
            return pretty(first, depth);
        }
        self.object(values, depth)
            .or_else(|| self.array(values, depth))
            .unwrap_or_else(|| {
                let bit = self.deciding(values, |a, b| a == b);
                format!(
                    "%{{ if {} }}{}%{{ else }}{}%{{ endif }}",
                    self.conditions[bit],
                    self.value(&half(values, bit, true), depth),
                    self.value(&half(values, bit, false), depth)
                )
            })
    }

    /// Objects member by member, when at least one member is in every
    /// variant: the one the commas of the others lean on.
    fn object(&self, values: &[(usize, &Value)], depth: usize) -> Option<String> {
        let maps = values
            .iter()
            .map(|&(bits, value)| Some((bits, value.as_object()?)))
            .collect::<Option<Vec<_>>>()?;
        let mut keys: Vec<&String> = maps.iter().flat_map(|(_, map)| map.keys()).collect();
        keys.sort();
        keys.dedup();
        let anchor = keys
            .iter()
            .rposition(|key| maps.iter().all(|(_, map)| map.contains_key(*key)))?;
        let members: Vec<Member> = keys
            .iter()
            .enumerate()
            .map(|(at, key)| Member {
                name: key,
                comma: at.cmp(&anchor),
                values: maps
                    .iter()
                    .map(|&(bits, map)| (bits, map.get(*key)))
                    .collect(),
            })
            .collect();
        let mut text = String::from("{\n");
        // Neighbours present in the same variants share their directives.
        for group in members.chunk_by(|a, b| a.presence() == b.presence()) {
            text.push_str(&self.members(group, depth + 1));
        }
        text.push_str(&indent(depth));
        text.push('}');
        Some(text)
    }

    /// Members present in the same variants, as whole lines at `depth`,
    /// each directive on a line of its own.
    fn members(&self, group: &[Member], depth: usize) -> String {
        let presence = group[0].presence();
        if !presence.contains(&true) {
            return String::new();
        }
        if !presence.contains(&false) {
            return group
                .iter()
                .map(|member| self.write(member, depth))
                .collect();
        }
        let bit = self.deciding(&group[0].values, |a, b| a.is_some() == b.is_some());
        let side = |holds: bool| -> Vec<Member> {
            group
                .iter()
                .map(|member| Member {
                    name: member.name,
                    comma: member.comma,
                    values: half(&member.values, bit, holds),
                })
                .collect()
        };
        let (yes, no) = (
            self.members(&side(true), depth),
            self.members(&side(false), depth),
        );
        let otherwise = if no.is_empty() {
            String::new()
        } else {
            format!("%{{ else ~}}\n{no}")
        };
        let condition = self.conditions[bit];
        format!("%{{ if {condition} ~}}\n{yes}{otherwise}%{{ endif ~}}\n")
    }

    /// A member present in every variant given.
    fn write(&self, member: &Member, depth: usize) -> String {
        let values: Place<&Value> = member
            .values
            .iter()
            .map(|&(bits, value)| (bits, value.expect("a present member")))
            .collect();
        let name = serde_json::to_string(member.name).expect("a key serialises");
        let value = self.value(&values, depth);
        let pad = indent(depth);
        match member.comma {
            Ordering::Less => format!("{pad}{name}: {value},\n"),
            Ordering::Equal => format!("{pad}{name}: {value}\n"),
            Ordering::Greater => format!("{pad},{name}: {value}\n"),
        }
    }

    /// Arrays item by item, when every variant's has as many items.
    fn array(&self, values: &[(usize, &Value)], depth: usize) -> Option<String> {
        let arrays = values
            .iter()
            .map(|&(bits, value)| Some((bits, value.as_array()?)))
            .collect::<Option<Vec<_>>>()?;
        let len = arrays[0].1.len();
        if arrays.iter().any(|(_, items)| items.len() != len) {
            return None;
        }
        let pad = indent(depth + 1);
        let items: Vec<String> = (0..len)
            .map(|at| {
                let item: Place<&Value> = arrays.iter().map(|&(bits, a)| (bits, &a[at])).collect();
                format!("{pad}{}", self.value(&item, depth + 1))
            })
            .collect();
        Some(format!("[\n{}\n{}]", items.join(",\n"), indent(depth)))
    }

    /// The first condition on which `same` tells the variants apart.
    fn deciding<T: Copy>(&self, items: &[(usize, T)], same: impl Fn(T, T) -> bool) -> usize {
        let at = |bits: usize| items.iter().find(|(b, _)| *b == bits).map(|&(_, t)| t);
        (0..self.conditions.len())
            .find(|bit| {
                items.iter().any(|&(bits, item)| {
                    bits >> bit & 1 == 1
                        && at(bits ^ 1 << bit).is_some_and(|other| !same(item, other))
                })
            })
            .expect("variants that differ differ by a condition")
    }
}

/// An object's member at one place.
struct Member<'v> {
    name: &'v str,
    /// Where it stands from the last member every variant has: the comma
    /// that joins them goes after the members before it, before the ones
    /// after it.
    comma: Ordering,
    values: Place<Option<&'v Value>>,
}

impl Member<'_> {
    /// Whether each variant has it.
    fn presence(&self) -> Vec<bool> {
        self.values
            .iter()
            .map(|(_, value)| value.is_some())
            .collect()
    }
}

/// The variants where condition `bit` holds (`holds`) or does not.
fn half<T: Copy>(items: &[(usize, T)], bit: usize, holds: bool) -> Place<T> {
    items
        .iter()
        .filter(|(bits, _)| (bits >> bit & 1 == 1) == holds)
        .copied()
        .collect()
}
fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

/// `serde_json`'s pretty form, its lines after the first indented `depth`
/// levels.
fn pretty(value: &Value, depth: usize) -> String {
    serde_json::to_string_pretty(value)
        .expect("documents serialise")
        .replace('\n', &format!("\n{}", indent(depth)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_variant_is_its_pretty_form() {
        let document = json!({ "a": [1, { "b": null }], "c": {} });
        assert_eq!(
            merge(&[], std::slice::from_ref(&document)),
            serde_json::to_string_pretty(&document).unwrap()
        );
    }

    #[test]
    fn differences_branch_on_the_conditions_they_depend_on() {
        // Bit 0 is `x`, bit 1 is `y`: `b` exists with `y`, `z` with both,
        // `n` changes with `x`, and `y` changes nothing in `n`.
        let variant = |x: bool, y: bool| {
            let mut document = json!({ "a": 1, "n": if x { "X" } else { "-" } });
            if y {
                document["b"] = json!(2);
            }
            if x && y {
                document["z"] = json!([3]);
            }
            document
        };
        let variants = [
            variant(false, false),
            variant(true, false),
            variant(false, true),
            variant(true, true),
        ];
        assert_eq!(
            merge(&["x", "y"], &variants),
            r#"{
  "a": 1,
%{ if y ~}
  "b": 2,
%{ endif ~}
  "n": %{ if x }"X"%{ else }"-"%{ endif }
%{ if x ~}
%{ if y ~}
  ,"z": [
    3
  ]
%{ endif ~}
%{ endif ~}
}"#
        );
    }
}
