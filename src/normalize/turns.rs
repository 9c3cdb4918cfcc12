//! The customer's turns of each interaction, for turn-level sentiment.
//!
//! Contract: `customer_turns` gives, per row of an ingested batch, the customer's turns in order (their
//! position among all turns, and their text), or `None` when the row is not a conversation. Turns come from
//! the first of: the `turns` list column that chat and call ingest write (role `customer`); a `turns` text
//! column of tabular input holding a JSON list of messages or speaker-labelled lines; speaker-labelled
//! lines (`Klant: ...`, `Agent: ...`) in the `text` column itself. Roles are resolved as transcript ingest
//! resolves them.

use arrow_array::{Array, ListArray, RecordBatch, StringArray, StructArray};

use crate::ingest::transcript::{turns_in_text, Role};
use crate::schema;

/// One customer turn: its position among the conversation's turns, and what the customer said.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerTurn {
    pub index: u32,
    pub text: String,
}

pub fn customer_turns(batch: &RecordBatch) -> Vec<Option<Vec<CustomerTurn>>> {
    let rows = batch.num_rows();
    let turns = batch.column_by_name(schema::TURNS);
    if let Some(list) = turns.and_then(|c| c.as_any().downcast_ref::<ListArray>()) {
        return (0..rows).map(|row| from_list(list, row)).collect();
    }
    let texts = turns
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .or_else(|| {
            batch
                .column_by_name(schema::TEXT)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        });
    let Some(texts) = texts else {
        return vec![None; rows];
    };
    (0..rows)
        .map(|row| {
            if texts.is_null(row) {
                return None;
            }
            let turns = turns_in_text(texts.value(row))?;
            let customer: Vec<CustomerTurn> = turns
                .into_iter()
                .enumerate()
                .filter(|(_, t)| t.role == Role::Customer && !t.text.trim().is_empty())
                .map(|(i, t)| CustomerTurn {
                    index: i as u32,
                    text: t.text,
                })
                .collect();
            (!customer.is_empty()).then_some(customer)
        })
        .collect()
}

fn from_list(list: &ListArray, row: usize) -> Option<Vec<CustomerTurn>> {
    if list.is_null(row) {
        return None;
    }
    let entries = list.value(row);
    let entries = entries.as_any().downcast_ref::<StructArray>()?;
    let strings = |name: &str| {
        entries
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
    };
    let (roles, texts) = (strings(schema::TURN_ROLE)?, strings(schema::TURN_TEXT)?);
    let customer: Vec<CustomerTurn> = (0..entries.len())
        .filter(|&i| {
            roles.is_valid(i)
                && roles.value(i) == Role::Customer.as_str()
                && texts.is_valid(i)
                && !texts.value(i).trim().is_empty()
        })
        .map(|i| CustomerTurn {
            index: i as u32,
            text: texts.value(i).to_string(),
        })
        .collect();
    (!customer.is_empty()).then_some(customer)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::ArrayRef;
    use arrow_schema::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, c)| c).collect(),
        )
        .unwrap()
    }

    #[test]
    fn speaker_lines_in_the_text_column() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("Agent: Goedemiddag, waarmee kan ik helpen?\nKlant: Mijn factuur is veel te hoog.\nAgent: Ik kijk even.\nKlant: Dank u, nu klopt het."),
            Some("Mijn factuur is veel te hoog."),
            None,
        ]));
        let turns = customer_turns(&batch(vec![(schema::TEXT, text)]));
        let first = turns[0].as_ref().unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].index, 1);
        assert_eq!(first[0].text, "Mijn factuur is veel te hoog.");
        assert_eq!(first[1].index, 3);
        assert_eq!(turns[1], None);
        assert_eq!(turns[2], None);
    }

    #[test]
    fn a_json_list_in_a_turns_column_wins_over_the_text() {
        let text: ArrayRef = Arc::new(StringArray::from(vec!["whole chat"]));
        let json: ArrayRef = Arc::new(StringArray::from(vec![
            r#"[{"speaker": "customer", "text": "Hoi, mijn stroom is uitgevallen"}, {"speaker": "agent", "text": "Vervelend!"}, {"speaker": "customer", "text": "Top, het werkt weer"}]"#,
        ]));
        let turns = customer_turns(&batch(vec![(schema::TEXT, text), (schema::TURNS, json)]));
        let turns = turns[0].as_ref().unwrap();
        assert_eq!(
            turns.iter().map(|t| t.index).collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert_eq!(turns[1].text, "Top, het werkt weer");
    }

    #[test]
    fn a_single_labelled_line_is_not_a_conversation() {
        let text: ArrayRef = Arc::new(StringArray::from(vec!["Klant: ik wil opzeggen"]));
        assert_eq!(customer_turns(&batch(vec![(schema::TEXT, text)]))[0], None);
    }
}
