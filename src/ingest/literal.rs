//! Reading the structured cells billing exports write as text: GCP's
//! `labels` and `credits` flattened by pandas into Python literals
//! (`[{'key': 'env', 'value': None}]`), the same written as JSON, and lines
//! of newline-delimited JSON.
//!
//! One small parser covers both notations. Numbers are kept as the text the
//! file wrote, never as floats, so a credit of `-5e-06` reaches the decimal
//! parser digit for digit.

use std::borrow::Cow;
use std::fmt::Write;

/// Key/value pairs read out of a cell (tags, labels), borrowed where possible.
pub type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// A parsed value. Objects keep their keys in source order. Text borrows
/// from the parsed cell unless it had escapes to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written (`-5e-06`, `12`, `0.10`).
    Number(Cow<'a, str>),
    Str(Cow<'a, str>),
    List(Vec<Value<'a>>),
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The value of `key` in an object (`None` for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Scalars as plain text (strings unquoted, numbers as written); `None`
    /// for null, lists and objects.
    pub fn as_text(&self) -> Option<&Cow<'a, str>> {
        const TRUE: &Cow<'static, str> = &Cow::Borrowed("true");
        const FALSE: &Cow<'static, str> = &Cow::Borrowed("false");
        match self {
            Value::Str(s) | Value::Number(s) => Some(s),
            Value::Bool(true) => Some(TRUE),
            Value::Bool(false) => Some(FALSE),
            Value::Null | Value::List(_) | Value::Object(_) => None,
        }
    }

    /// The value as JSON text, numbers as written.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::Str(s) => write_json_string(s, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one value in Python-literal or JSON notation: lists, dicts/objects,
/// single- or double-quoted strings, numbers, `None`/`null`, `True`/`true`,
/// `False`/`false`, and `Decimal('1.5')` as pandas prints BigQuery NUMERIC.
/// Trailing commas are accepted; anything after the value is an error.
pub fn parse(text: &str) -> Result<Value<'_>, String> {
    let mut p = Parser { s: text.as_bytes(), text, i: 0 };
    p.skip_space();
    let value = p.value(0)?;
    p.skip_space();
    if p.i < p.s.len() {
        return Err(p.error("unexpected text after the value"));
    }
    Ok(value)
}

/// Deep enough for any billing cell; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> String {
        let shown: String = self.text.chars().take(60).collect();
        let more = if self.text.chars().count() > 60 { "..." } else { "" };
        format!(
            "{what} at character {} of {shown:?}{more}",
            self.text[..self.i.min(self.text.len())].chars().count() + 1
        )
    }

    fn skip_space(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.error("expected a value")),
            Some(b'[') => self.sequence(b']', depth).map(Value::List),
            Some(b'(') => self.sequence(b')', depth).map(Value::List),
            Some(b'{') => self.object(depth),
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Value::Str),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value<'a>>, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(self.error(&format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, String> {
        self.i += 1;
        let mut fields = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Object(fields));
            }
            let key = match self.value(depth + 1)? {
                Value::Str(s) | Value::Number(s) => s,
                _ => return Err(self.error("object keys must be strings or numbers")),
            };
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.i += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            fields.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Cow<'a, str>, String> {
        let start = self.i;
        self.i += 1;
        // Most strings have no escapes: borrow them whole.
        let end = self.s[self.i..].iter().position(|&b| b == quote || b == b'\\').map(|p| self.i + p);
        if let Some(end) = end
            && self.s[end] == quote
        {
            self.i = end + 1;
            return Ok(Cow::Borrowed(&self.text[start + 1..end]));
        }
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote or backslash in one go (UTF-8 safe:
            // both are ASCII, so the run ends on a character boundary).
            let run_start = self.i;
            while self.i < self.s.len() && self.s[self.i] != quote && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(&self.text[run_start..self.i]);
            match self.peek() {
                None => {
                    self.i = start;
                    return Err(self.error("unterminated string"));
                }
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(_) => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated escape"));
        };
        self.i += 1;
        match c {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'0' => out.push('\0'),
            b'\\' | b'\'' | b'"' | b'/' => out.push(c as char),
            b'x' => {
                let code = self.hex(2)?;
                out.push(char::from_u32(code).ok_or_else(|| self.error("invalid \\x escape"))?);
            }
            b'u' => {
                let mut code = self.hex(4)?;
                // A JSON surrogate pair: \ud83d\ude00.
                if (0xD800..0xDC00).contains(&code) && self.s[self.i..].starts_with(b"\\u") {
                    self.i += 2;
                    let low = self.hex(4)?;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                }
                out.push(char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?);
            }
            b'U' => {
                let code = self.hex(8)?;
                out.push(char::from_u32(code).ok_or_else(|| self.error("invalid \\U escape"))?);
            }
            _ => {
                // Python keeps unknown escapes as written.
                out.push('\\');
                self.i -= 1;
                let ch = self.text[self.i..].chars().next().expect("not at the end");
                out.push(ch);
                self.i += ch.len_utf8();
            }
        }
        Ok(())
    }

    fn hex(&mut self, digits: usize) -> Result<u32, String> {
        let text = self.text.get(self.i..self.i + digits).ok_or_else(|| self.error("short escape"))?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.error("bad hex escape"))?;
        self.i += digits;
        Ok(code)
    }

    fn number(&mut self) -> Result<Value<'a>, String> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-' | b'_') {
            self.i += 1;
        }
        let text = &self.text[start..self.i];
        // Validated by the decimal parser later; here only the shape.
        if !text.bytes().any(|b| b.is_ascii_digit()) {
            self.i = start;
            return Err(self.error("not a number"));
        }
        Ok(Value::Number(if text.contains('_') { Cow::Owned(text.replace('_', "")) } else { Cow::Borrowed(text) }))
    }

    fn word(&mut self) -> Result<Value<'a>, String> {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        match &self.text[start..self.i] {
            "None" | "null" => Ok(Value::Null),
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "nan" | "NaN" | "inf" | "Infinity" => Ok(Value::Number(Cow::Borrowed(&self.text[start..self.i]))),
            "Decimal" => {
                // Decimal('1.5') or Decimal("1.5"): the number inside, as written.
                self.skip_space();
                if self.peek() != Some(b'(') {
                    return Err(self.error("expected '(' after Decimal"));
                }
                self.i += 1;
                self.skip_space();
                let inner = match self.peek() {
                    Some(q @ (b'\'' | b'"')) => self.string(q)?,
                    _ => match self.number()? {
                        Value::Number(n) => n,
                        _ => unreachable!("number() returns numbers"),
                    },
                };
                self.skip_space();
                if self.peek() != Some(b')') {
                    return Err(self.error("expected ')' after Decimal value"));
                }
                self.i += 1;
                Ok(Value::Number(match inner {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
                }))
            }
            _ => {
                self.i = start;
                Err(self.error("unknown word"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(text))
    }
    fn n(text: &str) -> Value<'_> {
        Value::Number(Cow::Borrowed(text))
    }

    #[test]
    fn gcp_credits_as_pandas_writes_them() {
        let text = "[{'name': 'FreeTrial:Credit-000000-B0BBA4-940A77', 'amount': -5e-06, 'full_name': None, \
                    'id': 'FreeTrial:Credit-000000-B0BBA4-940A77', 'type': 'PROMOTION'}]";
        let value = parse(text).unwrap();
        let Value::List(items) = &value else { panic!("{value:?}") };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].get("amount"), Some(&n("-5e-06")));
        assert_eq!(items[0].get("full_name"), Some(&Value::Null));
        assert_eq!(items[0].get("type"), Some(&s("PROMOTION")));
        assert_eq!(
            value.to_json(),
            r#"[{"name":"FreeTrial:Credit-000000-B0BBA4-940A77","amount":-5e-06,"full_name":null,"id":"FreeTrial:Credit-000000-B0BBA4-940A77","type":"PROMOTION"}]"#
        );
    }

    #[test]
    fn labels_in_python_and_json_notation_agree() {
        let python = parse("[{'key': 'env', 'value': 'prod'}, {'key': \"it's\", 'value': ''},]").unwrap();
        let json = parse(r#"[{"key": "env", "value": "prod"}, {"key": "it's", "value": ""}]"#).unwrap();
        assert_eq!(python, json);
        assert_eq!(parse("[]").unwrap(), Value::List(vec![]));
    }

    #[test]
    fn scalars_words_and_escapes() {
        assert_eq!(parse("True").unwrap(), Value::Bool(true));
        assert_eq!(parse("false").unwrap(), Value::Bool(false));
        assert_eq!(parse(" None ").unwrap(), Value::Null);
        assert_eq!(parse("Decimal('0.000001')").unwrap(), n("0.000001"));
        assert_eq!(parse("(1, 2,)").unwrap(), Value::List(vec![n("1"), n("2")]));
        assert_eq!(parse(r"'a\'b\\c\n\x41\u00e9'").unwrap(), s("a'b\\c\nAé"));
        assert_eq!(parse(r#""\ud83d\ude00 ünïcode""#).unwrap(), s("😀 ünïcode"));
        assert_eq!(parse(r"'C:\path'").unwrap(), s("C:\\path"));
        assert_eq!(parse("{'n': 1_000}").unwrap().get("n"), Some(&n("1000")));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(parse("[{'key': 'env'").unwrap_err(), "expected ',' or '}' at character 15 of \"[{'key': 'env'\"");
        assert_eq!(parse("['open").unwrap_err(), "unterminated string at character 2 of \"['open\"");
        assert_eq!(parse("[1] x").unwrap_err(), "unexpected text after the value at character 5 of \"[1] x\"");
        assert!(parse("[nope]").unwrap_err().starts_with("unknown word"));
        assert!(parse("").is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().starts_with("nested too deeply"));
    }
}
