//! Sample values and `le`/`quantile` bounds, read the way expfmt reads them: Go's
//! `strconv.ParseFloat(s, 64)` after refusing `p`, `P` and `_` (so no hex floats and no digit
//! separators). Go's grammar is checked here and the digits are then converted by Rust's
//! correctly rounded parser, which agrees with Go on every string that grammar admits.

/// Why a value is not a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatError {
    /// Not of the form `[+-]digits[.digits][e[+-]digits]`, `[+-]Inf`, `[+-]Infinity` or `NaN`.
    Syntax,
    /// Well formed, but beyond ±1.8e308: Go reports a range error and expfmt refuses it.
    Range,
}

pub(crate) fn parse_float(s: &str) -> Result<f64, FloatError> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Ok(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Go takes a sign before Inf but not before NaN.
    if s.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    if !is_decimal(unsigned.as_bytes()) {
        return Err(FloatError::Syntax);
    }
    let value: f64 = s.parse().map_err(|_| FloatError::Syntax)?;
    if value.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(value)
}

/// `digits[.digits][(e|E)[+-]digits]` with at least one mantissa digit on either side of the
/// point (`1.`, `.5` and `1e5` are fine; `.`, `e5` and `1e` are not).
fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    let mut mantissa_digits = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        mantissa_digits += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exponent_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_go_parse_float_accepts() {
        let cases: &[(&str, f64)] = &[
            ("0", 0.0),
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+3", 3.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("-.5", -0.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("2.5e-3", 0.0025),
            ("1.e2", 100.0),
            ("007", 7.0),
            ("1700000000", 1_700_000_000.0),
            ("1e-400", 0.0), // underflow is not an error in Go
            ("1.7976931348623157e308", f64::MAX),
        ];
        for &(s, want) in cases {
            assert_eq!(parse_float(s), Ok(want), "{s}");
        }
        for s in ["+Inf", "inf", "INF", "Infinity", "+infinity", "iNfInItY"] {
            assert_eq!(parse_float(s), Ok(f64::INFINITY), "{s}");
        }
        for s in ["-Inf", "-inf", "-Infinity"] {
            assert_eq!(parse_float(s), Ok(f64::NEG_INFINITY), "{s}");
        }
        for s in ["NaN", "nan", "NAN", "nAn"] {
            assert!(parse_float(s).unwrap().is_nan(), "{s}");
        }
    }

    #[test]
    fn refuses_what_go_or_expfmt_refuses() {
        for s in [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1,5",
            "0x1p3",
            "0x10",
            "1_000",
            "+NaN",
            "-nan",
            "infin",
            "infinit",
            "Infinityy",
            "nanx",
            " 1",
            "1 ",
            "١",
            "1e5x",
            "--1",
            "+-1",
        ] {
            assert_eq!(parse_float(s), Err(FloatError::Syntax), "{s:?}");
        }
        for s in ["1e309", "-1e400", "1.8e308"] {
            assert_eq!(parse_float(s), Err(FloatError::Range), "{s}");
        }
    }
}
