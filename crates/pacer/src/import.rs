//! `pacer import`: deployments and incidents from JSON Lines or CSV files into the store,
//! validated exactly as the API validates them (docs/import.md).
//!
//! Whole-file semantics in two passes over the files:
//!
//! 1. **check**: every line is parsed with the API's own parsers (`api::parse`), and the
//!    incident deliveries of each id are replayed in order onto the stored incident (a
//!    delivery the API would refuse, e.g. a resolution before the opening, is refused
//!    here). Any bad line refuses the import, naming the file, the line and the fix;
//!    nothing is written.
//! 2. **write**: the files are read again and written in batches through
//!    [`Store::import_batch`], one transaction per batch (ids dedupe as in the API), while
//!    a reader thread parses the next batch.
//!
//! Memory stays bounded: a batch at a time, plus, during the check, the open/resolved
//! times of each incident id (incidents are a few percent of the events).

use crate::api::parse;
use crate::demo::scale::FileFormat;
use crate::store::{ImportCounts, SharedStore, StoreError};
use pacer_core::{Deployment, IncidentUpdate, Timestamp};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The columns of the CSV format, in the order `pacer demo generate` writes them. A file
/// may carry any subset (in any order) as long as it has `kind`.
pub const CSV_COLUMNS: &[&str] = &[
    "kind",
    "id",
    "service",
    "environment",
    "status",
    "deployed_at",
    "sha",
    "repo",
    "team",
    "changes",
    "lead_time_seconds",
    "hotfix",
    "rollback",
    "branch",
    "labels",
    "opened_at",
    "resolved_at",
    "severity",
    "caused_by_deploy",
    "deployment_id",
];

/// Events per write batch (deployments + changes + incidents): one transaction each.
pub const DEFAULT_BATCH_EVENTS: usize = 50_000;
/// Most bad lines one refusal lists.
const MAX_REPORTED: usize = 10;

/// One line of a file, parsed.
#[derive(Debug, Clone)]
pub enum Record {
    Deployment(Deployment),
    Incident(IncidentUpdate),
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}{}\nnothing was imported: fix the line(s) above and run the import again",
        .lines.join("\n"),
        if *.more { format!("\n(and more bad lines after these {MAX_REPORTED})") } else { String::new() }
    )]
    Refused { lines: Vec<String>, more: bool },
    #[error(
        "{path}: cannot tell the format from the file name; name it .jsonl or .csv, or pass --format jsonl|csv"
    )]
    UnknownFormat { path: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "writing stopped after {written} of the checked events were committed: {source}; \
         importing the same files again skips what was stored and writes the rest"
    )]
    Interrupted {
        written: u64,
        #[source]
        source: StoreError,
    },
}

/// What an import read and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Read from the files: deployment lines, their changes, incident lines.
    pub deployments: u64,
    pub changes: u64,
    pub incidents: u64,
    pub counts: ImportCounts,
    pub elapsed: Duration,
}

impl ImportSummary {
    /// Events read, as docs/benchmarks.md counts them.
    pub fn events(&self) -> u64 {
        self.deployments + self.changes + self.incidents
    }

