//! Reading raw e-mail (`.eml` files, mbox files and folders of them) into canonical interactions.
//!
//! Contract of `read_emails`:
//! - Inputs are files and folders (see `mailbox`); every message of every file ends up either as a row of the
//!   interactions batch or as a row of the rejects batch (schema `schema::reject_fields`, `record` is the raw
//!   message as a JSON string). A file that cannot be read is an error naming it.
//! - Interactions have the canonical columns, then `schema::email_fields`, then `source_file` and
//!   `source_row` (the message's position in its file, 1 for a `.eml`). `id` is the Message-ID, or
//!   `<file name>:<row>` when there is none; `channel` is `email`; `timestamp` is the Date header (null when
//!   missing or invalid); `direction` and `customer_id` come from `parties`.
//! - `text_raw` is the whole text body; `text` is that body stripped of quotes, history, signatures and
//!   disclaimers (`strip`), or the raw body when stripping leaves nothing (a bare forward), so that `text` is
//!   never empty.
//! - Rejected: bytes without any header, a message without a text body, a Message-ID seen before in the
//!   run (the reason names where).
//! - Threading (`thread`) needs every message of the run, so all messages are read into memory before the
//!   batch is built: fine for mail volumes (thousands to a few hundred thousand messages), not meant for
//!   multi-gigabyte archives.

mod columns;
mod html;
mod mailbox;
mod parse;
mod parties;
pub mod strip;
mod thread;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use arrow_array::RecordBatch;

use crate::error::{IoContext, Result};
use crate::schema;

use super::rejects::{json_string, RejectsBuilder};
use columns::EmailRow;
use thread::ThreadKeys;

pub use parties::load_customer_map;
pub use strip::strip_quoted;

/// How e-mail is attributed to the organisation and to customers.
#[derive(Debug, Clone, Default)]
pub struct EmailOptions {
    /// The organisation's own mail domains (`bedrijf.nl`; subdomains count too). Empty: direction unknown.
    pub own_domains: Vec<String>,
    /// Customer address (lower case) -> customer id; see `load_customer_map`.
    pub customer_map: Option<HashMap<String, String>>,
}

/// Reads every message of `files` (files and folders); returns (interactions, rejects). See the module
/// contract.
pub fn read_emails(
    files: &[PathBuf],
    options: &EmailOptions,
) -> Result<(RecordBatch, RecordBatch)> {
    let files = mailbox::expand(files)?;
    let own_domains = parties::normalise_domains(&options.own_domains);
    let mut rows: Vec<EmailRow> = Vec::new();
    let mut rejects = RejectsBuilder::default();
    let mut first_seen: HashMap<String, (String, u64)> = HashMap::new();

    for path in &files {
        let bytes = fs::read(path).at(path)?;
        let source_file = path.display().to_string();
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| source_file.clone());
        for raw in mailbox::split(path, &bytes) {
            let reject = |rejects: &mut RejectsBuilder, column: Option<&str>, reason: String| {
                rejects.append(
                    &source_file,
                    raw.row,
                    column,
                    &reason,
                    &json_string(&String::from_utf8_lossy(&raw.bytes)),
                );
            };
            let Some(email) = parse::parse(&raw.bytes) else {
                reject(
                    &mut rejects,
                    None,
                    "not an e-mail message: no header".into(),
                );
                continue;
            };
            if email.body.trim().is_empty() {
                reject(
                    &mut rejects,
                    Some(schema::TEXT),
                    "no text body (only attachments or empty)".into(),
                );
                continue;
            }
            if let Some(message_id) = &email.message_id {
                if let Some((file, row)) = first_seen.get(message_id) {
                    let reason = format!("duplicate message id, first seen in {file}, row {row}");
                    reject(&mut rejects, Some(schema::MESSAGE_ID), reason);
                    continue;
                }
                first_seen.insert(message_id.clone(), (source_file.clone(), raw.row));
            }
            let id = email
                .message_id
                .clone()
                .unwrap_or_else(|| format!("{file_name}:{}", raw.row));
            let direction = parties::direction(&email, &own_domains);
            let customer_id = parties::customer_id(
                &email,
                direction,
                &own_domains,
                options.customer_map.as_ref(),
            );
            let stripped = strip_quoted(&email.body);
            let text = if stripped.is_empty() {
                email.body.trim().to_string()
            } else {
                stripped.into_owned()
            };
            rows.push(EmailRow {
                id,
                customer_id,
                direction,
                text,
                email,
                source_file: source_file.clone(),
                source_row: raw.row,
            });
        }
    }

    let keys: Vec<ThreadKeys> = rows.iter().map(EmailRow::thread_keys).collect();
    let conversation_ids = thread::conversation_ids(&keys);
    let interactions = columns::interactions(&rows, &conversation_ids)?;
    Ok((interactions, rejects.finish()?))
}
