//! Nightly state: what one run leaves for the next, so journeys spanning several nightly inputs come out as if
//! all the data had come at once.
//!
//! Contract: the state folder holds one file, `journey_state.jsonl`: a header line (format, version, the horizon
//! = the latest timestamp seen so far), one line per customer that still matters (open journeys, messages
//! waiting for a reply, contact reasons within the repeat window) and a closing line with the number of
//! customers, so a truncated file is caught. [`load`] reads it (a missing folder or file is a first run: empty
//! state; version 1 files, which announced the count in the header, still load); a damaged file fails with its
//! line. [`StateWriter`] streams the next state beside it as customers are linked, so writing it holds no
//! customer in memory; it is committed with the run's outputs, last, so a crash never leaves a state that is
//! ahead of the outputs. Reading holds the saved customers: memory is bounded by the open journeys, not by the
//! interactions ever seen.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::linker::CustomerState;
use crate::error::{Error, IoContext, Location, Result};
use crate::output::{StagedFile, StagedWriter};

pub const STATE_FILE: &str = "journey_state.jsonl";
const FORMAT: &str = "touchpoint-journey-state";
const VERSION: u32 = 2;
/// Version 1 announced the number of customers in the header instead of a closing line.
const VERSION_COUNT_IN_HEADER: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    /// The latest interaction timestamp of all runs so far (UTC microseconds).
    horizon: Option<i64>,
    /// Version 1 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customers: Option<u64>,
    written_by: String,
    written_at: String,
}

/// The last line of a version 2 file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Closing {
    end: bool,
    customers: u64,
}

/// The state a run starts from.
#[derive(Debug, Clone, Default)]
pub struct SavedState {
    pub horizon: Option<i64>,
    pub customers: HashMap<String, CustomerState>,
}

impl SavedState {
    pub fn open_journeys(&self) -> usize {
        self.customers.values().map(|c| c.open.len()).sum()
    }
}

/// Reads the state in `folder`; empty when the folder or its state file does not exist yet.
pub fn load(folder: &Path) -> Result<SavedState> {
    let path = folder.join(STATE_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SavedState::default()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let damaged =
        |line: u64, message: String| Error::input(Location::file(&path).row(line), message);
    let mut lines = BufReader::new(file).lines();
    let header: Header = match lines.next() {
        None => return Err(damaged(1, "the state file is empty".to_string())),
        Some(line) => serde_json::from_str(&line.at(&path)?)
            .map_err(|e| damaged(1, format!("not a journey state header: {e}")))?,
    };
    if header.format != FORMAT
        || !(header.version == VERSION || header.version == VERSION_COUNT_IN_HEADER)
    {
        return Err(damaged(
            1,
            format!(
                "state format {} version {} is not {FORMAT} version {VERSION}",
                header.format, header.version
            ),
        ));
    }
    let mut state = SavedState {
        horizon: header.horizon,
        customers: HashMap::new(),
    };
    // (line number, count) of the closing line, for version 2.
    let mut closing: Option<(u64, u64)> = None;
    for (index, line) in lines.enumerate() {
        let number = index as u64 + 2;
        let line = line.at(&path)?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some((closed_at, _)) = closing {
            return Err(damaged(
                number,
                format!("a line after the closing line {closed_at}"),
            ));
        }
        if header.version == VERSION {
            if let Ok(end) = serde_json::from_str::<Closing>(&line) {
                closing = Some((number, end.customers));
                continue;
            }
        }
        let customer: CustomerState = serde_json::from_str(&line)
            .map_err(|e| damaged(number, format!("not a customer's journey state: {e}")))?;
        state
            .customers
            .insert(customer.customer_id.clone(), customer);
    }
    let (announced, line) = match (header.version, header.customers, closing) {
        (VERSION_COUNT_IN_HEADER, Some(count), _) => (count, 1),
        (VERSION, _, Some((line, count))) => (count, line),
        (VERSION, _, None) => {
            return Err(damaged(
                1,
                "the file ends without its closing line (truncated?)".to_string(),
            ))
        }
        _ => {
            return Err(damaged(
                1,
                "a version 1 header without its customer count".to_string(),
            ))
        }
    };
    if state.customers.len() as u64 != announced {
        return Err(damaged(
            line,
            format!(
                "{announced} customers announced, the file has {} (truncated?)",
                state.customers.len()
            ),
        ));
    }
    Ok(state)
}

/// Writes the next state into a folder, staged, one customer at a time: in the order the run links them, which
/// is the same for the same input and settings, so the file is reproducible.
pub struct StateWriter {
    writer: StagedWriter,
    /// The final path, for errors.
    path: PathBuf,
    customers: u64,
}

impl StateWriter {
    /// Opens the staged file and writes the header; `horizon` is the latest timestamp of all runs so far.
    pub fn create(folder: &Path, horizon: Option<i64>) -> Result<StateWriter> {
        let mut writer = StagedWriter::create(&folder.join(STATE_FILE))?;
        let path = writer.final_path().to_path_buf();
        let header = Header {
            format: FORMAT.to_string(),
            version: VERSION,
            horizon,
            customers: None,
            written_by: format!("touchpoint {}", crate::VERSION),
            written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        write_line(writer.writer(), &header, &path)?;
        Ok(StateWriter {
            writer,
            path,
            customers: 0,
        })
    }

    pub fn add(&mut self, customer: &CustomerState) -> Result<()> {
        write_line(self.writer.writer(), customer, &self.path)?;
        self.customers += 1;
        Ok(())
    }

    /// Writes the closing line and stages the file.
    pub fn finish(mut self) -> Result<StagedFile> {
        let closing = Closing {
            end: true,
            customers: self.customers,
        };
        write_line(self.writer.writer(), &closing, &self.path)?;
        self.writer.finish(self.customers)
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize, path: &Path) -> Result<()> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    out.write_all(b"\n").at(path)
}
