//! The text format, rule by rule: each rule's valid forms, then its invalid ones with the exact
//! line and what the message must say.

use crate::{bad, labels, ok, refused};
use promtext::{MetricType, ParseError, parse};

// ---- lines, blanks, comments -------------------------------------------------------------

#[test]
fn empty_and_blank_bodies_have_no_samples() {
    for text in ["", "\n", "\n\n\n", "   \n\t\n", " \t ", "\r\n\r\n"] {
        let e = ok(text);
        assert!(e.samples.is_empty(), "{text:?}");
        assert!(e.types.is_empty() && e.help.is_empty(), "{text:?}");
    }
}

#[test]
fn comments_that_are_not_help_or_type_are_ignored() {
    let text = "# just a comment\n#foo\n#\n#   \n# HELP\n# TYPE\n# HELPER x y\n# help x y\n\
                # type x counter\n#TYPEx y\n  # indented comment\n# TYPE foo\n# HELP bar   \n\
                # EOF\nx 1\n";
    let e = ok(text);
    assert_eq!(e.samples.len(), 1);
    assert_eq!(e.samples[0].name, "x");
    assert_eq!(e.samples[0].line, 15);
    // `# TYPE foo` and `# HELP bar` stop before their text: comments, as in expfmt.
    assert!(e.types.is_empty(), "{:?}", e.types);
    assert!(e.help.is_empty(), "{:?}", e.help);
}

#[test]
fn help_and_type_need_no_space_after_the_hash() {
    // expfmt reads the keyword as the first token after '#', blanks or not.
    let e = ok("#TYPE a counter\n#HELP a text\n");
    assert_eq!(e.types["a"], MetricType::Counter);
    assert_eq!(e.help["a"], "text");
}

#[test]
fn line_numbers_count_every_line() {
    let text = "\n# comment\n\na 1\n\n# TYPE b gauge\nb 2\n";
    let e = ok(text);
    let lines: Vec<usize> = e.samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, [4, 7]);
}

