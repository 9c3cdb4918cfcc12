//! E-mail ingest on real data: the SpamAssassin ham corpus (1,200 messages from mailing lists, with quotes,
//! signatures, footers, HTML and threads) and hand-written Dutch and English mail in `testdata/email`.
//! The expected stripped bodies of the real messages were checked by hand against the raw messages.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch, StringArray};
use touchpoint::ingest::email::{load_customer_map, read_emails, strip_quoted, EmailOptions};
use touchpoint::schema;

const CORPUS: &str = "../shared/data/email/spamassassin-ham";
const SAMPLES: &str = "testdata/email";

fn corpus() -> &'static (RecordBatch, RecordBatch) {
    static BATCHES: OnceLock<(RecordBatch, RecordBatch)> = OnceLock::new();
    BATCHES.get_or_init(|| {
        read_emails(&[PathBuf::from(CORPUS)], &EmailOptions::default())
            .expect("the corpus folder is readable")
    })
}

fn strings<'a>(batch: &'a RecordBatch, column: &str) -> &'a StringArray {
    batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("column {column}"))
        .as_string::<i32>()
}

/// Value of `column` in the row whose source file name starts with `file_prefix`.
fn value_for(batch: &RecordBatch, file_prefix: &str, column: &str) -> Option<String> {
    let files = strings(batch, schema::SOURCE_FILE);
    let row = (0..batch.num_rows()).find(|&i| {
        PathBuf::from(files.value(i))
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(file_prefix))
    })?;
    let values = strings(batch, column);
    (!values.is_null(row)).then(|| values.value(row).to_string())
}

fn corpus_text(file_prefix: &str) -> String {
    value_for(&corpus().0, file_prefix, schema::TEXT).expect("message in corpus")
}

#[test]
fn every_corpus_message_parses_into_a_row() {
    let (interactions, rejects) = corpus();
    assert_eq!(interactions.num_rows(), 1200);
    assert_eq!(rejects.num_rows(), 0);
    let ids = strings(interactions, schema::ID);
    let unique: HashSet<&str> = (0..ids.len()).map(|i| ids.value(i)).collect();
    assert_eq!(unique.len(), 1200, "ids are unique");
    let texts = strings(interactions, schema::TEXT);
    assert!((0..texts.len()).all(|i| !texts.value(i).trim().is_empty()));
    let channels = strings(interactions, schema::CHANNEL);
    assert!((0..channels.len()).all(|i| channels.value(i) == "email"));
    let timestamps = interactions
        .column_by_name(schema::TIMESTAMP)
        .expect("timestamp")
        .as_primitive::<TimestampMicrosecondType>();
    assert!(
        timestamps.null_count() < 12,
        "nearly every message has a valid Date"
    );
}

#[test]
fn threading_recovers_in_reply_to_links_inside_the_corpus() {
    let (interactions, _) = corpus();
    let message_ids = strings(interactions, schema::MESSAGE_ID);
    let in_reply_to = strings(interactions, schema::IN_REPLY_TO);
    let conversations = strings(interactions, schema::CONVERSATION_ID);
    let conversation_of: HashMap<&str, &str> = (0..interactions.num_rows())
        .filter(|&i| !message_ids.is_null(i))
        .map(|i| (message_ids.value(i), conversations.value(i)))
        .collect();
    let (mut links, mut recovered) = (0, 0);
    for row in (0..interactions.num_rows()).filter(|&i| !in_reply_to.is_null(i)) {
        if let Some(parent_conversation) = conversation_of.get(in_reply_to.value(row)) {
            links += 1;
            recovered += usize::from(*parent_conversation == conversations.value(row));
        }
    }
    eprintln!("threading: {recovered} of {links} in-corpus In-Reply-To links recovered");
    assert!(
        links >= 200,
        "the corpus keeps whole threads: {links} links"
    );
    assert!(
        recovered * 100 >= links * 95,
        "{recovered} of {links} links recovered"
    );
    let distinct: HashSet<&str> = (0..conversations.len())
        .map(|i| conversations.value(i))
        .collect();
    assert!(
        distinct.len() < 1200 - links / 2,
        "replies share conversations"
    );
}

