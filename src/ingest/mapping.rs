//! The column mapping: which source column holds each canonical column, and how the source's channel and
//! direction values translate to the canonical ones.
//!
//! Contract: by default a canonical column is read from the source column of the same name. The pipeline's
//! `[input]` section and CLI overrides (`text=body`, `channel:WhatsApp=chat`, `direction:IN=inbound`) change
//! that; anything that does not name a canonical column or a canonical value is an `Error::Usage`.
//! Channel and direction values are matched case-insensitively, first against the mapping's own values,
//! then against the canonical values, then against built-in synonyms; anything else is unknown, and the
//! row carrying it is rejected with a reason that says how to map it.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::pipeline::InputSection;
use crate::schema;

/// Canonical column name -> source column name, plus value maps for channel and direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    /// Canonical column name -> source column name; a canonical column not listed is read from its own name.
    pub columns: BTreeMap<String, String>,
    /// Source channel value -> canonical channel (`schema::CHANNELS`).
    pub channels: BTreeMap<String, String>,
    /// Source direction value -> canonical direction (`schema::DIRECTIONS`).
    pub directions: BTreeMap<String, String>,
}

impl ColumnMapping {
    /// The mapping of a pipeline's `[input]` section, validated.
    pub fn from_pipeline(input: &InputSection) -> Result<ColumnMapping> {
        let mapping = ColumnMapping {
            columns: input.columns.clone(),
            channels: input.channels.clone(),
            directions: input.directions.clone(),
        };
        mapping.validate()?;
        Ok(mapping)
    }

    /// Applies command-line overrides: `text=body` (canonical column = source column),
    /// `channel:WhatsApp=chat` and `direction:IN=inbound` (source value = canonical value).
    pub fn apply_overrides(&mut self, overrides: &[String]) -> Result<()> {
        for spec in overrides {
            let (key, value) = spec
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "invalid mapping '{spec}': expected <column>=<source column>, \
                         channel:<value>=<channel> or direction:<value>=<direction>"
                    ))
                })?;
            if let Some(source_value) = key.strip_prefix("channel:") {
                check_value("channel", value, &schema::CHANNELS)?;
                self.channels
                    .insert(source_value.to_string(), value.to_string());
            } else if let Some(source_value) = key.strip_prefix("direction:") {
                check_value("direction", value, &schema::DIRECTIONS)?;
                self.directions
                    .insert(source_value.to_string(), value.to_string());
            } else {
                check_column(key)?;
                self.columns.insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    /// The source column name that holds `canonical`.
    pub fn source_column<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.columns
            .get(canonical)
            .map(String::as_str)
            .unwrap_or(canonical)
    }

    /// Checks that every key and value names something canonical.
    pub fn validate(&self) -> Result<()> {
        for column in self.columns.keys() {
            check_column(column)?;
        }
        for value in self.channels.values() {
            check_value("channel", value, &schema::CHANNELS)?;
        }
        for value in self.directions.values() {
            check_value("direction", value, &schema::DIRECTIONS)?;
        }
        Ok(())
    }
}

fn check_column(column: &str) -> Result<()> {
    if schema::CANONICAL.contains(&column) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "'{column}' is not a canonical column; expected one of {}",
            schema::CANONICAL.join(", ")
        )))
    }
}

fn check_value(kind: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "'{value}' is not a {kind}; expected one of {}",
            allowed.join(", ")
        )))
    }
}

/// Source channel names seen in the wild (English and Dutch) and the canonical channel they mean.
const CHANNEL_SYNONYMS: &[(&str, &str)] = &[
    ("e-mail", "email"),
    ("mail", "email"),
    ("emails", "email"),
    ("phone", "voice"),
    ("call", "voice"),
    ("calls", "voice"),
    ("telephone", "voice"),
    ("telefoon", "voice"),
    ("telefonie", "voice"),
    ("transcript", "voice"),
    ("webchat", "chat"),
    ("web chat", "chat"),
    ("livechat", "chat"),
    ("live chat", "chat"),
    ("whatsapp", "chat"),
    ("messenger", "chat"),
    ("text message", "sms"),
    ("sms/text", "sms"),
    ("twitter", "social"),
    ("facebook", "social"),
    ("instagram", "social"),
    ("linkedin", "social"),
    ("social media", "social"),
    ("post", "letter"),
    ("brief", "letter"),
    ("mail (post)", "letter"),
    ("webform", "web"),
    ("web form", "web"),
    ("contact form", "web"),
    ("contactformulier", "web"),
    ("website", "web"),
    ("form", "web"),
];