#[test]
fn crlf_line_endings_and_a_missing_final_newline() {
    let text =
        "# HELP a Some help.\r\n# TYPE a gauge\r\na{x=\"1\"} 1\r\n\r\na{x=\"2\"} 2 1700000000000";
    let e = ok(text);
    assert_eq!(e.help["a"], "Some help.");
    assert_eq!(e.types["a"], MetricType::Gauge);
    assert_eq!(e.samples.len(), 2);
    assert_eq!(e.samples[1].line, 5);
    assert_eq!(e.samples[1].value, 2.0);
    assert_eq!(e.samples[1].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(labels(&e.samples[0]), [("x", "1")]);
}

#[test]
fn errors_after_crlf_lines_keep_their_line_numbers() {
    refused(
        "a 1\r\nb 2\r\nc x\r\n",
        3,
        &["invalid value \"x\" for \"c\""],
    );
}

#[test]
fn a_lone_cr_inside_a_line_is_not_a_line_break() {
    refused("a 1\rb 2\n", 1, &["invalid value \"1\\rb\""]);
}

// ---- HELP ---------------------------------------------------------------------------------

#[test]
fn help_text_is_unescaped() {
    let e = ok(concat!(
        "# HELP a Backslash \\\\ and\\nnewline, \"quotes\" kept, λ kept.\n",
        "# HELP b   leading blanks go, trailing stay  \n",
        "# HELP \"my.metric\" quoted name\n",
        "# HELP c\ttab separated\n",
    ));
    assert_eq!(
        e.help["a"],
        "Backslash \\ and\nnewline, \"quotes\" kept, λ kept."
    );
    assert_eq!(e.help["b"], "leading blanks go, trailing stay  ");
    assert_eq!(e.help["my.metric"], "quoted name");
    assert_eq!(e.help["c"], "tab separated");
}

#[test]
fn help_may_come_after_samples() {
    let e = ok("a 1\n# HELP a late help\n");
    assert_eq!(e.help["a"], "late help");
}

#[test]
fn help_escapes_other_than_backslash_and_n_are_refused() {
    refused(
        "a 1\n# HELP a tab\\there\n",
        2,
        &[
            "HELP text of \"a\"",
            "invalid escape sequence \"\\t\"",
            "only \\\\ and \\n",
        ],
    );
    // Only \\ and \n in HELP; \" is a label-value escape.
    refused("# HELP a say \\\"hi\\\"\n", 1, &["\"\\\"\""]);
    refused(
        "\n# HELP a ends with \\\n",
        2,
        &["ends with a lone backslash"],
    );
}

#[test]
fn second_help_for_a_name_is_refused() {
    refused(
        "# HELP a one\na 1\n# HELP a two\n",
        3,
        &["second HELP line for \"a\"", "line 1"],
    );
}

// ---- TYPE ---------------------------------------------------------------------------------

#[test]
fn every_type_keyword_is_read_case_insensitively() {
    let e = ok(concat!(
        "# TYPE a counter\n",
        "# TYPE b gauge\n",
        "# TYPE c histogram\n",
        "# TYPE d summary\n",
        "# TYPE e untyped\n",
        "# TYPE f GAUGE\n",
        "# TYPE g Counter  \n",
        "# TYPE h\tgauge\t\n",
    ));
    use MetricType::*;
    let want = [
        ("a", Counter),
        ("b", Gauge),
        ("c", Histogram),
        ("d", Summary),
        ("e", Untyped),
        ("f", Gauge),
        ("g", Counter),
        ("h", Gauge),
    ];
    for (name, t) in want {
        assert_eq!(e.types[name], t, "{name}");
    }
    assert_eq!(e.types.len(), 8);
}

#[test]
fn unknown_types_are_refused() {
    refused(
        "\n# TYPE a gauges\n",
        2,
        &[
            "unknown metric type \"gauges\" for \"a\"",
            "expected counter, gauge, histogram, summary or untyped",
        ],
    );
    // OpenMetrics-only types are not part of 0.0.4.
    refused("# TYPE a stateset\n", 1, &["\"stateset\""]);
    refused("# TYPE a gauge counter\n", 1, &["\"gauge counter\""]);
}

#[test]
fn second_type_for_a_name_is_refused() {
    refused(
        "# TYPE a gauge\n# TYPE a gauge\n",
        2,
        &["second TYPE line for \"a\"", "the first is on line 1"],
    );
}

#[test]
fn type_after_the_familys_samples_is_refused() {
    refused(
        "a 1\n# TYPE a gauge\n",
        2,
        &[
            "TYPE line for \"a\" comes after its samples",
            "line 1",
            "put # TYPE before",
        ],
    );
    // A histogram's family includes its suffixed samples.
    refused(
        "x 0\nh_bucket{le=\"1\"} 1\n# TYPE h histogram\n",
        3,
        &["\"h\" comes after its samples (the first is on line 2)"],
    );
    refused("c_total 1\n# TYPE c counter\n", 2, &["\"c\""]);
    refused("s_count 1\n# TYPE s summary\n", 2, &["\"s\""]);
}

#[test]
fn type_after_samples_of_another_family_is_fine() {
    // `h_sum` does not belong to a gauge `h`, and `g_total` is not a gauge suffix.
    let e = ok("h_sum 1\ng_total 2\n# TYPE h gauge\n# TYPE g gauge\nh 3\ng 4\n");
    assert_eq!(e.samples.len(), 4);
    assert_eq!(e.family_of("h_sum"), "h_sum");
    assert_eq!(e.family_of("h"), "h");
}

#[test]
fn type_line_names_are_checked() {
    refused(
        "# TYPE 1a counter\n",
        1,
        &[
            "# TYPE line has an invalid metric name",
            "found \"1a counter\"",
        ],
    );
    refused(
        "# HELP a-b text\n",
        1,
        &["metric name \"a\" is followed by \"-b text\""],
    );
    refused(
        "# TYPE \"unterminated counter\n",
        1,
        &["quoted metric name in # TYPE has no closing quote"],
    );
    let e = ok("# TYPE \"my.metric\" gauge\n{\"my.metric\"} 1\n");
    assert_eq!(e.types["my.metric"], MetricType::Gauge);
    assert_eq!(e.family_of("my.metric"), "my.metric");
}

// ---- family_of ----------------------------------------------------------------------------

#[test]
fn family_of_strips_suffixes_only_when_type_says_so() {
    let e = ok(concat!(
        "# TYPE h histogram\n",
        "h_bucket{le=\"0.5\"} 1\n",
        "h_bucket{le=\"+Inf\"} 2\n",
        "h_sum 3.5\n",
        "h_count 2\n",
        "h_created 1700000000\n",
        "# TYPE s summary\n",
        "s{quantile=\"0.9\"} 4\n",
        "s_sum 10\n",
        "s_count 3\n",
        "# TYPE c counter\n",
        "c_total 7\n",
        "c_created 1700000000\n",
        "# TYPE g gauge\n",
        "g_sum 1\n",
        "g_total 1\n",
        "# TYPE requests_total counter\n",
        "requests_total 9\n",
        "u_count 1\n",
    ));
    let families: Vec<String> = e.samples.iter().map(|s| e.family_of(&s.name)).collect();
    assert_eq!(
        families,
        [
            "h",
            "h",
            "h",
            "h",
            "h",
            "s",
            "s",
            "s",
            "c",
            "c",
            "g_sum",
            "g_total",
            "requests_total",
            "u_count"
        ]
    );
    // Summaries have no buckets: `s_bucket` stays its own family.
    assert_eq!(e.family_of("s_bucket"), "s_bucket");
    assert_eq!(e.family_of("c_sum"), "c_sum");
    assert_eq!(e.type_of("h_bucket"), MetricType::Histogram);
    assert_eq!(e.type_of("c_total"), MetricType::Counter);
    assert_eq!(e.type_of("g_sum"), MetricType::Untyped);
    assert_eq!(e.type_of("requests_total"), MetricType::Counter);
}

#[test]
fn a_declared_name_is_its_own_family_even_with_a_suffix() {
    let e = ok("# TYPE h histogram\n# TYPE h_count gauge\nh_count 1\n");
    assert_eq!(e.family_of("h_count"), "h_count");
    assert_eq!(e.type_of("h_count"), MetricType::Gauge);
}

#[test]
fn histogram_and_summary_bounds_must_be_floats() {
    refused(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"big\"} 2\n",
        3,
        &[
            "le=\"big\" of \"h_bucket\" is not a float",
            "\"h\" is a histogram",
        ],
    );
    refused(
        "# TYPE s summary\ns{quantile=\"p99\"} 1\n",
        2,
        &["quantile=\"p99\"", "summary"],
    );
    // `le` on a gauge is just a label.
    let e = ok("g{le=\"anything\"} 1\n");
    assert_eq!(labels(&e.samples[0]), [("le", "anything")]);
}

// ---- metric names -------------------------------------------------------------------------

#[test]
fn metric_names() {
    let e = ok("a 1\n_b 2\n:c:d_9 3\nA_Z09 4\n  leading_blanks 5\n\tleading_tab 6\n");
    let names: Vec<&str> = e.samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a",
            "_b",
            ":c:d_9",
            "A_Z09",
            "leading_blanks",
            "leading_tab"
        ]
    );
}

