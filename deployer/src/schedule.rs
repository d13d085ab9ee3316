//! EventBridge Scheduler expressions: `rate(...)`, six-field `cron(...)` and
//! one-time `at(...)`, with AWS's rules (not Unix cron's) and fire times in
//! the schedule's timezone.
//!
//! Daylight saving follows the Scheduler user guide: a local time skipped by
//! a spring-forward change does not fire, and a time repeated by a fall-back
//! change fires once, at its first occurrence.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule expression; `expression` keeps the text AWS receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub expression: String,
    kind: Timing,
}

#[derive(Debug, Clone, PartialEq)]
enum Timing {
    Rate(Duration),
    Cron(Box<Cron>),
    At(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
#[diagnostic(code(sjob::schedule))]
pub struct ScheduleError(String);

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MIN_YEAR: u32 = 1970;
const MAX_YEAR: u32 = 2199;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let trimmed = text.trim();
        let err = |m: String| ScheduleError(m);
        let body = |prefix: &str| {
            trimmed
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
        };
        let kind = if let Some(rate) = body("rate(") {
            Timing::Rate(parse_rate(rate).map_err(err)?)
        } else if let Some(cron) = body("cron(") {
            Timing::Cron(Box::new(Cron::parse(cron).map_err(err)?))
        } else if let Some(at) = body("at(") {
            Timing::At(
                NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                    err(format!(
                        "`at({at})` needs a date and time like at(2026-12-31T23:00:00)"
                    ))
                })?,
            )
        } else {
            return Err(err(format!(
                "`{trimmed}` is not a schedule expression; use rate(5 minutes), cron(0 3 * * ? *) or at(2026-12-31T23:00:00)"
            )));
        };
        Ok(Schedule {
            expression: trimmed.to_string(),
            kind,
        })
    }

    pub fn is_one_time(&self) -> bool {
        matches!(self.kind, Timing::At(_))
    }

    /// The first fire time strictly after `after`. Rates count from
    /// `anchor` (when the schedule was created), as the Scheduler does.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        anchor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match &self.kind {
            Timing::Rate(interval) => {
                let elapsed = (after - anchor).num_seconds().max(0);
                let step = interval.num_seconds();
                let periods = elapsed / step + 1;
                periods
                    .checked_mul(step)
                    .and_then(Duration::try_seconds)
                    .and_then(|d| anchor.checked_add_signed(d))
            }
            Timing::At(local) => local_to_utc(tz, *local).filter(|t| *t > after),
            Timing::Cron(cron) => cron.next_after(after, tz),
        }
    }

    /// The next `count` fire times after `after` (fewer when the schedule
    /// stops firing). Nothing is reserved up front: `count` may be far larger
    /// than the times there are.
    pub fn upcoming(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        anchor: DateTime<Utc>,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut times = Vec::new();
        let mut cursor = after;
        while times.len() < count {
            match self.next_after(cursor, tz, anchor) {
                Some(next) => {
                    times.push(next);
                    cursor = next;
                }
                None => break,
            }
        }
        times
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// Parses an IANA zone name as the Scheduler accepts it.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| {
        ScheduleError(format!(
            "`{name}` is not an IANA timezone (e.g. UTC, Asia/Tokyo, Europe/Berlin)"
        ))
    })
}

fn parse_rate(body: &str) -> Result<Duration, String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "`rate({body})` needs a value and a unit, like rate(5 minutes)"
        ));
    };
    let value: i64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("rate value `{value}` must be a positive whole number"))?;
    let (seconds, singular) = match unit {
        "minute" | "minutes" => (60, "minute"),
        "hour" | "hours" => (3600, "hour"),
        "day" | "days" => (86_400, "day"),
        _ => {
            return Err(format!(
                "rate unit `{unit}` must be minute(s), hour(s) or day(s)"
            ))
        }
    };
    let plural = unit != singular;
    if (value == 1) == plural {
        let expected = if value == 1 {
            singular.to_string()
        } else {
            format!("{singular}s")
        };
        return Err(format!(
            "AWS requires `{value} {expected}`, not `{value} {unit}`"
        ));
    }
    // A rate so long it cannot be represented never fires anyway.
    value
        .checked_mul(seconds)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| format!("rate value `{value}` is too large"))
}

/// A six-field AWS cron expression.
#[derive(Debug, Clone, PartialEq)]
struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    day_of_month: DayOfMonth,
    months: Vec<bool>,
    day_of_week: DayOfWeek,
    years: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq)]
