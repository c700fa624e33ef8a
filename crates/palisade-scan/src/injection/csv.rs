//! A minimal RFC 4180 CSV reader for the training and evaluation tools: quoted fields,
//! doubled quotes, embedded newlines, CRLF or LF. Only what the labelled data sets need.

/// Why a CSV file could not be read as a data set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("unterminated quoted field starting on record {0}")]
    UnterminatedQuote(usize),
    #[error("missing column `{0}` in the header")]
    MissingColumn(&'static str),
    #[error("record {record}: label `{value}` is not 0 or 1")]
    BadLabel { record: usize, value: String },
    #[error("record {0} has too few fields")]
    ShortRecord(usize),
}

/// One labelled example: `label == true` means prompt injection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub label: bool,
}

/// Splits CSV text into records of fields.
pub fn parse_records(data: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = data.chars().peekable();
    let mut in_quotes = false;
    let mut quote_start = 0;
    let mut dirty = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quote_start = records.len();
                dirty = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                dirty = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if dirty || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                dirty = false;
            }
            other => {
                field.push(other);
                dirty = true;
            }
        }
    }
    if in_quotes {
        return Err(CsvError::UnterminatedQuote(quote_start));
    }
    if dirty || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Reads a `text,label` file (header required, label 0 or 1).
pub fn parse_labelled(data: &str) -> Result<Vec<Example>, CsvError> {
    let records = parse_records(data)?;
    let Some((header, rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(CsvError::MissingColumn(name))
    };
    let (t, l) = (col("text")?, col("label")?);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let (Some(text), Some(label)) = (r.get(t), r.get(l)) else {
                return Err(CsvError::ShortRecord(i + 1));
            };
            let label = match label.trim() {
                "0" => false,
                "1" => true,
                other => {
                    return Err(CsvError::BadLabel {
                        record: i + 1,
                        value: other.to_owned(),
                    });
                }
            };
            Ok(Example {
                text: text.clone(),
                label,
            })
        })
        .collect()
}

/// Reads the first column of a file with a header row (e.g. an all-positive set).
pub fn parse_first_column(data: &str) -> Result<Vec<String>, CsvError> {
    let records = parse_records(data)?;
    Ok(records
        .into_iter()
        .skip(1)
        .filter_map(|r| r.into_iter().next())
        .filter(|t| !t.trim().is_empty())
        .collect())
}
