//! WebVTT and SRT subtitles of a call, one call per file.
//!
//! Contract:
//! - Both are blocks separated by blank lines. A cue is an optional identifier (SRT: its number), a timing
//!   line `start --> end` (`hh:mm:ss.mmm`; SRT writes `,` before the milliseconds; hours may be left out) and
//!   payload lines. WebVTT must start with `WEBVTT`; its header block and `NOTE`, `STYLE` and `REGION` blocks
//!   are skipped.
//! - Speakers: a voice tag `<v Agent>` (also `<v.loud Agent>`) or a speaker prefix (`Agent:`, `[Klant]`, see
//!   `lines::speaker_prefix`) at the start of a payload line. A line with a new speaker starts a new turn
//!   with the cue's times; other lines continue the turn; a cue without any speaker continues the previous
//!   cue's speaker. Other tags (`<i>`, `<c.x>`, timestamps) are dropped and the common entities decoded.
//! - Rejected (the row is the line at fault): a WebVTT file without the `WEBVTT` line, a cue without a valid
//!   timing line, a file without cues.

use super::lines::{clock, speaker_prefix};
use super::roles::RoleMap;
use super::{Parsed, RawConversation, RawTurn, Rejected};

/// A block of non-blank lines and the 1-based line number of its first line.
struct Block<'a> {
    first_line: u64,
    lines: Vec<&'a str>,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    WebVtt,
    Srt,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::WebVtt => "WebVTT",
            Format::Srt => "SRT",
        }
    }
}

pub(crate) fn parse_vtt(text: &str, roles: &RoleMap) -> Parsed {
    let starts_right = text.lines().next().is_some_and(|line| {
        line == "WEBVTT" || line.starts_with("WEBVTT ") || line.starts_with("WEBVTT\t")
    });
    if !starts_right {
        return Err(invalid(
            text,
            1,
            "not WebVTT: the first line is not `WEBVTT`",
        ));
    }
    let cues = blocks(text).into_iter().skip(1).filter(|block| {
        !block.lines.first().is_some_and(|line| {
            ["NOTE", "STYLE", "REGION"]
                .iter()
                .any(|kind| line.starts_with(kind))
        })
    });
    parse_cues(text, cues, Format::WebVtt, roles)
}

pub(crate) fn parse_srt(text: &str, roles: &RoleMap) -> Parsed {
    parse_cues(text, blocks(text).into_iter(), Format::Srt, roles)
}

fn parse_cues<'a>(
    text: &str,
    cues: impl Iterator<Item = Block<'a>>,
    format: Format,
    roles: &RoleMap,
) -> Parsed {
    let mut turns: Vec<RawTurn> = Vec::new();
    let mut cue_count = 0;
    for cue in cues {
        let timing_at = cue
            .lines
            .iter()
            .take(2)
            .position(|line| line.contains("-->"));
        let identifier_ok = match (format, cue.lines.first()) {
            (Format::Srt, Some(first)) if timing_at == Some(1) => {
                first.trim().parse::<u64>().is_ok()
            }
            _ => true,
        };
        let (Some(timing_at), true) = (timing_at, identifier_ok) else {
            let reason = format!(
                "not valid {}: line {}: a cue without a timing line (`00:00:01{}000 --> 00:00:02{}000`)",
                format.name(),
                cue.first_line,
                if format == Format::Srt { ',' } else { '.' },
                if format == Format::Srt { ',' } else { '.' },
            );
            return Err(invalid(text, cue.first_line, &reason));
        };
        let timing_line = cue.first_line + timing_at as u64;
        let Some((start, end)) = cue.lines.get(timing_at).and_then(|line| timing(line)) else {
            let reason = format!(
                "not valid {}: line {timing_line}: invalid cue timing",
                format.name()
            );
            return Err(invalid(text, timing_line, &reason));
        };
        cue_count += 1;
        let mut cue_has_turn = false;
        for line in cue.lines.iter().skip(timing_at + 1) {
            let (speaker, said) = match voice(line) {
                Some((name, rest)) => (Some(name.to_string()), strip_tags(rest)),
                None => {
                    let plain = strip_tags(line);
                    match speaker_prefix(&plain, roles) {
                        Some((label, said)) => (Some(label.to_string()), said.to_string()),
                        None => (None, plain),
                    }
                }
            };
            let continues = match (&speaker, turns.last()) {
                (None, Some(_)) => cue_has_turn,
                (Some(speaker), Some(last)) => {
                    cue_has_turn && last.speaker.as_ref() == Some(speaker)
                }
                (_, None) => false,
            };
            match turns.last_mut() {
                Some(last) if continues => {
                    if !said.is_empty() {
                        if !last.text.is_empty() {
                            last.text.push(' ');
                        }
                        last.text.push_str(&said);
                    }
                }
                _ => {
                    cue_has_turn = true;
                    turns.push(RawTurn {
                        speaker,
                        start: Some(start),
                        end: Some(end),
                        text: said,
                    });
                }
            }
        }
    }
    if cue_count == 0 {
        return Err(invalid(
            text,
            1,
            &format!("not valid {}: no cues", format.name()),
        ));
    }
    turns.retain(|turn| !turn.text.trim().is_empty() || turn.speaker.is_some());
    Ok(RawConversation {
        turns,
        row: 1,
        record: text.to_string(),
        ..RawConversation::default()
    })
}

fn invalid(text: &str, row: u64, reason: &str) -> Rejected {
    Rejected {
        row,
        column: None,
        reason: reason.to_string(),
        record: text.to_string(),
    }
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks: Vec<Block<'_>> = Vec::new();
    let mut current: Option<Block<'_>> = None;
    for (line, number) in text.lines().zip(1..) {
        if line.trim().is_empty() {
            blocks.extend(current.take());
        } else {
            current
                .get_or_insert_with(|| Block {
                    first_line: number,
                    lines: Vec::new(),
                })
                .lines
                .push(line);
        }
    }
    blocks.extend(current);
    blocks
}

/// `00:00:01.000 --> 00:00:04.000 align:start` -> (1.0, 4.0).
fn timing(line: &str) -> Option<(f64, f64)> {
    let (start, rest) = line.split_once("-->")?;
    let end = rest.split_whitespace().next()?;
    Some((clock(start.trim())?, clock(end)?))
}

/// `<v Agent Sanne>text` or `<v.loud Agent>text` -> ("Agent Sanne", "text").
fn voice(line: &str) -> Option<(&str, &str)> {
    let tag = line.trim_start().strip_prefix("<v")?;
    if !tag.starts_with([' ', '.']) {
        return None;
    }
    let (inside, rest) = tag.split_once('>')?;
    let (_, name) = inside
        .trim_start_matches('.')
        .split_once(' ')
        .unwrap_or(("", inside));
    let name = name.trim();
    (!name.is_empty()).then_some((name, rest))
}

fn strip_tags(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&lrm;", "")
        .replace("&rlm;", "")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_and_tags() {
        assert_eq!(
            voice("<v Agent Sanne>Goedemiddag"),
            Some(("Agent Sanne", "Goedemiddag"))
        );
        assert_eq!(
            voice("<v.loud Klant>Hallo</v>"),
            Some(("Klant", "Hallo</v>"))
        );
        assert_eq!(voice("<i>geen stem</i>"), None);
        assert_eq!(strip_tags("<i>Ja</i> &amp; nee"), "Ja & nee");
        assert_eq!(timing("00:01.000 --> 00:02.500 line:0"), Some((1.0, 2.5)));
    }
}