    pub fn events_per_second(&self) -> f64 {
        self.events() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The format of `path`: `format` when given, else from its extension.
pub fn format_of(path: &Path, format: Option<FileFormat>) -> Result<FileFormat, ImportError> {
    if let Some(f) = format {
        return Ok(f);
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        Ok(FileFormat::Jsonl)
    } else if name.ends_with(".csv") {
        Ok(FileFormat::Csv)
    } else {
        Err(ImportError::UnknownFormat {
            path: path.display().to_string(),
        })
    }
}

/// The members of a JSON object in order, values left as raw JSON text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'a, str>, &'a RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A deployment id for a line that sends none: the API would make a random one, which a
/// second import of the same file would record again; this one is derived from the line.
fn derived_id(line: &[u8]) -> String {
    let digest = Sha256::digest(line);
    format!("dep_{}", hex::encode(&digest[..16]))
}

/// Parses one JSON Lines line (`kind` plus an API body).
pub fn parse_json_line(line: &[u8], now: Timestamp) -> Result<Record, String> {
    let members: Members = serde_json::from_slice(line).map_err(|e| {
        format!(
            "not a JSON object ({e}); write one object per line with \"kind\": \"deployment\" or \"incident\""
        )
    })?;
    let mut kind: Option<&RawValue> = None;
    let mut has_id = false;
    let mut body = Vec::with_capacity(line.len());
    body.push(b'{');
    for (key, value) in members.0 {
        if key == "kind" {
            kind = Some(value);
            continue;
        }
        if key == "id" {
            has_id = value.get() != "null";
        }
        if body.len() > 1 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &key).map_err(|e| e.to_string())?;
        body.push(b':');
        body.extend_from_slice(value.get().as_bytes());
    }
    body.push(b'}');
    let kind: Option<String> = match kind {
        None => None,
        Some(k) => Some(serde_json::from_str(k.get()).map_err(|_| {
            format!(
                "kind must be the string \"deployment\" or \"incident\", got {}",
                k.get()
            )
        })?),
    };
    match kind.as_deref() {
        Some("deployment") => {
            let mut d = parse::deployment(&body, now).map_err(|e| e.to_string())?;
            if !has_id {
                d.id = derived_id(line.trim_ascii());
            }
            Ok(Record::Deployment(d))
        }
        Some("incident") => Ok(Record::Incident(
            parse::incident(&body).map_err(|e| e.to_string())?,
        )),
        Some(other) => Err(format!(
            "kind {other:?} is not \"deployment\" or \"incident\""
        )),
        None => Err(
            "kind is required: add \"kind\": \"deployment\" or \"kind\": \"incident\"".to_string(),
        ),
    }
}

/// Where each CSV column is (from a file's header line).
pub struct CsvHeader {
    columns: Vec<&'static str>,
    kind: usize,
}

impl CsvHeader {
    fn parse(header: &csv::StringRecord) -> Result<CsvHeader, String> {
        let mut columns = Vec::new();
        for name in header.iter() {
            let name = name.trim();
            let known = CSV_COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
                format!(
                    "unknown column {name:?} in the header; known columns are: {}",
                    CSV_COLUMNS.join(", ")
                )
            })?;
            if columns.contains(known) {
                return Err(format!("column {name:?} appears twice in the header"));
            }
            columns.push(*known);
        }
        let kind = columns.iter().position(|c| *c == "kind").ok_or_else(|| {
            "the header has no \"kind\" column: the first line must name the columns, e.g. kind,id,service,environment,deployed_at".to_string()
        })?;
        Ok(CsvHeader { columns, kind })
    }
}

/// A CSV time cell: integer Unix seconds stay a number, anything else is sent as text.
fn time_value(cell: &str) -> serde_json::Value {
    match cell.parse::<i64>() {
        Ok(n) => serde_json::Value::from(n),
        Err(_) => serde_json::Value::String(cell.to_string()),
    }
}

fn bool_value(column: &str, cell: &str) -> Result<serde_json::Value, String> {
    match cell.to_ascii_lowercase().as_str() {
        "true" => Ok(true.into()),
        "false" => Ok(false.into()),
        _ => Err(format!(
            "{column} {cell:?} must be true or false (or empty: not sent)"
        )),
    }
}

