//! Privacy redaction: every kind in the forms customers write it, the look-alikes that must survive, the
//! column helper, and the shipped sample.

use std::borrow::Cow;

use arrow_array::{Array, StringArray, UInt32Array};
use touchpoint::normalize::{find_pii, redact, redact_column, PiiKind, RedactionCounts};
use touchpoint::schema;

/// Asserts that `text` redacts to `expected` with exactly `count` spans of `kind` and nothing else.
fn assert_redacts(text: &str, expected: &str, kind: PiiKind, count: u32) {
    let (redacted, counts) = redact(text);
    assert_eq!(redacted, expected, "redacting {text:?}");
    assert_eq!(counts.get(kind), count, "{kind:?} count for {text:?}");
    assert_eq!(
        counts.total(),
        count,
        "other kinds found in {text:?}: {counts:?}"
    );
}

/// Asserts that nothing in `text` is redacted, and that the text is borrowed, not copied.
fn assert_untouched(text: &str) {
    let (redacted, counts) = redact(text);
    assert!(
        counts.is_empty(),
        "{text:?} must stay, but became {redacted:?}"
    );
    assert!(matches!(redacted, Cow::Borrowed(t) if t == text));
}

#[test]
fn emails() {
    assert_redacts(
        "Mail mij op jan.de.vries@example.nl, dank!",
        "Mail mij op [EMAIL], dank!",
        PiiKind::Email,
        1,
    );
    assert_redacts(
        "van esra.yilmaz1985@ziggo.nl naar e.yilmaz@outlook.com.",
        "van [EMAIL] naar [EMAIL].",
        PiiKind::Email,
        2,
    );
    assert_redacts(
        "Send it to ANNA+energy@Sub.Mail-Host.co.uk please",
        "Send it to [EMAIL] please",
        PiiKind::Email,
        1,
    );
    // Masked after the @ by an agent: the local part still names the customer.
    assert_redacts(
        "ik stuur hem naar m.jansen78@... ok?",
        "ik stuur hem naar [EMAIL] ok?",
        PiiKind::Email,
        1,
    );
}

#[test]
fn email_look_alikes_stay() {
    assert_untouched("Volg ons op @Stroomlijn of mail naar info@localhost");
    assert_untouched("Prijs 2 @ € 5,00 per stuk");
    assert_untouched("Een e-mailadres wijzigen kan in de app");
}

#[test]
fn dutch_phone_numbers() {
    for number in [
        "06-12345678",
        "06 1234 5678",
        "0612345678",
        "06 12 34 56 78",
        "+31 6 12345678",
        "+31612345678",
        "+31 (0)6 12345678",
        "0031 20 123 4567",
        "020-1234567",
        "(020) 123 45 67",
        "0343-123456",
    ] {
        assert_redacts(
            &format!("Bel me op {number}, graag na vijf uur."),
            "Bel me op [PHONE], graag na vijf uur.",
            PiiKind::Phone,
            1,
        );
    }
    assert_redacts("Tel:0612345678", "Tel:[PHONE]", PiiKind::Phone, 1);
    // Brackets around the whole number stay; brackets around the area code go with it.
    assert_redacts("(06-12345678)", "([PHONE])", PiiKind::Phone, 1);
    assert_redacts("((020) 1234567)", "([PHONE])", PiiKind::Phone, 1);
    assert_redacts("Klant: 06-41208877", "Klant: [PHONE]", PiiKind::Phone, 1);
}

#[test]
fn international_phone_numbers() {
    for number in [
        "+44 20 7946 0958",
        "+49 30 123456",
        "0049 30 1234567",
        "+1 212 555 0100",
    ] {
        assert_redacts(
            &format!("My number is {number}."),
            "My number is [PHONE].",
            PiiKind::Phone,
            1,
        );
    }
}

#[test]
fn phone_look_alikes_stay() {
    for text in [
        "Geboortedatum 12-03-1990, ingang 01-10-2026",
        "Op 06-12-2026 om 10:30 uur",
        "Om 14.30 uur of om 09:15",
        "Bedrag € 1.234,56 en € 0,26 per kWh, 2.900 kWh per jaar",
        "Meterstanden 04512 en 03988, gas 00642",
        "Factuur 2026-08-551270 en referentie PRV-2026-0412",
        "Klantnummer 40118752",
        "Versie 10.0.19045 en v1.2.3",
        "De prijs stijgt +10% of +2,5 cent",
        "Bel Liander op 0800 9009",
        // A reference number shaped like a phone number, named as one.
        "Ordernummer 0612345678",
        "Your invoice number is 0201447855",
    ] {
        assert_untouched(text);
    }
}

