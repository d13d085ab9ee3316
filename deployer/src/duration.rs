//! Durations as users write them: a whole number and a unit, `90s`, `15m`,
//! `26h`, `7d` (`expect_success_within`, `logs --since`).

/// The seconds `text` stands for, when it is digits followed by one of
/// `units` (`s`, `m`, `h`, `d`) and fits.
pub fn seconds(text: &str, units: &str) -> Option<u64> {
    let unit = text.chars().last().filter(|u| units.contains(*u))?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn a_whole_number_and_an_allowed_unit() {
        assert_eq!(seconds("90s", "smhd"), Some(90));
        assert_eq!(seconds("26h", "mhd"), Some(93_600));
        assert_eq!(seconds("2d", "mhd"), Some(172_800));
        for bad in ["", "h", "-5m", "+5m", "1.5h", "5", "5w", "5 m", "90s"] {
            assert_eq!(seconds(bad, "mhd"), None, "{bad}");
        }
    }
}
