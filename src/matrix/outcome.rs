//! What happened in one cell (a module under an interpreter), and whether
//! that is what its manifest expected.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::manifest::Expectation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// self_test (or __init__, serve...) raised; the message is kept.
    Fail,
    /// An import or syntax error, with file and line.
    Unloadable,
    /// The child process died by a signal.
    Crash,
    /// It did not finish within its timeout.
    Hang,
    /// pyhost could not be built against that interpreter, or the
    /// module's native part could not (a manifest may expect the latter).
    BuildError,
    /// Failed where the manifest said it would.
    Xfail,
    /// Passed where the manifest said it would fail.
    Xpass,
    /// The interpreter was not found: reported, never counted as a pass.
    SkippedMissing,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unloadable => "unloadable",
            Outcome::Crash => "crash",
            Outcome::Hang => "hang",
            Outcome::BuildError => "build-error",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "xpass",
            Outcome::SkippedMissing => "skipped-missing",
        }
    }

    /// What a manifest may declare.
    pub fn is_expectable(self) -> bool {
        matches!(
            self,
            Outcome::Pass | Outcome::Fail | Outcome::Unloadable | Outcome::Crash | Outcome::Hang | Outcome::BuildError
        )
    }

    /// What actually happened, whatever the manifest said: `xfail` is a
    /// `fail`, `xpass` a `pass`.
    pub fn raw(self) -> Outcome {
        match self {
            Outcome::Xfail => Outcome::Fail,
            Outcome::Xpass => Outcome::Pass,
            other => other,
        }
    }

    /// How good a result is, the one ordering `pyhost port verify` judges a
    /// rewrite by (higher is better), on the raw result:
    ///
    /// pass > fail > unloadable > crash = hang > build-error = skipped-missing
    ///
    /// A module that imports and runs but fails its test is closer to working
    /// than one that cannot be imported; a crash or a hang can take more than
    /// its own cell with it, so they rank lowest of the real results. A cell
    /// with no result at all ranks below every result: a rewrite is never
    /// called harmless on a cell that could not be measured.
    pub fn rank(self) -> u8 {
        match self.raw() {
            Outcome::Pass => 5,
            Outcome::Fail => 4,
            Outcome::Unloadable => 3,
            Outcome::Crash | Outcome::Hang => 2,
            Outcome::BuildError | Outcome::SkippedMissing => 1,
            Outcome::Xfail | Outcome::Xpass => unreachable!("raw() maps them"),
        }
    }
}

/// How a cell changed between two runs (before and after a rewrite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Better,
    Same,
    Worse,
}

/// Compares two results by [`Outcome::rank`].
pub fn change(before: Outcome, after: Outcome) -> Change {
    match after.rank().cmp(&before.rank()) {
        std::cmp::Ordering::Greater => Change::Better,
        std::cmp::Ordering::Equal => Change::Same,
        std::cmp::Ordering::Less => Change::Worse,
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The cell's reported outcome and whether it matches the expectation. A
/// declared failure that fails is `xfail`, one that passes `xpass` (not a
/// match); a missing interpreter never matches, and a build error only
/// where the manifest expects one (a native part that cannot build there;
/// a column whose pyhost did not build is never expected: see
/// `matrix::unmeasured_cell`).
pub fn judge(actual: Outcome, expected: &Expectation) -> (Outcome, bool) {
    match (expected.outcome, actual) {
        (Outcome::Fail, Outcome::Fail) => (Outcome::Xfail, true),
        (Outcome::Fail, Outcome::Pass) => (Outcome::Xpass, false),
        (Outcome::BuildError, Outcome::BuildError) => (actual, true),
        (_, Outcome::SkippedMissing | Outcome::BuildError) => (actual, false),
        (wanted, got) => (got, wanted == got),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(outcome: Outcome) -> Expectation {
        Expectation { outcome, reason: Some("r".into()) }
    }

    #[test]
    fn judging() {
        assert_eq!(judge(Outcome::Pass, &expect(Outcome::Pass)), (Outcome::Pass, true));
        assert_eq!(judge(Outcome::Fail, &expect(Outcome::Fail)), (Outcome::Xfail, true));
        assert_eq!(judge(Outcome::Pass, &expect(Outcome::Fail)), (Outcome::Xpass, false));
        assert_eq!(judge(Outcome::Crash, &expect(Outcome::Crash)), (Outcome::Crash, true));
        assert_eq!(judge(Outcome::Unloadable, &expect(Outcome::Pass)), (Outcome::Unloadable, false));
        assert_eq!(judge(Outcome::Fail, &expect(Outcome::Unloadable)), (Outcome::Fail, false));
        assert_eq!(judge(Outcome::SkippedMissing, &expect(Outcome::Pass)), (Outcome::SkippedMissing, false));
        assert_eq!(judge(Outcome::BuildError, &expect(Outcome::Pass)), (Outcome::BuildError, false));
        assert_eq!(judge(Outcome::BuildError, &expect(Outcome::BuildError)), (Outcome::BuildError, true));
        assert_eq!(judge(Outcome::Pass, &expect(Outcome::BuildError)), (Outcome::Pass, false));
    }

    #[test]
    fn ordering_of_results() {
        use Outcome::*;
        assert_eq!(change(Unloadable, Pass), Change::Better);
        assert_eq!(change(Pass, Fail), Change::Worse);
        assert_eq!(change(Fail, Unloadable), Change::Worse);
        assert_eq!(change(Unloadable, Crash), Change::Worse);
        assert_eq!(change(Crash, Hang), Change::Same);
        assert_eq!(change(Hang, Fail), Change::Better);
        // xfail and xpass count as what happened, not as what was declared.
        assert_eq!(change(Xfail, Fail), Change::Same);
        assert_eq!(change(Xfail, Xpass), Change::Better);
        assert_eq!(change(Pass, Xfail), Change::Worse);
        // No result is never as good as a result.
        assert_eq!(change(Hang, BuildError), Change::Worse);
        assert_eq!(change(SkippedMissing, SkippedMissing), Change::Same);
    }
}
