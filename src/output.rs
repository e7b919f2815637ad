//! Printing query results for people (terminal and Markdown tables) and for other
//! tools (CSV with a header line, JSON).
//!
//! For people, amounts at the lake's money scale are shown to the cent with thousands
//! separators, in the row's currency when the table has a currency column (`$1,234.57`),
//! rounded half away from zero like every figure tally shows; a column holding sub-cent
//! values (unit prices) stays exact. `table-exact`, CSV and JSON print every decimal
//! exactly, without the padding zeros of its storage scale.

use std::io::Write;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for the terminal, amounts to the cent
    #[default]
    Table,
    /// Aligned table with every decimal exact
    TableExact,
    /// CSV with a header line
    Csv,
    /// A JSON array, one object per line
    Json,
    /// A GitHub-flavoured Markdown table (for pull-request comments)
    Markdown,
}

/// How a table's cells are shown to people: which decimal columns are money to the cent,
/// and where each row's currency is. Decided over every batch, so a column reads the
/// same way on every row.
struct ForPeople {
    /// Per column: shown to the cent.
    cents: Vec<bool>,
    currency: Option<usize>,
}

impl ForPeople {
    fn of(schema: &Schema, batches: &[RecordBatch]) -> ForPeople {
        let currency = schema.fields().iter().position(|f| {
            f.name().eq_ignore_ascii_case("currency") || f.name().eq_ignore_ascii_case("BillingCurrency")
        });
        // A column with sub-cent values (a unit price) means them: it stays exact.
        let sub_cent = |column: usize| {
            batches.iter().any(|batch| {
                let values = batch.column(column).as_primitive::<Decimal128Type>();
                (0..values.len())
                    .any(|i| !values.is_null(i) && values.value(i) != 0 && values.value(i).abs() < money::CENT)
            })
        };
        let cents = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(column, field)| {
                matches!(field.data_type(), DataType::Decimal128(_, scale) if *scale == money::SCALE)
                    && !sub_cent(column)
            })
            .collect();
        ForPeople { cents, currency }
    }

    /// One cell for people, and whether rounding it to the cent changed it.
    fn shown(&self, batch: &RecordBatch, column: usize, row: usize) -> (Option<String>, bool) {
        let array = batch.column(column);
        if array.is_null(row) {
            return (None, false);
        }
        match array.data_type() {
            DataType::Decimal128(_, _) if self.cents[column] => {
                let value = array.as_primitive::<Decimal128Type>().value(row);
                let currency = self.currency.and_then(|c| cell(batch.column(c), row)).unwrap_or_default();
                let rounded = value % money::CENT != 0;
                (Some(money::text::money(value, &currency)), rounded)
            }
            // Already rounded for display (cents, percentages): all their places, with separators.
            DataType::Decimal128(_, scale) if *scale > 0 && *scale <= 2 => {
                let value = array.as_primitive::<Decimal128Type>().value(row);
                (Some(money::text::number(value, *scale as u32, *scale as u32)), false)
            }
            _ => (cell(array, row), false),
        }
    }
}

/// What a terminal table says under itself when it rounded amounts.
pub const ROUNDING_NOTE: &str = "amounts to the cent, each rounded half away from zero from its exact value \
     (a total may differ from the sum of its shown parts by a few cents); --format table-exact, csv or json show every digit";

/// One cell as text, or `None` for null. Decimals are exact, without padding zeros.
fn cell(array: &ArrayRef, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Decimal128(_, scale) => {
            money::format(array.as_primitive::<Decimal128Type>().value(row), *scale as u32)
        }
        DataType::Map(_, _) => {
            let map = array.as_map().value(row);
            let (keys, values) = (map.column(0).clone(), map.column(1).clone());
            let object: serde_json::Map<String, serde_json::Value> = (0..map.len())
                .map(|i| {
                    let value = cell(&values, i).map_or(serde_json::Value::Null, serde_json::Value::String);
                    (cell(&keys, i).unwrap_or_default(), value)
                })
                .collect();
            serde_json::Value::Object(object).to_string()
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options).expect("displayable type");
            formatter.value(row).to_string()
        }
    })
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