/// Parses one CSV record: its cells become the API body of its kind.
fn parse_csv_record(
    header: &CsvHeader,
    record: &csv::StringRecord,
    now: Timestamp,
) -> Result<Record, String> {
    use serde_json::{Map, Value};
    let kind = record.get(header.kind).unwrap_or("").trim();
    let deployment = match kind {
        "deployment" => true,
        "incident" => false,
        "" => return Err("kind is empty: write deployment or incident".to_string()),
        other => return Err(format!("kind {other:?} is not deployment or incident")),
    };
    let mut body = Map::new();
    let mut has_id = false;
    for (column, cell) in header.columns.iter().zip(record.iter()) {
        let cell = cell.trim();
        if *column == "kind" || cell.is_empty() {
            continue;
        }
        // A column the API's body for this kind does not have belongs to the other kind
        // (the header check above already refused unknown columns).
        let own = if deployment {
            crate::api::parse::DEPLOYMENT_FIELDS
        } else {
            crate::api::parse::INCIDENT_FIELDS
        };
        if !own.contains(column) {
            return Err(format!(
                "column {column} does not apply to {}; leave it empty",
                if deployment {
                    "a deployment"
                } else {
                    "an incident"
                }
            ));
        }
        let value = match *column {
            "id" => {
                has_id = true;
                Value::String(cell.to_string())
            }
            "deployed_at" | "opened_at" | "resolved_at" => time_value(cell),
            "lead_time_seconds" => match cell
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => {
                    return Err(format!(
                        "lead_time_seconds {cell:?} must be a number of seconds, e.g. 1800"
                    ));
                }
            },
            "hotfix" | "rollback" | "caused_by_deploy" => bool_value(column, cell)?,
            "labels" => Value::Array(
                cell.split(';')
                    .map(|l| Value::String(l.to_string()))
                    .collect(),
            ),
            "changes" => {
                let mut changes = Vec::new();
                for item in cell.split(';') {
                    let item = item.trim();
                    let (id, started) = item.rsplit_once('@').ok_or_else(|| {
                        format!(
                            "changes item {item:?} must look like ID@STARTED_AT, e.g. web#311@2026-03-15T08:00:00Z (items separated by ;)"
                        )
                    })?;
                    let mut c = Map::new();
                    c.insert("id".into(), Value::String(id.to_string()));
                    c.insert("started_at".into(), time_value(started.trim()));
                    changes.push(Value::Object(c));
                }
                Value::Array(changes)
            }
            _ => Value::String(cell.to_string()),
        };
        body.insert((*column).to_string(), value);
    }
    let bytes = serde_json::to_vec(&Value::Object(body)).map_err(|e| e.to_string())?;
    if deployment {
        let mut d = parse::deployment(&bytes, now).map_err(|e| e.to_string())?;
        if !has_id {
            let mut h = Vec::new();
            for cell in record.iter() {
                h.extend_from_slice(cell.as_bytes());
                h.push(0);
            }
            d.id = derived_id(&h);
        }
        Ok(Record::Deployment(d))
    } else {
        Ok(Record::Incident(
            parse::incident(&bytes).map_err(|e| e.to_string())?,
        ))
    }
}

/// Lines (or CSV records) per chunk handed to a parser.
const CHUNK_LINES: usize = 2048;

/// Unparsed lines of one file, in order, with their line numbers.
pub enum RawChunk {
    Jsonl {
        buf: Vec<u8>,
        /// Line number and byte range in `buf` of each non-blank line.
        lines: Vec<(u64, std::ops::Range<usize>)>,
    },
    Csv {
        header: std::sync::Arc<CsvHeader>,
        records: Vec<csv::StringRecord>,
    },
}

/// The records of a chunk, in order: `(line number, record or why not)`.
pub type Parsed = Vec<(u64, Result<Record, String>)>;

impl RawChunk {
    pub fn parse(&self, now: Timestamp) -> Parsed {
        match self {
            RawChunk::Jsonl { buf, lines } => lines
                .iter()
                .map(|(n, r)| (*n, parse_json_line(&buf[r.clone()], now)))
                .collect(),
            RawChunk::Csv { header, records } => records
                .iter()
                .map(|r| {
                    let n = r.position().map_or(0, |p| p.line());
                    (n, parse_csv_record(header, r, now))
                })
                .collect(),
        }
    }
}

/// Reads one file in chunks of unparsed lines.
pub struct ChunkReader {
    path: String,
    inner: Inner,
}

enum Inner {
    Jsonl {
        reader: BufReader<std::fs::File>,
        number: u64,
        bytes: u64,
    },
    Csv {
        reader: Box<csv::Reader<std::fs::File>>,
        header: std::sync::Arc<CsvHeader>,
    },
}

