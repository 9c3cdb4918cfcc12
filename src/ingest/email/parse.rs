//! One raw RFC 5322 message -> the fields e-mail ingest keeps (crate `mail-parser` does the MIME work).
//!
//! Contract: `parse` never panics; it returns `None` only when the bytes have no header at all.
//! - Message ids (`message_id`, `in_reply_to`, `references`) are taken without angle brackets. In-Reply-To and
//!   References are read leniently from the raw header, because old clients write prose around the id
//!   ("Your message of Mon, 5 Aug ... <id@host>"): every `<...>` token counts.
//! - Addresses are lower-cased; `to` lists every To address (groups flattened).
//! - `timestamp_micros` is the Date header in UTC, or `None` when missing or invalid.
//! - `body` is the text/plain parts joined by a blank line; a part that exists only as HTML is converted
//!   with `html::to_text`. It is empty when the message has no text part.
//! - `attachments` lists every attachment part (name if any, MIME type, decoded size); nothing is classified.

use mail_parser::{Address, HeaderName, Message, MessageParser, MimeHeaders, PartType};

use super::html;

/// What e-mail ingest keeps of one message.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedEmail {
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub timestamp_micros: Option<i64>,
    pub body: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
}

/// Parses one message; see the module contract.
pub(crate) fn parse(raw: &[u8]) -> Option<ParsedEmail> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    let message_id = message
        .message_id()
        .map(str::to_string)
        .or_else(|| raw_ids(&message, HeaderName::MessageId).into_iter().next())
        .filter(|id| !id.is_empty());
    Some(ParsedEmail {
        message_id,
        in_reply_to: raw_ids(&message, HeaderName::InReplyTo).into_iter().next(),
        references: raw_ids(&message, HeaderName::References),
        from: message.from().and_then(first_address),
        to: message.all_to().flat_map(addresses).collect(),
        subject: message
            .subject()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        timestamp_micros: message
            .date()
            .filter(|date| date.is_valid())
            .map(|date| date.to_timestamp().saturating_mul(1_000_000)),
        body: text_body(&message),
        attachments: attachments(&message),
    })
}

/// Every `<...>` token of a header's raw value, brackets removed; a bare single token if there is none.
fn raw_ids(message: &Message, header: HeaderName) -> Vec<String> {
    let Some(raw) = message.header_raw(header) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find('<') {
        let after = rest.get(open + 1..).unwrap_or("");
        let Some(close) = after.find('>') else {
            break;
        };
        let id: String = after
            .get(..close)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    if ids.is_empty() {
        let bare = raw.trim();
        if !bare.is_empty() && !bare.contains(char::is_whitespace) && bare.contains('@') {
            ids.push(bare.to_string());
        }
    }
    ids
}

fn first_address(address: &Address) -> Option<String> {
    addresses(address).into_iter().next()
}

fn addresses(address: &Address) -> Vec<String> {
    address
        .iter()
        .filter_map(|addr| addr.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

fn text_body(message: &Message) -> String {
    let mut parts = Vec::new();
    for &id in &message.text_body {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let text = match &part.body {
            PartType::Text(text) => text.trim().to_string(),
            PartType::Html(html) => html::to_text(html),
            _ => continue,
        };
        if !text.is_empty() {
            parts.push(text);
        }
    }
    // Mail written on Windows or with CRLF transport keeps `\r`; one line ending makes stripping simpler.
    parts.join("\n\n").replace("\r\n", "\n")
}

fn attachments(message: &Message) -> Vec<Attachment> {
    message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().map(str::to_string),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| default_type(&part.body).to_string())
                .to_lowercase(),
            size: part.len() as u64,
        })
        .collect()
}

/// The MIME type a part without Content-Type has by its kind.
fn default_type(body: &PartType) -> &'static str {
    match body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    }
}