#[test]
fn real_replies_lose_quotes_attributions_and_signatures() {
    // "On ... mentioned:" with a quote, a closing and the list signature after "-- ".
    assert_eq!(
        corpus_text("00013.245fc5"),
        "Cheers Padraig.\n\nExactly what I needed.\n\nI knew I liked linux !!!"
    );
    // "X joked:" above a nested quote; a free-mail footer under a rule of underscores; list signature.
    let text = corpus_text("00036.719795");
    assert!(text.starts_with("And will run Solaris 9 when Sun catch up"));
    assert!(text.ends_with("Hat Solaris 11 any time now... <grin>\n\n- Matthew"));
    // Interleaved reply: new text after the quote is kept, the quote and the signature are not.
    assert_eq!(
        corpus_text("00113.c3f906"),
        "...\n...\n\nDoesn't answer your question, but perhaps a combination of expect and\n\
         (netcat or telnet) might have made for an easier solution?\n\nLater\nKenn"
    );
    // Outlook header block above an interleaved reply whose quoted lines were wrapped by the client.
    assert_eq!(
        corpus_text("00432.039993"),
        "Or some sound indicating that the music will start real soon now.\n\n\
         Idempotency everywhere you look...\n\n\
         It'd be an MP3 player with solid state storage... instant on."
    );
    // Initials quoting ("ALB> ") and a "-- " signature with "Best regards".
    let text = corpus_text("00450.72b1e6");
    assert!(text.starts_with("Hello Adam,\n\nSometimes I wish I was still in CA."));
    assert!(text.ends_with("blame law school and my cat.\n\n-BB"));
    assert!(!text.contains("ALB>") && !text.contains("you wrote:") && !text.contains("bitbitch"));
    // Top-posted answer above a quote, a "--" signature and a mailing-list footer.
    assert_eq!(corpus_text("00987.88641a"), "Done");
    // Top-posted above "-----Original Message-----" and an Outlook header block.
    assert_eq!(corpus_text("00480.a12b63"), "quitcherbraggin.\n\n:-)\ngg");
    // A comment above "----- Forwarded message from ... -----".
    assert_eq!(
        corpus_text("00935.99fb04"),
        "Looks like HP is using the DMCA to prevent full disclosure of\n\
         security vulnerablities. This is not a good precedent..."
    );
    // "At <time>, X wrote:" with ">"-quoting, including the quoted list footer.
    assert_eq!(corpus_text("00544.f3b57a"), "unsubscribe");
}

#[test]
fn raw_body_is_kept_beside_the_stripped_one() {
    let raw = value_for(&corpus().0, "00480.a12b63", schema::TEXT_RAW).expect("raw");
    assert!(raw.starts_with("quitcherbraggin."));
    assert!(raw.contains("-----Original Message-----"));
    assert!(raw.contains("I dunno, BB."));
}

fn samples(options: &EmailOptions) -> (RecordBatch, RecordBatch) {
    read_emails(&[PathBuf::from(SAMPLES)], options).expect("samples readable")
}

fn bedrijf_options() -> EmailOptions {
    EmailOptions {
        own_domains: vec!["bedrijf.nl".to_string()],
        customer_map: Some(
            load_customer_map(&PathBuf::from(SAMPLES).join("customers.csv")).expect("map"),
        ),
    }
}

/// Column value of the row with this message id.
fn by_message_id(batch: &RecordBatch, message_id: &str, column: &str) -> Option<String> {
    let ids = strings(batch, schema::MESSAGE_ID);
    let row = (0..batch.num_rows()).find(|&i| ids.value(i) == message_id)?;
    let values = strings(batch, column);
    (!values.is_null(row)).then(|| values.value(row).to_string())
}

