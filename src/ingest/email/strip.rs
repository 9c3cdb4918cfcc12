//! Stripping an e-mail body down to what its author wrote in this message.
//!
//! Contract: `strip_quoted` is a pure function of the body text. It removes, in Dutch, English, German and
//! French:
//! - quoted lines (`>`, `|` and initials quoting such as `BM>`, also interleaved with new text: the new text
//!   between quotes is kept), quoted lines the client wrapped, and the line that introduces a quote
//!   ("On ... wrote:", "Op ... schreef ...:", "X writes:", any short line ending in a colon right above it,
//!   an Outlook header block above a bottom-posted reply);
//! - quoted history that is not `>`-quoted, from its first line to the end: a dated attribution
//!   ("Op ma 3 jan. 2022 om 10:00 schreef ...:") followed by unquoted text (at the top of the body, where
//!   it introduces a reply in an unknown quoting style, only the attribution goes), separators such as
//!   "-----Original Message-----" / "-----Oorspronkelijk bericht-----" / "Begin forwarded message:", and
//!   Outlook header blocks ("Van: ... / Verzonden: ...", "From: ... / Sent: ...");
//! - signatures: the "-- " delimiter and everything after it, PGP signature armour, mobile footers
//!   ("Verzonden vanaf mijn iPhone", "Sent from my iPhone");
//! - closings, disclaimers and mailing-list or free-mail footers near the end ("Met vriendelijke groet",
//!   "Kind regards", "Dit e-mailbericht is uitsluitend bestemd voor ..."), with the name and contact lines
//!   after them. A closing only counts when little text follows it, so that a greeting in the middle of a
//!   message does not cut it short.
//!
//! Blank lines are collapsed and the result is trimmed. The result borrows from the body when only a tail was
//! cut, and is owned when lines in the middle were removed. It may be empty (a bare forward or a reply that
//! only quotes); the caller decides what to do then.

use std::borrow::Cow;

/// At most this many lines of text may follow a closing or disclaimer for it to count as the end of the
/// message: a name, a job title, a phone number, an address.
const MAX_LINES_AFTER_CLOSING: usize = 12;

/// Lines after a disclaimer's first line: disclaimers run long, but the text after them is still boilerplate.
const MAX_LINES_AFTER_DISCLAIMER: usize = 25;

/// Header names that open a forwarded or quoted Outlook-style header block ("Van: ... Verzonden: ...").
const BLOCK_FROM: [&str; 5] = ["from", "van", "von", "de", "afzender"];

/// Header names that follow the sender line in such a block.
const BLOCK_NEXT: [&str; 15] = [
    "sent",
    "date",
    "to",
    "subject",
    "cc",
    "verzonden",
    "datum",
    "aan",
    "onderwerp",
    "gesendet",
    "an",
    "betreff",
    "envoyé",
    "objet",
    "à",
];

/// Separator words (lower case, letters only) that open forwarded or original-message history.
const HISTORY_SEPARATORS: [&str; 13] = [
    "originalmessage",
    "oorspronkelijkbericht",
    "origineelbericht",
    "forwardedmessage",
    "doorgestuurdbericht",
    "beginforwardedmessage",
    "begindoorgestuurdbericht",
    "ursprünglichenachricht",
    "weitergeleitetenachricht",
    "messagedorigine",
    "messagetransféré",
    "forwardedby",
    "forwardedtext",
];

/// Endings of attribution lines, compared after lower-casing and removing spaces before the colon.
const ATTRIBUTION_ENDINGS: [&str; 9] = [
    "wrote:",
    "writes:",
    "said:",
    "schreef:",
    "geschreven:",
    "schrieb:",
    "écrit:",
    "mentioned:",
    "het volgende:",
];

/// Words that open a dated attribution ("On <date>, <name> wrote:").
const ATTRIBUTION_OPENERS: [&str; 5] = ["on ", "op ", "am ", "le ", "quoting "];

/// Mobile and mail-client footers; the line starts with one of these (lower case).
const CLIENT_FOOTERS: [&str; 12] = [
    "sent from my ",
    "sent from mail for",
    "sent from outlook",
    "get outlook for",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "verzonden vanuit ",
    "verzonden met ",
    "outlook voor ios",
    "outlook voor android",
    "von meinem iphone gesendet",
    "envoyé de mon ",
];

