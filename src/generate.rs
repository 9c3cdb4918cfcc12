//! `touchpoint generate`: synthetic customer interactions for load tests and benchmarks.
//!
//! Contract: `generate` writes `rows` interactions to a Parquet file (atomically, like every output) with the
//! canonical input columns `id, customer_id, channel, timestamp, direction, text` as strings, readable by
//! `enrich` without any mapping. The same options and pipeline give byte-for-byte the same rows. Texts are the
//! pipeline's own example utterances in the customer's language (Dutch, English, German, French: whichever the
//! pipeline has examples in), wrapped per channel: an e-mail with greeting, context and signature, a chat
//! line, a call transcript with agent and customer turns, and short outbound replies. Customers contact more
//! than once (a few often, most rarely) and keep one language; timestamps run day by day over `days` days in
//! office-hour patterns. Memory stays flat: rows are produced and written one batch at a time.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{Duration, NaiveDate};

use crate::error::{Error, Result};
use crate::output::{self, ParquetSink};
use crate::pipeline::Pipeline;
use crate::schema;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub rows: u64,
    pub seed: u64,
    /// Distinct customers; by default one per four interactions.
    pub customers: Option<u64>,
    /// Days the timestamps cover, starting at `start`.
    pub days: u32,
    pub start: NaiveDate,
}

impl GenerateOptions {
    pub fn new(rows: u64) -> Self {
        GenerateOptions {
            rows,
            seed: 42,
            customers: None,
            days: 30,
            start: NaiveDate::from_ymd_opt(2026, 1, 5).expect("a valid date"),
        }
    }
}

/// Rows per written batch.
const BATCH_ROWS: usize = 8192;

/// The generated file's schema: the canonical input columns, all strings as in a CSV export.
pub fn generated_schema() -> SchemaRef {
    Arc::new(Schema::new(
        schema::CANONICAL
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ))
}

/// A small, fast, reproducible random source (SplitMix64): the output must not depend on a library's version.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn by `weights`.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let mut u = self.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len() - 1
    }
}

/// The phrases that wrap an utterance in one language.
struct Phrases {
    code: &'static str,
    /// Share of customers writing in this language.
    weight: f64,
    greetings: &'static [&'static str],
    context: &'static [&'static str],
    closings: &'static [&'static str],
    chat_openers: &'static [&'static str],
    customer: &'static str,
    agent: &'static str,
    agent_open: &'static str,
    agent_ack: &'static str,
    thanks: &'static str,
    outbound: &'static [&'static str],
}