/// Writes `batches` (all of `schema`). The schema is passed separately so an
/// empty result still prints its header.
pub fn write(
    out: &mut dyn Write,
    schema: &Schema,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> std::io::Result<()> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    match format {
        OutputFormat::Table | OutputFormat::TableExact => {
            let mut builder = tabled::builder::Builder::default();
            builder.push_record(names.clone());
            let mut rows = 0usize;
            let mut rounded = false;
            let people = ForPeople::of(schema, batches);
            for batch in batches {
                for row in 0..batch.num_rows() {
                    let cells = (0..batch.num_columns()).map(|c| {
                        if format == OutputFormat::TableExact {
                            return cell(batch.column(c), row).unwrap_or_default();
                        }
                        let (text, changed) = people.shown(batch, c, row);
                        rounded |= changed;
                        text.unwrap_or_default()
                    });
                    builder.push_record(cells.collect::<Vec<_>>());
                    rows += 1;
                }
            }
            let mut table = builder.build();
            table.with(tabled::settings::Style::sharp());
            for (i, field) in schema.fields().iter().enumerate() {
                if is_numeric(field.data_type()) {
                    table.modify(tabled::settings::object::Columns::one(i), tabled::settings::Alignment::right());
                }
            }
            writeln!(out, "{table}")?;
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
            if rounded {
                writeln!(out, "({ROUNDING_NOTE})")?;
            }
            Ok(())
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(&names)?;
            for batch in batches {
                for row in 0..batch.num_rows() {
                    writer.write_record(batch.columns().iter().map(|c| cell(c, row).unwrap_or_default()))?;
                }
            }
            writer.flush()
        }
        OutputFormat::Json => {
            let mut objects = Vec::new();
            for batch in batches {
                for row in 0..batch.num_rows() {
                    let fields: Vec<String> = batch
                        .columns()
                        .iter()
                        .zip(&names)
                        .map(|(c, name)| format!("{}:{}", json_string(name), json_value(c, row)))
                        .collect();
                    objects.push(format!("{{{}}}", fields.join(",")));
                }
            }
            if objects.is_empty() { writeln!(out, "[]") } else { writeln!(out, "[\n{}\n]", objects.join(",\n")) }
        }
        OutputFormat::Markdown => {
            // Values are data: escaped so they cannot link, format, or end their cell early.
            writeln!(out, "| {} |", names.iter().map(|n| markdown_escape(n)).collect::<Vec<_>>().join(" | "))?;
            let rule: Vec<&str> =
                schema.fields().iter().map(|f| if is_numeric(f.data_type()) { "---:" } else { "---" }).collect();
            writeln!(out, "|{}|", rule.join("|"))?;
            let people = ForPeople::of(schema, batches);
            for batch in batches {
                for row in 0..batch.num_rows() {
                    let cells: Vec<String> = (0..batch.num_columns())
                        .map(|c| markdown_escape(&people.shown(batch, c, row).0.unwrap_or_default()))
                        .collect();
                    writeln!(out, "| {} |", cells.join(" | "))?;
                }
            }
            Ok(())
        }
    }
}

