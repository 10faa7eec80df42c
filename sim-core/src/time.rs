//! Virtual time: nanoseconds since the start of the run, as `u64`.
//!
//! `u64` nanoseconds cover 584 years, far beyond any scenario. Arithmetic saturates rather than
//! wrapping, so a huge `until` cannot overflow into the past.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in virtual time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Instant(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration(pub u64);

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Duration {
        Duration(n)
    }
    /// `n` microseconds.
    pub const fn from_micros(n: u64) -> Duration {
        Duration(n.saturating_mul(1_000))
    }
    /// `n` milliseconds.
    pub const fn from_millis(n: u64) -> Duration {
        Duration(n.saturating_mul(1_000_000))
    }
    /// `n` seconds.
    pub const fn from_secs(n: u64) -> Duration {
        Duration(n.saturating_mul(1_000_000_000))
    }
    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
}

impl Instant {
    /// The start of every run.
    pub const ZERO: Instant = Instant(0);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating at the end of time.
    pub const fn after(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.after(d)
    }
}

/// Formats as seconds with six decimals (`1.000250`), like `strace -tt` and `tcpdump`
/// timestamps relative to the start.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000_000, (self.0 % 1_000_000_000) / 1_000)
    }
}

/// Formats with the largest unit that divides it exactly (`100us`, `60s`, `1500ms`).
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let (value, unit) = if n == 0 {
            (0, "s")
        } else if n % 1_000_000_000 == 0 {
            (n / 1_000_000_000, "s")
        } else if n % 1_000_000 == 0 {
            (n / 1_000_000, "ms")
        } else if n % 1_000 == 0 {
            (n / 1_000, "us")
        } else {
            (n, "ns")
        };
        write!(f, "{value}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_as_seconds_with_microseconds() {
        assert_eq!(Instant(0).to_string(), "0.000000");
        assert_eq!(Instant(1_000_250_999).to_string(), "1.000250");
        assert_eq!(Instant(61_000_000_000).to_string(), "61.000000");
    }

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        assert_eq!(Duration::from_micros(100).to_string(), "100us");
        assert_eq!(Duration::from_secs(60).to_string(), "60s");
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Duration(7).to_string(), "7ns");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant(u64::MAX).after(Duration(5)), Instant(u64::MAX));
        assert_eq!(Instant(3).since(Instant(5)), Duration::ZERO);
        assert_eq!(Duration::from_secs(u64::MAX), Duration(u64::MAX));
    }
}
