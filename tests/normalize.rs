//! Text clean-up and language detection on realistic customer texts.

use std::borrow::Cow;

use arrow_array::{Array, StringArray};
use touchpoint::normalize::{
    clean_text, detect_language, detect_language_among, is_supported_language, language_columns,
};

const PIPELINE_LANGUAGES: [&str; 4] = ["nl", "en", "de", "fr"];

const DUTCH: [&str; 4] = [
    "Goedemiddag, ik heb vorige week mijn factuur ontvangen maar het bedrag klopt niet. Er staat twee keer dezelfde maand op. Kunt u dit nakijken?",
    "Mijn internet valt al drie dagen steeds uit, ik werk thuis en dit is echt heel vervelend.",
    "Ik wil graag mijn abonnement opzeggen per 1 juni, hoe moet ik dat doen?",
    "Wij verhuizen volgende maand naar Utrecht. Kan ik mijn contract meenemen naar het nieuwe adres?",
];

const ENGLISH: [&str; 3] = [
    "Hello, I was charged twice for my subscription this month and would like a refund please.",
    "I moved to a new address last week, how do I update my details in your system?",
    "Your engineer did not show up for the appointment yesterday and nobody called me.",
];

const GERMAN: [&str; 3] = [
    "Guten Tag, ich habe meine Rechnung für Mai noch nicht erhalten. Können Sie mir diese bitte per E-Mail schicken?",
    "Ich möchte meinen Vertrag kündigen, da ich ins Ausland ziehe.",
    "Seit gestern funktioniert mein Internetanschluss nicht mehr, bitte helfen Sie mir schnell.",
];

const FRENCH: [&str; 3] = [
    "Bonjour, je n'ai toujours pas reçu ma facture du mois dernier. Pouvez-vous me la renvoyer s'il vous plaît ?",
    "Je souhaite résilier mon abonnement à partir du mois prochain.",
    "Ma connexion internet ne fonctionne plus depuis hier soir, que dois-je faire ?",
];

fn expect_language(texts: &[&str], expected: &str) {
    for text in texts {
        let among = detect_language_among(text, &PIPELINE_LANGUAGES);
        let (code, confidence) = among.unwrap_or_else(|| panic!("no language for {text:?}"));
        assert_eq!(code, expected, "{text:?}");
        assert!(
            (0.5..=1.0).contains(&confidence),
            "{confidence} for {text:?}"
        );
        // Without the allow-list the longer texts still come out right.
        if text.len() > 80 {
            assert_eq!(
                detect_language(text).map(|(code, _)| code),
                Some(expected),
                "{text:?}"
            );
        }
    }
}

#[test]
fn dutch_is_detected() {
    expect_language(&DUTCH, "nl");
}

#[test]
fn english_is_detected() {
    expect_language(&ENGLISH, "en");
}

#[test]
fn german_is_detected() {
    expect_language(&GERMAN, "de");
}

#[test]
fn french_is_detected() {
    expect_language(&FRENCH, "fr");
}

#[test]
fn empty_and_very_short_texts_have_no_language() {
    for text in [
        "",
        "   ",
        "ok",
        "Bedankt!",
        "12345678901234",
        "#4711 / 2024-05-01",
        "👍👍👍",
    ] {
        assert_eq!(detect_language(text), None, "{text:?}");
        assert_eq!(
            detect_language_among(text, &PIPELINE_LANGUAGES),
            None,
            "{text:?}"
        );
    }
}

#[test]
fn allow_list_codes_are_checked_and_unknown_ones_ignored() {
    assert!(PIPELINE_LANGUAGES
        .iter()
        .all(|code| is_supported_language(code)));
    assert!(is_supported_language("NL"));
    assert!(!is_supported_language("xx"));
    assert!(!is_supported_language("nld"), "ISO 639-3 is not accepted");
    // Only unknown codes: as if no allow-list was given.
    assert_eq!(
        detect_language_among(DUTCH[0], &["xx"]).map(|(code, _)| code),
        Some("nl")
    );
    // The allow-list is binding: a German text among Dutch and English only is never called German.
    let restricted = detect_language_among(GERMAN[0], &["nl", "en"]).map(|(code, _)| code);
    assert_ne!(restricted, Some("de"));
}