/// Text from billing data or mappings (a service name, resource id, team alias, tag value),
/// made inert in Markdown: CommonMark and GitHub-flavoured renderers (GitHub, GitLab, most
/// docs sites) show it as the text it is, and it can neither link, format, nor break a table.
/// Every Markdown output (report `.md` files, `--format markdown`, `tally diff`) passes each
/// value through here.
///
/// - `` \ ` * [ ] ~ | `` are backslash-escaped: `[` and `]` stop links, images (`![x](y)`),
///   footnotes and link references; `|` keeps a table cell whole (and reads as `|` elsewhere);
/// - `_` too, except between letters or digits, where CommonMark never reads it as emphasis
///   (`ml_platform` stays as written);
/// - `& < >` become entities rather than `\<`: renderers that do not honour that escape
///   (Python-Markdown) would pass raw HTML through, and `<http://x>` would be an autolink;
/// - the `:` of `://` and the `.` of `www.` are escaped: GitHub links bare URLs;
/// - a leading `#`, `- `, `+ ` or `1. ` is escaped, since a value can start a line (a bullet);
/// - newlines and tabs become spaces, so a value cannot end a table row or open a block.
///
/// Checked against cmark-gfm (GitHub's renderer), commonmark and Python-Markdown: a value
/// comes out as text, never as a tag. Left as they are: e-mail addresses, which cmark-gfm links
/// as `mailto:` whatever the escaping (harmless: no script, no other site), and `@name`
/// (GitHub's mentions are not Markdown). Python-Markdown shows `\:` and `\~` as written.
pub fn markdown_escape(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect();
    // Where a block marker would be read: after up to three leading spaces.
    let start = chars.iter().take_while(|c| **c == ' ').count().min(3);
    let marker = {
        let rest = &chars[start..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let spaced = |i: usize| rest.get(i).is_none_or(|c| *c == ' ');
        match rest.first() {
            Some('#') => Some(start),
            Some('-' | '+') if spaced(1) || rest.iter().all(|c| matches!(c, '-' | ' ')) => Some(start),
            Some(_)
                if (1..=9).contains(&digits) && matches!(rest.get(digits), Some('.' | ')')) && spaced(digits + 1) =>
            {
                Some(start + digits)
            }
            _ => None,
        }
    };
    let alnum = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|c| c.is_alphanumeric());
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '~' | '|' => true,
            '_' => !(alnum(i.checked_sub(1)) && alnum(Some(i + 1))),
            ':' => chars.get(i + 1..i + 3) == Some(&['/', '/']),
            '.' => i >= 3 && chars[i - 3..i].iter().all(|c| c.eq_ignore_ascii_case(&'w')) && !alnum(i.checked_sub(4)),
            _ => false,
        } || marker == Some(i);
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => {
                if escape {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Numbers stay JSON numbers written exactly (no float round trip); maps
/// become objects; everything else is a string.
fn json_value(array: &ArrayRef, row: usize) -> String {
    match cell(array, row) {
        None => "null".to_string(),
        Some(text) => match array.data_type() {
            DataType::Map(_, _) => text,
            DataType::Boolean => text,
            // NaN and inf are not JSON numbers: they fall through to strings.
            t if t.is_numeric() && !text.contains(['N', 'i']) => text,
            _ => json_string(&text),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("team", DataType::Utf8, true),
            Field::new("cost", DataType::Decimal128(38, 4), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
                Arc::new(Decimal128Array::from(vec![Some(12_500), Some(-5)]).with_precision_and_scale(38, 4).unwrap()),
            ],
        )
        .unwrap()
    }

    fn render(format: OutputFormat) -> String {
        let mut out = Vec::new();
        let batch = batch();
        write(&mut out, &batch.schema(), &[batch], format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_has_header_and_exact_decimals() {
        assert_eq!(render(OutputFormat::Csv), "team,cost\n\"a,b\",1.25\n,-0.0005\n");
    }

    #[test]
    fn json_keeps_numbers_exact() {
        assert_eq!(
            render(OutputFormat::Json),
            "[\n{\"team\":\"a,b\",\"cost\":1.25},\n{\"team\":null,\"cost\":-0.0005}\n]\n"
        );
    }

    #[test]
    fn empty_result_keeps_its_header() {
        let mut out = Vec::new();
        write(&mut out, &batch().schema(), &[], OutputFormat::Csv).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "team,cost\n");
    }

    #[test]
    fn table_counts_rows() {
        let text = render(OutputFormat::Table);
        assert!(text.contains("│ a,b  │    1.25 │"), "{text}");
        assert!(text.ends_with("(2 rows)\n"));
    }

    #[test]
    fn markdown_escape_leaves_no_link_format_or_html() {
        let cases = [
            ("[l](http://evil.example)", r"\[l\](http\://evil.example)"),
            ("![x](y)", r"!\[x\](y)"),
            ("[^1] [ref]: http://evil", r"\[^1\] \[ref\]: http\://evil"),
            ("*b* **b**", r"\*b\* \*\*b\*\*"),
            ("_x_ __x__", r"\_x\_ \_\_x\_\_"),
            ("ml_platform snake_case_id", "ml_platform snake_case_id"),
            ("`code`", r"\`code\`"),
            ("~~s~~", r"\~\~s\~\~"),
            ("a|b", r"a\|b"),
            (r"a\*b\", r"a\\\*b\\"),
            ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
            ("<http://evil.example>", r"&lt;http\://evil.example&gt;"),
            ("R&D &lt;", "R&amp;D &amp;lt;"),
            ("see http://evil.example and HTTPS://x.example/a", r"see http\://evil.example and HTTPS\://x.example/a"),
            ("www.evil.example, WWW.x.example, awww.x", r"www\.evil.example, WWW\.x.example, awww.x"),
            ("line\nbreak\r\tend", "line break  end"),
        ];
        for (text, escaped) in cases {
            assert_eq!(markdown_escape(text), escaped, "{text}");
        }
    }

    #[test]
    fn markdown_escape_stops_block_markers_only_where_a_line_starts() {
        let cases = [
            ("# heading", r"\# heading"),
            ("  ## heading", r"  \## heading"),
            ("team #1", "team #1"),
            ("- item", r"\- item"),
            ("-", r"\-"),
            ("---", r"\---"),
            ("+ item", r"\+ item"),
            ("1. first", r"1\. first"),
            ("12) twelfth", r"12\) twelfth"),
            ("> quote", "&gt; quote"),
            // What tally itself writes stays as it is.
            ("-$700.00", "-$700.00"),
            ("+32.3%", "+32.3%"),
            ("2026-10-14", "2026-10-14"),
            ("1.5 GB", "1.5 GB"),
            ("$12,345.67 (+9.1%) vs prior week", "$12,345.67 (+9.1%) vs prior week"),
            ("20.8 -> 20.8", "20.8 -&gt; 20.8"),
        ];
        for (text, escaped) in cases {
            assert_eq!(markdown_escape(text), escaped, "{text}");
        }
    }

    #[test]
    fn markdown_tables_escape_every_cell() {
        let schema = Schema::new(vec![Field::new("team", DataType::Utf8, true)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(StringArray::from(vec![Some("[x](http://evil)|*b*")]))],
        )
        .unwrap();
        let mut out = Vec::new();
        write(&mut out, &batch.schema(), &[batch], OutputFormat::Markdown).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "| team |\n|---|\n| \\[x\\](http\\://evil)\\|\\*b\\* |\n");
    }

    fn money_batch(currency: &str, values: &[i128]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("currency", DataType::Utf8, false),
            Field::new("cost", DataType::Decimal128(38, money::SCALE), true),
        ]);
        let cost = Decimal128Array::from(values.to_vec()).with_precision_and_scale(38, money::SCALE).unwrap();
        let currencies = StringArray::from(vec![currency; values.len()]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(currencies), Arc::new(cost)]).unwrap()
    }

    fn table(batches: &[RecordBatch], format: OutputFormat) -> String {
        let mut out = Vec::new();
        write(&mut out, &batches[0].schema(), batches, format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn people_see_money_to_the_cent_and_are_told_it_was_rounded() {
        let one = money::ONE;
        let shown = table(&[money_batch("USD", &[1_234_567 * one / 1000, -1_005 * one / 1000])], OutputFormat::Table);
        assert!(shown.contains("$1,234.57") && shown.contains("-$1.01"), "{shown}");
        assert!(shown.contains(ROUNDING_NOTE), "{shown}");
        let exact = table(&[money_batch("USD", &[1_234_567 * one / 1000])], OutputFormat::TableExact);
        assert!(exact.contains("1234.567") && !exact.contains(ROUNDING_NOTE), "{exact}");
        // Whole cents round nothing: no note.
        assert!(!table(&[money_batch("EUR", &[5 * one])], OutputFormat::Table).contains(ROUNDING_NOTE));
    }

    #[test]
    fn a_column_with_sub_cent_values_stays_exact_in_every_batch() {
        let one = money::ONE;
        // The first batch alone would round; the unit price in the second keeps the column exact.
        let batches = [money_batch("USD", &[2 * one]), money_batch("USD", &[one / 10_000])];
        let shown = table(&batches, OutputFormat::Table);
        assert!(!shown.contains("$2.00") && shown.contains("0.0001"), "{shown}");
    }
}
