//! Nested billing records as flat text rows, the shape mappers read.
//!
//! GCP exports keep records nested (`service.description`, `labels` as a
//! list of key/value records) whether they are newline-delimited JSON or
//! Parquet. Records are spread into dotted columns, exactly as GCP's own CSV
//! flattening names them; lists stay whole, as JSON text, for the mapper to
//! parse. Numbers keep the text the file wrote (JSON) or Arrow's shortest
//! exact rendering (Parquet), never a float round trip.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use csv::StringRecord;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::literal::{self, Value};
use super::source::RowRead;

/// Column names of a schema once struct columns are spread: `service` with
/// fields `id` and `description` becomes `service.id`, `service.description`.
pub fn flat_names(fields: &Fields) -> Vec<String> {
    let mut names = Vec::new();
    for field in fields {
        push_names(field, "", &mut names);
    }
    names
}

fn push_names(field: &Field, prefix: &str, names: &mut Vec<String>) {
    let name = format!("{prefix}{}", field.name());
    match field.data_type() {
        DataType::Struct(children) => {
            for child in children {
                push_names(child, &format!("{name}."), names);
            }
        }
        _ => names.push(name),
    }
}

/// The columns of a batch with struct columns spread, in [`flat_names`]
/// order. A null record makes each of its fields null.
pub fn flatten_structs(fields: &Fields, columns: &[ArrayRef]) -> Vec<ArrayRef> {
    let mut out = Vec::with_capacity(columns.len());
    for (field, column) in fields.iter().zip(columns) {
        push_columns(field, column.clone(), &mut out);
    }
    out
}

fn push_columns(field: &Field, column: ArrayRef, out: &mut Vec<ArrayRef>) {
    let DataType::Struct(children) = field.data_type() else {
        out.push(column);
        return;
    };
    let record = column.as_struct();
    for (child_field, child) in children.iter().zip(record.columns()) {
        let nulls = NullBuffer::union(record.nulls(), child.nulls());
        let child = if nulls.as_ref() == child.nulls() {
            child.clone()
        } else {
            let data = child.to_data().into_builder().nulls(nulls).build().expect("same length, fewer valid slots");
            make_array(data)
        };
        push_columns(child_field, child, out);
    }
}

/// Lists, maps and records as one JSON text per row (null stays null).
pub fn json_texts(array: &dyn Array) -> Result<ArrayRef, String> {
    let node = Node::new(array)?;
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 32);
    let mut text = String::new();
    for row in 0..array.len() {
        if array.is_null(row) {
            out.append_null();
        } else {
            text.clear();
            node.write(row, &mut text);
            out.append_value(&text);
        }
    }
    Ok(Arc::new(out.finish()))
}

/// How to write one array's values as JSON, built once per column.
enum Node<'a> {
    /// Numbers and booleans, written bare.
    Bare(&'a dyn Array, ArrayFormatter<'a>),
    /// Text, dates, times and anything else, written as a JSON string.
    Quoted(&'a dyn Array, ArrayFormatter<'a>),
    Record(&'a dyn Array, Vec<(String, Node<'a>)>),
    /// A list: each row's range of child values.
    List(&'a dyn Array, Vec<usize>, Box<Node<'a>>),
    Map(&'a dyn Array, Vec<usize>, Box<Node<'a>>, Box<Node<'a>>),
}

impl<'a> Node<'a> {
    fn new(array: &'a dyn Array) -> Result<Self, String> {
        let formatter = || {
            ArrayFormatter::try_new(array, &FormatOptions::default())
                .map_err(|e| format!("cannot render {} values: {e}", array.data_type()))
        };
        Ok(match array.data_type() {
            DataType::Struct(fields) => {
                let record = array.as_struct();
                let children = fields
                    .iter()
                    .zip(record.columns())
                    .map(|(f, c)| Ok((f.name().clone(), Node::new(c.as_ref())?)))
                    .collect::<Result<_, String>>()?;
                Node::Record(array, children)
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Node::List(array, offsets, Box::new(Node::new(list.values().as_ref())?))
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Node::List(array, offsets, Box::new(Node::new(list.values().as_ref())?))
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let offsets = (0..=list.len()).map(|i| i * *size as usize).collect();
                Node::List(array, offsets, Box::new(Node::new(list.values().as_ref())?))
            }
            DataType::Map(_, _) => {
                let map = array.as_map();
                let offsets = map.value_offsets().iter().map(|&o| o as usize).collect();
                let keys = Box::new(Node::new(map.keys().as_ref())?);
                let values = Box::new(Node::new(map.values().as_ref())?);
                Node::Map(array, offsets, keys, values)
            }
            t if t.is_numeric() || *t == DataType::Boolean => Node::Bare(array, formatter()?),
            _ => Node::Quoted(array, formatter()?),
        })
    }