/// Closings (lower case); the line must start with one and be short.
const CLOSINGS: [&str; 34] = [
    "met vriendelijke groeten",
    "met vriendelijke groet",
    "vriendelijke groeten",
    "vriendelijke groet",
    "met hartelijke groeten",
    "met hartelijke groet",
    "hartelijke groeten",
    "hartelijke groet",
    "met groet",
    "groeten",
    "groetjes",
    "groet",
    "mvg",
    "m.v.g",
    "kind regards",
    "kindest regards",
    "best regards",
    "warm regards",
    "warmest regards",
    "with kind regards",
    "with best regards",
    "many thanks and regards",
    "thanks and regards",
    "regards",
    "best wishes",
    "cheers",
    "yours sincerely",
    "sincerely",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "viele grüße",
    "cordialement",
    "bien à vous",
    "salutations",
];

/// Phrases (lower case) that mark a legal disclaimer.
const DISCLAIMER_PHRASES: [&str; 12] = [
    "disclaimer",
    "this e-mail and any attachments",
    "this email and any attachments",
    "this message and any attachments",
    "this e-mail is intended",
    "this email is intended",
    "this message is intended",
    "the information contained in this",
    "uitsluitend bestemd voor de geadresseerde",
    "dit e-mailbericht is uitsluitend bestemd",
    "de informatie verzonden met dit e-mailbericht",
    "aan dit bericht kunnen geen rechten worden ontleend",
];

/// Phrases (lower case) of mailing-list footers, on the separator line or the one after it.
const LIST_FOOTER_PHRASES: [&str; 7] = [
    "mailing list",
    "sponsored by",
    "unsubscribe",
    "listinfo",
    "groups sponsor",
    "list archive",
    "list-",
];

/// What a line contributes to the stripped body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Keep {
    Yes,
    /// Removed, but text after it is kept (a quoted line, an attribution before a quote).
    Drop,
}

/// The body's lines with the byte offset where each starts, so a cut can borrow from the body.
struct Lines<'a> {
    text: Vec<&'a str>,
    start: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn split(body: &'a str) -> Lines<'a> {
        let mut text = Vec::new();
        let mut start = Vec::new();
        let mut offset = 0;
        for line in body.split_inclusive('\n') {
            start.push(offset);
            offset += line.len();
            text.push(line.trim_end_matches(['\n', '\r']));
        }
        Lines { text, start }
    }

    fn get(&self, index: usize) -> &'a str {
        self.text.get(index).copied().unwrap_or("")
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// The index of the first non-blank line after `index`, if any.
    fn next_non_blank(&self, index: usize) -> Option<usize> {
        (index + 1..self.len()).find(|&i| !self.get(i).trim().is_empty())
    }
}

/// The part of `body` its author wrote in this message; see the module contract.
pub fn strip_quoted(body: &str) -> Cow<'_, str> {
    let lines = Lines::split(body);
    let mut keep = vec![Keep::Yes; lines.len()];
    drop_pgp_header(&lines, &mut keep);

    let mut end = lines.len();
    let mut index = 0;
    while index < end {
        let line = lines.get(index);
        if is_quoted(line) || is_wrapped_quote(&lines, index) || introduces_quote(&lines, index) {
            mark(&mut keep, index, Keep::Drop);
        } else if let Some(last) = attribution_end(&lines, index) {
            let quote_follows = lines
                .next_non_blank(last)
                .is_some_and(|next| is_quoted(lines.get(next)));
            if quote_follows {
                for i in index..=last {
                    mark(&mut keep, i, Keep::Drop);
                }
                index = last;
            } else if is_dated_attribution(line) {
                // Above the author's text it introduces a reply in a quoting style we do not know
                // ("--]", "#"): keep that text. Below it, it starts unquoted history (top-posting).
                let text_before = (0..index)
                    .any(|i| keep.get(i) == Some(&Keep::Yes) && !lines.get(i).trim().is_empty());
                if text_before {
                    end = index;
                } else {
                    for i in index..=last {
                        mark(&mut keep, i, Keep::Drop);
                    }
                    index = last;
                }
            }
        } else if starts_history(&lines, index) {
            // Outlook puts its header block above bottom-posted, interleaved replies too: when quoted lines
            // follow the block, it introduces a quote like an attribution does.
            let last = header_block_end(&lines, index);
            let quote_follows = lines
                .next_non_blank(last)
                .is_some_and(|next| is_quoted(lines.get(next)));
            let first = header_block_start(&lines, index);
            if quote_follows {
                for i in first..=last {
                    mark(&mut keep, i, Keep::Drop);
                }
                index = last;
            } else {
                end = first;
            }
        } else if starts_signature(&lines, index) {
            end = index;
        }
        index += 1;
    }
    end = end.min(tail_start(&lines, &keep, end));
    render(body, &lines, &keep, end)
}

