//! Privacy redaction: personal data in free text replaced by typed placeholders.
//!
//! Contract:
//! - `redact` replaces e-mail addresses, phone numbers, IBANs, payment card numbers, Dutch BSNs and Dutch
//!   postcode + house number by `[EMAIL]`, `[PHONE]`, `[IBAN]`, `[CARD]`, `[BSN]` and `[ADDRESS]`, and counts
//!   each kind. It borrows the input when nothing is found, and never panics, whatever the text.
//! - `find_pii` gives the same findings as byte ranges, for callers that want to see what would go.
//! - `redact_column` does this for a whole text column in parallel, giving the redacted texts and the
//!   `redactions` struct column (`schema::redaction_fields`). Null texts stay null with zero counts.
//!
//! Precision matters both ways: a false positive destroys analytics text (an amount or an order number
//! turned into `[PHONE]`), a false negative leaks personal data. So every kind is found by its shape and then
//! verified where the kind allows it: IBANs by the country's length and the mod-97 checksum, card numbers by
//! issuer prefix and the Luhn check, BSNs by the 11-test. Numbers that a label names as something else
//! ("klantnummer", "invoice number", "kenmerk") are left alone, and shapes that fail verification (an
//! invalid IBAN, a Luhn-failing card number) are kept whole, so that no other kind redacts a piece of them.
//!
//! Addresses: a postcode next to a house number (`1234 AB 12`, `Kerkstraat 12, 1234 AB`) is redacted together
//! as one `[ADDRESS]`; a postcode alone only where the text says it is one (`postcode 1234ab`) or a place name
//! follows (`1234 AB Utrecht`). A house number alone is redacted after a street name with a common Dutch or
//! German street suffix (`Kastanjelaan 14`), after an address label (`address: Oude Delft 88`) and in a
//! signature's address line under the sender's name. Street and place names stay: without the number they
//! identify nobody, and they carry what analytics wants (a move, a region).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use arrow_array::{Array, ArrayRef, StringArray, StructArray, UInt32Array};
use rayon::prelude::*;
use regex::Regex;

use crate::schema;

/// The kinds of personal data that are redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Email,
    Phone,
    Iban,
    Card,
    Bsn,
    Address,
}

impl PiiKind {
    /// Every kind, in the order of the `redactions` struct fields.
    pub const ALL: [PiiKind; 6] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Bsn,
        PiiKind::Address,
    ];

    /// The text that replaces a redacted span of this kind.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Bsn => "[BSN]",
            PiiKind::Address => "[ADDRESS]",
        }
    }

    /// The name of this kind's field in the `redactions` struct column.
    pub fn field_name(self) -> &'static str {
        schema::REDACTION_KINDS[self.index()]
    }

    fn index(self) -> usize {
        match self {
            PiiKind::Email => 0,
            PiiKind::Phone => 1,
            PiiKind::Iban => 2,
            PiiKind::Card => 3,
            PiiKind::Bsn => 4,
            PiiKind::Address => 5,
        }
    }
}

/// How many spans of each kind were redacted from one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedactionCounts {
    counts: [u32; 6],
}

impl RedactionCounts {
    /// The number of redacted spans of `kind`.
    pub fn get(&self, kind: PiiKind) -> u32 {
        self.counts[kind.index()]
    }

    /// The number of redacted spans of every kind together.
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// True when nothing was redacted.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The counts per kind, in `PiiKind::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (PiiKind, u32)> + '_ {
        PiiKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }

    fn add(&mut self, kind: PiiKind) {
        let count = &mut self.counts[kind.index()];
        *count = count.saturating_add(1);
    }

    fn add_all(&mut self, other: &RedactionCounts) {
        for (count, more) in self.counts.iter_mut().zip(other.counts) {
            *count = count.saturating_add(more);
        }
    }
}

/// One piece of personal data found in a text: its kind and its byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiSpan {
    pub kind: PiiKind,
    pub range: Range<usize>,
}

/// Rows per rayon task in `redact_column`; most texts hold no digits or `@` and are done in a scan.
const ROWS_PER_TASK: usize = 64;