#[test]
fn ibans() {
    assert_redacts(
        "Mijn IBAN is NL91 ABNA 0417 1643 00.",
        "Mijn IBAN is [IBAN].",
        PiiKind::Iban,
        1,
    );
    assert_redacts(
        "rekening NL91ABNA0417164300 graag",
        "rekening [IBAN] graag",
        PiiKind::Iban,
        1,
    );
    // Typed in lower case in a chat.
    assert_redacts(
        "mijn rekening is nl91abna0417164300",
        "mijn rekening is [IBAN]",
        PiiKind::Iban,
        1,
    );
    // The sample's invented Dutch account with its check digits corrected.
    assert_redacts(
        "Rekening NL02 INGB 0009 8812 77",
        "Rekening [IBAN]",
        PiiKind::Iban,
        1,
    );
    // Other countries by their own length: Belgium 16 (followed by a four-letter word), Germany 22.
    assert_redacts("BE68 5390 0754 7034 Gent", "[IBAN] Gent", PiiKind::Iban, 1);
    assert_redacts(
        "IBAN: DE89 3704 0044 0532 0130 00.",
        "IBAN: [IBAN].",
        PiiKind::Iban,
        1,
    );
    assert_redacts(
        "Revolut LT48 3250 0111 2233 4455",
        "Revolut [IBAN]",
        PiiKind::Iban,
        1,
    );
}

#[test]
fn invalid_ibans_stay_whole() {
    for text in [
        // Wrong check digits (the sample's invented accounts).
        "NL91 ABNA 0417 1643 01",
        "Rekening NL30 INGB 0009 8812 77",
        "Customer: LT12 3250 0111 2233 4455",
        "IBAN: DE44 3705 0198 0012 3456 78.",
        // One digit short, and a country that issues no IBANs.
        "NL91 ABNA 0417 1643 0",
        "XY12 3456 7890 1234 56",
    ] {
        assert_untouched(text);
    }
}

#[test]
fn card_numbers() {
    for number in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500000000000004",
        "3782 822463 10005",
        "6011 1111 1111 1117",
    ] {
        assert_redacts(
            &format!("Kaart {number} graag"),
            "Kaart [CARD] graag",
            PiiKind::Card,
            1,
        );
    }
}

#[test]
fn card_look_alikes_stay() {
    for text in [
        // Fails Luhn.
        "Kaart 4111 1111 1111 1112",
        // Luhn-valid but no card scheme issues numbers starting with 1 or 8 (an EAN connection code).
        "Order 1234567812345670",
        "EAN-code 871687120053911234",
        // A Luhn-valid card number named as a reference.
        "Referentie: 4111111111111111",
    ] {
        assert_untouched(text);
    }
}

#[test]
fn bsns() {
    assert_redacts("BSN 123456782", "BSN [BSN]", PiiKind::Bsn, 1);
    assert_redacts(
        "mijn bsn is 1234.56.782.",
        "mijn bsn is [BSN].",
        PiiKind::Bsn,
        1,
    );
    assert_redacts(
        "Burgerservicenummer: 123 456 782",
        "Burgerservicenummer: [BSN]",
        PiiKind::Bsn,
        1,
    );
    // Eight digits: an old number without its leading zero, only taken with a label.
    assert_redacts("BSN:12345672", "BSN:[BSN]", PiiKind::Bsn, 1);
    // Nine digits that pass the 11-test are taken without a label too.
    assert_redacts(
        "nummer 111222333 toch?",
        "nummer [BSN] toch?",
        PiiKind::Bsn,
        1,
    );
}

#[test]
fn bsn_look_alikes_stay() {
    for text in [
        // Fails the 11-test.
        "BSN 123456789",
        // Customer numbers, one of which passes the 11-test as an eight-digit number.
        "Klantnummer 40118752",
        "Klantnummer 40118757",
        "40118757",
        // Nine digits passing the 11-test, named as something else.
        "klantnummer 401187512",
        "Customer number: 401187512",
        "factuurnummer 123456782",
        // Part of a larger number or amount.
        "€ 123456782,50",
        "2026-123456782",
        "1234567821",
    ] {
        assert_untouched(text);
    }
}

#[test]
fn postcode_and_house_number() {
    assert_redacts("1234 AB 12", "[ADDRESS]", PiiKind::Address, 1);
    assert_redacts("Klant: 1234AB 12a", "Klant: [ADDRESS]", PiiKind::Address, 1);
    assert_redacts(
        "Kerkstraat 12, 1234 AB Amsterdam",
        "Kerkstraat [ADDRESS] Amsterdam",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "Laan van Meerdervoort 702, 2564 AK Den Haag",
        "Laan van Meerdervoort [ADDRESS] Den Haag",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "in Hengelo (7552 TA, nr. 31) en",
        "in Hengelo ([ADDRESS]) en",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "It's 1093 KH, number 60, second floor.",
        "It's [ADDRESS], second floor.",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "Address: Kruisstraat 112-C, 5612 CJ Eindhoven.",
        "Address: Kruisstraat [ADDRESS] Eindhoven.",
        PiiKind::Address,
        1,
    );
}

