//! Calendar arithmetic shared by every crate that writes a date (verifier request signing, report metadata):
//! Unix seconds to a proleptic-Gregorian UTC date and time, without a calendar dependency. Owns nothing else.

/// UTC `(year, month, day, hour, minute, second)` of a Unix time (civil-from-days).
pub fn civil_from_unix(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m as u32,
        d as u32,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(
            civil_from_unix(1_709_164_800 + 3_723),
            (2024, 2, 29, 1, 2, 3)
        );
        assert_eq!(civil_from_unix(-1), (1969, 12, 31, 23, 59, 59));
    }
}