const LANGUAGES: [Phrases; 4] = [
    Phrases {
        code: "nl",
        weight: 0.55,
        greetings: &["Beste,", "Goedemiddag,", "Hallo,", "Geachte heer/mevrouw,", "Goedemorgen,"],
        context: &[
            "Ik heb eerder al gebeld maar kreeg geen antwoord.",
            "Graag hoor ik zo snel mogelijk van u.",
            "Het gaat om ons adres in Utrecht.",
            "Dit is al de tweede keer dat ik hierover mail.",
            "Mijn partner heeft het contract destijds afgesloten.",
        ],
        closings: &["Met vriendelijke groet,", "Groeten,", "Alvast bedankt,", "Mvg,"],
        chat_openers: &["", "", "hoi, ", "hallo! ", "goedemiddag, "],
        customer: "Klant",
        agent: "Medewerker",
        agent_open: "Goedemorgen, u spreekt met de klantenservice, waarmee kan ik u helpen?",
        agent_ack: "Dat zoek ik even voor u uit, een moment alstublieft.",
        thanks: "Oké, dank u wel.",
        outbound: &[
            "Bedankt voor uw bericht. We hebben uw vraag doorgestuurd en komen binnen twee werkdagen bij u terug.",
            "Goed nieuws: uw wijziging is verwerkt. U ontvangt binnenkort een bevestiging per e-mail.",
            "We hebben u vandaag geprobeerd te bellen over uw vraag. Wilt u ons terugbellen?",
        ],
    },
    Phrases {
        code: "en",
        weight: 0.2,
        greetings: &["Hello,", "Dear team,", "Hi there,", "Good morning,"],
        context: &[
            "I already called last week but nobody got back to me.",
            "I would appreciate a quick reply.",
            "This is about our flat in Amsterdam.",
            "I moved here recently and my Dutch is not good yet.",
        ],
        closings: &["Kind regards,", "Thanks in advance,", "Best,", "Regards,"],
        chat_openers: &["", "", "hi, ", "hey ", "hello, "],
        customer: "Customer",
        agent: "Agent",
        agent_open: "Good morning, customer service speaking, how can I help you?",
        agent_ack: "Let me look into that for you, one moment please.",
        thanks: "Okay, thank you.",
        outbound: &[
            "Thank you for your message. We have passed your question on and will reply within two working days.",
            "Good news: your change has been processed. You will receive a confirmation by e-mail shortly.",
        ],
    },
    Phrases {
        code: "de",
        weight: 0.15,
        greetings: &["Guten Tag,", "Hallo,", "Sehr geehrte Damen und Herren,"],
        context: &[
            "Ich habe letzte Woche schon angerufen, aber niemand hat sich gemeldet.",
            "Über eine schnelle Antwort würde ich mich freuen.",
            "Es geht um unsere Wohnung in Venlo.",
        ],
        closings: &["Mit freundlichen Grüßen,", "Viele Grüße,", "Danke im Voraus,"],
        chat_openers: &["", "", "hallo, ", "hi, ", "guten Tag, "],
        customer: "Kunde",
        agent: "Mitarbeiter",
        agent_open: "Guten Morgen, Kundenservice, wie kann ich Ihnen helfen?",
        agent_ack: "Das schaue ich mir gleich für Sie an, einen Moment bitte.",
        thanks: "Gut, vielen Dank.",
        outbound: &[
            "Vielen Dank für Ihre Nachricht. Wir melden uns innerhalb von zwei Werktagen bei Ihnen.",
            "Ihre Änderung wurde bearbeitet. Sie erhalten in Kürze eine Bestätigung per E-Mail.",
        ],
    },
    Phrases {
        code: "fr",
        weight: 0.1,
        greetings: &["Bonjour,", "Madame, Monsieur,", "Bonsoir,"],
        context: &[
            "J'ai déjà appelé la semaine dernière mais personne ne m'a rappelé.",
            "Merci de me répondre rapidement.",
            "Il s'agit de notre appartement à Maastricht.",
        ],
        closings: &["Cordialement,", "Merci d'avance,", "Bien à vous,"],
        chat_openers: &["", "", "bonjour, ", "salut, "],
        customer: "Client",
        agent: "Conseiller",
        agent_open: "Bonjour, service client, comment puis-je vous aider ?",
        agent_ack: "Je regarde cela pour vous, un instant s'il vous plaît.",
        thanks: "D'accord, merci beaucoup.",
        outbound: &[
            "Merci pour votre message. Nous vous répondrons dans un délai de deux jours ouvrés.",
            "Votre modification a bien été prise en compte. Vous recevrez une confirmation par e-mail.",
        ],
    },
];

const FIRST_NAMES: [&str; 16] = [
    "Sanne", "Daan", "Emma", "Lucas", "Anna", "Thomas", "Julia", "Noah", "Fatima", "Mohammed",
    "Sophie", "Lars", "Claire", "Jonas", "Priya", "Mehmet",
];

/// Channels with their share of interactions.
const CHANNEL_WEIGHTS: [(&str, f64); 6] = [
    ("email", 0.35),
    ("chat", 0.3),
    ("voice", 0.22),
    ("web", 0.06),
    ("sms", 0.04),
    ("social", 0.03),
];

/// Share of interactions per hour of the day (0-23): office hours, a lunch dip, an evening tail.
const HOUR_WEIGHTS: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.0, 5.0, 8.0, 9.0, 8.5, 6.0, 7.5, 8.5, 8.0, 7.0, 5.5, 4.0,
    3.5, 3.0, 2.0, 1.0, 0.5,
];

