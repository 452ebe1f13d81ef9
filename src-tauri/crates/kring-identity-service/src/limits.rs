//! Sliding-window rate limits, kept in memory per key (an account): a
//! restart forgets them, which costs one window at most.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::error::IsError;

pub struct Limiter {
    window: Duration,
    max: u32,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self { window, max, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts one request of `key`, or refuses it with the seconds until
    /// the oldest one leaves the window.
    pub fn check(&self, key: &str) -> Result<(), IsError> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let times = seen.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.max as usize {
            let wait = times.front().map(|t| self.window.saturating_sub(now.duration_since(*t))).unwrap_or_default();
            return Err(IsError::LimitExceeded(wait.as_secs().max(1)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_over_the_limit_is_refused_and_others_are_not() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let err = limiter.check("a").unwrap_err();
        assert_eq!(err.errcode(), "M_LIMIT_EXCEEDED");
        assert!(limiter.check("b").is_ok(), "another account has its own window");
    }

    #[test]
    fn the_window_slides() {
        let limiter = Limiter::new(1, Duration::from_millis(30));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(limiter.check("a").is_ok());
    }
}
