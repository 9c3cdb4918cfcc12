//! Who a message is between: its direction and the customer it concerns.
//!
//! Contract:
//! - `direction` is `outbound` when the sender's domain is one of the organisation's own domains (or a
//!   subdomain of one), `inbound` otherwise; `None` when the sender is unknown or no own domains are
//!   configured, because then nothing can be said.
//! - The customer's address is the sender of an inbound message and the first recipient outside the own
//!   domains of an outbound one (a reply to the customer concerns that customer, not the agent).
//!   `customer_id` is that address looked up in the customer map, or the address itself when the map has no
//!   entry or there is no map.
//! - `load_customer_map` reads a CSV file with a header naming an `address` (or `email`) column and a
//!   `customer_id` column; addresses are matched case-insensitively.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::schema;

use super::parse::ParsedEmail;

/// Lower-cased own domains, without a leading `@`.
pub(crate) fn normalise_domains(domains: &[String]) -> Vec<String> {
    domains
        .iter()
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

fn is_own(address: &str, own_domains: &[String]) -> bool {
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    own_domains.iter().any(|own| {
        domain == own
            || domain
                .strip_suffix(own.as_str())
                .is_some_and(|sub| sub.ends_with('.'))
    })
}

/// `inbound`, `outbound` or unknown; see the module contract.
pub(crate) fn direction(email: &ParsedEmail, own_domains: &[String]) -> Option<&'static str> {
    let from = email.from.as_deref()?;
    if own_domains.is_empty() {
        return None;
    }
    let [inbound, outbound] = schema::DIRECTIONS;
    Some(if is_own(from, own_domains) {
        outbound
    } else {
        inbound
    })
}

/// The customer id of a message; see the module contract.
pub(crate) fn customer_id(
    email: &ParsedEmail,
    direction: Option<&str>,
    own_domains: &[String],
    customer_map: Option<&HashMap<String, String>>,
) -> Option<String> {
    let address = if direction == Some(schema::DIRECTIONS[1]) {
        email.to.iter().find(|to| !is_own(to, own_domains))?
    } else {
        email.from.as_ref()?
    };
    let mapped = customer_map.and_then(|map| map.get(address));
    Some(mapped.unwrap_or(address).clone())
}

/// Reads an address -> customer id CSV; see the module contract.
pub fn load_customer_map(path: &Path) -> Result<HashMap<String, String>> {
    let location = || Location::file(path);
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::input(location(), format!("cannot read customer map: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::input(location(), e.to_string()))?
        .clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let (Some(address_column), Some(customer_column)) =
        (column(&["address", "email"]), column(&["customer_id"]))
    else {
        return Err(Error::input(
            location(),
            "customer map needs an 'address' (or 'email') column and a 'customer_id' column",
        ));
    };
    let mut map = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let row = index as u64 + 1;
        let record = record.map_err(|e| Error::input(location().row(row), e.to_string()))?;
        let address = record.get(address_column).unwrap_or("").trim();
        let customer = record.get(customer_column).unwrap_or("").trim();
        if address.is_empty() || customer.is_empty() {
            continue;
        }
        map.insert(address.to_lowercase(), customer.to_string());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(from: &str, to: &[&str]) -> ParsedEmail {
        ParsedEmail {
            from: Some(from.to_string()),
            to: to.iter().map(|t| t.to_string()).collect(),
            ..ParsedEmail::default()
        }
    }

    #[test]
    fn outbound_reply_concerns_the_recipient() {
        let own = normalise_domains(&["@Bedrijf.NL".to_string()]);
        let reply = email(
            "agent@mail.bedrijf.nl",
            &["collega@bedrijf.nl", "klant@gmail.com"],
        );
        let direction = direction(&reply, &own);
        assert_eq!(direction, Some("outbound"));
        assert_eq!(
            customer_id(&reply, direction, &own, None).as_deref(),
            Some("klant@gmail.com")
        );
        let question = email("klant@notbedrijf.nl", &["info@bedrijf.nl"]);
        assert_eq!(super::direction(&question, &own), Some("inbound"));
        let map = HashMap::from([("klant@notbedrijf.nl".to_string(), "C-17".to_string())]);
        assert_eq!(
            customer_id(&question, Some("inbound"), &own, Some(&map)).as_deref(),
            Some("C-17")
        );
    }
}