#[test]
fn dutch_and_english_samples_are_stripped() {
    let (batch, _) = samples(&bedrijf_options());
    let text = |id: &str| by_message_id(&batch, id, schema::TEXT).expect(id);
    // Closing, phone number and "Verzonden vanaf mijn iPhone"; an unescaped "From " line stays text.
    assert_eq!(
        text("vraag-1@mail.example.com"),
        "Goedemorgen,\n\nOp mijn factuur van december staat het abonnement twee keer. Kunt u het\n\
         dubbele bedrag terugstorten?\nFrom the second line on I quote nothing."
    );
    // Agent reply: closing, name, Dutch disclaimer and "Op ... schreef ...:" with its quote; the mbox
    // ">From " escape is undone; the quoted-printable euro sign is decoded.
    assert_eq!(
        text("antwoord-2@bedrijf.nl"),
        "Beste heer De Vries,\n\nExcuses voor het ongemak. We hebben het dubbele bedrag van € 12,50\n\
         vandaag teruggestort; u ziet het binnen drie werkdagen op uw rekening.\n\
         From now on the invoice shows the subscription once."
    );
    // Outlook: "-----Oorspronkelijk bericht-----" and "Van: ... Verzonden: ..."; Latin-1 decoded.
    assert_eq!(
        text("reactie-4@mail.example.com"),
        "Hallo Lisa,\n\nHet geld is binnen, dank u wel. Ik ben geïnteresseerd in het jaarabonnement:\n\
         wat kost dat per maand?"
    );
    // Gmail HTML: blockquote history under "Op ... schreef ...:", "Groetjes," closing.
    assert_eq!(
        text("CAxyz-5@mail.gmail.com"),
        "Hoi,\n\nHet pakket is nog steeds niet bezorgd. Wilt u het laten nazoeken? \
         De foto van de brievenbus zit in de bijlage."
    );
    let raw = by_message_id(&batch, "CAxyz-5@mail.gmail.com", schema::TEXT_RAW).expect("raw");
    assert!(raw.contains("> Uw bestelling 4711 is verzonden."));
    // iPhone footer, quoted Apple Mail reply and an English disclaimer.
    assert_eq!(
        text("C0FFEE-6@example.co.uk"),
        "Thanks, but I still want to cancel. Please confirm the end date in writing."
    );
    // Interleaved answers kept, quotes, attribution and closing with signature dropped.
    assert_eq!(
        text("reply-7@support.bedrijf.nl"),
        "We are sorry to hear you want to leave.\n\nNo, there is no fee after the first year."
    );
}

#[test]
fn samples_get_direction_customer_conversation_and_attachments() {
    let (batch, rejects) = samples(&bedrijf_options());
    assert_eq!(batch.num_rows(), 6);
    let get = |id: &str, column: &str| by_message_id(&batch, id, column);

    assert_eq!(
        get("vraag-1@mail.example.com", schema::DIRECTION).as_deref(),
        Some("inbound")
    );
    assert_eq!(
        get("antwoord-2@bedrijf.nl", schema::DIRECTION).as_deref(),
        Some("outbound")
    );
    // Mapped through the customer map, also for the agent's reply (its recipient is the customer).
    for id in [
        "vraag-1@mail.example.com",
        "antwoord-2@bedrijf.nl",
        "reactie-4@mail.example.com",
    ] {
        assert_eq!(
            get(id, schema::CUSTOMER_ID).as_deref(),
            Some("K-1001"),
            "{id}"
        );
        assert_eq!(
            get(id, schema::CONVERSATION_ID).as_deref(),
            Some("vraag-1@mail.example.com")
        );
    }
    // Not in the map: the address itself.
    assert_eq!(
        get("CAxyz-5@mail.gmail.com", schema::CUSTOMER_ID).as_deref(),
        Some("petra.jansen@example.net")
    );
    // Joined through its In-Reply-To although the parent is in another file.
    assert_eq!(
        get("CAxyz-5@mail.gmail.com", schema::CONVERSATION_ID).as_deref(),
        Some("vraag-1@mail.example.com")
    );
    assert_eq!(
        get("C0FFEE-6@example.co.uk", schema::CUSTOMER_ID).as_deref(),
        Some("K-2002")
    );
    assert_eq!(
        get("reply-7@support.bedrijf.nl", schema::CUSTOMER_ID).as_deref(),
        Some("K-2002")
    );
    assert_eq!(
        get("C0FFEE-6@example.co.uk", schema::CONVERSATION_ID).as_deref(),
        Some("reply-7@support.bedrijf.nl")
    );
    assert_eq!(
        get("C0FFEE-6@example.co.uk", schema::FROM).as_deref(),
        Some("tom@example.co.uk")
    );

    let ids = strings(&batch, schema::MESSAGE_ID);
    let row = |id: &str| {
        (0..batch.num_rows())
            .find(|&i| ids.value(i) == id)
            .expect(id)
    };
    let to = batch
        .column_by_name(schema::TO)
        .expect("to")
        .as_list::<i32>();
    let recipients = to.value(row("C0FFEE-6@example.co.uk"));
    let recipients = recipients.as_string::<i32>();
    assert_eq!(
        (0..recipients.len())
            .map(|i| recipients.value(i))
            .collect::<Vec<_>>(),
        ["support@bedrijf.nl", "accounts@bedrijf.nl"]
    );
    let references = batch
        .column_by_name(schema::REFERENCES)
        .expect("references")
        .as_list::<i32>();
    assert_eq!(references.value(row("reactie-4@mail.example.com")).len(), 2);

    let attachments = batch
        .column_by_name(schema::ATTACHMENTS)
        .expect("attachments")
        .as_list::<i32>();
    let gmail = attachments.value(row("CAxyz-5@mail.gmail.com"));
    let gmail = gmail.as_struct();
    assert_eq!(gmail.len(), 1);
    assert_eq!(
        gmail.column(0).as_string::<i32>().value(0),
        "brievenbus.jpg"
    );
    assert_eq!(gmail.column(1).as_string::<i32>().value(0), "image/jpeg");
    assert!(gmail.column(2).as_primitive::<UInt64Type>().value(0) > 0);
    assert_eq!(attachments.value(row("vraag-1@mail.example.com")).len(), 0);

    // Provenance: the mbox's messages are numbered; the attachment-only third one is rejected.
    let source_rows = batch
        .column_by_name(schema::SOURCE_ROW)
        .expect("source_row")
        .as_primitive::<UInt64Type>();
    assert_eq!(source_rows.value(row("antwoord-2@bedrijf.nl")), 2);
    assert_eq!(source_rows.value(row("CAxyz-5@mail.gmail.com")), 1);
    assert_eq!(rejects.num_rows(), 1);
    assert!(strings(&rejects, schema::SOURCE_FILE)
        .value(0)
        .ends_with("conversation.mbox"));
    assert_eq!(rejects.column(1).as_primitive::<UInt64Type>().value(0), 3);
    assert_eq!(
        strings(&rejects, schema::REJECT_COLUMN).value(0),
        schema::TEXT
    );
    assert!(strings(&rejects, schema::REJECT_RECORD)
        .value(0)
        .contains("scan.pdf"));
}