#[test]
fn quoted_utf8_names() {
    let e = ok(concat!(
        "{\"my.metric\"} 1\n",
        "{\"my.metric\", \"label.name\"=\"v\", plain=\"w\"} 2\n",
        "\"other.metric\"{a=\"b\"} 3\n",
        "m{\"weird \\\"label\\\"\"=\"x\"} 4\n",
        "{\"métrique\",} 5\n",
        "{ plain_in_braces } 6\n",
    ));
    let got: Vec<(&str, Vec<(&str, &str)>)> = e
        .samples
        .iter()
        .map(|s| (s.name.as_str(), labels(s)))
        .collect();
    assert_eq!(
        got,
        [
            ("my.metric", vec![]),
            ("my.metric", vec![("label.name", "v"), ("plain", "w")]),
            ("other.metric", vec![("a", "b")]),
            ("m", vec![("weird \"label\"", "x")]),
            ("métrique", vec![]),
            ("plain_in_braces", vec![]),
        ]
    );
}

#[test]
fn invalid_metric_names_are_refused() {
    refused(
        "ok 1\n1abc 2\n",
        2,
        &[
            "expected a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*",
            "found \"1abc 2\"",
        ],
    );
    refused(
        "foo-bar 1\n",
        1,
        &[
            "metric name \"foo\" is followed by \"-bar 1\"",
            "quote any other name",
        ],
    );
    refused("foo.bar 1\n", 1, &["\"foo\" is followed by \".bar 1\""]);
    refused("é 1\n", 1, &["expected a metric name", "found \"é 1\""]);
    refused(
        "\"unterminated 1\n",
        1,
        &["quoted metric name has no closing quote"],
    );
    refused("\"\" 1\n", 1, &["quoted metric name is empty"]);
    refused("{\"\"} 1\n", 1, &["quoted metric name is empty"]);
    refused("\"a\\tb\" 1\n", 1, &["invalid escape sequence \"\\t\""]);
}

