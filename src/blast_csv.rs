//! Reading a blast's CSV file for `paylink blast`, and saying what is wrong with it the way the
//! organiser sees the file: by line number and column name, with the value as written. Every
//! problem is reported, not just the first (docs/api.md, "Billing blasts").

use std::path::Path;

use paylink_core::blasts::RowError;
use paylink_core::domain::{OrderInput, Payer};

use crate::bad_input::BadInput;

/// The columns every row needs, in the order docs/api.md ("Billing blasts") gives them.
pub const REQUIRED: [&str; 5] = [
    "external_ref",
    "payer_email",
    "payer_name",
    "product_id",
    "amount_cents",
];
/// The column a row may add.
pub const OPTIONAL: [&str; 1] = ["currency"];
/// Another name for `product_id`: the column may hold a product's id or its name.
const PRODUCT: &str = "product";

/// One thing wrong with the file, where the organiser will look for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// `column: what is wrong`, naming the CSV column.
    pub message: String,
}

/// The file's rows that could be read as orders, with the line each came from, and the
/// problems of those that could not.
#[derive(Debug, Default)]
pub struct Parsed {
    pub orders: Vec<OrderInput>,
    /// `lines[i]` is the line `orders[i]` came from.
    pub lines: Vec<u64>,
    pub problems: Vec<Problem>,
    /// Header columns paylink does not read (a spreadsheet's notes), for the organiser to see.
    pub ignored: Vec<String>,
}

impl Parsed {
    /// The checks of the orders themselves (by the core, by row index) as problems of this file,
    /// with the CSV's column names.
    pub fn locate(&self, errors: &[RowError]) -> Vec<Problem> {
        errors
            .iter()
            .map(|e| Problem {
                line: self.lines.get(e.row).copied().unwrap_or(0),
                message: in_csv_terms(&e.field, &e.message),
            })
            .collect()
    }
}

impl Parsed {
    /// The file's lines of the orders at these indexes (a preview warning's rows).
    pub fn lines_of(&self, rows: &[usize]) -> Vec<u64> {
        rows.iter()
            .filter_map(|row| self.lines.get(*row).copied())
            .collect()
    }
}

/// The core names fields as the API's JSON does (`payer.email`); the file calls them
/// `payer_email`.
fn in_csv_terms(field: &str, message: &str) -> String {
    let column = field.replace('.', "_");
    let problem = message
        .strip_prefix(field)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(message);
    format!("{column}: {problem}")
}

/// A problem with the blast as a whole (its name, its size) in the command's terms: the name
/// is `--name`, the orders are the file's rows.
pub fn blast_problem(path: &Path, field: &str, message: &str) -> String {
    let problem = message
        .strip_prefix(field)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(message);
    match field {
        "name" => format!("--name (default: the file's name): {problem}"),
        _ => format!("{}: {problem}", path.display()),
    }
}

/// Reads every row of the file. A file that cannot be opened, or whose header lacks a required
/// column, is refused outright ([`BadInput`], exit 2); a row that cannot be read is a
/// [`Problem`] and the reading goes on.
pub fn read(path: &Path) -> Result<Parsed, BadInput> {
    let bytes = std::fs::read(path)
        .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
    parse(path, &bytes)
}