/// `text` with its personal data replaced by placeholders, and how much of each kind was replaced.
/// Borrows `text` when nothing was found.
pub fn redact(text: &str) -> (Cow<'_, str>, RedactionCounts) {
    let spans = find_pii(text);
    let mut counts = RedactionCounts::default();
    if spans.is_empty() {
        return (Cow::Borrowed(text), counts);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied_to = 0;
    for span in &spans {
        out.push_str(text.get(copied_to..span.range.start).unwrap_or_default());
        out.push_str(span.kind.placeholder());
        copied_to = span.range.end;
        counts.add(span.kind);
    }
    out.push_str(text.get(copied_to..).unwrap_or_default());
    (Cow::Owned(out), counts)
}

/// The personal data in `text`, in text order, without overlaps.
pub fn find_pii(text: &str) -> Vec<PiiSpan> {
    // Every kind needs a digit, except e-mail addresses, which need an `@`: most texts are done here.
    if !text.bytes().any(|b| b.is_ascii_digit() || b == b'@') {
        return Vec::new();
    }
    let mut claims = Claims::default();
    // Order matters: the verified kinds first, so that the looser shapes of phone numbers and BSNs never
    // take a piece of an IBAN or card number, valid or not.
    find_emails(text, &mut claims);
    find_ibans(text, &mut claims);
    find_cards(text, &mut claims);
    find_phones(text, &mut claims);
    find_bsns(text, &mut claims);
    find_addresses(text, &mut claims);
    claims.into_spans()
}

/// Redacts a whole text column in parallel: the redacted texts, and the `redactions` struct column with one
/// `UInt32` count per kind (fields as `schema::redaction_fields`). Null texts stay null, with zero counts.
pub fn redact_column(texts: &StringArray) -> (StringArray, StructArray) {
    let (mut redacted, counts) = redact_columns(&[texts]);
    (redacted.remove(0), counts)
}

/// Redacts several text columns of the same rows; the counts of a row add up over the columns.
pub fn redact_columns(columns: &[&StringArray]) -> (Vec<StringArray>, StructArray) {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut totals = vec![RedactionCounts::default(); rows];
    let mut redacted_columns = Vec::with_capacity(columns.len());
    for texts in columns {
        let redacted: Vec<Option<(Cow<'_, str>, RedactionCounts)>> = (0..texts.len())
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|row| (!texts.is_null(row)).then(|| redact(texts.value(row))))
            .collect();
        for (total, row) in totals.iter_mut().zip(&redacted) {
            if let Some((_, counts)) = row {
                total.add_all(counts);
            }
        }
        redacted_columns.push(
            redacted
                .iter()
                .map(|row| row.as_ref().map(|(text, _)| text.as_ref()))
                .collect::<StringArray>(),
        );
    }
    let count_columns: Vec<ArrayRef> = PiiKind::ALL
        .iter()
        .map(|&kind| {
            Arc::new(
                totals
                    .iter()
                    .map(|c| Some(c.get(kind)))
                    .collect::<UInt32Array>(),
            ) as ArrayRef
        })
        .collect();
    // Cannot panic: one non-null UInt32 column of equal length per field of `redaction_fields`.
    let counts = StructArray::new(schema::redaction_fields(), count_columns, None);
    (redacted_columns, counts)
}

/// Spans taken so far: redacted ones, and protected ones (look-alikes that failed verification), which no
/// later, looser pattern may take a piece of.
#[derive(Default)]
struct Claims {
    spans: Vec<(Range<usize>, Option<PiiKind>)>,
}

impl Claims {
    fn is_free(&self, range: &Range<usize>) -> bool {
        self.spans
            .iter()
            .all(|(taken, _)| range.end <= taken.start || taken.end <= range.start)
    }

    /// Takes `range` for `kind` if nothing overlaps it yet; true if taken.
    fn redact(&mut self, range: Range<usize>, kind: PiiKind) -> bool {
        let free = self.is_free(&range);
        if free {
            self.spans.push((range, Some(kind)));
        }
        free
    }

    fn protect(&mut self, range: Range<usize>) {
        if self.is_free(&range) {
            self.spans.push((range, None));
        }
    }

    fn into_spans(self) -> Vec<PiiSpan> {
        let mut spans: Vec<PiiSpan> = self
            .spans
            .into_iter()
            .filter_map(|(range, kind)| kind.map(|kind| PiiSpan { kind, range }))
            .collect();
        spans.sort_by_key(|span| span.range.start);
        spans
    }
}

/// A compiled pattern. The patterns are literals, each exercised by the tests, so compiling cannot fail
/// at run time.
fn pattern(source: &str) -> Regex {
    Regex::new(source).unwrap_or_else(|e| panic!("invalid built-in pattern {source:?}: {e}"))
}

/// Calls `accept` on every match of `re` in `text`, left to right. Where `accept` rejects a match the search
/// resumes one character after its start rather than after its end, so that a rejected long shape (a date
/// followed by a phone number) does not hide a valid match inside it.
fn for_each_candidate(
    re: &Regex,
    text: &str,
    mut accept: impl FnMut(regex::Captures<'_>) -> Option<usize>,
) {
    let mut from = 0;
    while from < text.len() {
        let Some(captures) = re.captures_at(text, from) else {
            return;
        };
        let Some(whole) = captures.get(0) else {
            return;
        };
        let start = whole.start();
        from = match accept(captures) {
            Some(end) if end > start => end,
            _ => next_char_boundary(text, start + 1),
        };
    }
}

fn next_char_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|before| before.chars().next_back())
}

