//! Deadlines from configured durations, without overflow: `Instant + Duration`
//! panics when the sum does not fit, and a duration comes from a config or
//! a flag. The config caps durations (config::MAX_SECONDS); this is the
//! second line, so that no arithmetic on a duration can take the host down.

use std::time::{Duration, Instant};

/// `now + wait`, or the latest instant the clock can represent near that:
/// a deadline past the end of the clock is one that never comes.
pub fn after(wait: Duration) -> Instant {
    let now = Instant::now();
    let mut wait = wait;
    loop {
        if let Some(deadline) = now.checked_add(wait) {
            return deadline;
        }
        wait /= 2; // still decades away after a few halvings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_past_the_clock_saturates_instead_of_panicking() {
        let far = after(Duration::MAX);
        assert!(far > Instant::now() + Duration::from_secs(365 * 24 * 3600));
        let near = after(Duration::from_millis(5));
        assert!(near <= Instant::now() + Duration::from_millis(5));
    }
}