/// [`read`] for a file's content already at hand (the dashboard's upload); `path` names it in
/// the messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, BadInput> {
    let lines = Lines::new(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| {
            BadInput(format!(
                "{}: cannot read the header row: {e}",
                path.display()
            ))
        })?
        .clone();
    let index = |name: &str| {
        headers
            .iter()
            .position(|h| h == name || (name == "product_id" && h == PRODUCT))
    };
    let (misspelt, ignored) = other_columns(headers.iter());
    if !misspelt.is_empty() {
        return Err(BadInput(format!(
            "{}: the header row (line 1) has {}; paylink reads only {} and {}",
            path.display(),
            misspelt.join(", "),
            REQUIRED.join(", "),
            OPTIONAL.join(", ")
        )));
    }
    // `product_id` may be written `product` (a name or an id): say so where it is missing.
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| index(c).is_none())
        .map(|c| {
            if c == "product_id" {
                "product_id (or product)"
            } else {
                c
            }
        })
        .collect();
    if !missing.is_empty() {
        return Err(BadInput(format!(
            "{}: the header row (line 1) lacks the column(s) {}; it needs {} (and may add {}), \
             and has {}",
            path.display(),
            missing.join(", "),
            REQUIRED.join(", "),
            OPTIONAL.join(", "),
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let columns: Vec<usize> = REQUIRED.iter().filter_map(|c| index(c)).collect();
    let currency = index("currency");
    let mut parsed = Parsed {
        ignored,
        ..Parsed::default()
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = lines.at(reader.position());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.at(p));
                parsed.problems.push(Problem {
                    line,
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        }
        let line = record.position().map_or(line, |p| lines.at(p));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if let Some(message) = too_many_fields(&record, headers.len()) {
            parsed.problems.push(Problem { line, message });
            continue;
        }
        let cell = |i: usize| record.get(i);
        let absent: Vec<&str> = REQUIRED
            .iter()
            .zip(&columns)
            .filter(|(_, i)| cell(**i).is_none())
            .map(|(name, _)| *name)
            .collect();
        if !absent.is_empty() {
            parsed.problems.push(Problem {
                line,
                message: format!(
                    "{}: missing (the row has {} of the header's {} columns)",
                    absent.join(", "),
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let text = |i: usize| cell(i).unwrap_or_default().to_owned();
        let amount = text(columns[4]);
        let Some(amount_cents) = parse_cents(&amount) else {
            parsed.problems.push(Problem {
                line,
                message: amount_problem(&amount),
            });
            continue;
        };
        parsed.orders.push(OrderInput {
            external_ref: text(columns[0]),
            payer: Payer {
                email: text(columns[1]),
                name: text(columns[2]),
            },
            product_id: text(columns[3]),
            amount_cents,
            currency: currency
                .and_then(cell)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        });
        parsed.lines.push(line);
    }
    Ok(parsed)
}

/// A row with more fields than the header: an unquoted comma inside a value (`Smith, Jo`)
/// shifts every later column, so the amount column would hold a name; this says what happened
/// instead. Extra fields that are all empty (a trailing comma) are harmless.
fn too_many_fields(record: &csv::StringRecord, header: usize) -> Option<String> {
    let extra = record.iter().skip(header);
    (record.len() > header && extra.clone().any(|f| !f.is_empty())).then(|| {
        format!(
            "the row has {} fields, the header has {header}: a value with a comma must be in \
             double quotes",
            record.len()
        )
    })
}

/// The file's 1-based line numbers from byte offsets. The csv crate's own line count is one
/// short for a file with Windows line endings (`\r\n`): a record's position can point at the
/// `\n` ending the line before it. Here a position is first moved past any line ending, then
/// the endings before it are counted (`\r\n`, `\n` or a lone `\r` each end one line).
struct Lines<'a> {
    bytes: &'a [u8],
    /// The offset of the byte ending each line, in order.
    endings: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let endings = (0..bytes.len())
            .filter(|&i| {
                bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
            })
            .collect();
        Self { bytes, endings }
    }

    fn at(&self, position: &csv::Position) -> u64 {
        let mut start = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        self.endings.partition_point(|&end| end < start) as u64 + 1
    }
}

/// The header's columns that paylink does not read: those so close to one it does that they are
/// surely misspelt (`curency` would leave every row in the product's currency without a word),
/// each with the column meant, and the others, which are ignored.
fn other_columns<'a>(headers: impl Iterator<Item = &'a str>) -> (Vec<String>, Vec<String>) {
    let known: Vec<&str> = REQUIRED
        .iter()
        .chain(&OPTIONAL)
        .chain(&[PRODUCT])
        .copied()
        .collect();
    let mut misspelt = Vec::new();
    let mut ignored = Vec::new();
    for header in headers.filter(|h| !known.contains(h)) {
        let near = known
            .iter()
            .map(|k| (strsim::levenshtein(&header.to_lowercase(), k), *k))
            .min();
        match near {
            Some((distance, meant)) if distance <= 2 => {
                misspelt.push(format!("{header:?} (did you mean {meant}?)"));
            }
            _ => ignored.push(header.to_owned()),
        }
    }
    (misspelt, ignored)
}

/// A whole number of cents, as written (surrounding spaces aside).
fn parse_cents(value: &str) -> Option<i64> {
    value.parse().ok()
}

/// What is wrong with an amount that is not a whole number, with the fix when it looks like
/// money written out (`$45.00` is `4500`).
fn amount_problem(value: &str) -> String {
    let digits: String = value
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let money = value
        .chars()
        .all(|c| c.is_ascii_digit() || "$€£¥., ".contains(c));
    // `4,500` may be a thousands separator or a mistake: only a currency sign says it is money.
    let sign = value.contains(['$', '€', '£', '¥']);
    let hint = match digits.split_once('.').filter(|_| money) {
        Some((whole, cents)) if !whole.is_empty() && cents.len() == 2 && !cents.contains('.') => {
            format!(
                " (for {value} write {}{cents})",
                whole.trim_start_matches('0')
            )
        }
        None if money && sign && !digits.is_empty() => {
            format!(" (for {value} write {digits}00)")
        }
        _ => String::new(),
    };
    format!("amount_cents: {value:?} is not a whole number of cents{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_product_column_is_named_with_its_other_spelling() {
        let Err(BadInput(error)) = parse(
            Path::new("june.csv"),
            b"external_ref,payer_email,payer_name,amount_cents\nj-1,a@b.co,A,4500\n",
        ) else {
            panic!("a header without the product column is refused");
        };
        assert!(
            error.contains("lacks the column(s) product_id (or product);"),
            "{error}"
        );
    }

    /// `text` written to a file of its own and read back.
    fn read_text(text: &str) -> Parsed {
        let path =
            std::env::temp_dir().join(format!("paylink_csv_{}.csv", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, text).expect("write the file");
        let parsed = read(&path).expect("a readable file");
        let _ = std::fs::remove_file(&path);
        parsed
    }

    fn located(parsed: &Parsed) -> Vec<(u64, String)> {
        parsed
            .problems
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect()
    }

    #[test]
    fn a_file_with_windows_line_endings_reports_the_same_lines_as_one_with_unix_endings() {
        let rows = [
            "external_ref,payer_email,payer_name,product_id,amount_cents",
            "a,a@example.com,Ann,prd_1,4500",
            "b,b@example.com,Bea,prd_1,$45.00",
            "",
            "c,c@example.com,Cy,prd_1",
            "d,d@example.com,Di,prd_1,4500",
            "e,e@example.com,Ed,prd_1,lots",
        ];
        let unix = read_text(&(rows.join("\n") + "\n"));
        let windows = read_text(&(rows.join("\r\n") + "\r\n"));
        let lines = |p: &Parsed| located(p).into_iter().map(|(l, _)| l).collect::<Vec<_>>();
        assert_eq!(lines(&unix), [3, 5, 7], "{:?}", unix.problems);
        assert_eq!(located(&windows), located(&unix));
        assert_eq!(windows.lines, [2, 6]);
        assert_eq!(unix.lines, [2, 6]);
    }

    #[test]
    fn a_row_with_an_unquoted_comma_is_reported_as_too_many_fields_not_a_bad_amount() {
        let parsed = read_text(
            "external_ref,payer_email,payer_name,product_id,amount_cents\r\n\
             a,a@example.com,\"Smith, Jo\",prd_1,4500\r\n\
             b,b@example.com,Smith, Jo,prd_1,4500\r\n\
             c,c@example.com,Cy,prd_1,4500,\r\n",
        );
        assert_eq!(
            located(&parsed),
            [(
                3,
                "the row has 6 fields, the header has 5: a value with a comma must be in double \
                 quotes"
                    .to_owned()
            )]
        );
        assert_eq!(
            parsed.orders.len(),
            2,
            "the quoted name and the trailing comma are fine"
        );
        assert_eq!(parsed.orders[0].payer.name, "Smith, Jo");
    }

    #[test]
    fn an_amount_written_as_money_names_the_column_the_value_and_the_fix() {
        assert_eq!(
            amount_problem("$45.00"),
            "amount_cents: \"$45.00\" is not a whole number of cents (for $45.00 write 4500)"
        );
        assert_eq!(
            amount_problem("$45"),
            "amount_cents: \"$45\" is not a whole number of cents (for $45 write 4500)"
        );
        assert_eq!(
            amount_problem("lots"),
            "amount_cents: \"lots\" is not a whole number of cents"
        );
        assert_eq!(
            amount_problem("4,500"),
            "amount_cents: \"4,500\" is not a whole number of cents"
        );
        assert_eq!(
            amount_problem("45.00"),
            "amount_cents: \"45.00\" is not a whole number of cents (for 45.00 write 4500)"
        );
        assert_eq!(
            amount_problem("1e3"),
            "amount_cents: \"1e3\" is not a whole number of cents"
        );
        assert_eq!(
            amount_problem(""),
            "amount_cents: \"\" is not a whole number of cents"
        );
    }

    #[test]
    fn a_misspelt_column_is_named_with_the_one_meant_and_others_are_ignored() {
        let headers = [
            "external_ref",
            "curency",
            "Amount_Cents",
            "notes",
            "parent phone",
        ];
        let (misspelt, ignored) = other_columns(headers.into_iter());
        assert_eq!(
            misspelt,
            [
                "\"curency\" (did you mean currency?)",
                "\"Amount_Cents\" (did you mean amount_cents?)"
            ]
        );
        assert_eq!(ignored, ["notes", "parent phone"]);
    }

    #[test]
    fn the_cores_json_field_names_become_the_files_columns() {
        assert_eq!(
            in_csv_terms("payer.email", "payer.email: \"x\" is not an email address"),
            "payer_email: \"x\" is not an email address"
        );
        assert_eq!(
            in_csv_terms("product_id", "product_id: no product \"prd_1\""),
            "product_id: no product \"prd_1\""
        );
    }
}