fn char_after(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|after| after.chars().next())
}

/// Whether a number at `range` stands on its own: not glued to a word or to another number, as in
/// `AB-123456782`, `2026-08-551270`, `123456782,50` or `v1.123456782`.
fn is_standalone_number(text: &str, range: &Range<usize>) -> bool {
    let glue = |c: char| matches!(c, '-' | '/' | '.' | ',' | ':' | '+' | '_' | '=');
    let before_ok = match char_before(text, range.start) {
        None => true,
        Some(c) if c.is_alphanumeric() => false,
        // `Tel:0612345678`, `BSN:123456782`: a colon after a word is a label's, after a number a time's.
        Some(':') => !matches!(char_before(text, range.start - 1), Some(b) if b.is_ascii_digit()),
        Some(c) if glue(c) => {
            !matches!(char_before(text, range.start - c.len_utf8()), Some(b) if b.is_alphanumeric())
        }
        Some(_) => true,
    };
    let after_ok = match char_after(text, range.end) {
        None => true,
        Some(c) if c.is_alphanumeric() => false,
        Some(c) if glue(c) => {
            !matches!(char_after(text, range.end + c.len_utf8()), Some(a) if a.is_ascii_digit())
        }
        Some(_) => true,
    };
    before_ok && after_ok
}

/// Up to `max` bytes of text before `at`, cut at a character boundary.
fn text_before(text: &str, at: usize, max: usize) -> &str {
    let start = next_char_boundary(text, at.saturating_sub(max));
    text.get(start..at).unwrap_or_default()
}

/// A label right before a number that says it is a reference of the organisation's, not personal data.
static REFERENCE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)(?:\b(?:klant|order|factuur|bestel|contract|dossier|zaak|meter|ean|aansluit(?:ings)?|polis|lid|kunden|rechnungs|bestell|auftrags|vertrags|customer|invoice|account|client|reference|ticket|case|member|policy)[\s-]?(?:nummer|nr\.?|no\.?|number|num\.?|id|#)|\bkenmerk|\breferentie|\breference|\bref\.?|\bkundennr\.?|\bnum[ée]ro(?: de)? (?:client|commande|facture))\s*[:#]?\s*(?:is\s+|was\s+)?$",
    )
});

fn follows_reference_label(text: &str, at: usize) -> bool {
    REFERENCE_LABEL.is_match(text_before(text, at, 48))
}

// ---------------------------------------------------------------------------------------------- e-mail

/// An address, or one masked after the `@` (`m.jansen78@...`), whose local part still identifies someone.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"[\p{L}\p{N}._%+-]+@(?:(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+\p{L}{2,24}\b|\.\.\.|…)",
    )
});