enum DayOfMonth {
    Unspecified,
    Days(Vec<bool>),
    Last,
    LastWeekday,
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq)]
enum DayOfWeek {
    Unspecified,
    /// Days by number, 1 = Sunday.
    Days(Vec<bool>),
    LastOfMonth(u32),
    Nth(u32, u32),
}

impl Cron {
    fn parse(body: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ));
        }
        let (dom, dow) = (fields[2], fields[4]);
        if (dom == "?") == (dow == "?") {
            return Err(
                "exactly one of day-of-month and day-of-week must be `?` (e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON *))"
                    .to_string(),
            );
        }
        Ok(Cron {
            minutes: parse_set(fields[0], "minutes", 0, 59, &[])?,
            hours: parse_set(fields[1], "hours", 0, 23, &[])?,
            day_of_month: parse_dom(dom)?,
            months: parse_set(fields[3], "month", 1, 12, &MONTHS)?,
            day_of_week: parse_dow(dow)?,
            years: parse_set(fields[5], "year", MIN_YEAR, MAX_YEAR, &[])?,
        })
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        let Some(year) = u32::try_from(date.year())
            .ok()
            .filter(|y| (MIN_YEAR..=MAX_YEAR).contains(y))
        else {
            return false;
        };
        if !self.years[year as usize] {
            return false;
        }
        if !self.months[date.month() as usize] {
            return false;
        }
        let last = last_day_of_month(date);
        let weekday = date.weekday().num_days_from_sunday() + 1;
        let dom_ok = match &self.day_of_month {
            DayOfMonth::Unspecified => true,
            DayOfMonth::Days(days) => days[date.day() as usize],
            DayOfMonth::Last => date.day() == last,
            DayOfMonth::LastWeekday => date.day() == nearest_weekday(date, last),
            DayOfMonth::NearestWeekday(day) => {
                date.day() == nearest_weekday(date, (*day).min(last))
            }
        };
        let dow_ok = match &self.day_of_week {
            DayOfWeek::Unspecified => true,
            DayOfWeek::Days(days) => days[weekday as usize],
            DayOfWeek::LastOfMonth(day) => weekday == *day && date.day() + 7 > last,
            DayOfWeek::Nth(day, nth) => weekday == *day && (date.day() - 1) / 7 + 1 == *nth,
        };
        dom_ok && dow_ok
    }

    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Every fire time is a local time in MIN_YEAR..=MAX_YEAR, so less
        // than a day (the largest UTC offset) outside those years in UTC.
        // Searching from inside that window keeps the local date of `after`
        // representable (chrono panics on a local time beyond its range) and
        // skips the years before MIN_YEAR.
        let (min_year, max_year) = (i32::try_from(MIN_YEAR).ok()?, i32::try_from(MAX_YEAR).ok()?);
        let window = |year, month, day| {
            NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        };
        if after >= window(max_year + 1, 1, 2)? {
            return None;
        }
        let from = after.max(window(min_year - 1, 12, 30)?);
        let mut date = from.with_timezone(&tz).date_naive();
        while date.year() <= max_year {
            if self.matches_date(date) {
                for hour in (0..24).filter(|h| self.hours[*h as usize]) {
                    for minute in (0..60).filter(|m| self.minutes[*m as usize]) {
                        let local = date.and_hms_opt(hour, minute, 0)?;
                        if let Some(t) = local_to_utc(tz, local).filter(|t| *t > after) {
                            return Some(t);
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }
}

/// Skipped local times do not exist; repeated ones count once, the first time.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The weekday nearest `day` in `date`'s month, never crossing into another month.
fn nearest_weekday(date: NaiveDate, day: u32) -> u32 {
    let target = date.with_day(day).unwrap_or(date);
    let last = last_day_of_month(date);
    match target.weekday().num_days_from_sunday() {
        6 if day == 1 => 3,
        6 => day - 1,
        0 if day == last => day - 2,
        0 => day + 1,
        _ => day,
    }
}

fn parse_value(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let value = names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
        .map(|i| i as u32 + min)
        .or_else(|| text.parse().ok())
        .ok_or_else(|| format!("{what}: `{text}` is not a number{}", name_hint(names)))?;
    if !(min..=max).contains(&value) {
        return Err(format!("{what}: {value} is outside {min}-{max}"));
    }
    Ok(value)
}

fn name_hint(names: &[&str]) -> String {
    match (names.first(), names.last()) {
        (Some(first), Some(last)) => format!(" or a name {first}-{last}"),
        _ => String::new(),
    }
}

/// `*`, `a`, `a-b`, with optional `/step`, comma-separated.
fn parse_set(
    field: &str,
    what: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max as usize + 1];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: step `{step}` must be a positive number"))?,
            ),
            None => (item, 1),
        };
        let (start, end) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (
                    parse_value(a, what, min, max, names)?,
                    parse_value(b, what, min, max, names)?,
                ),
                None => {
                    let v = parse_value(range, what, min, max, names)?;
                    (v, if item.contains('/') { max } else { v })
                }
            },
        };
        if start > end {
            return Err(format!("{what}: range `{range}` runs backwards"));
        }
        for v in (start..=end).step_by(step as usize) {
            set[v as usize] = true;
        }
    }
    Ok(set)
}

