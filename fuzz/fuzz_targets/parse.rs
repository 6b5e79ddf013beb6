//! Any body: no panic, a bounded message on an in-range line, and a parsed body that prints
//! back to the same parse (which catches escaping and bookkeeping slips, not just crashes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promtext::{Exposition, parse};
use std::fmt::Write as _;

fuzz_target!(|data: &[u8]| {
    // The push handler refuses non-UTF-8 before parsing; lossy keeps every input useful.
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    match parse(&text) {
        Err(e) => {
            assert!((1..=lines).contains(&e.line), "line {} of {lines}", e.line);
            assert!(!e.message.is_empty());
            assert!(e.message.len() < 4_096, "{} bytes", e.message.len());
        }
        Ok(e) => {
            for s in &e.samples {
                assert!((1..=lines).contains(&s.line));
            }
            let printed = render(&e);
            let again = parse(&printed).unwrap_or_else(|err| panic!("{err}\n{printed}"));
            assert_eq!(again.types, e.types);
            assert_eq!(again.samples.len(), e.samples.len());
            for (a, b) in again.samples.iter().zip(&e.samples) {
                assert_eq!(a.name, b.name);
                assert_eq!(a.labels, b.labels);
                assert!(
                    a.value.to_bits() == b.value.to_bits()
                        || (a.value.is_nan() && b.value.is_nan())
                );
                assert_eq!(a.timestamp_ms, b.timestamp_ms);
            }
            for (name, help) in &e.help {
                // A HELP text ending in '\r' loses it when printed with a line end after it,
                // and a HELP line left with no text is a plain comment.
                let printed = help.strip_suffix('\r').unwrap_or(help);
                let want = Some(printed).filter(|h| !h.is_empty());
                assert_eq!(again.help.get(name).map(String::as_str), want);
            }
            assert!(again.help.len() <= e.help.len());
        }
    }
});

fn is_bare(name: &str, metric: bool) -> bool {
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || (metric && b == b':');
    let mut bytes = name.bytes();
    bytes.next().is_some_and(start) && bytes.all(|b| start(b) || b.is_ascii_digit())
}

fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

fn render(e: &Exposition) -> String {
    let name = |n: &str| {
        if is_bare(n, true) {
            n.to_owned()
        } else {
            quote(n)
        }
    };
    let mut out = String::new();
    for (n, t) in &e.types {
        writeln!(out, "# TYPE {} {t}", name(n)).unwrap();
    }
    for (n, h) in &e.help {
        writeln!(
            out,
            "# HELP {} {}",
            name(n),
            h.replace('\\', "\\\\").replace('\n', "\\n")
        )
        .unwrap();
    }
    for s in &e.samples {
        let mut items = Vec::new();
        if !is_bare(&s.name, true) {
            items.push(quote(&s.name));
        }
        for (l, v) in &s.labels {
            let l = if is_bare(l, false) {
                l.clone()
            } else {
                quote(l)
            };
            items.push(format!("{l}={}", quote(v)));
        }
        let head = if is_bare(&s.name, true) {
            s.name.as_str()
        } else {
            ""
        };
        write!(out, "{head}{{{}}} {:?}", items.join(","), s.value).unwrap();
        if let Some(ts) = s.timestamp_ms {
            write!(out, " {ts}").unwrap();
        }
        out.push('\n');
    }
    out
}