#[test]
fn samples_without_a_metric_name_are_refused() {
    refused(
        "{a=\"b\"} 1\n",
        1,
        &["sample has no metric name, only labels (starting with \"a\"): expected the name first"],
    );
    refused(
        "{} 1\n",
        1,
        &["expected a metric name after '{', found \"} 1\""],
    );
    refused(
        "{\"m\" x} 1\n",
        1,
        &["expected ',' or '}' after metric name \"m\""],
    );
    refused("= 1\n", 1, &["expected a metric name"]);
}

// ---- labels -------------------------------------------------------------------------------

#[test]
fn label_sets() {
    let e = ok(concat!(
        "a{} 1\n",
        "a{x=\"1\"} 2\n",
        "a{x=\"2\",} 3\n",
        "a { x = \"3\" , y=\"3\" , } 4\n",
        "a\t{\tx\t=\t\"4\"\t}\t5\n",
        "a{x=\"5\"}6\n",
        "a{z=\"\",_u=\"v\",A9=\"w\"} 7\n",
    ));
    let got: Vec<(Vec<(&str, &str)>, f64)> =
        e.samples.iter().map(|s| (labels(s), s.value)).collect();
    assert_eq!(
        got,
        [
            (vec![], 1.0),
            (vec![("x", "1")], 2.0),
            (vec![("x", "2")], 3.0),
            (vec![("x", "3"), ("y", "3")], 4.0),
            (vec![("x", "4")], 5.0),
            (vec![("x", "5")], 6.0),
            (vec![("z", ""), ("_u", "v"), ("A9", "w")], 7.0),
        ]
    );
}

#[test]
fn label_values_are_unescaped() {
    let e = ok(concat!(
        r#"a{v="back\\slash"} 1"#,
        "\n",
        r#"a{v="quote\"d"} 2"#,
        "\n",
        r#"a{v="new\nline"} 3"#,
        "\n",
        r#"a{v="all \\\"\n\\n"} 4"#,
        "\n",
        "a{v=\"unicode λ 😀 \u{7f}\"} 5\n",
        r#"a{v="} , = # { \\"} 6"#,
        "\n",
        "a{v=\"tab\there\"} 7\n",
        "a{v=\"raw cr\rkept\"} 8\n",
    ));
    let values: Vec<&str> = e.samples.iter().map(|s| s.labels[0].1.as_str()).collect();
    assert_eq!(
        values,
        [
            "back\\slash",
            "quote\"d",
            "new\nline",
            "all \\\"\n\\n",
            "unicode λ 😀 \u{7f}",
            "} , = # { \\",
            "tab\there",
            "raw cr\rkept",
        ]
    );
}

#[test]
fn samples_of_one_family_may_have_different_label_sets() {
    let e = ok("# TYPE a gauge\na 1\na{x=\"1\"} 2\na{y=\"1\"} 3\na{x=\"1\",y=\"1\"} 4\n");
    assert_eq!(e.samples.len(), 4);
}

#[test]
fn unquoted_label_value_names_the_label() {
    let e = bad("# TYPE a gauge\n\na{repo=production} 1\n");
    assert_eq!(
        e,
        ParseError {
            line: 3,
            message: "label value for \"repo\" is not quoted: expected \"...\", found \
                      \"production} 1\""
                .to_owned()
        }
    );
    assert_eq!(
        e.to_string(),
        "line 3: label value for \"repo\" is not quoted: expected \"...\", found \
         \"production} 1\""
    );
    refused(
        "a{x='1'} 1\n",
        1,
        &["\"x\" is not quoted", "found \"'1'} 1\""],
    );
    refused("a{x=} 1\n", 1, &["\"x\" is not quoted"]);
}

#[test]
fn invalid_label_value_escapes_are_refused() {
    refused(
        "a 1\na{x=\"tab\\t\"} 1\n",
        2,
        &[
            "label value for \"x\" has the invalid escape sequence \"\\t\"",
            "only \\\\, \\\" and \\n",
        ],
    );
    refused("a{x=\"\\u00e9\"} 1\n", 1, &["\"\\u\""]);
    refused("a{x=\"\\λ\"} 1\n", 1, &["\"\\λ\""]);
}

