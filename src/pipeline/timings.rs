//! Where an `enrich` run spends its time: wall-clock seconds per stage, summed over the run's batches.
//!
//! Contract: the stages are disjoint and run one after the other in the runner, so their sum is the run's
//! elapsed time less what no stage claims (progress reporting, bookkeeping). `load` covers the model, the
//! pipeline and the zero-shot anchors; `read` ingest (parsing, mapping, rejects); `prepare` language detection,
//! text cleaning and redaction; `tokenise` and `encode` the encoder's two halves; `heads` contact reasons;
//! `link` journey linking (0 until the runner links); `write` Parquet output and the final commit.

use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One stage of an `enrich` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Load,
    Read,
    Prepare,
    Tokenise,
    Encode,
    Heads,
    Link,
    Write,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Load,
        Stage::Read,
        Stage::Prepare,
        Stage::Tokenise,
        Stage::Encode,
        Stage::Heads,
        Stage::Link,
        Stage::Write,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Read => "read",
            Stage::Prepare => "prepare",
            Stage::Tokenise => "tokenise",
            Stage::Encode => "encode",
            Stage::Heads => "heads",
            Stage::Link => "link",
            Stage::Write => "write",
        }
    }
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageTimings {
    seconds: [f64; Stage::ALL.len()],
}

impl StageTimings {
    pub fn add(&mut self, stage: Stage, elapsed: Duration) {
        self.seconds[stage as usize] += elapsed.as_secs_f64();
    }

    /// Runs `f`, counting its wall-clock time to `stage`.
    pub fn time<T>(&mut self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = f();
        self.add(stage, started.elapsed());
        value
    }

    pub fn seconds(&self, stage: Stage) -> f64 {
        self.seconds[stage as usize]
    }

    /// The sum over all stages.
    pub fn total(&self) -> f64 {
        self.seconds.iter().sum()
    }
}

/// A map from stage name to seconds, in pipeline order.
impl Serialize for StageTimings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Stage::ALL.len()))?;
        for stage in Stage::ALL {
            map.serialize_entry(stage.name(), &self.seconds(stage))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_add_up_and_serialise_in_order() {
        let mut t = StageTimings::default();
        t.add(Stage::Encode, Duration::from_millis(1500));
        t.add(Stage::Encode, Duration::from_millis(500));
        assert_eq!(t.time(Stage::Read, || 7), 7);
        assert_eq!(t.seconds(Stage::Encode), 2.0);
        assert_eq!(t.seconds(Stage::Link), 0.0);
        assert!(t.total() >= 2.0);
        let json = serde_json::to_string(&t).unwrap();
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        let positions: Vec<usize> = names.iter().map(|n| json.find(n).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    }
}