fn find_emails(text: &str, claims: &mut Claims) {
    if !text.contains('@') {
        return;
    }
    for found in EMAIL.find_iter(text) {
        // A local part starting or ending in a dot is punctuation around the address, not part of it.
        let local_start = found.start()
            + found
                .as_str()
                .bytes()
                .take_while(|&b| b == b'.' || b == b'-')
                .count();
        if text
            .get(local_start..)
            .is_some_and(|rest| !rest.starts_with('@'))
        {
            claims.redact(local_start..found.end(), PiiKind::Email);
        }
    }
}

// ------------------------------------------------------------------------------------------------ IBAN

/// IBAN shape: country, check digits, then the account in groups of four (a shorter last group), with or
/// without single spaces; in either case, as customers type them in chats.
static IBAN_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?\b")
});

/// The IBAN length of each country that issues them (SWIFT IBAN registry).
fn iban_length(country: &str) -> Option<usize> {
    let length = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    };
    Some(length)
}

fn find_ibans(text: &str, claims: &mut Claims) {
    for shape in IBAN_SHAPE.find_iter(text) {
        let candidate = shape.as_str();
        let country = candidate.get(..2).unwrap_or_default().to_ascii_uppercase();
        let Some(length) = iban_length(&country) else {
            continue;
        };
        let iban = iban_end(candidate, length).and_then(|end| candidate.get(..end));
        match iban {
            Some(iban) if is_valid_iban(iban) => {
                let end = shape.start() + iban.len();
                claims.redact(shape.start()..end, PiiKind::Iban);
            }
            // An IBAN of a known country that fails its checksum or length: a typo or an invented number.
            // Left alone, and kept whole so that its digit groups are not mistaken for a phone number.
            _ => claims.protect(shape.range()),
        }
    }
}

/// The byte offset in `candidate` just after its `length`-th letter or digit, if that ends a group.
fn iban_end(candidate: &str, length: usize) -> Option<usize> {
    let (last, c) = candidate
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphanumeric())
        .nth(length.checked_sub(1)?)?;
    let end = last + c.len_utf8();
    match candidate.as_bytes().get(end) {
        None | Some(b' ') => Some(end),
        Some(_) => None,
    }
}

/// ISO 13616 check: the country and check digits moved to the end, letters as 10..35, the whole mod 97 is 1.
fn is_valid_iban(iban: &str) -> bool {
    let chars: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).collect();
    let (head, account) = chars.split_at(4.min(chars.len()));
    let mut remainder: u32 = 0;
    for c in account.iter().chain(head) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

// ------------------------------------------------------------------------------------------------ card

/// Card number shape: 13 to 19 digits, unbroken or as printed on cards: groups of four (16 or 19 digits), or
/// 4-6-5 / 4-6-4 (Amex, Diners), one kind of separator throughout.
static CARD_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b(?:[0-9]{13,19}|[0-9]{4}(?: [0-9]{4}){3}(?: [0-9]{3})?|[0-9]{4}(?:-[0-9]{4}){3}(?:-[0-9]{3})?|[0-9]{4} [0-9]{6} [0-9]{4,5}|[0-9]{4}-[0-9]{6}-[0-9]{4,5})\b",
    )
});

fn find_cards(text: &str, claims: &mut Claims) {
    for shape in CARD_SHAPE.find_iter(text) {
        let range = shape.range();
        if !is_standalone_number(text, &range) {
            continue;
        }
        let digits: Vec<u32> = shape
            .as_str()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        if is_card_number(&digits) && !follows_reference_label(text, range.start) {
            claims.redact(range, PiiKind::Card);
        } else if shape.as_str().contains([' ', '-']) {
            // Grouped like a card but not one: keep it whole, so that no piece becomes a phone number.
            claims.protect(range);
        }
    }
}