#[test]
fn unterminated_label_values_and_sets_are_refused() {
    refused(
        "a{x=\"open} 1\n",
        1,
        &["label value for \"x\" has no closing quote"],
    );
    // A backslash-escaped newline does not continue a value onto the next line.
    refused("a{x=\"ends\\\n\"} 1\n", 1, &["no closing quote"]);
    refused("a{x=\"1\"\n", 1, &["label set of \"a\" is not closed"]);
    refused("a{\n", 1, &["label set of \"a\" is not closed"]);
    refused("a{x=\"1\",\n", 1, &["not closed"]);
    refused(
        "a{x=\"1\" 1\n",
        1,
        &["expected ',' or '}' after the value of label \"x\" in \"a\", found \"1\""],
    );
    refused("a{x=\"1\";y=\"2\"} 1\n", 1, &["found \";y="]);
}

#[test]
fn invalid_label_names_are_refused() {
    refused(
        "a{1x=\"1\"} 1\n",
        1,
        &[
            "invalid label name in \"a\"",
            "[a-zA-Z_][a-zA-Z0-9_]*",
            "found \"1x=",
        ],
    );
    refused(
        "a{x-y=\"1\"} 1\n",
        1,
        &["expected '=' after label name \"x\" in \"a\", found \"-y="],
    );
    refused("a{:x=\"1\"} 1\n", 1, &["invalid label name"]);
    refused("a{,} 1\n", 1, &["invalid label name", "found \",} 1\""]);
    refused("a{x=\"1\",,} 1\n", 1, &["invalid label name"]);
    refused(
        "a{x \"1\"} 1\n",
        1,
        &["expected '=' after label name \"x\""],
    );
    refused("a{x} 1\n", 1, &["expected '=' after label name \"x\""]);
    refused(
        "a{__name__=\"b\"} 1\n",
        1,
        &["label name \"__name__\" in \"a\" is reserved"],
    );
}

#[test]
fn duplicate_label_names_in_one_sample_are_refused() {
    refused(
        "a 1\na{x=\"1\",y=\"2\",x=\"3\"} 1\n",
        2,
        &["label \"x\" appears twice in one sample of \"a\""],
    );
    refused("a{\"x\"=\"1\",x=\"1\"} 1\n", 1, &["appears twice"]);
}

// ---- values and timestamps ----------------------------------------------------------------

#[test]
fn values_are_read_like_go_parse_float() {
    let text = "a{i=\"0\"} +Inf\na{i=\"1\"} -Inf\na{i=\"2\"} Inf\na{i=\"3\"} inf\n\
                a{i=\"4\"} 1e3\na{i=\"5\"} -2.5E-3\na{i=\"6\"} .5\na{i=\"7\"} 1.\n\
                a{i=\"8\"} +7\na{i=\"9\"} -0\na{i=\"10\"} 1.7976931348623157e308\n\
                a{i=\"11\"} +infinity\na{i=\"12\"} 00012\n";
    let e = ok(text);
    let values: Vec<f64> = e.samples.iter().map(|s| s.value).collect();
    assert_eq!(
        values,
        [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::INFINITY,
            1000.0,
            -0.0025,
            0.5,
            1.0,
            7.0,
            0.0,
            f64::MAX,
            f64::INFINITY,
            12.0,
        ]
    );
    assert!(e.samples[9].value.is_sign_negative(), "-0 keeps its sign");
    for nan in ["NaN", "nan", "NAN"] {
        assert!(ok(&format!("a {nan}\n")).samples[0].value.is_nan(), "{nan}");
    }
}

#[test]
fn invalid_values_are_refused() {
    refused(
        "a 1\nb\n",
        2,
        &["sample of \"b\" has no value: expected a number after the name and labels"],
    );
    refused("a{x=\"1\"}\n", 1, &["sample of \"a\" has no value"]);
    refused("a{x=\"1\"}   \n", 1, &["has no value"]);
    for value in [
        "abc", "1,5", "0x1p3", "0x10", "1_000", "+NaN", "1e", "--1", "true", "１",
    ] {
        let e = bad(&format!("a {value}\n"));
        assert_eq!(e.line, 1);
        assert!(
            e.message.starts_with(&format!(
                "invalid value {value:?} for \"a\": expected a float"
            )),
            "{value}: {}",
            e.message
        );
    }
    refused(
        "a 1e400\n",
        1,
        &["value \"1e400\" for \"a\" is out of range for a 64-bit float"],
    );
}

#[test]
fn timestamps_are_optional_integer_milliseconds() {
    let e = ok("a 1 1700000000000\nb 2 -5\nc 3 +5\nd 4\t0\ne 5  9223372036854775807  \nf 6 \n");
    let ts: Vec<Option<i64>> = e.samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(
        ts,
        [
            Some(1_700_000_000_000),
            Some(-5),
            Some(5),
            Some(0),
            Some(i64::MAX),
            None
        ]
    );
}

