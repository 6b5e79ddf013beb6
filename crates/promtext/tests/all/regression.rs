//! Inputs found by fuzzing or review that once misbehaved, each named after what went wrong.

use crate::ok;

/// fuzz/artifacts/parse/crash-ad7c5638…: `# HELP N` + tabs + "\r\r\n". Only the CR of the
/// CRLF is a line end; the other is HELP text. The fuzz target's reprint oracle expected the
/// text to survive a reprint, but printed as `# HELP N \r\n` it is a HELP line with no text,
/// which is a comment. The parser was right; the oracle (here and in the fuzz target) now
/// expects that.
#[test]
fn help_text_of_a_lone_carriage_return() {
    let text = format!("# HELP N{}\r\r\n", "\t".repeat(29));
    let e = ok(&text);
    assert_eq!(e.help["N"], "\r");
    assert!(ok("# HELP N \r\n").help.is_empty());
}