/// Example utterances per language of `LANGUAGES`, over all contact reasons.
fn utterances(pipeline: &Pipeline) -> Vec<Vec<&str>> {
    LANGUAGES
        .iter()
        .map(|lang| {
            pipeline
                .contact_reasons
                .iter()
                .filter_map(|r| r.examples.get(lang.code))
                .flatten()
                .map(String::as_str)
                .collect()
        })
        .collect()
}

/// The draws of one interaction.
struct Row {
    customer: u64,
    channel: &'static str,
    inbound: bool,
    seconds: i64,
    text: String,
}

struct Generator<'a> {
    random: Random,
    options: &'a GenerateOptions,
    customers: u64,
    utterances: Vec<Vec<&'a str>>,
    /// Language weights, zero where the pipeline has no examples.
    language_weights: Vec<f64>,
}

impl<'a> Generator<'a> {
    fn new(pipeline: &'a Pipeline, options: &'a GenerateOptions) -> Result<Self> {
        let utterances = utterances(pipeline);
        let language_weights: Vec<f64> = LANGUAGES
            .iter()
            .zip(&utterances)
            .map(|(l, u)| if u.is_empty() { 0.0 } else { l.weight })
            .collect();
        if language_weights.iter().all(|w| *w == 0.0) {
            return Err(Error::Usage(format!(
                "pipeline '{}' has no example utterances in {}",
                pipeline.name,
                LANGUAGES.map(|l| l.code).join(", ")
            )));
        }
        Ok(Generator {
            random: Random(options.seed),
            options,
            customers: options.customers.unwrap_or(options.rows / 4).max(1),
            utterances,
            language_weights,
        })
    }

    /// A customer's language, fixed per customer.
    fn language(&self, customer: u64) -> usize {
        let mut own = Random(customer ^ self.options.seed.rotate_left(17));
        own.weighted(&self.language_weights)
    }

    fn row(&mut self, index: u64) -> Row {
        let r = &mut self.random;
        // Squaring a uniform draw skews contacts towards low customer numbers: a few frequent callers.
        let customer = ((r.unit() * r.unit()) * self.customers as f64) as u64;
        let channel_weights: Vec<f64> = CHANNEL_WEIGHTS.iter().map(|c| c.1).collect();
        let channel = CHANNEL_WEIGHTS[r.weighted(&channel_weights)].0;
        let inbound = channel == "voice" || r.unit() < 0.9;
        // Days advance with the row number, so the file reads like consecutive daily exports.
        let day = (index * u64::from(self.options.days.max(1)) / self.options.rows.max(1)) as i64;
        let hour = r.weighted(&HOUR_WEIGHTS) as i64;
        let seconds = day * 86_400 + hour * 3_600 + r.below(3_600) as i64;
        let lang_index = self.language(customer);
        let lang = &LANGUAGES[lang_index];
        let r = &mut self.random;
        let utterance = *r.pick(&self.utterances[lang_index]);
        let text = if !inbound {
            r.pick(lang.outbound).to_string()
        } else {
            match channel {
                "email" => {
                    let mut body = format!("{}\n\n{utterance}", r.pick(lang.greetings));
                    if r.unit() < 0.6 {
                        body.push(' ');
                        body.push_str(r.pick::<&str>(lang.context));
                    }
                    let name = r.pick(&FIRST_NAMES);
                    body.push_str(&format!("\n\n{}\n{name}", r.pick(lang.closings)));
                    body
                }
                "chat" => format!("{}{utterance}", r.pick(lang.chat_openers)),
                "voice" => format!(
                    "{agent}: {}\n{customer}: {utterance}\n{agent}: {}\n{customer}: {}",
                    lang.agent_open,
                    lang.agent_ack,
                    lang.thanks,
                    agent = lang.agent,
                    customer = lang.customer,
                ),
                _ => utterance.to_string(),
            }
        };
        Row {
            customer,
            channel,
            inbound,
            seconds,
            text,
        }
    }
}

