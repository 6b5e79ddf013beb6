//! Timestamps at the edge: RFC 3339 strings or integer Unix seconds in, RFC 3339 UTC out.

use pacer_core::Timestamp;

/// Parses an RFC 3339 string (`2026-03-15T14:23:00Z`, any offset, optional fraction).
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    let ts: jiff::Timestamp = s.trim().parse().map_err(|e| {
        format!("{s:?} is not an RFC 3339 timestamp ({e}); send e.g. \"2026-03-15T14:23:00Z\" or integer Unix seconds")
    })?;
    from_jiff(ts)
        .ok_or_else(|| format!("{s:?} is before 1970-01-01T00:00:00Z; send a real event time"))
}

/// Converts integer Unix seconds.
pub fn from_unix_seconds(secs: i64) -> Result<Timestamp, String> {
    if secs < 0 {
        return Err(format!(
            "{secs} is before 1970-01-01T00:00:00Z; send a real event time in Unix seconds"
        ));
    }
    let ts = jiff::Timestamp::from_second(secs).map_err(|_| {
        format!("{secs} is out of range for Unix seconds (after year 9999); send seconds, not milliseconds or nanoseconds")
    })?;
    from_jiff(ts).ok_or_else(|| format!("{secs} is out of range"))
}

/// Parses either form from a command-line or query-string value.
pub fn parse_flexible(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<i64>() {
        Ok(secs) => from_unix_seconds(secs),
        Err(_) => parse_rfc3339(s),
    }
}

fn from_jiff(ts: jiff::Timestamp) -> Option<Timestamp> {
    let ms = ts.as_millisecond();
    (ms >= 0).then_some(Timestamp::from_millis(ms))
}

/// RFC 3339 in UTC, with milliseconds only when there are some.
pub fn format(t: Timestamp) -> String {
    match jiff::Timestamp::from_millisecond(t.millis()) {
        Ok(ts) => {
            if t.millis() % 1000 == 0 {
                format!("{ts:.0}")
            } else {
                format!("{ts:.3}")
            }
        }
        Err(_) => t.millis().to_string(),
    }
}

/// `t` in Unix milliseconds as 12 hex digits: the start of the ids Pacer makes, so that
/// ids made in time order sort in time order (docs/benchmarks.md). 48 bits last until
/// the year 10889; a time before 1970 counts as 0.
pub fn id_time_prefix(t: Timestamp) -> String {
    let millis = u64::try_from(t.millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    format!("{millis:012x}")
}

/// The wall clock. The only place the server reads it.
pub fn now() -> Timestamp {
    Timestamp::from_millis(jiff::Timestamp::now().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_rfc3339("2026-03-15T14:23:00Z").unwrap();
        assert_eq!(t, Timestamp::from_seconds(1_773_584_580));
        assert_eq!(format(t), "2026-03-15T14:23:00Z");
        assert_eq!(
            format(Timestamp::from_millis(1_773_584_580_250)),
            "2026-03-15T14:23:00.250Z"
        );
        assert_eq!(parse_rfc3339("2026-03-15T16:23:00+02:00").unwrap(), t);
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-03-15 14:23").is_err());
        assert!(from_unix_seconds(-5).is_err());
        assert!(from_unix_seconds(1_773_584_580_000_000).is_err());
    }
}
