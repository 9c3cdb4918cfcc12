//! HTML mail bodies turned into readable plain text.
//!
//! Contract: `to_text` never fails. Tags are dropped; block elements (`p`, `div`, `br`, `li`, `tr`, headings,
//! ...) end a line; the contents of `head`, `style`, `script` and `title` and comments are dropped; runs of
//! whitespace become one space; common character entities are decoded. Text inside `<blockquote>` is written
//! with `> ` per nesting level, as a plain-text client would quote it, so that `strip` removes quoted
//! replies from HTML mail (Gmail, Outlook, Apple Mail) the same way as from plain-text mail.

/// Elements whose contents are not text.
const HIDDEN: [&str; 4] = ["head", "style", "script", "title"];

/// Elements that start and end a line.
const BLOCKS: [&str; 22] = [
    "p", "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
    "section", "article", "header", "footer", "address", "dd", "dt",
];

/// Plain text of an HTML document; see the module contract.
pub(crate) fn to_text(html: &str) -> String {
    let mut out = Writer::default();
    let mut hidden_depth = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with('<') {
            let end = rest.find('>').unwrap_or(rest.len());
            let tag = Tag::parse(&rest[1..end]);
            rest = rest.get(end + 1..).unwrap_or("");
            if HIDDEN.contains(&tag.name.as_str()) {
                hidden_depth = if tag.closing {
                    hidden_depth.saturating_sub(1)
                } else {
                    hidden_depth + 1
                };
                continue;
            }
            if hidden_depth == 0 {
                out.tag(&tag);
            }
            continue;
        }
        let end = rest.find('<').unwrap_or(rest.len());
        if hidden_depth == 0 {
            out.text(&decode_entities(&rest[..end]));
        }
        rest = &rest[end..];
    }
    out.finish()
}

struct Tag {
    name: String,
    closing: bool,
}

impl Tag {
    fn parse(inside: &str) -> Tag {
        let inside = inside.trim_start();
        let (closing, inside) = match inside.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, inside),
        };
        let name = inside
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        Tag { name, closing }
    }
}

/// Builds the text line by line, with the quote prefix of the current blockquote depth.
#[derive(Default)]
struct Writer {
    out: String,
    quote_depth: usize,
    at_line_start: bool,
    pending_space: bool,
    started: bool,
}

impl Writer {
    fn tag(&mut self, tag: &Tag) {
        match tag.name.as_str() {
            "br" => self.newline(),
            "blockquote" => {
                self.end_line();
                self.quote_depth = if tag.closing {
                    self.quote_depth.saturating_sub(1)
                } else {
                    self.quote_depth + 1
                };
            }
            "td" | "th" if tag.closing => self.pending_space = true,
            name if BLOCKS.contains(&name) => self.end_line(),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        for (index, word) in text.split_whitespace().enumerate() {
            if index > 0 || text.starts_with(char::is_whitespace) {
                self.pending_space = true;
            }
            if self.at_line_start || !self.started {
                self.out.push_str(&"> ".repeat(self.quote_depth));
                self.at_line_start = false;
                self.pending_space = false;
            } else if self.pending_space {
                self.out.push(' ');
                self.pending_space = false;
            }
            self.out.push_str(word);
            self.started = true;
        }
        if text.ends_with(char::is_whitespace) && self.started {
            self.pending_space = true;
        }
    }

    fn newline(&mut self) {
        if self.started {
            self.out.push('\n');
        }
        self.at_line_start = true;
        self.pending_space = false;
    }

    /// A newline unless the current line is empty.
    fn end_line(&mut self) {
        if !self.at_line_start {
            self.newline();
        }
    }

    fn finish(self) -> String {
        let mut text = String::with_capacity(self.out.len());
        let mut blank_run = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            let blank = line.trim_start_matches(['>', ' ']).is_empty();
            blank_run = if blank { blank_run + 1 } else { 0 };
            if blank_run > 1 {
                continue;
            }
            text.push_str(line);
            text.push('\n');
        }
        text.trim().to_string()
    }
}

/// Decodes `&amp;`, `&#233;`, `&#xE9;` and the named entities common in mail; leaves others as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let decoded = candidate
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| Some((entity(&candidate[1..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &candidate[end + 1..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        // A non-breaking space reads as a space; keeping U+00A0 would defeat whitespace handling.
        "nbsp" => ' ',
        "euro" => '€',
        "copy" => '©',
        "reg" => '®',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "eacute" => 'é',
        "egrave" => 'è',
        "euml" => 'ë',
        "ecirc" => 'ê',
        "aacute" => 'á',
        "agrave" => 'à',
        "auml" => 'ä',
        "iuml" => 'ï',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "ccedil" => 'ç',
        "szlig" => 'ß',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn blocks_break_lines_and_blockquotes_are_quoted() {
        let html = "<html><head><style>p{}</style></head><body><div>Dank&nbsp;u wel!</div>\
            <div class=\"gmail_quote\"><div>Op ma 3 jan. 2022 schreef A &lt;a@b.nl&gt;:<br></div>\
            <blockquote><div>Uw pakket is onderweg.</div><p>Groet</p></blockquote></div></body></html>";
        assert_eq!(
            to_text(html),
            "Dank u wel!\nOp ma 3 jan. 2022 schreef A <a@b.nl>:\n> Uw pakket is onderweg.\n> Groet"
        );
    }

    #[test]
    fn comments_and_unknown_entities_survive_as_text_or_vanish() {
        assert_eq!(to_text("a<!-- hidden -->b &foo; &#233;"), "ab &foo; é");
    }
}