/// An issuer prefix of a card scheme with a length that scheme issues, and a valid Luhn check digit.
fn is_card_number(digits: &[u32]) -> bool {
    let length = digits.len();
    let prefix = digits.iter().take(4).fold(0, |acc, d| acc * 10 + d);
    let issued = match prefix / 100 {
        // Visa.
        40..=49 => matches!(length, 13 | 16 | 19),
        // Amex.
        34 | 37 => length == 15,
        // Diners 30/36/38/39, JCB 35.
        30 | 35 | 36 | 38 | 39 => (14..=19).contains(&length),
        // Mastercard, its 2-series included.
        51..=55 => length == 16,
        22..=27 => (2221..=2720).contains(&prefix) && length == 16,
        // Maestro.
        50 | 56..=58 => (13..=19).contains(&length),
        // Discover, Maestro, UnionPay.
        60..=69 => (16..=19).contains(&length),
        _ => false,
    };
    issued && luhn_valid(digits)
}

fn luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

// ----------------------------------------------------------------------------------------------- phone

/// International form: `+` or `00`, country code, an optional `(0)`, digit groups.
static PHONE_INTERNATIONAL: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?:\+|\b00)[1-9][0-9]{0,2}(?:[ -]?\(0\))?(?:[ -]?[0-9]{1,5}){1,6}"));

/// Dutch national form: trunk 0 and area code (optionally in brackets), then digit groups.
static PHONE_NATIONAL: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"\(?\b0[1-9][0-9]{0,2}\)?(?:[ -]?[0-9]{2,8}){1,4}"));

/// A date with a four-digit year at the start of a candidate (`06-12-2026 12`): never a phone number.
static LEADING_DATE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(?:0?[1-9]|[12][0-9]|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)[0-9]{2}")
});

/// Digits in a Dutch number after the trunk 0 or country code 31.
const DUTCH_SUBSCRIBER_DIGITS: usize = 9;
/// E.164: a country code and national number together have at most 15 digits.
const MAX_INTERNATIONAL_DIGITS: usize = 15;
/// Fewer digits than this after `+` is a sum or a percentage, not a phone number.
const MIN_INTERNATIONAL_DIGITS: usize = 8;

fn find_phones(text: &str, claims: &mut Claims) {
    for_each_candidate(&PHONE_INTERNATIONAL, text, |captures| {
        let found = captures.get(0)?;
        let prefix_len = if found.as_str().starts_with('+') {
            1
        } else {
            2
        };
        let number = found.as_str().get(prefix_len..)?;
        let groups: Vec<(usize, usize)> = digit_group_ends(number)
            .into_iter()
            .map(|(end, digits)| (prefix_len + end, digits))
            .collect();
        let digits_total = groups.last()?.1;
        let is_dutch = number.starts_with("31");
        let end = if is_dutch {
            group_end_at(&groups, 2 + DUTCH_SUBSCRIBER_DIGITS)?
        } else {
            let wanted = digits_total.min(MAX_INTERNATIONAL_DIGITS);
            groups
                .iter()
                .rev()
                .find(|(_, digits)| *digits <= wanted && *digits >= MIN_INTERNATIONAL_DIGITS)?
                .0
        };
        claim_phone(text, found.start()..found.start() + end, claims)
    });
    for_each_candidate(&PHONE_NATIONAL, text, |captures| {
        let found = captures.get(0)?;
        if LEADING_DATE.is_match(found.as_str()) {
            return None;
        }
        let groups = digit_group_ends(found.as_str());
        let end = found.start() + group_end_at(&groups, 1 + DUTCH_SUBSCRIBER_DIGITS)?;
        // An opening bracket belongs to the number only when it closes around the area code: `(020) 123`.
        let area_in_brackets = groups.first().is_some_and(|&(area_end, _)| {
            found
                .as_str()
                .get(area_end..)
                .is_some_and(|rest| rest.starts_with(')'))
        });
        let start = if found.as_str().starts_with('(') && !area_in_brackets {
            found.start() + 1
        } else {
            found.start()
        };
        claim_phone(text, start..end, claims)
    });
}

