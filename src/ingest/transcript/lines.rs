//! Line-level pieces shared by the text formats: clock times and speaker prefixes.
//!
//! Contract:
//! - `clock` reads `hh:mm:ss`, `mm:ss`, each optionally with a fraction after `.` or `,` (`00:01:02,500`), as
//!   seconds; anything else is `None`.
//! - `speaker_prefix` splits `Agent: text`, `[Agent] text` and `- Klant: text` into label and text when the
//!   label reads as a speaker (`RoleMap::is_speaker_label`), so that a sentence with a colon is not taken for
//!   a label.

use super::roles::RoleMap;

/// Labels longer than this are sentences, not speakers.
const MAX_LABEL_CHARS: usize = 40;

pub(crate) fn clock(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [hours, minutes, seconds] => (*hours, *minutes, *seconds),
        [minutes, seconds] => ("0", *minutes, *seconds),
        _ => return None,
    };
    let whole = |part: &str| {
        (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let (whole_seconds, fraction) = match seconds.split_once(['.', ',']) {
        Some((whole_part, fraction)) => (whole_part, fraction),
        None => (seconds, "0"),
    };
    let fraction: f64 = whole(fraction)
        .map(|_| format!("0.{fraction}"))
        .and_then(|f| f.parse().ok())?;
    let total = f64::from(whole(hours)?) * 3600.0
        + f64::from(whole(minutes)?) * 60.0
        + f64::from(whole(whole_seconds)?)
        + fraction;
    Some(total)
}

pub(crate) fn speaker_prefix<'a>(line: &'a str, roles: &RoleMap) -> Option<(&'a str, &'a str)> {
    let line = line.trim_start();
    let line = line.strip_prefix("- ").unwrap_or(line);
    let (label, text) = if let Some(bracketed) = line.strip_prefix('[') {
        bracketed.split_once(']')?
    } else {
        line.split_once(':')?
    };
    let label = label.trim();
    let plausible = !label.is_empty() && label.chars().count() <= MAX_LABEL_CHARS;
    (plausible && roles.is_speaker_label(label)).then(|| (label, text.trim()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn clock_times() {
        assert_eq!(clock("00:01:02.500"), Some(62.5));
        assert_eq!(clock("01:02,25"), Some(62.25));
        assert_eq!(clock("1:00:00"), Some(3600.0));
        assert_eq!(clock("1:xx"), None);
        assert_eq!(clock("12"), None);
    }

    #[test]
    fn speaker_prefixes() {
        let roles = RoleMap::new(&HashMap::new());
        assert_eq!(
            speaker_prefix("Klant: Hallo", &roles),
            Some(("Klant", "Hallo"))
        );
        assert_eq!(
            speaker_prefix("[Agent] Goedemiddag", &roles),
            Some(("Agent", "Goedemiddag"))
        );
        assert_eq!(
            speaker_prefix("- Customer: hi", &roles),
            Some(("Customer", "hi"))
        );
        assert_eq!(speaker_prefix("Ik bel over: mijn factuur", &roles), None);
        assert_eq!(speaker_prefix("[00:01] hallo", &roles), None);
    }
}