fn mark(keep: &mut [Keep], index: usize, value: Keep) {
    if let Some(slot) = keep.get_mut(index) {
        *slot = value;
    }
}

/// `> text`, `| text`, and the initials quoting of some clients (`BM> text`).
fn is_quoted(line: &str) -> bool {
    let trimmed = line.trim_start();
    let initials = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if initials == 0 && trimmed.starts_with('|') {
        return true;
    }
    trimmed
        .get(initials..)
        .is_some_and(|rest| rest.starts_with('>'))
        && (initials == 0
            || (initials <= 4 && trimmed.starts_with(|c: char| c.is_ascii_uppercase())))
}

fn lower(line: &str) -> String {
    line.trim().to_lowercase()
}

/// A PGP-signed body starts with armour and `Hash:` lines that are not text.
fn drop_pgp_header(lines: &Lines, keep: &mut [Keep]) {
    let Some(first) = (0..lines.len()).find(|&i| !lines.get(i).trim().is_empty()) else {
        return;
    };
    if lines.get(first).trim() != "-----BEGIN PGP SIGNED MESSAGE-----" {
        return;
    }
    mark(keep, first, Keep::Drop);
    let mut index = first + 1;
    while index < lines.len() && lines.get(index).starts_with("Hash:") {
        mark(keep, index, Keep::Drop);
        index += 1;
    }
}

/// A quoted line that the sender's client wrapped: a few lower-case words between two quoted lines, the
/// first of them long. A real one-line answer between quotes starts with a capital.
fn is_wrapped_quote(lines: &Lines, index: usize) -> bool {
    let Some(above) = index.checked_sub(1) else {
        return false;
    };
    let (previous, line) = (lines.get(above), lines.get(index).trim());
    is_quoted(previous)
        && previous.len() >= 60
        && is_quoted(lines.get(index + 1))
        && line.starts_with(|c: char| c.is_lowercase())
        && line.split_whitespace().count() <= 3
}

/// "Mark joked:", "You asked:": a short line ending in a colon right above a quote.
fn introduces_quote(lines: &Lines, index: usize) -> bool {
    let line = lines.get(index).trim_end();
    line.ends_with(':') && line.len() <= 100 && is_quoted(lines.get(index + 1))
}

/// If an attribution starts at `index`, the index of its last line (attributions wrap onto a second line
/// when the name is long).
fn attribution_end(lines: &Lines, index: usize) -> Option<usize> {
    let line = lines.get(index);
    if is_attribution_ending(line) {
        return Some(index);
    }
    let lowered = lower(line);
    let opens = ATTRIBUTION_OPENERS.iter().any(|o| lowered.starts_with(o));
    let next = lines.get(index + 1);
    (opens && !next.trim().is_empty() && !is_quoted(next) && is_attribution_ending(next))
        .then_some(index + 1)
}

fn is_attribution_ending(line: &str) -> bool {
    // Long lines ending in "said:" are prose, not an attribution.
    if line.trim().is_empty() || line.len() > 200 {
        return false;
    }
    let compact = lower(line).replace(" :", ":");
    ATTRIBUTION_ENDINGS
        .iter()
        .any(|ending| compact.ends_with(ending))
}