/// Writes `options.rows` generated interactions drawn from `pipeline` to the Parquet file `out`.
pub fn generate(pipeline: &Pipeline, options: &GenerateOptions, out: &Path) -> Result<u64> {
    let mut generator = Generator::new(pipeline, options)?;
    let schema = generated_schema();
    let metadata = vec![
        ("touchpoint.version".to_string(), crate::VERSION.to_string()),
        (
            "touchpoint.generator_seed".to_string(),
            options.seed.to_string(),
        ),
        ("touchpoint.pipeline".to_string(), pipeline.name.clone()),
        (
            "touchpoint.pipeline_sha256".to_string(),
            pipeline.hash.clone(),
        ),
    ];
    let mut sink = ParquetSink::create(out, schema.clone(), metadata)?;
    let start = options.start.and_hms_opt(0, 0, 0).expect("midnight exists");
    let mut index = 0u64;
    while index < options.rows {
        let n = (options.rows - index).min(BATCH_ROWS as u64) as usize;
        let mut columns: Vec<StringBuilder> = (0..schema.fields().len())
            .map(|_| StringBuilder::with_capacity(n, n * 64))
            .collect();
        for _ in 0..n {
            let row = generator.row(index);
            let at = start + Duration::seconds(row.seconds);
            let values = [
                format!("I{index:09}"),
                format!("C{:07}", row.customer),
                row.channel.to_string(),
                at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                if row.inbound { "inbound" } else { "outbound" }.to_string(),
                row.text,
            ];
            for (builder, value) in columns.iter_mut().zip(values) {
                builder.append_value(value);
            }
            index += 1;
        }
        let arrays: Vec<ArrayRef> = columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        sink.write(&RecordBatch::try_new(schema.clone(), arrays)?)?;
    }
    let staged = sink.finish()?;
    output::commit(vec![staged], &[])?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, StringArray};

    fn column(batches: &[RecordBatch], name: &str) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let c = b
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .expect("a string column")
                    .clone();
                (0..c.len()).map(move |i| c.value(i).to_string())
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_file_and_realistic_rows() {
        let pipeline = Pipeline::load(Path::new("pipelines/default.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut options = GenerateOptions::new(20_000);
        options.days = 10;
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        assert_eq!(generate(&pipeline, &options, &a).unwrap(), 20_000);
        generate(&pipeline, &options, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        options.seed = 7;
        generate(&pipeline, &options, &b).unwrap();
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

        let batches = output::read_parquet(&a).unwrap();
        let ids = column(&batches, schema::ID);
        assert_eq!(ids.len(), 20_000);
        assert_eq!(
            ids.iter().collect::<std::collections::HashSet<_>>().len(),
            20_000
        );
        // Every channel and both directions occur; customers come back.
        let channels = column(&batches, schema::CHANNEL);
        for (channel, _) in CHANNEL_WEIGHTS {
            assert!(channels.iter().any(|c| c == channel), "{channel}");
        }
        let customers: std::collections::HashSet<_> =
            column(&batches, schema::CUSTOMER_ID).into_iter().collect();
        assert!(
            customers.len() > 1000 && customers.len() < 5000,
            "{}",
            customers.len()
        );
        // Days advance through the file over the ten days asked for.
        let timestamps = column(&batches, schema::TIMESTAMP);
        let days: Vec<&str> = timestamps.iter().map(|t| &t[..10]).collect();
        assert!(days.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            (days[0], days[days.len() - 1]),
            ("2026-01-05", "2026-01-14")
        );
        // Texts in all four languages, every inbound text holding one of the pipeline's own examples.
        let texts = column(&batches, schema::TEXT);
        let examples: Vec<&str> = utterances(&pipeline).into_iter().flatten().collect();
        let directions = column(&batches, schema::DIRECTION);
        for (text, direction) in texts.iter().zip(&directions).take(500) {
            if direction == "inbound" {
                assert!(examples.iter().any(|e| text.contains(e)), "{text}");
            }
        }
        for marker in ["Klant:", "Kunde:", "Bonjour", "Kind regards"] {
            assert!(texts.iter().any(|t| t.contains(marker)), "{marker}");
        }
    }
}
