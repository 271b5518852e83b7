//! The API's optional sliding-window rate limit (`--rate-limit N/min`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// A limit of `max` calls in any window of `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (at least 1).
    pub max: u32,
    /// Window length (at least one second).
    pub window: Duration,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.max, self.window.as_secs())
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// Parses `N/min`, `N/s` or `N/<k>s` (e.g. `30/min`, `5/2s`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not N/min, N/s or N/<k>s (e.g. 30/min, 5/2s)");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = n.trim().parse().map_err(|_| bad())?;
        if max == 0 {
            return Err(format!("`{s}`: the number of calls must be at least 1"));
        }
        let unit = unit.trim();
        let secs: u64 = match unit {
            "min" | "m" => 60,
            "s" => 1,
            _ => {
                let k = unit.strip_suffix('s').ok_or_else(bad)?;
                let k: u64 = k.parse().map_err(|_| bad())?;
                if k == 0 {
                    return Err(format!("`{s}`: the window must be at least 1s"));
                }
                k
            }
        };
        Ok(Self {
            max,
            window: Duration::from_secs(secs),
        })
    }
}

/// Sliding-window counters, one window per key. Only accepted calls are
/// recorded, so rejected calls never consume slots.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: RateLimit,
    calls: HashMap<String, VecDeque<Instant>>,
}

impl SlidingWindow {
    /// An empty limiter enforcing `limit`.
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            calls: HashMap::new(),
        }
    }

    /// Records a call for `key` at `now` if a slot is free, or returns the
    /// whole number of seconds (at least 1) until the oldest slot frees.
    ///
    /// # Errors
    /// `Err(seconds)` when the key has used all its slots in the window.
    pub fn check(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        let window = self.limit.window;
        let q = self.calls.entry(key.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            q.pop_front();
        }
        if q.len() < self.limit.max as usize {
            q.push_back(now);
            return Ok(());
        }
        let oldest = q.front().copied().unwrap_or(now);
        let wait = (oldest + window).saturating_duration_since(now);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(
            "30/min".parse::<RateLimit>().unwrap().window,
            Duration::from_secs(60)
        );
        assert_eq!("30/min".parse::<RateLimit>().unwrap().max, 30);
        assert_eq!(
            "5/s".parse::<RateLimit>().unwrap().window,
            Duration::from_secs(1)
        );
        let l: RateLimit = "5/2s".parse().unwrap();
        assert_eq!((l.max, l.window), (5, Duration::from_secs(2)));
        for bad in ["", "5", "x/min", "0/min", "5/0s", "5/hour", "-1/s", "5/2"] {
            assert!(
                bad.parse::<RateLimit>().is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn window_slides_and_rejections_do_not_consume() {
        let mut w = SlidingWindow::new("2/10s".parse().unwrap());
        let t0 = Instant::now();
        assert!(w.check("k", t0).is_ok());
        assert!(w.check("k", t0 + Duration::from_secs(3)).is_ok());
        assert_eq!(w.check("k", t0 + Duration::from_millis(4500)), Err(6));
        assert_eq!(w.check("k", t0 + Duration::from_millis(9999)), Err(1));
        // Another key has its own window.
        assert!(w.check("other", t0 + Duration::from_secs(5)).is_ok());
        // The first slot frees at t0+10s; rejected calls did not push anything.
        assert!(w.check("k", t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(w.check("k", t0 + Duration::from_secs(10)), Err(3));
    }
}