#[test]
fn postcode_alone_and_street_with_number() {
    assert_redacts(
        "verbruik 4500 kWh, postcode 3825 GE",
        "verbruik 4500 kWh, postcode [ADDRESS]",
        PiiKind::Address,
        1,
    );
    assert_redacts("3544 AB Utrecht", "[ADDRESS] Utrecht", PiiKind::Address, 1);
    // After a label the letters may be lower case, as typed in chats.
    assert_redacts(
        "mijn postcode is 1234ab 12, klopt dat?",
        "mijn postcode is [ADDRESS], klopt dat?",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "ik verhuis van de Kastanjelaan 14 in Amersfoort",
        "ik verhuis van de Kastanjelaan [ADDRESS] in Amersfoort",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "Met vriendelijke groet,\nSanne de Vries\nWilgenhof 12, Houten",
        "Met vriendelijke groet,\nSanne de Vries\nWilgenhof [ADDRESS], Houten",
        PiiKind::Address,
        1,
    );
    assert_redacts(
        "Old address (Zwaanshals 201, Rotterdam): 22,415 kWh",
        "Old address (Zwaanshals [ADDRESS], Rotterdam): 22,415 kWh",
        PiiKind::Address,
        1,
    );
}

#[test]
fn address_look_alikes_stay() {
    for text in [
        // Not issued as postcodes, or not next to anything that makes them one.
        "1234 SS 12",
        "Ik heb 2000 MB data en 4500 kWh",
        "In 2026 EN daarna",
        "Vast 3 jaar kost 1.150 m3 gas",
        "Article 15 GDPR",
        "Fixed 1 Year electricity",
        "per 1 oktober 2026",
        "Stap 2, klik op opslaan",
        "Welke browser?\nWindows 10, Edge",
        // Lower-case letters without a postcode label: a year and a word.
        "per 1 oktober 2026 om 12 uur",
        "1000 km 12 dagen",
    ] {
        assert_untouched(text);
    }
}

#[test]
fn mixed_text_counts_every_kind() {
    let text = "Beste Stroomlijn,\n\nMijn nieuwe adres is Kerkstraat 12, 1234 AB Amsterdam. Bel me op \
                06-12345678 of mail jan@example.nl. IBAN NL91 ABNA 0417 1643 00, BSN 123456782, \
                kaart 4111 1111 1111 1111.\n\nKlantnummer 40118752, factuur 2026-08-551270 van € 148,00.";
    let (redacted, counts) = redact(text);
    assert_eq!(
        redacted,
        "Beste Stroomlijn,\n\nMijn nieuwe adres is Kerkstraat [ADDRESS] Amsterdam. Bel me op \
         [PHONE] of mail [EMAIL]. IBAN [IBAN], BSN [BSN], \
         kaart [CARD].\n\nKlantnummer 40118752, factuur 2026-08-551270 van € 148,00."
    );
    for kind in PiiKind::ALL {
        assert_eq!(counts.get(kind), 1, "{kind:?}");
    }
    assert_eq!(counts.total(), 6);
    let spans = find_pii(text);
    assert_eq!(spans.len(), 6);
    assert!(spans.windows(2).all(|w| w[0].range.end <= w[1].range.start));
}

#[test]
fn nothing_found_borrows() {
    for text in [
        "",
        "Goedemorgen, mijn factuur klopt niet.",
        "Sinds 2021 twaalf panelen",
    ] {
        let (redacted, counts) = redact(text);
        assert!(matches!(redacted, Cow::Borrowed(t) if t == text));
        assert_eq!(counts, RedactionCounts::default());
    }
}

#[test]
fn odd_input_never_panics() {
    for text in [
        "@",
        "@@@...",
        "+",
        "+31",
        "(0",
        "06-",
        "NL91",
        "€0612345678€",
        "ß0612345678ß",
        "0612345678\u{0301}",
        "😀06-12345678😀 1234 AB 12😀",
        "NL91 ABNA 0417 1643 00😀",
    ] {
        let (redacted, _) = redact(text);
        assert!(redacted.len() <= text.len() + 64);
    }
    let long_digits = "1".repeat(10_000);
    assert_untouched(&long_digits);
    let long_groups = "06 12 ".repeat(2_000);
    let _ = redact(&long_groups);
}