#[test]
fn invalid_timestamps_are_refused() {
    refused(
        "a 1 1.5\n",
        1,
        &[
            "invalid timestamp \"1.5\" for \"a\"",
            "integer number of milliseconds",
        ],
    );
    refused("a 1 1e3\n", 1, &["\"1e3\""]);
    refused("a 1 9223372036854775808\n", 1, &["invalid timestamp"]);
    refused("a 1 now\n", 1, &["\"now\""]);
    refused(
        "a 1 2 3\n",
        1,
        &["unexpected text \"3\" after the timestamp of \"a\""],
    );
    refused("a 1 2 # comment\n", 1, &["unexpected text \"# comment\""]);
}

// ---- duplicates ---------------------------------------------------------------------------

#[test]
fn repeated_series_are_refused() {
    refused(
        "a{x=\"1\",y=\"2\"} 1\nb 1\na{y=\"2\",x=\"1\"} 2\n",
        3,
        &[
            "duplicate sample: a{y=\"2\",x=\"1\"} was already given on line 1",
            "give each series once per push",
        ],
    );
    refused(
        "a 1\na{} 2\n",
        2,
        &["duplicate sample: a was already given on line 1"],
    );
    refused("{\"a\"} 1\na 2 1000\n", 2, &["duplicate sample"]);
    refused("a{x=\"1\",} 1\na{x=\"1\"} 2\n", 2, &["duplicate sample"]);
    // Same labels, different names; same name, different values: all distinct.
    let e = ok("a{x=\"1\"} 1\nb{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\",y=\"\"} 1\n");
    assert_eq!(e.samples.len(), 4);
}

// ---- messages -----------------------------------------------------------------------------

#[test]
fn long_offending_text_is_cut_in_messages() {
    let long = "x".repeat(10_000);
    let e = bad(&format!("a{{v={long}}} 1\n"));
    assert!(e.message.len() < 200, "{} bytes", e.message.len());
    assert!(
        e.message
            .ends_with(&format!("found \"{}\"…", "x".repeat(60))),
        "{}",
        e.message
    );
    // Cut on a character boundary.
    let wide = "é".repeat(100);
    let e = bad(&format!("a {wide}\n"));
    assert!(
        e.message.contains(&format!("\"{}\"…", "é".repeat(60))),
        "{}",
        e.message
    );
}

#[test]
fn the_first_error_wins() {
    let e = bad("a x\nb y\n");
    assert_eq!(e.line, 1);
}

#[test]
fn parse_returns_everything_in_order() {
    let text = "# HELP dora_deployment_timestamp Unix time of the deploy.\n\
                # TYPE dora_deployment_timestamp gauge\n\
                dora_deployment_timestamp{repo=\"acme/api\",env=\"production\"} 1700000000 1700000000123\n";
    let e = parse(text).unwrap();
    assert_eq!(e.samples.len(), 1);
    let s = &e.samples[0];
    assert_eq!(s.name, "dora_deployment_timestamp");
    assert_eq!(labels(s), [("repo", "acme/api"), ("env", "production")]);
    assert_eq!(s.label("env"), Some("production"));
    assert_eq!(s.label("missing"), None);
    assert_eq!(s.value, 1_700_000_000.0);
    assert_eq!(s.timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(s.line, 3);
    assert_eq!(
        e.help["dora_deployment_timestamp"],
        "Unix time of the deploy."
    );
}

#[test]
fn huge_inputs_are_linear() {
    use std::time::{Duration, Instant};
    // 100k labels on one line: a quadratic duplicate check would take minutes here.
    let mut line = String::from("a{");
    for i in 0..100_000 {
        line.push_str(&format!("l{i}=\"v\","));
    }
    line.push_str("} 1\n");
    let started = Instant::now();
    let e = ok(&line);
    assert_eq!(e.samples[0].labels.len(), 100_000);
    // 100k distinct series, and 100k TYPE lines.
    let mut body = String::new();
    for i in 0..100_000 {
        body.push_str(&format!("# TYPE m{i} gauge\nm{i}{{x=\"{i}\"}} {i}\n"));
    }
    assert_eq!(ok(&body).samples.len(), 100_000);
    // Deep nesting cannot recurse: there is no recursion to overflow.
    let braces = "{".repeat(1_000_000);
    bad(&braces);
    bad(&format!("a{braces}"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