impl ChunkReader {
    pub fn open(path: &Path, format: FileFormat) -> Result<Self, ImportError> {
        let name = path.display().to_string();
        let io = |source| ImportError::Io {
            path: name.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let inner = match format {
            FileFormat::Jsonl => Inner::Jsonl {
                reader: BufReader::with_capacity(1 << 20, file),
                number: 0,
                bytes: 0,
            },
            FileFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .buffer_capacity(1 << 20)
                    .from_reader(file);
                let refuse = |m: String| ImportError::Refused {
                    lines: vec![format!("{name} line 1: {m}")],
                    more: false,
                };
                let header = reader
                    .headers()
                    .map_err(|e| refuse(format!("cannot read the CSV header: {e}")))?;
                let header = CsvHeader::parse(header).map_err(refuse)?;
                Inner::Csv {
                    reader: Box::new(reader),
                    header: std::sync::Arc::new(header),
                }
            }
        };
        Ok(ChunkReader { path: name, inner })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Bytes of the file consumed so far.
    pub fn position(&self) -> u64 {
        match &self.inner {
            Inner::Jsonl { bytes, .. } => *bytes,
            Inner::Csv { reader, .. } => reader.position().byte(),
        }
    }

    /// The next chunk; `None` at the end of the file. A CSV record that does not fit the
    /// header refuses the import here: the reader cannot go past it.
    pub fn next_chunk(&mut self) -> Result<Option<RawChunk>, ImportError> {
        let path = &self.path;
        match &mut self.inner {
            Inner::Jsonl {
                reader,
                number,
                bytes,
            } => {
                let mut buf = Vec::with_capacity(CHUNK_LINES * 256);
                let mut lines = Vec::with_capacity(CHUNK_LINES);
                while lines.len() < CHUNK_LINES {
                    let start = buf.len();
                    let n =
                        reader
                            .read_until(b'\n', &mut buf)
                            .map_err(|source| ImportError::Io {
                                path: path.clone(),
                                source,
                            })?;
                    if n == 0 {
                        break;
                    }
                    *number += 1;
                    *bytes += n as u64;
                    let line = &buf[start..];
                    let lead = line.len() - line.trim_ascii_start().len();
                    let trail = line.len() - line.trim_ascii_end().len();
                    if lead + trail >= line.len() {
                        buf.truncate(start);
                        continue;
                    }
                    lines.push((*number, start + lead..buf.len() - trail));
                }
                Ok((!lines.is_empty()).then_some(RawChunk::Jsonl { buf, lines }))
            }
            Inner::Csv { reader, header } => {
                let mut records = Vec::with_capacity(CHUNK_LINES);
                while records.len() < CHUNK_LINES {
                    let mut record = csv::StringRecord::new();
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => records.push(record),
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            return Err(match e.kind() {
                                csv::ErrorKind::Io(_) => ImportError::Io {
                                    path: path.clone(),
                                    source: std::io::Error::other(e.to_string()),
                                },
                                _ => ImportError::Refused {
                                    lines: vec![format!(
                                        "{path} line {line}: not a CSV record of the header's columns ({e})"
                                    )],
                                    more: false,
                                },
                            });
                        }
                    }
                }
                Ok((!records.is_empty()).then(|| RawChunk::Csv {
                    header: header.clone(),
                    records,
                }))
            }
        }
    }
}

/// The open/resolved times an incident delivery sends (the part of a merge that can be
/// refused).
#[derive(Debug, Clone, Copy)]
struct IncidentTimes {
    line: u64,
    file: usize,
    opened_at: Option<Timestamp>,
    resolved_at: Option<Option<Timestamp>>,
}

