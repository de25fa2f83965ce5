//! Times and durations: RFC 3339 (read with and written by `jiff`), and CRIU's microseconds.

use std::time::SystemTime;

/// CRIU's microseconds (dump statistics), exactly: `601 µs`, `150.37 ms`, `999.999 ms`, `1.5 s`
/// (the unit by magnitude, trailing zeros dropped, never rounded).
///
/// checkpointctl rounds to five significant digits (`123.46 ms` for 123,456 µs, `1000 ms` for
/// 999,999 µs) and its trailing-zero trim turns 10 ms into `1 ms`; the exact value avoids both.
pub fn duration_us(us: u64) -> String {
    fn trim(s: String) -> String {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{} ms", trim(format!("{}.{:03}", us / 1000, us % 1000)))
    } else {
        format!(
            "{} s",
            trim(format!("{}.{:06}", us / 1_000_000, us % 1_000_000))
        )
    }
}

/// `secs` since the epoch as RFC 3339 in UTC, without fractional seconds
/// (`2026-11-28T14:47:37Z`); `@SECS` for an instant beyond the years -9999..=9999.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| format!("@{secs}"), |t| t.to_string())
}

/// An RFC 3339 time as engines write it (`2026-11-28T14:47:37Z`,
/// `2026-11-28T14:47:37.123456789+01:00`): the instant, or None if it is not one or is before
/// the epoch.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t: jiff::Timestamp = s.trim().parse().ok()?;
    if t.as_second() < 0 {
        return None;
    }
    SystemTime::try_from(t).ok()
}

/// Whether `s` is Go's zero `time.Time` (`0001-01-01T00:00:00Z`, in any offset): what a Go
/// engine writes for a time it never set, and what checkpointctl treats as absent (`IsZero`).
pub fn is_go_zero(s: &str) -> bool {
    let zero: Option<jiff::Timestamp> = "0001-01-01T00:00:00Z".parse().ok();
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .is_some_and(|t| Some(t) == zero)
}

/// An RFC 3339 time without its fractional seconds, as checkpointctl prints it; the offset is
/// kept as written. Text that is not a time is returned as is.
pub fn short_time(t: &str) -> String {
    let Some(tpos) = t.find('T') else {
        return t.to_string();
    };
    match t[tpos..].find('.') {
        Some(dot) => {
            let dot = tpos + dot;
            let digits = t[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
            format!("{}{}", &t[..dot], &t[dot + 1 + digits..])
        }
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time() {
        assert!(is_go_zero("0001-01-01T00:00:00Z"));
        assert!(is_go_zero("0001-01-01T00:00:00.000000000+00:00"));
        assert!(!is_go_zero("0001-01-01T00:00:01Z"));
        assert!(!is_go_zero("2024-02-09T11:01:26.186815191Z"));
        assert!(!is_go_zero("not a time"));
    }

    #[test]
    fn durations_exact() {
        // The fixture's checkpointctl inspect: 601 µs, 150.37 ms, 1.711 ms, 266 µs.
        assert_eq!(duration_us(601), "601 µs");
        assert_eq!(duration_us(150_370), "150.37 ms");
        assert_eq!(duration_us(1711), "1.711 ms");
        assert_eq!(duration_us(266), "266 µs");
        assert_eq!(duration_us(0), "0 µs");
        assert_eq!(duration_us(1000), "1 ms");
        assert_eq!(duration_us(2000), "2 ms");
        assert_eq!(duration_us(10_000), "10 ms");
        // render/container.rs said 999.999 ms, views/inspect.rs 1000 ms: the exact value.
        assert_eq!(duration_us(999_999), "999.999 ms");
        assert_eq!(duration_us(123_456), "123.456 ms");
        assert_eq!(duration_us(1_000_000), "1 s");
        assert_eq!(duration_us(1_500_000), "1.5 s");
        assert_eq!(duration_us(2_500_000), "2.5 s");
        assert_eq!(duration_us(u32::MAX.into()), "4294.967295 s");
    }

    #[test]
    fn rfc3339_written() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_877_257), "2026-11-28T14:47:37Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(i64::MAX), format!("@{}", i64::MAX));
    }

    #[test]
    fn rfc3339_read() {
        let secs = |s: &str| {
            parse_rfc3339(s).map(|t| {
                let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
                (d.as_secs(), d.subsec_nanos())
            })
        };
        // `date -u -d 2026-11-28T14:47:37Z +%s` = 1795877257
        assert_eq!(secs("2026-11-28T14:47:37Z"), Some((1_795_877_257, 0)));
        assert_eq!(
            secs("2026-11-28T15:47:37.123456789+01:00"),
            Some((1_795_877_257, 123_456_789))
        );
        assert_eq!(
            secs("2026-11-28T09:17:37.5-05:30"),
            Some((1_795_877_257, 500_000_000))
        );
        assert_eq!(secs(" 2026-11-28t14:47:37z\n"), Some((1_795_877_257, 0)));
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(secs("2000-02-29T12:00:00Z"), Some((951_825_600, 0)));
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T14:47:37",
            "2026-13-28T14:47:37Z",
            "2026-11-28T24:47:37Z",
            "2026-02-30T14:47:37Z",
            "2026-11-28T14:47:37.Z",
            "1969-12-31T23:59:59Z",
            "２026-11-28T14:47:37Z",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_times() {
        assert_eq!(
            short_time("2026-11-28T14:47:37.419807618Z"),
            "2026-11-28T14:47:37Z"
        );
        assert_eq!(
            short_time("2026-11-28T14:47:37+02:00"),
            "2026-11-28T14:47:37+02:00"
        );
        assert_eq!(
            short_time("2026-11-28T14:47:37.5+02:00"),
            "2026-11-28T14:47:37+02:00"
        );
        assert_eq!(short_time("garbage.1"), "garbage.1");
    }
}