const DIRECTION_SYNONYMS: &[(&str, &str)] = &[
    ("in", "inbound"),
    ("incoming", "inbound"),
    ("inkomend", "inbound"),
    ("received", "inbound"),
    ("ontvangen", "inbound"),
    ("out", "outbound"),
    ("outgoing", "outbound"),
    ("uitgaand", "outbound"),
    ("sent", "outbound"),
    ("verzonden", "outbound"),
];

/// Case-insensitive lookup of source values to canonical values, built once per run.
#[derive(Debug, Clone)]
pub(crate) struct ValueMap {
    kind: &'static str,
    config_section: &'static str,
    canonical: HashMap<String, &'static str>,
}

impl ValueMap {
    pub(crate) fn channels(mapping: &ColumnMapping) -> Result<ValueMap> {
        ValueMap::new(
            "channel",
            "[input.channels]",
            &schema::CHANNELS,
            CHANNEL_SYNONYMS,
            &mapping.channels,
        )
    }

    pub(crate) fn directions(mapping: &ColumnMapping) -> Result<ValueMap> {
        ValueMap::new(
            "direction",
            "[input.directions]",
            &schema::DIRECTIONS,
            DIRECTION_SYNONYMS,
            &mapping.directions,
        )
    }

    fn new(
        kind: &'static str,
        config_section: &'static str,
        allowed: &[&'static str],
        synonyms: &[(&str, &'static str)],
        own: &BTreeMap<String, String>,
    ) -> Result<ValueMap> {
        let mut canonical = HashMap::new();
        for (source, target) in synonyms {
            canonical.insert(source.to_string(), *target);
        }
        for value in allowed {
            canonical.insert(value.to_string(), *value);
        }
        // The user's own values come last so that they win over the built-in synonyms.
        for (source, target) in own {
            let target = allowed
                .iter()
                .find(|value| **value == target.as_str())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "'{target}' is not a {kind}; expected one of {}",
                        allowed.join(", ")
                    ))
                })?;
            canonical.insert(normalize_key(source), *target);
        }
        Ok(ValueMap {
            kind,
            config_section,
            canonical,
        })
    }

    /// The canonical value for a non-blank source value, or the reject reason.
    pub(crate) fn lookup(&self, raw: &str) -> std::result::Result<&'static str, String> {
        self.canonical
            .get(&normalize_key(raw))
            .copied()
            .ok_or_else(|| {
                let raw = raw.trim();
                format!(
                    "unknown {kind} '{raw}'; map it in {section} or with --map {kind}:{raw}=<{kind}>",
                    kind = self.kind,
                    section = self.config_section,
                )
            })
    }
}

fn normalize_key(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_and_own_values_are_case_insensitive() {
        let mut mapping = ColumnMapping::default();
        mapping
            .apply_overrides(&["channel:Balie=other".to_string()])
            .unwrap();
        let channels = ValueMap::channels(&mapping).unwrap();
        assert_eq!(channels.lookup("E-Mail"), Ok("email"));
        assert_eq!(channels.lookup(" WhatsApp "), Ok("chat"));
        assert_eq!(channels.lookup("balie"), Ok("other"));
        let reason = channels.lookup("fax").unwrap_err();
        assert_eq!(
            reason,
            "unknown channel 'fax'; map it in [input.channels] or with --map channel:fax=<channel>"
        );
    }

    #[test]
    fn bad_overrides_are_usage_errors() {
        let mut mapping = ColumnMapping::default();
        for bad in [
            "text",
            "body=text",
            "channel:fax=telefax",
            "direction:x=up",
            "=x",
        ] {
            let err = mapping.apply_overrides(&[bad.to_string()]).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{bad}: {err}");
        }
    }
}
