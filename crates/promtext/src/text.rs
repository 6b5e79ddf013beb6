//! The text-format parser: one pass over the lines, each line read left to right by a cursor.

use crate::float::{FloatError, parse_float};
use crate::{Exposition, MetricType, ParseError, Quoted, Sample, cut, family_of, snippet};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Parses a text-format (0.0.4) body.
///
/// Lines end in `\n` or `\r\n`; the last one may lack it. A line is blank, a `#` comment
/// (`# HELP name text` and `# TYPE name type` are read, every other comment is ignored), or
/// a sample `name{label="value",...} value [timestamp_ms]`. Names may also be quoted
/// (`{"my.metric", "label.name"="v"} 1`), as Prometheus 3 writes UTF-8 names.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut parser = Parser::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        parser.line(index + 1, line)?;
    }
    Ok(parser.out)
}

/// The identity of a series: name and label set, labels sorted so order does not matter.
type SeriesKey = (String, Vec<(String, String)>);

#[derive(Default)]
struct Parser {
    out: Exposition,
    /// First line of each sample name, to refuse a TYPE that comes after its samples.
    first_sample_line: HashMap<String, usize>,
    type_line: HashMap<String, usize>,
    help_line: HashMap<String, usize>,
    /// Every series so far and its line, to refuse a repeated one.
    series: HashMap<SeriesKey, usize>,
}

fn error(line: usize, message: String) -> ParseError {
    ParseError { line, message }
}

impl Parser {
    fn line(&mut self, line: usize, text: &str) -> Result<(), ParseError> {
        let mut c = Cursor::new(text);
        c.skip_blanks();
        if c.at_end() {
            return Ok(());
        }
        if c.eat(b'#') {
            return self.comment(line, c);
        }
        self.sample(line, c)
    }

    /// Everything after the `#`. Like expfmt, a HELP or TYPE line that stops before its
    /// text is an ordinary comment, and only the exact keywords `HELP` and `TYPE` count.
    fn comment(&mut self, line: usize, mut c: Cursor<'_>) -> Result<(), ParseError> {
        c.skip_blanks();
        let keyword = c.token();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        c.skip_blanks();
        if c.at_end() {
            return Ok(());
        }
        let name = match c.name(NameKind::Metric) {
            Ok(Some(name)) => name,
            Ok(None) => {
                return Err(error(
                    line,
                    format!(
                        "# {keyword} line has an invalid metric name: expected a name matching \
                         [a-zA-Z_:][a-zA-Z0-9_:]* or a quoted name, found {}",
                        snippet(c.rest())
                    ),
                ));
            }
            Err(e) => return Err(error(line, e.message("metric name in # ", keyword))),
        };
        let name_q = Quoted(&name);
        if c.at_end() {
            return Ok(());
        }
        if !c.at_blank() {
            return Err(error(
                line,
                format!(
                    "# {keyword} line: metric name {name_q} is followed by {}: expected a blank \
                     and the {}; names may contain only [a-zA-Z0-9_:], quote any other name",
                    snippet(c.rest()),
                    if keyword == "HELP" {
                        "help text"
                    } else {
                        "type"
                    }
                ),
            ));
        }
        c.skip_blanks();
        if c.at_end() {
            return Ok(());
        }
        if keyword == "HELP" {
            self.help(line, name, c.rest())
        } else {
            self.declare_type(line, name, c.rest())
        }
    }

    fn help(&mut self, line: usize, name: String, text: &str) -> Result<(), ParseError> {
        let name_q = Quoted(&name);
        if let Some(first) = self.help_line.get(&name) {
            return Err(error(
                line,
                format!(
                    "second HELP line for {name_q} (the first is on line {first}): give each \
                     family one HELP line"
                ),
            ));
        }
        let help = unescape_help(text).map_err(|bad| {
            let message = match bad {
                Some(ch) => format!(
                    "HELP text of {name_q} has the invalid escape sequence \"\\{ch}\": only \\\\ \
                     and \\n are allowed, write a literal backslash as \\\\"
                ),
                None => format!(
                    "HELP text of {name_q} ends with a lone backslash: write a literal \
                     backslash as \\\\"
                ),
            };
            error(line, message)
        })?;
        self.help_line.insert(name.clone(), line);
        self.out.help.insert(name, help);
        Ok(())
    }

