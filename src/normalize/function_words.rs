//! Function-word evidence for the pipeline's core languages (Dutch, English, German, French).
//!
//! Trigram models need a sentence or two; a short customer message ("Ik wil graag opzeggen, hoe moet dat?")
//! is often decided by its function words instead. Each list holds frequent words that are distinctive
//! among these four languages: words shared by two of them ("de", "en", "die", "is", "in", "we", "me") are
//! left out, since they would vote for both.

/// Hits at which function-word evidence alone counts as certain.
const HITS_FOR_CERTAINTY: usize = 6;

const DUTCH: &[&str] = &[
    "ik",
    "mijn",
    "niet",
    "het",
    "een",
    "wil",
    "graag",
    "hoe",
    "moet",
    "dat",
    "ook",
    "wij",
    "jullie",
    "bij",
    "naar",
    "maar",
    "heb",
    "hebben",
    "kunt",
    "geen",
    "nog",
    "wel",
    "omdat",
    "deze",
    "zijn",
    "wordt",
    "voor",
    "op",
    "dit",
    "waarom",
    "bedankt",
    "alstublieft",
];

const ENGLISH: &[&str] = &[
    "the", "i", "my", "and", "to", "you", "your", "not", "have", "how", "what", "with", "this",
    "that", "for", "was", "would", "please", "can", "it", "of", "our", "do", "did", "thanks",
    "why",
];

const GERMAN: &[&str] = &[
    "ich", "nicht", "mein", "meine", "meinen", "und", "ist", "der", "das", "sie", "mit", "für",
    "bitte", "ein", "eine", "einen", "zu", "den", "dem", "auf", "noch", "habe", "haben", "kann",
    "können", "kein", "keine", "seit", "ihr", "ihre", "ihnen", "mir", "mich", "uns", "aber",
    "auch", "nach", "warum",
];

const FRENCH: &[&str] = &[
    "je", "le", "la", "les", "des", "du", "une", "mon", "ma", "mes", "est", "pas", "pour", "et",
    "vous", "votre", "que", "qui", "ne", "ce", "cette", "avec", "dans", "sur", "ai", "suis",
    "depuis", "merci", "bonjour", "il", "nous", "mais", "au", "aux", "pourquoi",
];

fn words_of(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "nl" => Some(DUTCH),
        "en" => Some(ENGLISH),
        "de" => Some(GERMAN),
        "fr" => Some(FRENCH),
        _ => None,
    }
}

/// The language among `candidates` (ISO 639-1) whose function words `text` uses most, with a confidence
/// that grows with the number of hits and shrinks with the runner-up's share. `None` when no candidate
/// has a word list or none of their words occurs.
pub(crate) fn vote(text: &str, candidates: &[&'static str]) -> Option<(&'static str, f32)> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut hits: Vec<(&'static str, usize)> = candidates
        .iter()
        .filter_map(|&code| {
            let list = words_of(code)?;
            let count = words.iter().filter(|w| list.contains(&w.as_str())).count();
            Some((code, count))
        })
        .collect();
    hits.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    let (winner, top) = *hits.first()?;
    if top == 0 {
        return None;
    }
    let runner_up = hits.get(1).map_or(0, |&(_, count)| count);
    let margin = 1.0 - runner_up as f32 / top as f32;
    let weight = (top as f32 / HITS_FOR_CERTAINTY as f32).min(1.0);
    Some((winner, margin * weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_word_is_in_two_lists() {
        let lists = [DUTCH, ENGLISH, GERMAN, FRENCH];
        for (i, a) in lists.iter().enumerate() {
            for b in lists.iter().skip(i + 1) {
                let shared: Vec<_> = a.iter().filter(|w| b.contains(w)).collect();
                assert!(shared.is_empty(), "{shared:?}");
            }
        }
    }

    #[test]
    fn short_sentences_are_decided_by_their_function_words() {
        let all = ["nl", "en", "de", "fr"];
        let vote_of = |text| vote(text, &all).map(|(code, _)| code);
        assert_eq!(vote_of("Ik wil graag opzeggen, hoe moet dat?"), Some("nl"));
        assert_eq!(vote_of("How do I change my address?"), Some("en"));
        assert_eq!(vote(" 12345 ", &all), None);
        assert_eq!(vote("Ik wil graag opzeggen", &["es"]), None);
    }
}
