//! A sliding-window rate limiter for API calls, driven by the caller's clock.
//!
//! Callers ask [`RateLimiter::reserve`] for a slot and wait the returned
//! time; slots are handed out first come, first served, so concurrent
//! callers queue behind each other and no window of `window_ms` ever holds
//! more than `per_window` slots.

use std::collections::VecDeque;

/// A sliding-window rate limiter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimiter {
    /// Slots allowed per window; 0 turns limiting off.
    per_window: u32,
    /// The window length.
    window_ms: u64,
    /// The most recent granted slots (at most `per_window`), oldest first.
    slots: VecDeque<u64>,
    /// No slot before this time (set by [`RateLimiter::penalize`]).
    not_before_ms: u64,
}

impl RateLimiter {
    /// A limiter allowing `per_window` slots in any window of `window_ms`.
    /// `per_window` 0 (or `window_ms` 0) turns the window limit off;
    /// [`RateLimiter::penalize`] still applies.
    pub fn new(per_window: u32, window_ms: u64) -> Self {
        RateLimiter {
            per_window,
            window_ms,
            slots: VecDeque::new(),
            not_before_ms: 0,
        }
    }

    /// `n` slots per minute (0 = off).
    pub fn per_minute(n: u32) -> Self {
        RateLimiter::new(n, 60_000)
    }

    /// Whether the window limit is on.
    pub fn is_enabled(&self) -> bool {
        self.per_window > 0 && self.window_ms > 0
    }

    /// Reserves the next slot for a caller at `now_ms` and returns how long
    /// it must wait (0 when it may go now). The slot is recorded at
    /// `now_ms + wait`, so concurrent callers get successive slots, never
    /// earlier than a slot already granted, and never more than `per_window`
    /// slots fall in any window of `window_ms`.
    pub fn reserve(&mut self, now_ms: u64) -> u64 {
        let mut slot = now_ms.max(self.not_before_ms);
        if !self.is_enabled() {
            return slot - now_ms;
        }
        if let Some(&last) = self.slots.back() {
            slot = slot.max(last);
        }
        let limit = usize::try_from(self.per_window).unwrap_or(usize::MAX);
        if self.slots.len() >= limit {
            // The oldest of the last `per_window` slots must leave the window.
            if let Some(&oldest) = self.slots.front() {
                slot = slot.max(oldest.saturating_add(self.window_ms));
            }
        }
        self.slots.push_back(slot);
        while self.slots.len() > limit {
            self.slots.pop_front();
        }
        slot - now_ms
    }

    /// After a 429: no slot is granted before `now_ms + wait_ms`.
    pub fn penalize(&mut self, now_ms: u64, wait_ms: u64) {
        self.not_before_ms = self.not_before_ms.max(now_ms.saturating_add(wait_ms));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn calls_within_the_budget_go_at_once() {
        let mut l = RateLimiter::per_minute(3);
        assert_eq!(l.reserve(0), 0);
        assert_eq!(l.reserve(10), 0);
        assert_eq!(l.reserve(20), 0);
    }

    #[test]
    fn a_call_over_the_budget_waits_until_the_oldest_slot_leaves_the_window() {
        let mut l = RateLimiter::new(2, 1000);
        assert_eq!(l.reserve(0), 0);
        assert_eq!(l.reserve(100), 0);
        assert_eq!(l.reserve(200), 800);
        assert_eq!(l.reserve(200), 900);
        assert_eq!(l.reserve(5000), 0);
    }

    #[test]
    fn concurrent_callers_get_successive_slots() {
        let mut l = RateLimiter::new(1, 1000);
        let waits: Vec<u64> = (0..4).map(|_| l.reserve(0)).collect();
        assert_eq!(waits, vec![0, 1000, 2000, 3000]);
    }

    #[test]
    fn zero_per_window_turns_limiting_off() {
        let mut l = RateLimiter::new(0, 1000);
        assert!(!l.is_enabled());
        for t in 0..100 {
            assert_eq!(l.reserve(t), 0);
        }
        assert!(!RateLimiter::new(5, 0).is_enabled());
    }

    #[test]
    fn penalize_after_429_delays_every_caller_even_when_off() {
        let mut l = RateLimiter::per_minute(100);
        l.penalize(1000, 5000);
        assert_eq!(l.reserve(1000), 5000);
        assert_eq!(l.reserve(2000), 4000);
        assert_eq!(l.reserve(7000), 0);
        let mut off = RateLimiter::new(0, 0);
        off.penalize(0, 300);
        assert_eq!(off.reserve(100), 200);
        off.penalize(0, 100);
        assert_eq!(
            off.reserve(100),
            200,
            "a shorter penalty does not shorten a longer one"
        );
    }

    #[test]
    fn huge_times_saturate_without_panicking() {
        let mut l = RateLimiter::new(1, u64::MAX);
        assert_eq!(l.reserve(u64::MAX - 1), 0);
        assert_eq!(l.reserve(u64::MAX - 1), 1);
        assert_eq!(l.reserve(u64::MAX), 0);
        l.penalize(u64::MAX, u64::MAX);
        assert_eq!(l.reserve(0), u64::MAX);
    }

    #[test]
    fn a_clock_going_backwards_never_gets_an_earlier_slot() {
        let mut l = RateLimiter::new(2, 1000);
        assert_eq!(l.reserve(5000), 0);
        assert_eq!(l.reserve(100), 4900);
    }
}