    fn declare_type(&mut self, line: usize, name: String, text: &str) -> Result<(), ParseError> {
        let name_q = Quoted(&name);
        if let Some(first) = self.type_line.get(&name) {
            return Err(error(
                line,
                format!(
                    "second TYPE line for {name_q} (the first is on line {first}): give each \
                     family one TYPE line"
                ),
            ));
        }
        let word = text.trim_end_matches([' ', '\t']);
        let metric_type = [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Summary,
            MetricType::Untyped,
        ]
        .into_iter()
        .find(|t| word.eq_ignore_ascii_case(t.as_str()))
        .ok_or_else(|| {
            error(
                line,
                format!(
                    "unknown metric type {} for {name_q}: expected counter, gauge, histogram, \
                     summary or untyped",
                    snippet(word)
                ),
            )
        })?;
        // The family's samples so far: the name itself and, for the suffixes this type owns,
        // the suffixed names (unless those are declared families of their own).
        let own = self.first_sample_line.get(&name).copied();
        let suffixed = metric_type.suffixes().iter().filter_map(|suffix| {
            let sample_name = format!("{name}{suffix}");
            if self.out.types.contains_key(&sample_name) {
                return None;
            }
            self.first_sample_line.get(&sample_name).copied()
        });
        if let Some(first) = own.into_iter().chain(suffixed).min() {
            return Err(error(
                line,
                format!(
                    "TYPE line for {name_q} comes after its samples (the first is on line \
                     {first}): put # TYPE before the family's first sample"
                ),
            ));
        }
        self.type_line.insert(name.clone(), line);
        self.out.types.insert(name, metric_type);
        Ok(())
    }

    fn sample(&mut self, line: usize, mut c: Cursor<'_>) -> Result<(), ParseError> {
        let mut labels = Vec::new();
        let name = if c.eat(b'{') {
            // `{"name", label="v"}`: the name is the first item in the braces.
            c.skip_blanks();
            let name = match c.name(NameKind::Metric) {
                Ok(Some(name)) => name,
                Ok(None) => {
                    return Err(error(
                        line,
                        format!(
                            "expected a metric name after '{{', found {}",
                            snippet(c.rest())
                        ),
                    ));
                }
                Err(e) => return Err(error(line, e.message("metric name", ""))),
            };
            let name_q = Quoted(&name);
            c.skip_blanks();
            match c.peek() {
                Some(b',') => {
                    c.bump();
                    read_labels(line, &mut c, &name, &mut labels)?;
                }
                Some(b'}') => c.bump(),
                Some(b'=') => {
                    return Err(error(
                        line,
                        format!(
                            "sample has no metric name, only labels (starting with {name_q}): \
                             expected the name first, as my_metric{{label=\"...\"}} or \
                             {{\"my.metric\", label=\"...\"}}"
                        ),
                    ));
                }
                _ => {
                    return Err(error(
                        line,
                        format!(
                            "expected ',' or '}}' after metric name {name_q}, found {}",
                            snippet(c.rest())
                        ),
                    ));
                }
            }
            name
        } else {
            let name = match c.name(NameKind::Metric) {
                Ok(Some(name)) => name,
                Ok(None) => {
                    return Err(error(
                        line,
                        format!(
                            "expected a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*, a \
                             comment starting with '#', or a blank line, found {}",
                            snippet(c.rest())
                        ),
                    ));
                }
                Err(e) => return Err(error(line, e.message("metric name", ""))),
            };
            let name_q = Quoted(&name);
            if !(c.at_end() || c.at_blank() || c.peek() == Some(b'{')) {
                return Err(error(
                    line,
                    format!(
                        "metric name {name_q} is followed by {}: expected '{{', a blank and the \
                         value; names may contain only [a-zA-Z0-9_:], quote any other name as \
                         {{\"my.metric\"}}",
                        snippet(c.rest())
                    ),
                ));
            }
            c.skip_blanks();
            if c.eat(b'{') {
                read_labels(line, &mut c, &name, &mut labels)?;
            }
            name
        };
        let name_q = Quoted(&name);

        // The series key doubles as the duplicate-label-name check: sorted, a repeated name
        // sits next to itself.
        let mut key_labels = labels.clone();
        key_labels.sort_unstable();
        if let Some(pair) = key_labels.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(error(
                line,
                format!(
                    "label {:?} appears twice in one sample of {name_q}: give each label once",
                    pair[0].0
                ),
            ));
        }