fn claim_phone(text: &str, range: Range<usize>, claims: &mut Claims) -> Option<usize> {
    let standalone = is_standalone_number(text, &range)
        || (text
            .get(range.clone())
            .is_some_and(|s| s.starts_with(['+', '(']))
            && !char_before(text, range.start).is_some_and(char::is_alphanumeric));
    if !standalone || follows_reference_label(text, range.start) {
        return None;
    }
    let end = range.end;
    claims.redact(range, PiiKind::Phone).then_some(end)
}

/// For each run of digits in `candidate`: the byte offset after it and the number of digits up to there.
/// A `(0)` (the trunk prefix written inside an international number) counts for nothing.
fn digit_group_ends(candidate: &str) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let mut digits = 0;
    let mut in_group = false;
    let mut skip_to = 0;
    for (at, c) in candidate.char_indices() {
        if at < skip_to {
            continue;
        }
        if c == '(' && candidate.get(at..).is_some_and(|s| s.starts_with("(0)")) && digits > 0 {
            if in_group {
                ends.push((at, digits));
                in_group = false;
            }
            skip_to = at + 3;
            continue;
        }
        if c.is_ascii_digit() {
            digits += 1;
            in_group = true;
        } else if in_group {
            ends.push((at, digits));
            in_group = false;
        }
    }
    if in_group {
        ends.push((candidate.len(), digits));
    }
    ends
}

/// The end of the group where exactly `digits` digits have been seen, if a group ends there.
fn group_end_at(groups: &[(usize, usize)], digits: usize) -> Option<usize> {
    groups
        .iter()
        .find(|(_, count)| *count == digits)
        .map(|(end, _)| *end)
}

// ------------------------------------------------------------------------------------------------- BSN

/// Nine digits, unbroken or in the official `1234.56.789` form; with a BSN label also eight digits (an old
/// number without its leading zero) or three groups of three.
static BSN_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"\b(?:[0-9]{9}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{3} [0-9]{3} [0-9]{3}|[0-9]{8})\b")
});

static BSN_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)\b(?:bsn|burgerservicenummer|sofi-?nummer|sofi|citizen service number)(?:[\s-]?(?:nummer|nr\.?|number))?\s*[:#]?\s*(?:is\s+)?$",
    )
});

fn find_bsns(text: &str, claims: &mut Claims) {
    for_each_candidate(&BSN_SHAPE, text, |captures| {
        let found = captures.get(0)?;
        let range = found.range();
        if !is_standalone_number(text, &range) || follows_reference_label(text, range.start) {
            return None;
        }
        let digits: Vec<u32> = found
            .as_str()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        let labelled = BSN_LABEL.is_match(text_before(text, range.start, 40));
        let plain_nine = digits.len() == 9 && !found.as_str().contains(' ');
        if !(plain_nine || labelled) || !passes_eleven_test(&digits) {
            return None;
        }
        claims
            .redact(range.clone(), PiiKind::Bsn)
            .then_some(range.end)
    });
}

/// The BSN 11-test: weights 9..2 on the first eight digits and -1 on the last, sum divisible by 11. Eight
/// digits are read with a leading zero. All zeros is no number.
fn passes_eleven_test(digits: &[u32]) -> bool {
    let padded: Vec<i64> = match digits.len() {
        8 => std::iter::once(0)
            .chain(digits.iter().map(|&d| i64::from(d)))
            .collect(),
        9 => digits.iter().map(|&d| i64::from(d)).collect(),
        _ => return false,
    };
    let weighted: i64 = padded
        .iter()
        .zip([9, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(d, w)| d * w)
        .sum();
    weighted % 11 == 0 && padded.iter().any(|&d| d != 0)
}

// --------------------------------------------------------------------------------------------- address

// A Dutch postcode: four digits not starting with 0, two capitals (SA, SD and SS are not issued).
// A house number: up to five digits and an addition (`12a`, `3B`, `112-C`, `4-12`).
const POSTCODE: &str = r"[1-9][0-9]{3} ?[A-Z]{2}";
const HOUSE_NUMBER: &str = r"[1-9][0-9]{0,4}(?:-?[A-Za-z]{1,2}\b|-[0-9]{1,4}\b)?";

/// `Kerkstraat 12, 1234 AB`: the house number after a word, then the postcode.
static NUMBER_THEN_POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"\p{{L}}[\p{{L}}.']* (?P<number>{HOUSE_NUMBER}),? (?P<postcode>{POSTCODE})\b"
    ))
});