/// Options of one import.
pub struct ImportOptions {
    pub files: Vec<PathBuf>,
    pub format: Option<FileFormat>,
    /// Events per transaction.
    pub batch_events: usize,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

fn progress_bar(total: u64, show: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {elapsed} (eta {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// What the check of one chunk found.
#[derive(Default)]
struct Checked {
    deployments: u64,
    changes: u64,
    incidents: Vec<(String, IncidentTimes)>,
    bad: Vec<String>,
}

fn check_chunk(chunk: &RawChunk, file: usize, path: &str, now: Timestamp) -> Checked {
    let mut c = Checked::default();
    for (line, record) in chunk.parse(now) {
        match record {
            Ok(Record::Deployment(d)) => {
                c.deployments += 1;
                c.changes += d.changes.len() as u64;
            }
            Ok(Record::Incident(u)) => c.incidents.push((
                u.id,
                IncidentTimes {
                    line,
                    file,
                    opened_at: u.opened_at,
                    resolved_at: u.resolved_at,
                },
            )),
            Err(message) => {
                if c.bad.len() <= MAX_REPORTED {
                    c.bad.push(format!("{path} line {line}: {message}"));
                }
            }
        }
    }
    c
}

/// What the check of every file found: the counts, each incident's deliveries in order,
/// and the bad lines.
type CheckResult = (
    ImportSummary,
    HashMap<String, Vec<IncidentTimes>>,
    Vec<String>,
);

/// Pass 1: parses every line of every file on two threads (the files are read on this one).
fn check_files(
    files: &[(PathBuf, FileFormat)],
    now: Timestamp,
    bar: &indicatif::ProgressBar,
) -> Result<CheckResult, ImportError> {
    use std::sync::{Mutex, mpsc};
    let (work, jobs) = mpsc::sync_channel::<(usize, usize, RawChunk)>(8);
    let jobs = Mutex::new(jobs);
    let (done, results) = mpsc::channel::<(usize, Checked)>();
    let paths: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    let read = std::thread::scope(|scope| {
        for _ in 0..2 {
            let done = done.clone();
            let (jobs, paths) = (&jobs, &paths);
            scope.spawn(move || {
                loop {
                    let job = jobs.lock().expect("not poisoned").recv();
                    let Ok((index, file, chunk)) = job else { break };
                    let checked = check_chunk(&chunk, file, &paths[file], now);
                    if done.send((index, checked)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut index = 0;
        let mut done_bytes = 0;
        for (f, (path, format)) in files.iter().enumerate() {
            let mut reader = ChunkReader::open(path, *format)?;
            while let Some(chunk) = reader.next_chunk()? {
                bar.set_position(done_bytes + reader.position());
                if work.send((index, f, chunk)).is_err() {
                    break;
                }
                index += 1;
            }
            done_bytes += reader.position();
        }
        drop(work);
        Ok::<usize, ImportError>(index)
    })?;
    let mut checked: Vec<(usize, Checked)> = results.into_iter().collect();
    debug_assert_eq!(checked.len(), read);
    checked.sort_by_key(|(i, _)| *i);
    let mut summary = ImportSummary::default();
    let mut incidents: HashMap<String, Vec<IncidentTimes>> = HashMap::new();
    let mut bad = Vec::new();
    for (_, c) in checked {
        summary.deployments += c.deployments;
        summary.changes += c.changes;
        summary.incidents += c.incidents.len() as u64;
        for (id, times) in c.incidents {
            incidents.entry(id).or_default().push(times);
        }
        bad.extend(c.bad);
    }
    Ok((summary, incidents, bad))
}

/// Checks every file, then writes them (see the module documentation).
pub async fn import(
    store: SharedStore,
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let now = crate::timefmt::now();
    let mut files = Vec::new();
    let mut total_bytes = 0;
    for path in &options.files {
        files.push((path.clone(), format_of(path, options.format)?));
        total_bytes += std::fs::metadata(path)
            .map_err(|source| ImportError::Io {
                path: path.display().to_string(),
                source,
            })?
            .len();
    }
    // Both passes read every byte.
    let bar = progress_bar(2 * total_bytes, options.progress);

    // 1. Check.
    bar.set_message("checking");
    let (mut summary, incidents, mut bad) = {
        let (files, bar) = (files.clone(), bar.clone());
        tokio::task::spawn_blocking(move || check_files(&files, now, &bar))
            .await
            .map_err(|e| ImportError::Io {
                path: "the check".into(),
                source: std::io::Error::other(e.to_string()),
            })??
    };
    if bad.is_empty() {
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        bad = check_incident_merges(&store, &paths, incidents).await?;
    }
    if !bad.is_empty() {
        bar.finish_and_clear();
        let more = bad.len() > MAX_REPORTED;
        bad.truncate(MAX_REPORTED);
        return Err(ImportError::Refused { lines: bad, more });
    }
    bar.set_position(total_bytes);
    let check_took = started.elapsed();

    // 2. Write: a reader thread parses batches while the store writes the previous one.
    bar.set_message("importing");
    let (send, mut receive) = tokio::sync::mpsc::channel::<Result<Batch, ImportError>>(2);
    let batch_events = options.batch_events.max(1);
    let reader_bar = bar.clone();
    let reader = std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            let mut batch = Batch::default();
            let mut done_bytes = total_bytes;
            let fail = |e| {
                let _ = send.blocking_send(Err(e));
            };
            for (path, format) in files {
                let mut reader = match ChunkReader::open(&path, format) {
                    Ok(r) => r,
                    Err(e) => return fail(e),
                };
                loop {
                    let chunk = match reader.next_chunk() {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => break,
                        Err(e) => return fail(e),
                    };
                    for (line, record) in chunk.parse(now) {
                        match record {
                            Ok(r) => batch.push(r),
                            // The file changed since the check.
                            Err(m) => {
                                return fail(ImportError::Refused {
                                    lines: vec![format!("{} line {line}: {m}", reader.path())],
                                    more: false,
                                });
                            }
                        }
                        if batch.events >= batch_events {
                            reader_bar.set_position(done_bytes + reader.position());
                            if send.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                                return;
                            }
                        }
                    }
                }
                done_bytes += reader.position();
            }
            if batch.events > 0 {
                let _ = send.blocking_send(Ok(batch));
            }
        })
        .map_err(|source| ImportError::Io {
            path: "a reader thread".into(),
            source,
        })?;
    let mut written = 0u64;
    let mut result = Ok(());
    while let Some(batch) = receive.recv().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        match store
            .import_batch(&batch.deployments, &batch.incidents)
            .await
        {
            Ok(counts) => {
                summary.counts += counts;
                written += batch.events as u64;
            }
            Err(source) => {
                result = Err(if written == 0 {
                    ImportError::Store(source)
                } else {
                    ImportError::Interrupted { written, source }
                });
                break;
            }
        }
    }
    drop(receive);
    let _ = reader.join();
    // Also after a failure: what was committed stays, and an import into an empty store
    // builds the indexes it deferred (store::bulk) now rather than at the next opening.
    bar.set_message("finishing");
    // Everything is committed: a failed end leaves a longer WAL, or indexes for the next
    // opening of the store to build, not lost data.
    if let Err(e) = store.import_done().await {
        tracing::warn!(error = %e, "import: the final index build or checkpoint failed; the data is committed");
    }
    bar.finish_and_clear();
    result?;
    summary.elapsed = started.elapsed();
    tracing::debug!(check = ?check_took, write = ?summary.elapsed - check_took, "import timing");
    Ok(summary)
}

#[derive(Default)]
struct Batch {
    deployments: Vec<Deployment>,
    incidents: Vec<IncidentUpdate>,
    events: usize,
}

impl Batch {
    fn push(&mut self, record: Record) {
        match record {
            Record::Deployment(d) => {
                self.events += 1 + d.changes.len();
                self.deployments.push(d);
            }
            Record::Incident(u) => {
                self.events += 1;
                self.incidents.push(u);
            }
        }
    }
}

/// Replays each incident's deliveries (in file order) onto its stored state, as the API
/// would merge them; returns the refusals, naming the line.
async fn check_incident_merges(
    store: &SharedStore,
    files: &[PathBuf],
    incidents: HashMap<String, Vec<IncidentTimes>>,
) -> Result<Vec<String>, ImportError> {
    let mut bad: Vec<(usize, u64, String)> = Vec::new();
    for (id, deliveries) in incidents {
        // The stored row matters unless the first delivery sets both times.
        let first = deliveries[0];
        let stored = if first.opened_at.is_some() && first.resolved_at.is_some() {
            None
        } else {
            store.incident(&id).await?
        };
        let mut state = stored.map(|i| (i.opened_at, i.resolved_at));
        for d in deliveries {
            let update = IncidentUpdate {
                id: id.clone(),
                opened_at: d.opened_at,
                resolved_at: d.resolved_at,
                ..IncidentUpdate::default()
            };
            let existing = state.map(|(opened_at, resolved_at)| pacer_core::Incident {
                id: id.clone(),
                opened_at,
                resolved_at,
                ..pacer_core::Incident::default()
            });
            match update.apply(existing.as_ref()) {
                Ok(merged) => state = Some((merged.opened_at, merged.resolved_at)),
                Err(e) => {
                    bad.push((d.file, d.line, format!("incident {id:?}: {e}")));
                    break;
                }
            }
        }
    }
    bad.sort();
    Ok(bad
        .into_iter()
        .map(|(f, line, m)| format!("{} line {line}: {m}", files[f].display()))
        .collect())
}
