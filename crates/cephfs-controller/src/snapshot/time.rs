//! The mgr's snapshot timestamps (`2026-12-07 19:24:41.925745`, UTC) as protobuf timestamps,
//! so a repeated CreateSnapshot answers the same creation time.

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]`; `None` when it is not that.
pub fn parse(text: &str) -> Option<prost_types::Timestamp> {
    let (date, time) = text.trim().split_once(' ')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, fraction),
        None => (time, ""),
    };
    let mut t = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        let value: i64 = digits.parse().ok()?;
        value * 10_i64.pow(9 - digits.len() as u32)
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(prost_types::Timestamp {
        seconds,
        nanos: i32::try_from(nanos).ok()?,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mgr_timestamps_parse() {
        let t = parse("2026-12-07 19:24:41.925745").unwrap();
        assert_eq!(t.seconds, 1_796_671_481);
        assert_eq!(t.nanos, 925_745_000);
        assert_eq!(parse("1970-01-01 00:00:00").unwrap().seconds, 0);
        assert!(parse("yesterday").is_none());
        assert!(parse("2026-13-01 00:00:00").is_none());
    }
}
