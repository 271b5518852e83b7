//! Retry policy: validation of the caller's options, exponential backoff with
//! jitter, the retry decision for an [`UploadError`], and parsing of the
//! server's `Retry-After` / throttle hints.

use crate::error::{ErrorCode, UploadError};
use crate::presigned::{civil_to_epoch_ms, digits_u32};
use crate::text::{cat, num};

/// The longest wait a `Retry-After` may impose (10 minutes), and the upper
/// bound of `retry.minDelayMs` / `retry.maxDelayMs`.
pub const MAX_DELAY_CAP_MS: u64 = 600_000;

/// The most retries a caller may ask for.
pub const MAX_RETRIES: u32 = 10;

/// How often and how patiently to retry a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many retries after the first attempt (0 = never retry).
    pub retries: u32,
    /// The delay before the first retry, before jitter.
    pub min_delay_ms: u64,
    /// The longest backoff delay.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    /// 3 retries, 250 ms to 20 s.
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            min_delay_ms: 250,
            max_delay_ms: 20_000,
        }
    }
}

/// A JS number that must be an integer in `min..=max`.
fn js_integer(field: &str, value: f64, min: u64, max: u64) -> Result<u64, UploadError> {
    let problem =
        || UploadError::invalid_input(field, &cat(&["must be an integer from ", &num(min), " to ", &num(max)]));
    if !value.is_finite() || value.fract() != 0.0 || value < 0.0 {
        return Err(problem());
    }
    // In range of u64 here, because `max` is small.
    if value < min as f64 || value > max as f64 {
        return Err(problem());
    }
    Ok(value as u64)
}

impl RetryPolicy {
    /// Builds a policy from JS numbers; `None` takes the default.
    ///
    /// Refused (invalid input naming the field): `retry.retries` not an
    /// integer 0..=10, `retry.minDelayMs` not an integer 0..=600000,
    /// `retry.maxDelayMs` not an integer from `minDelayMs` to 600000. NaN,
    /// infinities, negatives and fractions are refused.
    ///
    /// When only `minDelayMs` is given and it exceeds the default maximum
    /// (20000), the maximum is raised to it rather than refused.
    pub fn new(
        retries: Option<f64>,
        min_delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
    ) -> Result<Self, UploadError> {
        let d = RetryPolicy::default();
        let retries = match retries {
            Some(v) => js_integer("retry.retries", v, 0, u64::from(MAX_RETRIES))? as u32,
            None => d.retries,
        };
        let min_delay_ms = match min_delay_ms {
            Some(v) => js_integer("retry.minDelayMs", v, 0, MAX_DELAY_CAP_MS)?,
            None => d.min_delay_ms,
        };
        let max_delay_ms = match max_delay_ms {
            Some(v) => {
                let max = js_integer("retry.maxDelayMs", v, 0, MAX_DELAY_CAP_MS)?;
                if max < min_delay_ms {
                    return Err(UploadError::invalid_input(
                        "retry.maxDelayMs",
                        &cat(&["must be at least retry.minDelayMs (", &num(min_delay_ms), ") and at most ", &num(MAX_DELAY_CAP_MS)]),
                    ));
                }
                max
            }
            None => d.max_delay_ms.max(min_delay_ms),
        };
        Ok(RetryPolicy {
            retries,
            min_delay_ms,
            max_delay_ms,
        })
    }