    fn array(&self) -> &'a dyn Array {
        match self {
            Node::Bare(a, _)
            | Node::Quoted(a, _)
            | Node::Record(a, _)
            | Node::List(a, _, _)
            | Node::Map(a, _, _, _) => *a,
        }
    }

    fn write(&self, row: usize, out: &mut String) {
        if self.array().is_null(row) {
            out.push_str("null");
            return;
        }
        match self {
            Node::Bare(_, f) => out.push_str(&f.value(row).to_string()),
            Node::Quoted(_, f) => literal::write_json_string(&f.value(row).to_string(), out),
            Node::Record(_, children) => {
                out.push('{');
                for (i, (name, child)) in children.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    literal::write_json_string(name, out);
                    out.push(':');
                    child.write(row, out);
                }
                out.push('}');
            }
            Node::List(_, offsets, child) => {
                out.push('[');
                for (n, i) in (offsets[row]..offsets[row + 1]).enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    child.write(i, out);
                }
                out.push(']');
            }
            Node::Map(_, offsets, keys, values) => {
                out.push('{');
                for (n, i) in (offsets[row]..offsets[row + 1]).enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    let mut key = String::new();
                    keys.write(i, &mut key);
                    if key.starts_with('"') {
                        out.push_str(&key);
                    } else {
                        literal::write_json_string(&key, out);
                    }
                    out.push(':');
                    values.write(i, out);
                }
                out.push('}');
            }
        }
    }
}

/// Newline-delimited JSON (BigQuery's `NEWLINE_DELIMITED_JSON` export): one
/// object per line, objects spread into dotted columns, lists kept as JSON.
pub struct JsonLines {
    reader: Box<dyn BufRead + Send>,
    columns: HashMap<String, usize>,
    width: usize,
    line: String,
    cells: Vec<Option<String>>,
}

/// The header of a JSON-lines file: every flattened key in first-seen order.
/// Lines that do not parse are skipped here; reading them quarantines them.
pub fn json_lines_header(mut reader: impl BufRead) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut seen = HashMap::new();
    let mut line = String::new();
    let mut flat = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            break;
        }
        let Ok(Value::Object(fields)) = literal::parse(line.trim_start_matches('\u{feff}').trim()) else {
            continue;
        };
        flat.clear();
        flatten_object(&fields, "", &mut flat);
        for (name, _) in flat.drain(..) {
            if !seen.contains_key(&name) {
                seen.insert(name.clone(), names.len());
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return Err("no JSON object on any line".to_string());
    }
    Ok(names)
}

fn flatten_object(fields: &[(Cow<'_, str>, Value<'_>)], prefix: &str, out: &mut Vec<(String, Option<String>)>) {
    for (key, value) in fields {
        let name = format!("{prefix}{key}");
        match value {
            Value::Object(children) => flatten_object(children, &format!("{name}."), out),
            Value::List(_) => out.push((name, Some(value.to_json()))),
            Value::Null => out.push((name, None)),
            scalar => out.push((name, scalar.as_text().map(|t| t.to_string()))),
        }
    }
}

impl JsonLines {
    pub fn new(reader: Box<dyn BufRead + Send>, header: &[String]) -> Self {
        let columns = header.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        JsonLines { reader, columns, width: header.len(), line: String::new(), cells: Vec::new() }
    }

