//! `clean_text`: what the encoder should see of a text.
//!
//! Customer texts arrive with Windows line endings, stray control characters from PDF or CRM exports,
//! runs of (non-breaking) spaces from HTML e-mails and blank lines from signatures and quoted replies. None
//! of it carries meaning for the encoder, all of it costs tokens.

use std::borrow::Cow;

/// The most newlines kept in a row: one blank line, so paragraph breaks survive and runs of blank lines
/// collapse to one.
const MAX_NEWLINES: usize = 2;

/// Cleans `text` for the encoder:
/// - `\r\n`, lone `\r` and the other Unicode line and page breaks become `\n`;
/// - control characters other than newline and tab, and byte order marks, are dropped;
/// - every run of horizontal whitespace (spaces, no-break spaces, tabs) becomes one space, or one tab if
///   the run held a tab (so pasted table columns stay apart); whitespace at line ends and starts goes;
/// - runs of blank lines become a single blank line;
/// - the result is trimmed.
///
/// Returns the input (or a prefix of it) borrowed when that is already the cleaned text.
pub fn clean_text(text: &str) -> Cow<'_, str> {
    let start = text.len() - text.trim_start_matches(is_leading_junk).len();
    let text = &text[start..];
    let mut out = Output::new(text);
    // Whitespace seen since the last emitted character, emitted only if more text follows.
    let mut newlines = 0usize;
    let mut space: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() != Some(&'\n') {
                newlines += 1;
                space = None;
            }
        } else if is_line_break(c) {
            newlines += 1;
            // Whitespace before a line break is trailing whitespace: dropped.
            space = None;
        } else if c.is_whitespace() {
            if c == '\t' || space.is_none() {
                space = Some(if c == '\t' { '\t' } else { ' ' });
            }
        } else if is_dropped(c) {
            continue;
        } else {
            if newlines > 0 {
                // Whitespace at the start of a line is indentation: dropped.
                for _ in 0..newlines.min(MAX_NEWLINES) {
                    out.push('\n');
                }
            } else if let Some(space) = space {
                out.push(space);
            }
            newlines = 0;
            space = None;
            out.push(c);
        }
    }
    out.finish()
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Characters removed wherever they are: control characters (newline and tab are handled as whitespace
/// before this is asked) and the byte order mark, which some exports leave inside texts.
fn is_dropped(c: char) -> bool {
    c.is_control() || c == '\u{FEFF}'
}

fn is_leading_junk(c: char) -> bool {
    c.is_whitespace() || is_dropped(c)
}

/// The cleaned text being built. While it equals a prefix of the input nothing is allocated; the first
/// character that differs copies the prefix into an owned string.
struct Output<'a> {
    input: &'a str,
    /// Bytes of `input` that the output equals, while `owned` is `None`.
    borrowed_len: usize,
    owned: Option<String>,
}

impl<'a> Output<'a> {
    fn new(input: &'a str) -> Self {
        Output {
            input,
            borrowed_len: 0,
            owned: None,
        }
    }

    fn push(&mut self, c: char) {
        if let Some(owned) = &mut self.owned {
            owned.push(c);
            return;
        }
        let rest = self.input.get(self.borrowed_len..).unwrap_or_default();
        if rest.starts_with(c) {
            self.borrowed_len += c.len_utf8();
        } else {
            let mut owned = String::with_capacity(self.input.len());
            owned.push_str(self.input.get(..self.borrowed_len).unwrap_or_default());
            owned.push(c);
            self.owned = Some(owned);
        }
    }

    fn finish(self) -> Cow<'a, str> {
        match self.owned {
            Some(owned) => Cow::Owned(owned),
            None => Cow::Borrowed(self.input.get(..self.borrowed_len).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_trim_borrows_a_prefix() {
        assert!(matches!(
            clean_text("Goedemorgen,  \n\n"),
            Cow::Borrowed("Goedemorgen,")
        ));
        assert!(matches!(clean_text("  Hallo"), Cow::Borrowed("Hallo")));
    }
}
