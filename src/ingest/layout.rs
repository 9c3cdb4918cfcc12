//! The output schema of a run and, per file, where each output column comes from.
//!
//! Contract: the output schema is the canonical columns, then the union of every file's other columns in
//! order of first appearance (pass-through, nullable, their own type; a name whose type differs between
//! files becomes Utf8), then the provenance columns. A canonical column is found under its mapped source
//! name, exactly or else case-insensitively when that is unambiguous. A file without the text column, or
//! whose canonical column has a type that cannot be read as text (or as a timestamp), is an `Error::Input`
//! naming file and column. A pass-through column whose name is taken by the output schema itself is kept
//! under `<name>_original`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Location, Result};
use crate::schema;

use super::mapping::ColumnMapping;
use super::source::Source;
use super::timestamp;

/// Where a file's canonical columns are, by index in the file's own schema.
#[derive(Debug, Clone, Default)]
pub(crate) struct CanonicalColumns {
    pub id: Option<usize>,
    pub customer_id: Option<usize>,
    pub channel: Option<usize>,
    pub timestamp: Option<usize>,
    pub direction: Option<usize>,
    pub text: usize,
}

/// How one file's columns land in the output.
#[derive(Debug, Clone)]
pub(crate) struct FilePlan {
    pub canonical: CanonicalColumns,
    /// (index in the file's schema, index among the output's pass-through columns)
    pub passthrough: Vec<(usize, usize)>,
}

/// The output schema and one plan per file, in the files' order.
pub(crate) struct Layout {
    pub schema: SchemaRef,
    pub passthrough: Vec<Field>,
    pub plans: Vec<FilePlan>,
}

impl Layout {
    pub(crate) fn build(sources: &[Source], mapping: &ColumnMapping) -> Result<Layout> {
        let mut passthrough = PassThrough::default();
        let mut plans = Vec::with_capacity(sources.len());
        for source in sources {
            plans.push(plan_file(source, mapping, &mut passthrough)?);
        }
        let mut fields = schema::canonical_fields();
        fields.extend(passthrough.fields.iter().cloned());
        fields.extend(schema::provenance_fields());
        Ok(Layout {
            schema: Arc::new(Schema::new(fields)),
            passthrough: passthrough.fields,
            plans,
        })
    }
}

#[derive(Default)]
struct PassThrough {
    fields: Vec<Field>,
    index: HashMap<String, usize>,
}

impl PassThrough {
    /// The output index of a pass-through column, unifying its type with earlier files'.
    fn add(&mut self, name: String, data_type: &DataType, source: &Source) -> Result<usize> {
        if let Some(&index) = self.index.get(&name) {
            let existing = self
                .fields
                .get(index)
                .map(|field| field.data_type().clone());
            if let Some(existing) = existing.filter(|existing| existing != data_type) {
                for conflicting in [&existing, data_type] {
                    if !arrow_cast::can_cast_types(conflicting, &DataType::Utf8) {
                        return Err(Error::input(
                            Location::file(source.path()).column(name.as_str()),
                            format!(
                                "type {data_type} differs from {existing} in an earlier file, \
                                 and {conflicting} cannot be converted to text"
                            ),
                        ));
                    }
                }
                if let Some(field) = self.fields.get_mut(index) {
                    *field = Field::new(name.as_str(), DataType::Utf8, true);
                }
            }
            return Ok(index);
        }
        let index = self.fields.len();
        self.fields
            .push(Field::new(name.as_str(), data_type.clone(), true));
        self.index.insert(name, index);
        Ok(index)
    }
}

fn plan_file(
    source: &Source,
    mapping: &ColumnMapping,
    passthrough: &mut PassThrough,
) -> Result<FilePlan> {
    let file_schema = source.schema();
    let find = |canonical: &str| -> Result<Option<usize>> {
        let name = mapping.source_column(canonical);
        let Some(index) = find_column(&file_schema, name) else {
            return Ok(None);
        };
        let data_type = file_schema.field(index).data_type();
        let readable = if canonical == schema::TIMESTAMP {
            timestamp::is_supported(data_type)
        } else {
            arrow_cast::can_cast_types(data_type, &DataType::Utf8)
        };
        if !readable {
            return Err(Error::input(
                Location::file(source.path()).column(file_schema.field(index).name().as_str()),
                format!("column of type {data_type} cannot be read as the {canonical} column"),
            ));
        }
        Ok(Some(index))
    };
    let text_name = mapping.source_column(schema::TEXT);
    let text = find(schema::TEXT)?.ok_or_else(|| {
        Error::input(
            Location::file(source.path()).column(text_name),
            format!(
                "missing required text column '{text_name}'; map it in [input.columns] or with --map text=<column>"
            ),
        )
    })?;
    let canonical = CanonicalColumns {
        id: find(schema::ID)?,
        customer_id: find(schema::CUSTOMER_ID)?,
        channel: find(schema::CHANNEL)?,
        timestamp: find(schema::TIMESTAMP)?,
        direction: find(schema::DIRECTION)?,
        text,
    };
    let used = [
        canonical.id,
        canonical.customer_id,
        canonical.channel,
        canonical.timestamp,
        canonical.direction,
        Some(canonical.text),
    ];
    let mut columns = Vec::new();
    for (index, field) in file_schema.fields().iter().enumerate() {
        if used.contains(&Some(index)) {
            continue;
        }
        let name = output_name(field.name());
        columns.push((index, passthrough.add(name, field.data_type(), source)?));
    }
    Ok(FilePlan {
        canonical,
        passthrough: columns,
    })
}

fn find_column(file_schema: &Schema, name: &str) -> Option<usize> {
    if let Ok(index) = file_schema.index_of(name) {
        return Some(index);
    }
    let mut matches = file_schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| field.name().eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some((index, _)), None) => Some(index),
        _ => None,
    }
}

/// Output schema names are reserved for the columns ingest itself produces.
fn output_name(name: &str) -> String {
    let reserved = schema::CANONICAL.contains(&name)
        || name == schema::SOURCE_FILE
        || name == schema::SOURCE_ROW;
    if reserved {
        format!("{name}_original")
    } else {
        name.to_string()
    }
}