fn parse_dom(field: &str) -> Result<DayOfMonth, String> {
    Ok(match field {
        "?" => DayOfMonth::Unspecified,
        "L" => DayOfMonth::Last,
        "LW" => DayOfMonth::LastWeekday,
        _ => match field.strip_suffix('W') {
            Some(day) => DayOfMonth::NearestWeekday(parse_value(day, "day-of-month", 1, 31, &[])?),
            None => DayOfMonth::Days(parse_set(field, "day-of-month", 1, 31, &[])?),
        },
    })
}

fn parse_dow(field: &str) -> Result<DayOfWeek, String> {
    let day = |t| parse_value(t, "day-of-week", 1, 7, &DAYS);
    Ok(match field {
        "?" => DayOfWeek::Unspecified,
        "L" => DayOfWeek::LastOfMonth(7),
        _ => {
            if let Some((d, nth)) = field.split_once('#') {
                let nth = nth
                    .parse()
                    .ok()
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| format!("day-of-week: `#{nth}` must be #1 to #5"))?;
                DayOfWeek::Nth(day(d)?, nth)
            } else if let Some(d) = field.strip_suffix('L') {
                DayOfWeek::LastOfMonth(day(d)?)
            } else {
                DayOfWeek::Days(parse_set(field, "day-of-week", 1, 7, &DAYS)?)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, tz: &str, after: &str, count: usize) -> Vec<String> {
        let schedule = Schedule::parse(expr).unwrap();
        let tz = parse_timezone(tz).unwrap();
        schedule
            .upcoming(utc(after), tz, utc(after), count)
            .iter()
            .map(|t| t.with_timezone(&tz).to_rfc3339())
            .collect()
    }

    /// Examples from the EventBridge Scheduler user guide's cron table.
    #[test]
    fn aws_documented_cron_examples() {
        // 10:15 AM UTC every day
        assert_eq!(
            next("cron(15 10 * * ? *)", "UTC", "2026-03-01T00:00:00Z", 2),
            ["2026-03-01T10:15:00+00:00", "2026-03-02T10:15:00+00:00"]
        );
        // 6:00 PM Monday through Friday
        assert_eq!(
            next("cron(0 18 ? * MON-FRI *)", "UTC", "2026-03-06T19:00:00Z", 2),
            ["2026-03-09T18:00:00+00:00", "2026-03-10T18:00:00+00:00"]
        );
        // 8:00 AM on the first day of the month
        assert_eq!(
            next("cron(0 8 1 * ? *)", "UTC", "2026-03-01T09:00:00Z", 1),
            ["2026-04-01T08:00:00+00:00"]
        );
        // every 10 min on weekdays
        assert_eq!(
            next(
                "cron(0/10 * ? * MON-FRI *)",
                "UTC",
                "2026-03-06T23:55:00Z",
                1
            ),
            ["2026-03-09T00:00:00+00:00"]
        );
        // every 5 minutes between 8:00 AM and 5:55 PM weekdays
        assert_eq!(
            next(
                "cron(0/5 8-17 ? * MON-FRI *)",
                "UTC",
                "2026-03-09T17:55:00Z",
                1
            ),
            ["2026-03-10T08:00:00+00:00"]
        );
        // 9:00 AM on the first Monday of each month
        assert_eq!(
            next("cron(0 9 ? * 2#1 *)", "UTC", "2026-03-01T00:00:00Z", 2),
            ["2026-03-02T09:00:00+00:00", "2026-04-06T09:00:00+00:00"]
        );
    }

    #[test]
    fn last_and_weekday_wildcards() {
        assert_eq!(
            next("cron(0 0 L * ? *)", "UTC", "2026-02-01T00:00:00Z", 2),
            ["2026-02-28T00:00:00+00:00", "2026-03-31T00:00:00+00:00"]
        );
        // 2026-05-31 is a Sunday: LW is Friday the 29th
        assert_eq!(
            next("cron(0 0 LW 5 ? *)", "UTC", "2026-05-01T00:00:00Z", 1),
            ["2026-05-29T00:00:00+00:00"]
        );
        // 2026-08-15 is a Saturday: 15W is Friday the 14th
        assert_eq!(
            next("cron(0 12 15W 8 ? *)", "UTC", "2026-08-01T00:00:00Z", 1),
            ["2026-08-14T12:00:00+00:00"]
        );
        // last Friday of the month
        assert_eq!(
            next("cron(0 0 ? * 6L *)", "UTC", "2026-11-01T00:00:00Z", 1),
            ["2026-11-27T00:00:00+00:00"]
        );
        assert_eq!(
            next(
                "cron(30 9 ? JAN,JUL MON 2027)",
                "UTC",
                "2026-11-01T00:00:00Z",
                1
            ),
            ["2027-01-04T09:30:00+00:00"]
        );
    }

    #[test]
    fn daylight_saving_skips_missing_times_and_runs_repeated_times_once() {
        // US/Eastern springs forward 2026-03-08 02:00 -> 03:00: 02:30 does not exist that day.
        assert_eq!(
            next(
                "cron(30 2 * * ? *)",
                "America/New_York",
                "2026-03-07T12:00:00Z",
                2
            ),
            ["2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
        );
        // Falls back 2026-11-01 02:00 -> 01:00: 01:30 happens twice, fires once.
        assert_eq!(
            next(
                "cron(30 1 * * ? *)",
                "America/New_York",
                "2026-10-31T12:00:00Z",
                2
            ),
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
    }

    #[test]
    fn rate_counts_from_creation_and_at_fires_once() {
        let s = Schedule::parse("rate(5 minutes)").unwrap();
        let anchor = utc("2026-01-01T00:00:30Z");
        assert_eq!(
            s.next_after(utc("2026-01-01T00:07:00Z"), Tz::UTC, anchor),
            Some(utc("2026-01-01T00:10:30Z"))
        );
        let at = Schedule::parse("at(2026-12-24T18:00:00)").unwrap();
        let tokyo = parse_timezone("Asia/Tokyo").unwrap();
        assert_eq!(
            at.upcoming(utc("2026-01-01T00:00:00Z"), tokyo, anchor, 3),
            [utc("2026-12-24T09:00:00Z")]
        );
        assert!(at
            .upcoming(utc("2027-01-01T00:00:00Z"), tokyo, anchor, 3)
            .is_empty());
    }

    #[test]
    fn invalid_expressions_say_what_aws_allows() {
        let err = |e: &str| Schedule::parse(e).unwrap_err().to_string();
        assert_eq!(
            err("cron(0 3 * * *)"),
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found 5"
        );
        assert!(err("cron(0 3 * * * *)")
            .starts_with("exactly one of day-of-month and day-of-week must be `?`"));
        assert!(err("cron(0 3 ? * ? *)")
            .starts_with("exactly one of day-of-month and day-of-week must be `?`"));
        assert_eq!(err("cron(61 3 * * ? *)"), "minutes: 61 is outside 0-59");
        assert_eq!(
            err("cron(0 3 ? * FUNDAY *)"),
            "day-of-week: `FUNDAY` is not a number or a name SUN-SAT"
        );
        assert_eq!(
            err("rate(1 minutes)"),
            "AWS requires `1 minute`, not `1 minutes`"
        );
        assert_eq!(
            err("rate(5 minute)"),
            "AWS requires `5 minutes`, not `5 minute`"
        );
        assert_eq!(
            err("rate(0 hours)"),
            "rate value `0` must be a positive whole number"
        );
        assert_eq!(
            err("rate(2 weeks)"),
            "rate unit `weeks` must be minute(s), hour(s) or day(s)"
        );
        assert!(err("every now and then").contains("is not a schedule expression"));
        assert!(err("at(2026-13-01T00:00:00)").contains("needs a date and time"));
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