    /// The backoff before retry number `retry_number` (1 for the first):
    /// `base = min_delay_ms * 2^(n-1)` capped at `max_delay_ms`, then
    /// `base/2 + jitter * base/2` ("equal jitter"), and never below
    /// `min_delay_ms`. `jitter` is clamped to 0..=1 (NaN counts as 0);
    /// `retry_number` 0 counts as 1. Saturates, never overflows.
    // Not f64::clamp: its panic message formats floats, kilobytes of .wasm.
    #[allow(clippy::manual_clamp)]
    pub fn backoff_ms(&self, retry_number: u32, jitter: f64) -> u64 {
        let cap = self.max_delay_ms.max(self.min_delay_ms);
        let exp = retry_number.max(1) - 1;
        let factor = 1u64.checked_shl(exp).unwrap_or(u64::MAX);
        let base = self.min_delay_ms.saturating_mul(factor).min(cap);
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.max(0.0).min(1.0)
        };
        let half = base / 2;
        // `as` saturates for floats; the product is at most `half`.
        let spread = ((half as f64) * jitter) as u64;
        half.saturating_add(spread.min(half)).max(self.min_delay_ms)
    }

    /// The delay before retry `retry_number`: the larger of the backoff and
    /// the server's `Retry-After`. A `Retry-After` may exceed `max_delay_ms`
    /// but is capped at 10 minutes.
    pub fn delay_ms(&self, retry_number: u32, jitter: f64, retry_after_ms: Option<u64>) -> u64 {
        let backoff = self.backoff_ms(retry_number, jitter);
        match retry_after_ms {
            Some(ra) => backoff.max(ra.min(MAX_DELAY_CAP_MS)),
            None => backoff,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait, then try the same request again.
    Retry {
        /// How long to wait first.
        delay_ms: u64,
    },
    /// Get a fresh presigned URL, then try again.
    Refresh,
    /// Give up and report the error.
    Fail,
}

/// Whether an HTTP status is worth retrying: 408, 429, 500, 502, 503, 504.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Decides what to do after `err`, when `retries_done` retries have
/// already been made.
///
/// [`ErrorCode::UrlExpired`] gives [`Decision::Refresh`] (the caller limits
/// refreshes itself); [`ErrorCode::Aborted`], [`ErrorCode::InvalidInput`]
/// and [`ErrorCode::TooLarge`] are never retried; otherwise a retryable error
/// with retries left gives [`Decision::Retry`] with
/// [`RetryPolicy::delay_ms`]`(retries_done + 1, jitter, err.retry_after_ms)`,
/// and anything else [`Decision::Fail`].
pub fn decide(policy: &RetryPolicy, retries_done: u32, err: &UploadError, jitter: f64) -> Decision {
    match err.code {
        ErrorCode::UrlExpired => Decision::Refresh,
        ErrorCode::Aborted | ErrorCode::InvalidInput | ErrorCode::TooLarge => Decision::Fail,
        _ if err.retryable && retries_done < policy.retries => Decision::Retry {
            delay_ms: policy.delay_ms(retries_done.saturating_add(1), jitter, err.retry_after_ms),
        },
        _ => Decision::Fail,
    }
}

/// Parses a `Retry-After` header value into milliseconds from `now_ms`.
///
/// Accepts delta-seconds (`"120"`, surrounding whitespace allowed; huge
/// values saturate) and the three HTTP-date forms of RFC 9110: IMF-fixdate
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), RFC 850 (`"Wednesday, 21-Oct-15
/// 07:28:00 GMT"`) and asctime (`"Wed Oct 21 07:28:00 2015"`). A date in the
/// past gives 0. Anything else (negative, fractional, garbage) gives `None`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.bytes().fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_ms))
}

/// Month number from its three-letter English name (any case).
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

/// Whether `name` is an English day name, short or long (any case).
fn is_day_name(name: &str, long: bool) -> bool {
    const SHORT: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const LONG: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = name.to_ascii_lowercase();
    if long {
        LONG.contains(&lower.as_str())
    } else {
        SHORT.contains(&lower.as_str())
    }
}