    pub fn next(&mut self, record: &mut StringRecord) -> Result<RowRead, String> {
        loop {
            self.line.clear();
            let n = self.reader.read_line(&mut self.line).map_err(|e| format!("read error: {e}"))?;
            if n == 0 {
                return Ok(RowRead::End);
            }
            let text = self.line.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            let fields = match literal::parse(text) {
                Ok(Value::Object(fields)) => fields,
                Ok(_) => return Ok(RowRead::Bad { reason: "line is not a JSON object".into(), raw: text.into() }),
                Err(e) => return Ok(RowRead::Bad { reason: format!("not JSON: {e}"), raw: text.into() }),
            };
            let mut flat = Vec::new();
            flatten_object(&fields, "", &mut flat);
            self.cells.clear();
            self.cells.resize(self.width, None);
            for (name, value) in flat {
                // Every key was seen by the header pass over the same bytes.
                if let Some(&i) = self.columns.get(&name) {
                    self.cells[i] = value;
                }
            }
            record.clear();
            for cell in &self.cells {
                record.push_field(cell.as_deref().unwrap_or(""));
            }
            return Ok(RowRead::Row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, ListArray, StringArray, StructArray};
    use datafusion::arrow::buffer::OffsetBuffer;
    use std::io::Cursor;

    #[test]
    fn json_lines_spread_records_and_keep_lists() {
        let text = "{\"billing_account_id\":\"A\",\"service\":{\"id\":\"S\",\"description\":\"Compute Engine\"},\
                    \"cost\":0.10000000000000000001,\"labels\":[{\"key\":\"env\",\"value\":\"prod\"}]}\n\
                    \n\
                    {\"billing_account_id\":\"B\",\"cost\":-5e-06,\"project\":{\"id\":null},\"extra\":true}\n\
                    not json\n";
        let header = json_lines_header(Cursor::new(text)).unwrap();
        assert_eq!(
            header,
            ["billing_account_id", "service.id", "service.description", "cost", "labels", "project.id", "extra"]
        );
        let mut rows = JsonLines::new(Box::new(Cursor::new(text.to_string())), &header);
        let mut record = StringRecord::new();
        assert!(matches!(rows.next(&mut record).unwrap(), RowRead::Row));
        assert_eq!(
            record.iter().collect::<Vec<_>>(),
            ["A", "S", "Compute Engine", "0.10000000000000000001", r#"[{"key":"env","value":"prod"}]"#, "", ""]
        );
        assert!(matches!(rows.next(&mut record).unwrap(), RowRead::Row));
        assert_eq!(record.iter().collect::<Vec<_>>(), ["B", "", "", "-5e-06", "", "", "true"]);
        match rows.next(&mut record).unwrap() {
            RowRead::Bad { reason, raw } => {
                assert!(reason.starts_with("not JSON: unknown word"), "{reason}");
                assert_eq!(raw, "not json");
            }
            _ => panic!("expected a bad row"),
        }
        assert!(matches!(rows.next(&mut record).unwrap(), RowRead::End));
    }

    #[test]
    fn structs_spread_and_lists_become_json() {
        let ids: ArrayRef = Arc::new(StringArray::from(vec![Some("S1"), Some("S2")]));
        let service = StructArray::new(
            Fields::from(vec![Field::new("id", DataType::Utf8, true)]),
            vec![ids],
            Some(NullBuffer::from(vec![true, false])),
        );
        let credit_fields =
            Fields::from(vec![Field::new("amount", DataType::Float64, true), Field::new("n", DataType::Int64, true)]);
        let credits_values = StructArray::new(
            credit_fields.clone(),
            vec![Arc::new(Float64Array::from(vec![-5e-6, -0.25])), Arc::new(Int64Array::from(vec![Some(1), None]))],
            None,
        );
        let item = Arc::new(Field::new("item", DataType::Struct(credit_fields), true));
        let credits = ListArray::new(item.clone(), OffsetBuffer::from_lengths([2, 0]), Arc::new(credits_values), None);
        let fields = Fields::from(vec![
            Field::new("service", service.data_type().clone(), true),
            Field::new("credits", DataType::List(item), true),
        ]);
        assert_eq!(flat_names(&fields), ["service.id", "credits"]);
        let columns = flatten_structs(&fields, &[Arc::new(service), Arc::new(credits)]);
        let ids = columns[0].as_string::<i32>();
        assert_eq!((ids.value(0), ids.is_null(1)), ("S1", true));
        let json = json_texts(columns[1].as_ref()).unwrap();
        let json = json.as_string::<i32>();
        assert_eq!(json.value(0), r#"[{"amount":-5e-6,"n":1},{"amount":-0.25,"n":null}]"#);
        assert_eq!(json.value(1), "[]");
        let amount = literal::parse(json.value(0)).unwrap();
        let Value::List(items) = amount else { panic!() };
        assert_eq!(
            crate::money::parse(items[0].get("amount").unwrap().as_text().unwrap()).unwrap().value,
            -500_000_000_000_000
        );
    }
}