/// `1234 AB 12`, `1234AB 12a`, `7552 TA, nr. 31`, `1093 KH, number 60`.
static POSTCODE_THEN_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"\b(?P<postcode>{POSTCODE}),? (?:(?i:huisnummer|huisnr\.?|nummer|number|nr\.?|no\.?) ?)?(?P<number>{HOUSE_NUMBER})\b"
    ))
});

static POSTCODE_ALONE: LazyLock<Regex> =
    LazyLock::new(|| pattern(&format!(r"\b(?P<postcode>{POSTCODE})\b")));

/// `postcode 1234 AB`, `postcode: 1234ab 12`: after a label the letters may be lower case, as typed in chats.
static LABELLED_POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"(?i)\b(?:postcode|post code|postal code|zip(?: code)?)\s*:?\s*(?:is\s+)?(?P<postcode>[1-9][0-9]{{3}} ?[a-z]{{2}})\b(?:,? (?:(?:huisnummer|huisnr\.?|nummer|number|nr\.?|no\.?) ?)?(?P<number>{HOUSE_NUMBER})\b)?"
    ))
});

/// A capitalised word after a postcode: the place name of an address (`1234 AB Utrecht`).
static PLACE_AFTER: LazyLock<Regex> = LazyLock::new(|| pattern(r"^,? (?:'s-)?\p{Lu}\p{Ll}"));

/// Endings of Dutch and German street names, which make the number after them a house number.
const STREET_SUFFIXES: &str =
    "straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|hof|hoven|markt|plantsoen|pad|straße|strasse";

/// A house number after a street name with a common Dutch or German street suffix (`Kastanjelaan 14`).
static STREET_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"\b\p{{Lu}}\p{{L}}*(?:{STREET_SUFFIXES}) (?P<number>{HOUSE_NUMBER})\b"
    ))
});

/// A street of one to four capitalised or linking words and a house number: in a signature, as the line
/// under the sender's name followed by a place (`Sanne de Vries` / `Wilgenhof 12, Houten`), or after an
/// address label (`address (Oude Delft 88`). Without such context `Windows 10, Edge` would be an address.
const STREET_WORDS: &str =
    r"\p{Lu}[\p{L}'.-]*(?: (?:van|de|der|den|het|aan|op|\p{Lu}[\p{L}'.-]*)){0,3}";

/// A name line (two to five capitalised words or particles) and under it `Street 12, Place`.
static SIGNATURE_ADDRESS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"(?m)^\p{{Lu}}[\p{{L}}.'-]*(?: (?:van|de|der|den|ter|ten|te|el|la|le|\p{{Lu}}[\p{{L}}.'-]*)){{1,4}}[ \t\r]*\n{STREET_WORDS} (?P<number>{HOUSE_NUMBER}), \p{{Lu}}[\p{{L}}'-]*(?: \p{{Lu}}[\p{{L}}'-]*)?[ \t\r]*$"
    ))
});

static LABELLED_STREET_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| pattern(&format!(r"\b{STREET_WORDS} (?P<number>{HOUSE_NUMBER})\b")));