/// "On 3 Jan 2022, X wrote:" rather than "X wrote:": specific enough to cut unquoted history after it.
fn is_dated_attribution(line: &str) -> bool {
    let lowered = lower(line);
    ATTRIBUTION_OPENERS.iter().any(|o| lowered.starts_with(o))
        && lowered.chars().any(|c| c.is_ascii_digit())
}

/// Forwarded or original-message history starts here.
fn starts_history(lines: &Lines, index: usize) -> bool {
    let line = lines.get(index);
    is_history_separator(line) || starts_header_block(lines, index)
}

/// Header blocks do not always open with the sender ("Date: ... / From: ..."): the first of the header
/// lines directly above `index`.
fn header_block_start(lines: &Lines, index: usize) -> usize {
    let mut first = index;
    while let Some(above) = first.checked_sub(1) {
        let is_header =
            header_name(lines.get(above)).is_some_and(|n| BLOCK_NEXT.contains(&n.as_str()));
        if !is_header {
            break;
        }
        first = above;
    }
    first
}

/// The last line of the separator and "Name: value" header lines (with wrapped values) starting at `index`.
fn header_block_end(lines: &Lines, index: usize) -> usize {
    let mut last = index;
    let mut seen_header = false;
    for i in index + 1..lines.len() {
        let line = lines.get(i);
        if line.trim().is_empty() {
            if seen_header {
                break;
            }
            continue;
        }
        if is_quoted(line) {
            break;
        }
        let wrapped = seen_header && line.starts_with([' ', '\t']);
        if header_name(line).is_none() && !wrapped {
            break;
        }
        seen_header = true;
        last = i;
    }
    last
}

fn is_history_separator(line: &str) -> bool {
    let trimmed = line.trim();
    if trimmed.len() > 80 {
        return false;
    }
    let letters: String = trimmed
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    let decorated = trimmed.starts_with('-') || trimmed.starts_with('=') || trimmed.ends_with(':');
    decorated
        && HISTORY_SEPARATORS
            .iter()
            .any(|separator| letters.starts_with(separator) || letters.contains(separator))
}

/// The header name of a "Name: value" line, lower case, without the bold markers HTML conversion leaves.
fn header_name(line: &str) -> Option<String> {
    let trimmed = line.trim().trim_start_matches('*');
    let (name, _) = trimmed.split_once(':')?;
    let name = name.trim().trim_end_matches('*').trim().to_lowercase();
    (!name.is_empty() && name.len() <= 12).then_some(name)
}

/// "Van: X" followed within a few lines by "Verzonden:", "Aan:", "Onderwerp:" and the like.
fn starts_header_block(lines: &Lines, index: usize) -> bool {
    let is_from = header_name(lines.get(index)).is_some_and(|n| BLOCK_FROM.contains(&n.as_str()));
    if !is_from {
        return false;
    }
    (index + 1..lines.len().min(index + 5))
        .filter_map(|i| header_name(lines.get(i)))
        .any(|name| BLOCK_NEXT.contains(&name.as_str()))
}

/// Signature delimiters and footers after which nothing is the author's text.
fn starts_signature(lines: &Lines, index: usize) -> bool {
    let line = lines.get(index);
    if line == "-- " || line == "--" || line.trim() == "-----BEGIN PGP SIGNATURE-----" {
        return true;
    }
    let lowered = lower(line);
    CLIENT_FOOTERS.iter().any(|f| lowered.starts_with(f))
}

/// A rule of underscores or dashes that a list footer names, or a footer phrase line on its own.
fn is_list_footer(lines: &Lines, index: usize) -> bool {
    let line = lines.get(index).trim();
    let lowered = line.to_lowercase();
    if lowered.contains("groups sponsor") || lowered.starts_with("to unsubscribe") {
        return true;
    }
    let is_rule = line.len() >= 20 && line.chars().all(|c| matches!(c, '_' | '-' | '=' | '~'));
    if !is_rule {
        return false;
    }
    let next = lines
        .next_non_blank(index)
        .map(|i| lines.get(i).to_lowercase())
        .unwrap_or_default();
    LIST_FOOTER_PHRASES.iter().any(|p| next.contains(p))
}

