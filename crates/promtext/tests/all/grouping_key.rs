//! The Pushgateway grouping key: valid URLs, then each refusal with the segment it names.

use promtext::{GroupingKeyError, parse_grouping_key};

#[track_caller]
fn pairs(path: &str) -> Vec<(String, String)> {
    match parse_grouping_key(path) {
        Ok(key) => key,
        Err(e) => panic!("expected {path:?} to parse, got: {e}"),
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Asserts a refusal naming `segment`, whose message contains every fragment.
#[track_caller]
fn refused(path: &str, segment: &str, fragments: &[&str]) -> GroupingKeyError {
    let e = match parse_grouping_key(path) {
        Ok(key) => panic!("expected {path:?} to be refused, got {key:?}"),
        Err(e) => e,
    };
    assert_eq!(e.segment, segment, "segment for {path:?}: {e}");
    for fragment in fragments {
        assert!(
            e.message.contains(fragment),
            "message {:?} for {path:?} lacks {fragment:?}",
            e.message
        );
    }
    assert_eq!(e.to_string(), e.message);
    e
}

#[test]
fn job_only() {
    assert_eq!(pairs("job/dora"), owned(&[("job", "dora")]));
}

#[test]
fn labels_follow_the_job_in_url_order() {
    assert_eq!(
        pairs("job/dora/instance/acme_payments-api/zone/b/a/c"),
        owned(&[
            ("job", "dora"),
            ("instance", "acme_payments-api"),
            ("zone", "b"),
            ("a", "c"),
        ])
    );
}

#[test]
fn segments_are_percent_decoded_after_splitting() {
    assert_eq!(
        pairs("job/my%20job/path/%2Fvar%2Ftmp/who/%C3%A9t%C3%A9/plus/a+b"),
        owned(&[
            ("job", "my job"),
            ("path", "/var/tmp"),
            ("who", "été"),
            ("plus", "a+b"),
        ])
    );
    // Names are decoded too, as Go decodes the whole path.
    assert_eq!(
        pairs("jo%62/x/in%73tance/y"),
        owned(&[("job", "x"), ("instance", "y")])
    );
    // Raw UTF-8 in a path (some clients do not encode it) is taken as is.
    assert_eq!(pairs("job/東京"), owned(&[("job", "東京")]));
}

#[test]
fn base64_values() {
    // Pushgateway README's example: job "directory_cleaner", path "/var/tmp".
    assert_eq!(
        pairs("job@base64/ZGlyZWN0b3J5X2NsZWFuZXI/path@base64/L3Zhci90bXA"),
        owned(&[("job", "directory_cleaner"), ("path", "/var/tmp")])
    );
    // Padding is optional, and may be percent-encoded.
    assert_eq!(
        pairs("job/a/path@base64/L3Zhci90bXA="),
        owned(&[("job", "a"), ("path", "/var/tmp")])
    );
    assert_eq!(
        pairs("job/a/path@base64/L3Zhci90bXA%3D"),
        owned(&[("job", "a"), ("path", "/var/tmp")])
    );
    // "東京" is e6 9d b1 e4 ba ac: URL-safe alphabet gives "5p2x5Lqs".
    assert_eq!(pairs("job@base64/5p2x5Lqs"), owned(&[("job", "東京")]));
    // 0xfb 0xff encodes as "-_8" in the URL-safe alphabet; "??" is 3f 3f = "Pz8".
    assert_eq!(
        pairs("job/a/q@base64/Pz8"),
        owned(&[("job", "a"), ("q", "??")])
    );
}

#[test]
fn empty_values_only_through_base64() {
    assert_eq!(
        pairs("job/a/instance@base64/="),
        owned(&[("job", "a"), ("instance", "")])
    );
    assert_eq!(
        pairs("job/a/instance@base64/=="),
        owned(&[("job", "a"), ("instance", "")])
    );
    assert_eq!(
        pairs("job/a/instance@base64/"),
        owned(&[("job", "a"), ("instance", "")])
    );
    refused(
        "job/a/instance/",
        "",
        &[
            "grouping label \"instance\" has an empty value",
            "write instance@base64/=",
        ],
    );
    refused(
        "job/a/x/%20%20/instance//z/1",
        "",
        &["\"instance\" has an empty value"],
    );
}

#[test]
fn the_job_must_come_first() {
    for path in [
        "",
        "jobs/a",
        "instance/a/job/b",
        "JOB/a",
        "job@base32/a",
        "/job/a",
    ] {
        let e = parse_grouping_key(path).unwrap_err();
        assert!(
            e.message
                .starts_with("push URL must continue /metrics/ with job/<job name> or job@base64/"),
            "{path:?}: {e}"
        );
        assert_eq!(e.segment, path.split('/').next().unwrap(), "{path:?}");
    }
}

#[test]
fn the_job_must_be_present_and_non_empty() {
    refused(
        "job",
        "",
        &["push URL has no job name: expected /metrics/job/<job name>"],
    );
    refused(
        "job@base64",
        "",
        &["expected /metrics/job@base64/<job name>"],
    );
    refused(
        "job/",
        "",
        &["job name is empty: push to /metrics/job/<job name> with a non-empty name"],
    );
    refused("job@base64/=", "=", &["job name is empty"]);
}

#[test]
fn an_odd_number_of_segments_is_refused() {
    refused(
        "job/a/instance",
        "instance",
        &[
            "grouping label \"instance\" has no value",
            "odd number of segments",
            "expected instance/<value>, or instance@base64/= for an empty value",
        ],
    );
    refused("job/a/x/1/y", "y", &["\"y\" has no value"]);
    refused(
        "job/a/",
        "",
        &["push URL ends with '/': remove the trailing slash"],
    );
    refused("job/a/x/1/", "", &["ends with '/'"]);
}

#[test]
fn label_names_are_checked() {
    refused(
        "job/a//x",
        "",
        &["empty grouping label name (a doubled '/'?)"],
    );
    refused(
        "job/a/1x/v",
        "1x",
        &[
            "invalid grouping label name \"1x\"",
            "label names match [a-zA-Z_][a-zA-Z0-9_]*",
        ],
    );
    refused(
        "job/a/x-y/v",
        "x-y",
        &["invalid grouping label name \"x-y\""],
    );
    refused(
        "job/a/x.y/v",
        "x.y",
        &["invalid grouping label name \"x.y\""],
    );
    refused(
        "job/a/%C3%A9/v",
        "%C3%A9",
        &["invalid grouping label name \"é\""],
    );
    refused("job/a/@base64/v", "@base64", &["empty grouping label name"]);
    refused(
        "job/a/__x/v",
        "__x",
        &[
            "grouping label name \"__x\" is reserved",
            "pick another name",
        ],
    );
    refused(
        "job/a/__name__@base64/dg",
        "__name__@base64",
        &["is reserved"],
    );
    // One leading underscore is fine.
    assert_eq!(pairs("job/a/_x/v"), owned(&[("job", "a"), ("_x", "v")]));
}

#[test]
fn duplicate_label_names_are_refused() {
    refused(
        "job/a/x/1/y/2/x/3",
        "x",
        &["grouping label \"x\" appears twice in the push URL: give each label once"],
    );
    refused("job/a/job/b", "job", &["\"job\" appears twice"]);
    refused(
        "job/a/x/1/x@base64/Mg",
        "x@base64",
        &["\"x\" appears twice"],
    );
}

#[test]
fn invalid_base64_is_refused() {
    refused(
        "job/a/x@base64/!!!",
        "!!!",
        &[
            "invalid base64url value \"!!!\" for \"x\"",
            "URL-safe alphabet of RFC 4648 §5",
        ],
    );
    // Standard-alphabet output: '+' is not URL-safe.
    refused(
        "job/a/x@base64/-_8+",
        "-_8+",
        &["'-' and '_' replace '+' and '/'"],
    );
    // A single leftover character is never valid base64.
    refused(
        "job@base64/abcde",
        "abcde",
        &["invalid base64url value \"abcde\" for \"job\""],
    );
    // "_w" decodes to the byte 0xff, which is not UTF-8.
    refused(
        "job/a/x@base64/_w",
        "_w",
        &["base64url value \"_w\" for \"x\" does not decode to UTF-8 text"],
    );
}

#[test]
fn bad_percent_encoding_is_refused() {
    refused(
        "job/a%zz",
        "a%zz",
        &[
            "invalid percent-encoding in push URL segment \"a%zz\"",
            "write a literal '%' as %25",
        ],
    );
    refused("job/a%2", "a%2", &["invalid percent-encoding"]);
    refused("job/a/x/%", "%", &["invalid percent-encoding"]);
    refused(
        "job/%FF",
        "%FF",
        &["push URL segment \"%FF\" is not UTF-8 once percent-decoded"],
    );
    refused("job/a/%FF/v", "%FF", &["not UTF-8"]);
    assert_eq!(pairs("job/100%25"), owned(&[("job", "100%")]));
}

#[test]
fn long_segments_are_cut_in_messages() {
    let long = "y".repeat(5_000);
    let e = refused(&format!("job/a/{long}"), &long, &["has no value"]);
    assert!(e.message.len() < 400, "{} bytes", e.message.len());
    assert!(
        e.message.contains(&format!("\"{}\"…", "y".repeat(60))),
        "{}",
        e.message
    );
}