static ADDRESS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?i)\b(?:adres|address|adresse|anschrift)\s*[:(]?\s*$"));

fn find_addresses(text: &str, claims: &mut Claims) {
    for_each_candidate(&NUMBER_THEN_POSTCODE, text, |captures| {
        let number = captures.name("number")?;
        let postcode = captures.name("postcode")?;
        claim_address(
            text,
            number.start()..postcode.end(),
            postcode.as_str(),
            claims,
        )
    });
    for_each_candidate(&POSTCODE_THEN_NUMBER, text, |captures| {
        let number = captures.name("number")?;
        let postcode = captures.name("postcode")?;
        claim_address(
            text,
            postcode.start()..number.end(),
            postcode.as_str(),
            claims,
        )
    });
    for_each_candidate(&LABELLED_POSTCODE, text, |captures| {
        let postcode = captures.name("postcode")?;
        let end = captures.name("number").map_or(postcode.end(), |n| n.end());
        let letters = postcode.as_str().to_ascii_uppercase();
        claim_address(text, postcode.start()..end, &letters, claims)
    });
    for_each_candidate(&POSTCODE_ALONE, text, |captures| {
        let postcode = captures.name("postcode")?;
        let place_follows = text
            .get(postcode.end()..)
            .is_some_and(|after| PLACE_AFTER.is_match(after));
        if !place_follows {
            return None;
        }
        claim_address(text, postcode.range(), postcode.as_str(), claims)
    });
    for_each_candidate(&STREET_NUMBER, text, |captures| {
        let number = captures.name("number")?;
        claim_address(text, number.range(), "", claims)
    });
    for_each_candidate(&SIGNATURE_ADDRESS_LINE, text, |captures| {
        let number = captures.name("number")?;
        claim_address(text, number.range(), "", claims)
    });
    for_each_candidate(&LABELLED_STREET_NUMBER, text, |captures| {
        let street = captures.get(0)?;
        if !ADDRESS_LABEL.is_match(text_before(text, street.start(), 24)) {
            return None;
        }
        let number = captures.name("number")?;
        claim_address(text, number.range(), "", claims)
    });
}

fn claim_address(
    text: &str,
    range: Range<usize>,
    postcode: &str,
    claims: &mut Claims,
) -> Option<usize> {
    let letters = postcode
        .get(postcode.len().saturating_sub(2)..)
        .unwrap_or_default();
    if matches!(letters, "SA" | "SD" | "SS") || !is_standalone_number(text, &range) {
        return None;
    }
    let end = range.end;
    claims.redact(range, PiiKind::Address).then_some(end)
}

/// Redacts the `text` of every turn in a `turns` list column (chats and calls). The counts are not returned:
/// turn texts repeat what the interaction's `text` / `text_raw` already hold, which are counted there.
pub fn redact_turns(
    turns: &arrow_array::ListArray,
) -> crate::error::Result<arrow_array::ListArray> {
    use arrow_array::Array;
    let Some(values) = turns.values().as_any().downcast_ref::<StructArray>() else {
        return Ok(turns.clone());
    };
    let Some((position, _)) = values.fields().find(schema::TURN_TEXT) else {
        return Ok(turns.clone());
    };
    let Some(texts) = values
        .column(position)
        .as_any()
        .downcast_ref::<StringArray>()
    else {
        return Ok(turns.clone());
    };
    let (redacted, _) = redact_column(texts);
    let mut columns = values.columns().to_vec();
    columns[position] = Arc::new(redacted);
    let values = StructArray::try_new(values.fields().clone(), columns, values.nulls().cloned())?;
    let arrow_schema::DataType::List(item) = turns.data_type() else {
        return Ok(turns.clone());
    };
    Ok(arrow_array::ListArray::try_new(
        item.clone(),
        turns.offsets().clone(),
        Arc::new(values),
        turns.nulls().cloned(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_checksum() {
        assert!(is_valid_iban("NL91ABNA0417164300"));
        assert!(is_valid_iban("NL91 ABNA 0417 1643 00"));
        assert!(!is_valid_iban("NL91ABNA0417164301"));
        assert!(!is_valid_iban("NL"));
    }

    #[test]
    fn luhn_and_eleven_test() {
        let digits = |s: &str| -> Vec<u32> { s.chars().filter_map(|c| c.to_digit(10)).collect() };
        assert!(luhn_valid(&digits("4111111111111111")));
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert!(passes_eleven_test(&digits("111222333")));
        assert!(!passes_eleven_test(&digits("111222334")));
        assert!(!passes_eleven_test(&digits("000000000")));
    }

    #[test]
    fn digit_groups_skip_the_trunk_zero_in_brackets() {
        assert_eq!(
            digit_group_ends("+31 (0)6 12345678"),
            vec![(3, 2), (8, 3), (17, 11)]
        );
        assert_eq!(digit_group_ends("(020) 123"), vec![(4, 3), (9, 6)]);
    }
}