/// The first closing, disclaimer or list footer before `end` that only a short tail follows; `end` if none.
fn tail_start(lines: &Lines, keep: &[Keep], end: usize) -> usize {
    let kept_text_after = |index: usize| {
        (index + 1..end)
            .filter(|&i| keep.get(i) == Some(&Keep::Yes) && !lines.get(i).trim().is_empty())
            .count()
    };
    // A closing needs text before it: "Cheers Padraig." at the top is a greeting.
    let first_text = (0..end)
        .find(|&i| keep.get(i) == Some(&Keep::Yes) && !lines.get(i).trim().is_empty())
        .unwrap_or(end);
    (first_text + 1..end)
        .filter(|&i| keep.get(i) == Some(&Keep::Yes))
        .find(|&i| {
            let line = lines.get(i);
            ((is_closing(line) || is_underscore_rule(line))
                && kept_text_after(i) <= MAX_LINES_AFTER_CLOSING)
                || ((is_disclaimer(line) || is_list_footer(lines, i))
                    && kept_text_after(i) <= MAX_LINES_AFTER_DISCLAIMER)
        })
        .unwrap_or(end)
}

fn is_closing(line: &str) -> bool {
    let lowered = lower(line);
    if lowered.chars().count() > 40 {
        return false;
    }
    CLOSINGS.iter().any(|closing| {
        lowered.strip_prefix(closing).is_some_and(|rest| {
            // A whole word: "groet," or "groet" but not "groetjes" for "groet" (listed on its own).
            rest.chars().next().is_none_or(|c| !c.is_alphabetic())
        })
    })
}

/// Free-mail providers and list servers put their footer under a rule of underscores.
fn is_underscore_rule(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 20 && line.chars().all(|c| c == '_')
}

fn is_disclaimer(line: &str) -> bool {
    let lowered = lower(line);
    DISCLAIMER_PHRASES.iter().any(|p| lowered.contains(p))
}

/// The kept lines before `end`, blank runs collapsed and trimmed.
fn render<'a>(body: &'a str, lines: &Lines<'a>, keep: &[Keep], end: usize) -> Cow<'a, str> {
    let dropped_inside = keep.iter().take(end).any(|k| *k == Keep::Drop);
    if !dropped_inside {
        let cut = lines.start.get(end).copied().unwrap_or(body.len());
        let head = body.get(..cut).unwrap_or(body);
        return Cow::Borrowed(head.trim());
    }
    let mut out = String::new();
    let mut blank_pending = false;
    for index in (0..end).filter(|&i| keep.get(i) == Some(&Keep::Yes)) {
        let line = lines.get(index).trim_end();
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if blank_pending {
            out.push_str("\n\n");
        } else if !out.is_empty() {
            out.push('\n');
        }
        blank_pending = false;
        out.push_str(line);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::strip_quoted;

    #[test]
    fn interleaved_reply_keeps_answers() {
        let body = "On Mon, 5 Aug 2002, Jan wrote:\n> first question?\n\nFirst answer.\n\n> second?\nSecond answer.\n";
        assert_eq!(strip_quoted(body), "First answer.\n\nSecond answer.");
    }

    #[test]
    fn dutch_outlook_history_is_cut() {
        let body = "Hallo,\n\nIk wil opzeggen.\n\nMet vriendelijke groet,\nPiet\n\n-----Oorspronkelijk bericht-----\nVan: Klantenservice\nVerzonden: maandag\n\nBeste Piet,\n";
        assert_eq!(strip_quoted(body), "Hallo,\n\nIk wil opzeggen.");
    }

    #[test]
    fn greeting_in_the_middle_is_kept() {
        let body = "Groeten uit Spanje! Maar nu iets anders:\nmijn factuur klopt niet.\nDe bedragen zijn dubbel.\nRegel 1\nRegel 2\nRegel 3\nRegel 4\nRegel 5\nRegel 6\nRegel 7\nRegel 8\n";
        assert_eq!(strip_quoted(body), body.trim());
    }

    #[test]
    fn prose_ending_in_said_without_quote_is_kept() {
        let body = "Here is what the agent said:\nthe parcel is lost.\n";
        assert_eq!(strip_quoted(body), body.trim());
    }
}
