//! Nightly state: what one run leaves for the next, so journeys spanning several nightly inputs come out as if
//! all the data had come at once.
//!
//! Contract: the state folder holds one file, `journey_state.jsonl`: a header line (format, version, the horizon
//! = the latest timestamp seen so far) and one line per customer that still matters (open journeys, messages
//! waiting for a reply, contact reasons within the repeat window). [`load`] reads it (a missing folder or file is
//! a first run: empty state); a damaged file fails with its line. [`stage`] writes the next state beside it,
//! committed with the run's outputs, last, so a crash never leaves a state that is ahead of the outputs.
//! Memory is bounded by the open journeys, not by the interactions ever seen.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::linker::CustomerState;
use crate::error::{Error, IoContext, Location, Result};
use crate::output::{StagedFile, StagedWriter};

pub const STATE_FILE: &str = "journey_state.jsonl";
const FORMAT: &str = "touchpoint-journey-state";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    /// The latest interaction timestamp of all runs so far (UTC microseconds).
    horizon: Option<i64>,
    customers: u64,
    written_by: String,
    written_at: String,
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
    if header.format != FORMAT || header.version != VERSION {
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
    for (index, line) in lines.enumerate() {
        let number = index as u64 + 2;
        let line = line.at(&path)?;
        if line.trim().is_empty() {
            continue;
        }
        let customer: CustomerState = serde_json::from_str(&line)
            .map_err(|e| damaged(number, format!("not a customer's journey state: {e}")))?;
        state
            .customers
            .insert(customer.customer_id.clone(), customer);
    }
    if state.customers.len() as u64 != header.customers {
        return Err(damaged(
            1,
            format!(
                "the header announces {} customers, the file has {} (truncated?)",
                header.customers,
                state.customers.len()
            ),
        ));
    }
    Ok(state)
}

/// Writes the next state into `folder`, staged; customers in id order so the file is reproducible.
pub fn stage(
    folder: &Path,
    horizon: Option<i64>,
    mut customers: Vec<CustomerState>,
) -> Result<StagedFile> {
    customers.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    let mut writer = StagedWriter::create(&folder.join(STATE_FILE))?;
    let path = writer.final_path().to_path_buf();
    let header = Header {
        format: FORMAT.to_string(),
        version: VERSION,
        horizon,
        customers: customers.len() as u64,
        written_by: format!("touchpoint {}", crate::VERSION),
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let out = writer.writer();
    write_line(out, &header, &path)?;
    for customer in &customers {
        write_line(out, customer, &path)?;
    }
    writer.finish(customers.len() as u64)
}

fn write_line(out: &mut impl Write, value: &impl Serialize, path: &Path) -> Result<()> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    out.write_all(b"\n").at(path)
}