#[test]
fn placeholders_and_field_names() {
    let placeholders: Vec<&str> = PiiKind::ALL.iter().map(|k| k.placeholder()).collect();
    assert_eq!(
        placeholders,
        [
            "[EMAIL]",
            "[PHONE]",
            "[IBAN]",
            "[CARD]",
            "[BSN]",
            "[ADDRESS]"
        ]
    );
    let names: Vec<&str> = PiiKind::ALL.iter().map(|k| k.field_name()).collect();
    assert_eq!(names, schema::REDACTION_KINDS);
}

#[test]
fn column_redaction() {
    let texts = StringArray::from(vec![
        Some("Bel 06-12345678 of 020-1234567"),
        None,
        Some("Geen persoonsgegevens hier"),
        Some("Kerkstraat 12, 1234 AB Amsterdam, jan@example.nl"),
    ]);
    let (redacted, counts) = redact_column(&texts);
    assert_eq!(redacted.len(), 4);
    assert_eq!(redacted.value(0), "Bel [PHONE] of [PHONE]");
    assert!(redacted.is_null(1));
    assert_eq!(redacted.value(2), "Geen persoonsgegevens hier");
    assert_eq!(redacted.value(3), "Kerkstraat [ADDRESS] Amsterdam, [EMAIL]");

    assert_eq!(counts.fields(), &schema::redaction_fields());
    assert_eq!(counts.null_count(), 0);
    let column = |kind: PiiKind| -> Vec<u32> {
        counts
            .column_by_name(kind.field_name())
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .map(|c| c.values().to_vec())
            .unwrap_or_default()
    };
    assert_eq!(column(PiiKind::Phone), [2, 0, 0, 0]);
    assert_eq!(column(PiiKind::Address), [0, 0, 0, 1]);
    assert_eq!(column(PiiKind::Email), [0, 0, 0, 1]);
    assert_eq!(column(PiiKind::Iban), [0, 0, 0, 0]);
    assert_eq!(
        schema::redactions_field().data_type(),
        &arrow_schema::DataType::Struct(schema::redaction_fields())
    );
}

/// The shipped sample: what is redacted, and that the look-alikes it holds survive.
#[test]
fn shipped_sample() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/interactions.csv");
    let mut reader = csv::Reader::from_path(path).expect("sample readable");
    let texts: Vec<String> = reader
        .records()
        .map(|record| record.expect("sample row")[5].to_string())
        .collect();
    assert_eq!(texts.len(), 300);
    let (redacted, counts) = redact_column(&StringArray::from(texts.clone()));

    let total = |kind: PiiKind| -> u32 {
        counts
            .column_by_name(kind.field_name())
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .map(|c| c.values().iter().sum())
            .unwrap_or_default()
    };
    assert_eq!(total(PiiKind::Email), 7);
    assert_eq!(total(PiiKind::Phone), 6);
    assert_eq!(total(PiiKind::Address), 45);
    // The sample's IBANs are invented and all fail the mod-97 check; it holds no card numbers or BSNs.
    assert_eq!(total(PiiKind::Iban), 0);
    assert_eq!(total(PiiKind::Card), 0);
    assert_eq!(total(PiiKind::Bsn), 0);

    let all: String = redacted.iter().flatten().collect::<Vec<_>>().join("\n");
    for gone in [
        "a.benali@hotmail.com",
        "m.jansen78@",
        "06-34991208",
        "06 5512 7734",
        "3544 AB",
        "Kastanjelaan 14",
        "7552 TA, nr. 31",
        "8022 KP 41",
        "Kruisstraat 112-C",
    ] {
        assert!(!all.contains(gone), "{gone:?} left in the redacted sample");
    }
    for kept in [
        "Klantnummer 40118752",
        "Customer number 40155092, date of birth 12-03-1990",
        "871687120053911234",
        "factuur 2026-08-551270 (€ 148,00)",
        "invoice number 2026-10-880412",
        "PRV-2026-0412",
        "0800 9009",
        "NL30 INGB 0009 8812 77",
        "LT12 3250 0111 2233 4455",
        "stroom 078412 en gas 22874",
        "1.8.1 = 04512, 1.8.2 = 03988",
        "2.900 kWh en 1.150 m3",
        "€ 0,2610 per kWh",
        "eindigt op 77",
    ] {
        assert!(all.contains(kept), "{kept:?} lost in the redacted sample");
    }
    // Every placeholder replaced exactly one counted span.
    let placeholders: u32 = PiiKind::ALL
        .iter()
        .map(|k| all.matches(k.placeholder()).count() as u32)
        .sum();
    assert_eq!(
        placeholders,
        PiiKind::ALL.iter().map(|&k| total(k)).sum::<u32>()
    );
}
