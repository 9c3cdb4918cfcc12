//! Speaker-labelled plain text, one call per file.
//!
//! Contract: a line `Agent: text` (any label of `lines::speaker_prefix`) starts a turn; it may be preceded by
//! a clock time in brackets, `[00:01:05] Klant: text`, which becomes the turn's start (there is no end time in
//! this format, so call metrics stay null). Other non-blank lines continue the current turn (joined by a
//! space); lines before the first label form a turn without speaker (role `other`), so nothing is lost. A file
//! without any speaker-labelled line is rejected (row 1).

use super::lines::{clock, speaker_prefix};
use super::roles::RoleMap;
use super::{Parsed, RawConversation, RawTurn, Rejected};

pub(crate) fn parse(text: &str, roles: &RoleMap) -> Parsed {
    let mut turns: Vec<RawTurn> = Vec::new();
    let mut labelled = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (start, rest) = leading_clock(line);
        if let Some((label, said)) = speaker_prefix(rest, roles) {
            labelled = true;
            turns.push(RawTurn {
                speaker: Some(label.to_string()),
                start,
                end: None,
                text: said.to_string(),
            });
        } else if let Some(turn) = turns.last_mut() {
            if !turn.text.is_empty() {
                turn.text.push(' ');
            }
            turn.text.push_str(line);
        } else {
            turns.push(RawTurn {
                speaker: None,
                start: None,
                end: None,
                text: line.to_string(),
            });
        }
    }
    if !labelled {
        return Err(Rejected {
            row: 1,
            column: None,
            reason: "no speaker-labelled lines (such as `Agent:` or `Klant:`)".into(),
            record: text.to_string(),
        });
    }
    Ok(RawConversation {
        turns,
        row: 1,
        record: text.to_string(),
        ..RawConversation::default()
    })
}

/// `[00:01:05] rest` -> (Some(65.0), "rest"); anything else is returned whole.
fn leading_clock(line: &str) -> (Option<f64>, &str) {
    let parsed = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(time, rest)| clock(time).map(|seconds| (seconds, rest.trim_start())));
    match parsed {
        Some((seconds, rest)) => (Some(seconds), rest),
        None => (None, line),
    }
}