/// `HH:MM:SS`.
fn parse_clock(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split(':');
    let h = parts.next().filter(|p| p.len() == 2).and_then(digits_u32)?;
    let m = parts.next().filter(|p| p.len() == 2).and_then(digits_u32)?;
    let s = parts.next().filter(|p| p.len() == 2).and_then(digits_u32)?;
    if parts.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// An HTTP-date (IMF-fixdate, RFC 850 or asctime) in ms since the epoch.
fn parse_http_date(text: &str) -> Option<u64> {
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    match tokens.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [day, dd, mon, yyyy, clock, gmt] => {
            let day = day.strip_suffix(',')?;
            if !is_day_name(day, false) || *gmt != "GMT" || yyyy.len() != 4 || dd.len() > 2 {
                return None;
            }
            let (h, mi, s) = parse_clock(clock)?;
            civil_to_epoch_ms(
                i64::from(digits_u32(yyyy)?),
                month_number(mon)?,
                digits_u32(dd)?,
                h,
                mi,
                s,
            )
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        [day, date, clock, gmt] => {
            let day = day.strip_suffix(',')?;
            if !is_day_name(day, true) || *gmt != "GMT" {
                return None;
            }
            let mut parts = date.split('-');
            let dd = parts.next().filter(|p| p.len() == 2).and_then(digits_u32)?;
            let mon = month_number(parts.next()?)?;
            let yy = parts.next().filter(|p| p.len() == 2).and_then(digits_u32)?;
            if parts.next().is_some() {
                return None;
            }
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            let (h, mi, s) = parse_clock(clock)?;
            civil_to_epoch_ms(i64::from(year), mon, dd, h, mi, s)
        }
        // Sun Nov  6 08:49:37 1994
        [day, mon, dd, clock, yyyy] => {
            if !is_day_name(day, false) || yyyy.len() != 4 || dd.len() > 2 {
                return None;
            }
            let (h, mi, s) = parse_clock(clock)?;
            civil_to_epoch_ms(
                i64::from(digits_u32(yyyy)?),
                month_number(mon)?,
                digits_u32(dd)?,
                h,
                mi,
                s,
            )
        }
        _ => None,
    }
}

/// Finds Django REST framework's throttle hint, `"Expected available in N
/// second(s)"` (N an integer or decimal; any case), anywhere in `text`, also
/// inside JSON, and returns N in milliseconds, rounded up. Huge values
/// saturate.
pub fn parse_throttle_message(text: &str) -> Option<u64> {
    const NEEDLE: &str = "expected available in";
    let lower = text.to_ascii_lowercase();
    let mut from = 0usize;
    while let Some(pos) = lower.get(from..).and_then(|rest| crate::text::find(rest, NEEDLE)) {
        let start = from + pos + NEEDLE.len();
        if let Some(ms) = lower.get(start..).and_then(seconds_then_unit) {
            return Some(ms);
        }
        from = start;
    }
    None
}

/// `" 57 seconds"` / `"1.5 second"` -> ms (rounded up).
fn seconds_then_unit(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let int_len = text.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        return None;
    }
    let int_part = text.get(..int_len)?;
    let mut rest = text.get(int_len..)?;
    let mut frac_ms = 0u64;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        let frac = after_dot.get(..frac_len)?;
        // Milliseconds from the first three decimals, plus one if any
        // further decimal is non-zero (round up).
        let mut ms = 0u64;
        for (i, b) in frac.bytes().enumerate() {
            let d = u64::from(b - b'0');
            if i < 3 {
                ms = ms * 10 + d;
            } else if d != 0 {
                ms += 1;
                break;
            }
        }
        for _ in frac.len()..3 {
            ms *= 10;
        }
        frac_ms = ms;
        rest = after_dot.get(frac_len..)?;
    }
    if !rest.trim_start().starts_with("second") {
        return None;
    }
    let secs = int_part.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    Some(secs.saturating_mul(1000).saturating_add(frac_ms))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn err(code: ErrorCode) -> UploadError {
        UploadError::new(code, "x")
    }

    #[test]
    fn default_policy_is_three_retries_from_250ms_to_20s() {
        let p = RetryPolicy::default();
        assert_eq!(
            (p.retries, p.min_delay_ms, p.max_delay_ms),
            (3, 250, 20_000)
        );
        assert_eq!(RetryPolicy::new(None, None, None).unwrap(), p);
    }

    #[test]
    fn new_accepts_integers_within_bounds() {
        let p = RetryPolicy::new(Some(0.0), Some(0.0), Some(0.0)).unwrap();
        assert_eq!((p.retries, p.min_delay_ms, p.max_delay_ms), (0, 0, 0));
        let p = RetryPolicy::new(Some(10.0), Some(600_000.0), Some(600_000.0)).unwrap();
        assert_eq!(
            (p.retries, p.min_delay_ms, p.max_delay_ms),
            (10, 600_000, 600_000)
        );
    }

    #[test]
    fn new_refuses_nan_infinite_negative_fractional_and_out_of_range_naming_the_field() {
        let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 1.5, -0.5];
        for v in bad {
            let e = RetryPolicy::new(Some(v), None, None).unwrap_err();
            assert!(e.message.starts_with("retry.retries: "), "{}", e.message);
            let e = RetryPolicy::new(None, Some(v), None).unwrap_err();
            assert!(e.message.starts_with("retry.minDelayMs: "), "{}", e.message);
            let e = RetryPolicy::new(None, None, Some(v)).unwrap_err();
            assert!(e.message.starts_with("retry.maxDelayMs: "), "{}", e.message);
            assert_eq!(e.code, ErrorCode::InvalidInput);
        }
        assert!(RetryPolicy::new(Some(11.0), None, None).is_err());
        assert!(RetryPolicy::new(None, Some(600_001.0), None).is_err());
        assert!(RetryPolicy::new(None, None, Some(600_001.0)).is_err());
        assert!(RetryPolicy::new(None, None, Some(1e300)).is_err());
    }

    #[test]
    fn max_delay_below_min_delay_is_refused() {
        let e = RetryPolicy::new(None, Some(1000.0), Some(999.0)).unwrap_err();
        assert!(
            e.message
                .starts_with("retry.maxDelayMs: must be at least retry.minDelayMs (1000)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn large_min_delay_without_max_raises_the_default_max() {
        let p = RetryPolicy::new(None, Some(30_000.0), None).unwrap();
        assert_eq!(p.max_delay_ms, 30_000);
    }

    #[test]
    fn backoff_doubles_from_min_and_is_capped_at_max() {
        let p = RetryPolicy {
            retries: 5,
            min_delay_ms: 100,
            max_delay_ms: 1000,
        };
        assert_eq!(p.backoff_ms(1, 1.0), 100);
        assert_eq!(p.backoff_ms(2, 1.0), 200);
        assert_eq!(p.backoff_ms(3, 1.0), 400);
        assert_eq!(p.backoff_ms(4, 1.0), 800);
        assert_eq!(p.backoff_ms(5, 1.0), 1000);
        assert_eq!(p.backoff_ms(5, 0.0), 500);
        assert_eq!(p.backoff_ms(5, 0.5), 750);
        assert_eq!(p.backoff_ms(1, 0.0), 100, "never below min");
        assert_eq!(p.backoff_ms(0, 1.0), 100, "0 counts as the first retry");
    }

    #[test]
    fn backoff_never_overflows_and_clamps_odd_jitter() {
        let p = RetryPolicy {
            retries: 10,
            min_delay_ms: u64::MAX,
            max_delay_ms: u64::MAX,
        };
        assert_eq!(p.backoff_ms(u32::MAX, 1.0), u64::MAX);
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ms(u32::MAX, f64::NAN), 10_000);
        assert_eq!(p.backoff_ms(u32::MAX, 7.0), 20_000);
        assert_eq!(p.backoff_ms(u32::MAX, -7.0), 10_000);
        let inverted = RetryPolicy {
            retries: 1,
            min_delay_ms: 500,
            max_delay_ms: 100,
        };
        assert_eq!(inverted.backoff_ms(3, 0.5), 500);
    }

    #[test]
    fn retry_after_wins_when_longer_and_may_exceed_max_up_to_ten_minutes() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_ms(1, 1.0, Some(0)), 250);
        assert_eq!(p.delay_ms(1, 1.0, Some(60_000)), 60_000);
        assert_eq!(p.delay_ms(1, 1.0, Some(u64::MAX)), 600_000);
        assert_eq!(p.delay_ms(1, 1.0, None), 250);
    }

    #[test]
    fn expired_url_asks_for_a_refresh_even_without_retries_left() {
        let p = RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(
            decide(&p, 5, &err(ErrorCode::UrlExpired), 0.5),
            Decision::Refresh
        );
    }

    #[test]
    fn retryable_errors_are_retried_until_the_budget_is_spent() {
        let p = RetryPolicy {
            retries: 2,
            min_delay_ms: 100,
            max_delay_ms: 1000,
        };
        let e = err(ErrorCode::Network);
        assert_eq!(decide(&p, 0, &e, 1.0), Decision::Retry { delay_ms: 100 });
        assert_eq!(decide(&p, 1, &e, 1.0), Decision::Retry { delay_ms: 200 });
        assert_eq!(decide(&p, 2, &e, 1.0), Decision::Fail);
        assert_eq!(decide(&p, u32::MAX, &e, 1.0), Decision::Fail);
    }

    #[test]
    fn retry_delay_honours_the_errors_retry_after() {
        let p = RetryPolicy::default();
        let e = err(ErrorCode::RateLimited).with_retry_after_ms(Some(5000));
        assert_eq!(decide(&p, 0, &e, 0.0), Decision::Retry { delay_ms: 5000 });
    }

    #[test]
    fn non_retryable_and_final_codes_fail_at_once() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, 0, &err(ErrorCode::UploadRejected), 0.0),
            Decision::Fail
        );
        for code in [
            ErrorCode::Aborted,
            ErrorCode::InvalidInput,
            ErrorCode::TooLarge,
        ] {
            let e = err(code).retryable(true);
            assert_eq!(decide(&p, 0, &e, 0.0), Decision::Fail, "{code}");
        }
    }

    #[test]
    fn retryable_statuses_are_exactly_the_transient_ones() {
        for s in 0..=u16::MAX {
            assert_eq!(
                is_retryable_status(s),
                [408, 429, 500, 502, 503, 504].contains(&s),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_delta_seconds_parse_with_whitespace_and_saturate() {
        assert_eq!(parse_retry_after("1", 0), Some(1000));
        assert_eq!(parse_retry_after(" 120 ", 0), Some(120_000));
        assert_eq!(parse_retry_after("0", 0), Some(0));
        assert_eq!(
            parse_retry_after("99999999999999999999999999", 0),
            Some(u64::MAX)
        );
        for bad in ["", " ", "-1", "1.5", "abc", "1s", "+5", "１"] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_http_dates_give_the_time_left_or_zero() {
        let at = 1_445_412_480_000u64; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at - 3000),
            Some(3000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at + 3000),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", at - 1000),
            Some(1000)
        );
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:00 2015", at), Some(0));
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", 0),
            Some(784_111_777_000)
        );
        for bad in [
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 7:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:60 GMT",
            "Wed 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
    }

    #[test]
    fn throttle_message_is_found_in_plain_text_and_json() {
        assert_eq!(
            parse_throttle_message("Request was throttled. Expected available in 57 seconds."),
            Some(57_000)
        );
        assert_eq!(
            parse_throttle_message(
                r#"{"detail":"Request was throttled. Expected available in 1 second."}"#
            ),
            Some(1000)
        );
        assert_eq!(
            parse_throttle_message("expected available in 1.5 seconds"),
            Some(1500)
        );
        assert_eq!(
            parse_throttle_message("Expected available in 0.0001 seconds"),
            Some(1)
        );
        assert_eq!(
            parse_throttle_message("Expected available in 2.25 seconds"),
            Some(2250)
        );
        assert_eq!(
            parse_throttle_message("Expected available in 99999999999999999999999 seconds"),
            Some(u64::MAX)
        );
        assert_eq!(
            parse_throttle_message("Expected available in soon. Expected available in 3 seconds"),
            Some(3000)
        );
    }

    #[test]
    fn throttle_message_without_a_number_of_seconds_is_none() {
        for text in [
            "",
            "Request was throttled.",
            "Expected available in",
            "Expected available in 5 minutes",
            "Expected available in -5 seconds",
            "Expected available in .5 seconds",
        ] {
            assert_eq!(parse_throttle_message(text), None, "{text}");
        }
    }
}
