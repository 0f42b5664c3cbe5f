//! A check of a boefje's `cron` schedule, so that a schedule the scheduler
//! could never run is refused on write (422), as OpenKAT refuses what
//! `croniter` cannot parse.
//!
//! Accepted: five fields (minute, hour, day of month, month, day of week),
//! each a comma-separated list of `*`, a value, or a range `a-b`, any of them
//! with a step `/n`; month and weekday names (`jan`, `mon`, case-insensitive);
//! weekday 7 for Sunday; `L` (last day) in the day of month and `d#n` (the
//! n-th weekday) in the day of week; and the nicknames `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.

use kat_core::services::{ServiceError, ServiceResult};

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[] },
    Field { name: "hour", min: 0, max: 23, names: &[] },
    Field { name: "day of month", min: 1, max: 31, names: &[] },
    Field { name: "month", min: 1, max: 12, names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
    Field { name: "day of week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const NICKNAMES: [&str; 7] = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// Refuse a cron expression that does not describe a schedule; the error names the field `cron`.
pub fn check(expression: &str) -> ServiceResult<()> {
    let shown: String = expression.chars().take(60).collect();
    let refuse = |reason: String| Err(ServiceError::invalid(format!("cron {shown:?}: {reason}")).with_field("cron"));
    let text = expression.trim();
    if text.starts_with('@') {
        return if NICKNAMES.contains(&text.to_ascii_lowercase().as_str()) { Ok(()) } else { refuse(format!("unknown nickname; use one of {}", NICKNAMES.join(", "))) };
    }
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != FIELDS.len() {
        return refuse(format!("expected 5 fields (minute hour day-of-month month day-of-week), found {}", parts.len()));
    }
    for (index, (part, field)) in parts.iter().zip(FIELDS.iter()).enumerate() {
        for item in part.split(',') {
            if let Err(reason) = check_item(item, field, index) {
                return refuse(format!("field {} ({}): {reason}", index + 1, field.name));
            }
        }
    }
    Ok(())
}

fn check_item(item: &str, field: &Field, index: usize) -> Result<(), String> {
    if item.is_empty() {
        return Err("an empty list item".into());
    }
    if index == 2 && item.eq_ignore_ascii_case("l") {
        return Ok(());
    }
    if index == 4
        && let Some((day, nth)) = item.split_once('#')
    {
        value(day, field)?;
        return match nth.parse::<u32>() {
            Ok(1..=5) => Ok(()),
            _ => Err(format!("{item:?}: the number after '#' must be 1 to 5")),
        };
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n >= 1 && n <= field.max.max(1) => {}
            _ => return Err(format!("{item:?}: the step must be a whole number from 1 to {}", field.max.max(1))),
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (value(low, field)?, value(high, field)?);
            if low > high { Err(format!("{item:?}: the range runs backwards")) } else { Ok(()) }
        }
        None => value(range, field).map(|_| ()),
    }
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(position) = field.names.iter().position(|n| *n == lower) {
        let offset = u32::try_from(position).unwrap_or(0);
        return Ok(if field.min == 1 { offset + 1 } else { offset });
    }
    match text.parse::<u32>() {
        Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range {}-{}", field.min, field.max)),
        Err(_) => Err(format!("{text:?} is not a number{}", if field.names.is_empty() { String::new() } else { " or a name".into() })),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_schedules_pass() {
        for good in ["5 0 * 8 *", "*/15 * * * *", "0 9-17/2 * * mon-fri", "0 0 1,15 * *", "0 0 L * *", "0 0 * * 1#2", "0 12 * JAN,jul SUN", "0 0 * * 7", "@daily", "@Hourly", " 1 2 3 4 5 "] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn bad_schedules_name_the_field() {
        for (bad, needle) in [
            ("bad format", "expected 5 fields"),
            ("* * * *", "found 4"),
            ("60 * * * *", "field 1 (minute): 60 is out of range 0-59"),
            ("* 24 * * *", "field 2 (hour)"),
            ("* * 0 * *", "field 3 (day of month)"),
            ("* * * 13 *", "field 4 (month)"),
            ("* * * * 8", "field 5 (day of week)"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("1,,2 * * * *", "empty"),
            ("* * * foo *", "not a number or a name"),
            ("* * * * 1#6", "1 to 5"),
            ("@sometimes", "nickname"),
        ] {
            let e = check(bad).expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("cron"));
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
    }
}