#[test]
fn without_own_domains_direction_is_unknown_and_customer_is_the_sender() {
    let (batch, _) = samples(&EmailOptions::default());
    let direction = strings(&batch, schema::DIRECTION);
    assert_eq!(direction.null_count(), batch.num_rows());
    assert_eq!(
        by_message_id(&batch, "antwoord-2@bedrijf.nl", schema::CUSTOMER_ID).as_deref(),
        Some("klantenservice@bedrijf.nl")
    );
}

#[test]
fn the_same_message_twice_is_rejected_the_second_time() {
    let file = PathBuf::from(SAMPLES).join("en_interleaved.eml");
    let copy = tempfile::tempdir().expect("tempdir");
    let second = copy.path().join("copy.eml");
    std::fs::copy(&file, &second).expect("copy");
    let mut files = [file, second];
    let (batch, rejects) = read_emails(&files, &EmailOptions::default()).expect("read");
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(rejects.num_rows(), 1);
    // Files are read in sorted order; the reason names the one read first.
    files.sort();
    let reason = strings(&rejects, schema::REJECT_REASON).value(0);
    assert!(reason.contains("duplicate message id"));
    assert!(reason.contains(&files[0].display().to_string()), "{reason}");
    assert_eq!(
        strings(&rejects, schema::SOURCE_FILE).value(0),
        files[1].display().to_string()
    );
}

#[test]
fn missing_input_and_empty_folder_are_errors() {
    let missing = read_emails(
        &[PathBuf::from("testdata/email/nope.eml")],
        &EmailOptions::default(),
    );
    assert!(missing.is_err_and(|e| e.to_string().contains("nope.eml")));
    let empty = tempfile::tempdir().expect("tempdir");
    let result = read_emails(&[empty.path().to_path_buf()], &EmailOptions::default());
    assert!(result.is_err_and(|e| e.to_string().contains("no .eml or .mbox")));
}

#[test]
fn strip_quoted_is_usable_on_its_own() {
    let body = "Graag een nieuwe pas.\n\nVan: Bank <info@bank.nl>\nVerzonden: dinsdag\nAan: mij\n\nOud bericht";
    assert_eq!(strip_quoted(body), "Graag een nieuwe pas.");
}