        c.skip_blanks();
        let value_text = c.token();
        if value_text.is_empty() {
            return Err(error(
                line,
                format!(
                    "sample of {name_q} has no value: expected a number after the name and \
                     labels"
                ),
            ));
        }
        let value = parse_float(value_text).map_err(|e| {
            error(
                line,
                match e {
                    FloatError::Syntax => format!(
                        "invalid value {} for {name_q}: expected a float such as 1, -2.5, \
                         1e-3, +Inf, -Inf or NaN",
                        snippet(value_text)
                    ),
                    FloatError::Range => format!(
                        "value {} for {name_q} is out of range for a 64-bit float: write +Inf \
                         or -Inf if that is meant",
                        snippet(value_text)
                    ),
                },
            )
        })?;
        c.skip_blanks();
        let timestamp_ms = if c.at_end() {
            None
        } else {
            let text = c.token();
            let ts = text.parse::<i64>().map_err(|_| {
                error(
                    line,
                    format!(
                        "invalid timestamp {} for {name_q}: expected an integer number of \
                         milliseconds since the Unix epoch, or nothing",
                        snippet(text)
                    ),
                )
            })?;
            Some(ts)
        };
        c.skip_blanks();
        if !c.at_end() {
            return Err(error(
                line,
                format!(
                    "unexpected text {} after the timestamp of {name_q}: expected the end of \
                     the line",
                    snippet(c.rest())
                ),
            ));
        }

