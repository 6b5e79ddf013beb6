//! Instants and windows. Time is an input everywhere: nothing here reads a clock.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
///
/// Milliseconds (not seconds) because RFC 3339 inputs may carry fractions; an `i64`
/// compares and sorts the same way in Rust, SQLite and PostgreSQL.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub const fn from_seconds(s: i64) -> Self {
        Timestamp(s * 1000)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Seconds from `earlier` to `self`, as a float (durations are reported in seconds).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1000.0
    }
    pub const fn minus_seconds(self, s: i64) -> Self {
        Timestamp(self.0 - s * 1000)
    }
}

pub const SECONDS_PER_DAY: i64 = 86_400;

/// The window `end - days*86400s < t <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub end: Timestamp,
    pub days: u32,
}

impl Window {
    pub fn new(end: Timestamp, days: u32) -> Self {
        Window { end, days }
    }
    /// The exclusive lower edge.
    pub fn start(&self) -> Timestamp {
        self.end
            .minus_seconds(i64::from(self.days) * SECONDS_PER_DAY)
    }
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start() < t && t <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_excludes_start_and_includes_end() {
        let w = Window::new(Timestamp::from_seconds(10 * SECONDS_PER_DAY), 1);
        assert!(!w.contains(Timestamp::from_seconds(9 * SECONDS_PER_DAY)));
        assert!(w.contains(Timestamp::from_millis(9 * SECONDS_PER_DAY * 1000 + 1)));
        assert!(w.contains(Timestamp::from_seconds(10 * SECONDS_PER_DAY)));
        assert!(!w.contains(Timestamp::from_millis(10 * SECONDS_PER_DAY * 1000 + 1)));
    }
}