#[test]
fn language_columns_match_row_by_row_detection() {
    let mut texts: Vec<Option<&str>> = Vec::new();
    for (i, text) in DUTCH
        .iter()
        .chain(&ENGLISH)
        .chain(&GERMAN)
        .chain(&FRENCH)
        .enumerate()
    {
        texts.push(Some(text));
        if i % 3 == 0 {
            texts.push(None);
            texts.push(Some("ok"));
        }
    }
    // Enough rows for rayon to split the work.
    let texts: StringArray = texts
        .iter()
        .cycle()
        .take(texts.len() * 20)
        .copied()
        .collect();

    let (languages, confidences) = language_columns(&texts, &PIPELINE_LANGUAGES);
    assert_eq!(languages.len(), texts.len());
    assert_eq!(confidences.len(), texts.len());
    for row in 0..texts.len() {
        let expected = if texts.is_null(row) {
            None
        } else {
            detect_language_among(texts.value(row), &PIPELINE_LANGUAGES)
        };
        let actual =
            (!languages.is_null(row)).then(|| (languages.value(row), confidences.value(row)));
        assert_eq!(actual, expected, "row {row}");
        assert_eq!(
            languages.is_null(row),
            confidences.is_null(row),
            "row {row}"
        );
    }
    assert!(languages.null_count() > 0 && languages.null_count() < texts.len() / 2);
}

#[test]
fn clean_text_normalises_line_endings_and_blank_lines() {
    assert_eq!(
        clean_text("Beste,\r\n\r\n\r\n\r\nMijn factuur\rklopt niet.\r\n"),
        "Beste,\n\nMijn factuur\nklopt niet."
    );
    assert_eq!(
        clean_text("a\n\nb"),
        "a\n\nb",
        "one blank line is a paragraph break"
    );
    assert_eq!(
        clean_text("a\n \n\t\n  \nb"),
        "a\n\nb",
        "whitespace-only lines are blank"
    );
    assert_eq!(clean_text("page one\u{0C}page two"), "page one\npage two");
}

#[test]
fn clean_text_strips_control_characters_but_keeps_tabs_and_newlines() {
    assert_eq!(
        clean_text("\u{FEFF}Hallo\u{0}\u{7} wereld\u{1B}"),
        "Hallo wereld"
    );
    assert_eq!(
        clean_text("naam\tbedrag\nJan\t12,50"),
        "naam\tbedrag\nJan\t12,50"
    );
}

#[test]
fn clean_text_collapses_spaces_and_trims() {
    assert_eq!(
        clean_text("  Mijn   internet\u{A0}\u{A0}doet  het niet   "),
        "Mijn internet doet het niet"
    );
    assert_eq!(
        clean_text("bedrag: \t  12,50"),
        "bedrag:\t12,50",
        "a run with a tab stays a tab"
    );
    assert_eq!(
        clean_text("einde regel   \n    volgende"),
        "einde regel\nvolgende"
    );
    assert_eq!(clean_text(" \r\n\t "), "");
}

#[test]
fn clean_text_borrows_when_nothing_changes() {
    let clean = "Goedemiddag,\n\nMijn factuur klopt niet.\tZie bijlage.";
    assert!(matches!(clean_text(clean), Cow::Borrowed(s) if s == clean));
    assert!(matches!(clean_text(""), Cow::Borrowed("")));
    assert!(matches!(clean_text("Hallo  wereld"), Cow::Owned(_)));
    // Non-ASCII text that needs nothing is borrowed too.
    assert!(matches!(
        clean_text("Grüße, Zoë — ça va?"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn short_messages_are_decided_with_the_allow_list() {
    let cases = [
        ("Mijn factuur klopt niet", "nl"),
        ("Ik wil graag opzeggen, hoe moet dat?", "nl"),
        ("How do I change my address?", "en"),
        ("Ich habe keine Rechnung bekommen", "de"),
        ("Je n'ai pas reçu ma facture", "fr"),
    ];
    for (text, expected) in cases {
        let detected = detect_language_among(text, &PIPELINE_LANGUAGES).map(|(code, _)| code);
        assert_eq!(detected, Some(expected), "{text:?}");
    }
}