        self.check_bounds(line, &name, &labels)?;
        match self.series.entry((name.clone(), key_labels)) {
            Entry::Occupied(first) => {
                return Err(error(
                    line,
                    format!(
                        "duplicate sample: {} was already given on line {}: give each \
                         series once per push",
                        cut(&format!("{name}{}", render_labels(&labels))),
                        first.get()
                    ),
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(line);
            }
        }
        if !self.first_sample_line.contains_key(&name) {
            self.first_sample_line.insert(name.clone(), line);
        }
        self.out.samples.push(Sample {
            name,
            labels,
            value,
            timestamp_ms,
            line,
        });
        Ok(())
    }

    /// Histogram `le` and summary `quantile` labels hold floats, as expfmt insists.
    fn check_bounds(
        &self,
        line: usize,
        name: &str,
        labels: &[(String, String)],
    ) -> Result<(), ParseError> {
        let name_q = Quoted(name);
        let family = family_of(&self.out.types, name);
        let family_q = Quoted(family);
        let bound = match self.out.types.get(family) {
            Some(MetricType::Histogram) => "le",
            Some(MetricType::Summary) => "quantile",
            _ => return Ok(()),
        };
        for (label, value) in labels.iter().filter(|(n, _)| n == bound) {
            if parse_float(value).is_err() {
                return Err(error(
                    line,
                    format!(
                        "{label}={} of {name_q} is not a float: {family_q} is a {}, expected \
                         e.g. {label}=\"0.5\" or {label}=\"+Inf\"",
                        snippet(value),
                        self.out
                            .types
                            .get(family)
                            .copied()
                            .unwrap_or(MetricType::Untyped)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `{a="x",b="y"}` for an error message (empty for no labels).
fn render_labels(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Reads `label="value", ...}` after the `{` (or after the name's comma in the quoted form),
/// through the closing brace. A trailing comma is allowed.
fn read_labels(
    line: usize,
    c: &mut Cursor<'_>,
    metric: &str,
    labels: &mut Vec<(String, String)>,
) -> Result<(), ParseError> {
    let metric_q = Quoted(metric);
    loop {
        c.skip_blanks();
        if c.eat(b'}') {
            return Ok(());
        }
        if c.at_end() {
            return Err(unclosed(line, metric));
        }
        let label = match c.name(NameKind::Label) {
            Ok(Some(label)) => label,
            Ok(None) => {
                return Err(error(
                    line,
                    format!(
                        "invalid label name in {metric_q}: expected a name matching \
                         [a-zA-Z_][a-zA-Z0-9_]*, a quoted name, or '}}', found {}",
                        snippet(c.rest())
                    ),
                ));
            }
            Err(e) => return Err(error(line, e.message("label name", ""))),
        };
        let label_q = Quoted(&label);
        if label == "__name__" {
            return Err(error(
                line,
                format!(
                    "label name \"__name__\" in {metric_q} is reserved: put the metric name \
                     before the labels instead"
                ),
            ));
        }
        c.skip_blanks();
        if !c.eat(b'=') {
            return Err(error(
                line,
                format!(
                    "expected '=' after label name {label_q} in {metric_q}, found {}",
                    snippet(c.rest())
                ),
            ));
        }
        c.skip_blanks();
        if c.peek() != Some(b'"') {
            return Err(error(
                line,
                format!(
                    "label value for {label_q} is not quoted: expected \"...\", found {}",
                    snippet(c.rest())
                ),
            ));
        }
        let value = c.quoted().map_err(|e| match e {
            QuoteError::Unterminated => error(
                line,
                format!(
                    "label value for {label_q} has no closing quote: expected \"...\" on one \
                     line, with \\\" for a quote and \\n for a newline inside it"
                ),
            ),
            QuoteError::BadEscape(ch) => error(
                line,
                format!(
                    "label value for {label_q} has the invalid escape sequence \"\\{ch}\": only \
                     \\\\, \\\" and \\n are allowed, write a literal backslash as \\\\"
                ),
            ),
        })?;
        labels.push((label, value));
        c.skip_blanks();
        match c.peek() {
            Some(b',') => c.bump(),
            Some(b'}') => {
                c.bump();
                return Ok(());
            }
            None => return Err(unclosed(line, metric)),
            Some(_) => {
                let label = labels.last().map(|(n, _)| n.as_str()).unwrap_or_default();
                let label_q = Quoted(label);
                return Err(error(
                    line,
                    format!(
                        "expected ',' or '}}' after the value of label {label_q} in {metric_q}, \
                         found {}",
                        snippet(c.rest())
                    ),
                ));
            }
        }
    }
}

fn unclosed(line: usize, metric: &str) -> ParseError {
    let metric_q = Quoted(metric);
    error(
        line,
        format!("label set of {metric_q} is not closed: expected '}}' before the end of the line"),
    )
}

/// HELP text with `\\` and `\n` unescaped. `Err(Some(c))` names a bad escape, `Err(None)` a
/// lone trailing backslash.
fn unescape_help(text: &str) -> Result<String, Option<char>> {
    if !text.contains('\\') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            other => return Err(other),
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum NameKind {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    Metric,
    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    Label,
}

enum QuoteError {
    Unterminated,
    BadEscape(char),
}

enum NameError {
    Quote(QuoteError),
    EmptyQuoted,
}

impl NameError {
    fn message(&self, what: &str, keyword: &str) -> String {
        match self {
            NameError::EmptyQuoted => format!("quoted {what}{keyword} is empty: expected a name"),
            NameError::Quote(QuoteError::Unterminated) => {
                format!("quoted {what}{keyword} has no closing quote")
            }
            NameError::Quote(QuoteError::BadEscape(ch)) => format!(
                "quoted {what}{keyword} has the invalid escape sequence \"\\{ch}\": only \\\\, \
                 \\\" and \\n are allowed"
            ),
        }
    }
}

/// A position in one line. It only ever stops on a char boundary: it moves by one byte only
/// over ASCII bytes it has just looked at, and otherwise to just after an ASCII byte.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn at_blank(&self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t'))
    }

    /// Steps over the ASCII byte just peeked.
    fn bump(&mut self) {
        self.pos += 1;
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.bump();
        }
        hit
    }

    fn skip_blanks(&mut self) {
        while self.at_blank() {
            self.bump();
        }
    }

    /// Everything up to the next blank or the end of the line.
    fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find([' ', '\t']).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or_default()
    }

    /// A bare name of `kind`, or a quoted name; `Ok(None)` when neither starts here.
    fn name(&mut self, kind: NameKind) -> Result<Option<String>, NameError> {
        let start = |b: u8| {
            b.is_ascii_alphabetic() || b == b'_' || (matches!(kind, NameKind::Metric) && b == b':')
        };
        match self.peek() {
            Some(b'"') => {
                let name = self.quoted().map_err(NameError::Quote)?;
                if name.is_empty() {
                    return Err(NameError::EmptyQuoted);
                }
                Ok(Some(name))
            }
            Some(b) if start(b) => {
                let rest = self.rest();
                let len = rest
                    .bytes()
                    .position(|b| !(start(b) || b.is_ascii_digit()))
                    .unwrap_or(rest.len());
                self.pos += len;
                Ok(Some(rest.get(..len).unwrap_or_default().to_owned()))
            }
            _ => Ok(None),
        }
    }

    /// A double-quoted string starting at the cursor, unescaped (`\\`, `\"`, `\n`).
    fn quoted(&mut self) -> Result<String, QuoteError> {
        let bytes = self.s.as_bytes();
        let mut out = String::new();
        let mut i = self.pos + 1;
        let mut chunk = i;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    out.push_str(self.s.get(chunk..i).unwrap_or_default());
                    self.pos = i + 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.s.get(chunk..i).unwrap_or_default());
                    match bytes.get(i + 1) {
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        Some(b'n') => out.push('\n'),
                        Some(_) => {
                            let ch = self
                                .s
                                .get(i + 1..)
                                .and_then(|s| s.chars().next())
                                .unwrap_or('?');
                            return Err(QuoteError::BadEscape(ch));
                        }
                        None => return Err(QuoteError::Unterminated),
                    }
                    i += 2;
                    chunk = i;
                }
                _ => i += 1,
            }
        }
        Err(QuoteError::Unterminated)
    }
}
