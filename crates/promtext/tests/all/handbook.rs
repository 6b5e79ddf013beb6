//! The handbook recipe's pushes (shared/seed/dora-metrics-handbook.txt, lines 25-100), byte
//! for byte as its heredocs produce them: `cat <<EOF` expands the variables and ends every
//! line, the last included, with "\n". The URLs are the recipe's curl targets after
//! `/metrics/`, with `${REPO//\//_}` applied.

use crate::{labels, ok};
use promtext::{MetricType, parse_grouping_key};

const REPO: &str = "acme/payments-api";

/// "Record deployment metric", with `$(date +%s)` = 1700000000.
fn deployment_body() -> String {
    format!(
        "# TYPE dora_deployment_timestamp gauge\n\
         dora_deployment_timestamp{{repo=\"{REPO}\",env=\"production\"}} 1700000000\n"
    )
}

/// "Record lead time metric": DEPLOY_TS 1700000000 - FIRST_COMMIT_TS 1699994600 = 5400.
fn lead_time_body() -> String {
    format!(
        "# TYPE dora_lead_time_seconds gauge\n\
         dora_lead_time_seconds{{repo=\"{REPO}\",env=\"production\"}} 5400\n"
    )
}

/// "Push MTTR incident metric" for the PagerDuty example: triggered 14:23:00, resolved
/// 14:51:00, so DURATION = 28 min = 1680 s; CAUSED_BY_DEPLOY = 1.
const INCIDENT_BODY: &str = "# TYPE dora_incident_duration_seconds gauge\n\
dora_incident_duration_seconds{id=\"Q1W2E3R4T5Y6U7\"} 1680\n\
# TYPE dora_incident_caused_by_deploy gauge\n\
dora_incident_caused_by_deploy{id=\"Q1W2E3R4T5Y6U7\"} 1\n";

#[test]
fn deployment_push() {
    let e = ok(&deployment_body());
    assert_eq!(e.types["dora_deployment_timestamp"], MetricType::Gauge);
    assert_eq!(e.samples.len(), 1);
    let s = &e.samples[0];
    assert_eq!(s.name, "dora_deployment_timestamp");
    assert_eq!(labels(s), [("repo", REPO), ("env", "production")]);
    assert_eq!(s.value, 1_700_000_000.0);
    assert_eq!(s.timestamp_ms, None);
    assert_eq!(s.line, 2);
    assert_eq!(e.family_of(&s.name), "dora_deployment_timestamp");

    let url = format!("job/dora/instance/{}", REPO.replace('/', "_"));
    assert_eq!(
        parse_grouping_key(&url).unwrap(),
        [
            ("job".to_owned(), "dora".to_owned()),
            ("instance".to_owned(), "acme_payments-api".to_owned())
        ]
    );
}

#[test]
fn lead_time_push() {
    let e = ok(&lead_time_body());
    assert_eq!(e.types["dora_lead_time_seconds"], MetricType::Gauge);
    let s = &e.samples[0];
    assert_eq!(s.name, "dora_lead_time_seconds");
    assert_eq!(labels(s), [("repo", REPO), ("env", "production")]);
    assert_eq!(s.value, 5400.0);
    assert_eq!(s.line, 2);
}

#[test]
fn incident_push() {
    let e = ok(INCIDENT_BODY);
    assert_eq!(e.types["dora_incident_duration_seconds"], MetricType::Gauge);
    assert_eq!(e.types["dora_incident_caused_by_deploy"], MetricType::Gauge);
    type Row<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64, usize);
    let got: Vec<Row> = e
        .samples
        .iter()
        .map(|s| (s.name.as_str(), labels(s), s.value, s.line))
        .collect();
    assert_eq!(
        got,
        [
            (
                "dora_incident_duration_seconds",
                vec![("id", "Q1W2E3R4T5Y6U7")],
                1680.0,
                2
            ),
            (
                "dora_incident_caused_by_deploy",
                vec![("id", "Q1W2E3R4T5Y6U7")],
                1.0,
                4
            ),
        ]
    );
    assert_eq!(
        parse_grouping_key("job/dora/instance/incident-Q1W2E3R4T5Y6U7").unwrap(),
        [
            ("job".to_owned(), "dora".to_owned()),
            ("instance".to_owned(), "incident-Q1W2E3R4T5Y6U7".to_owned())
        ]
    );
}

#[test]
fn recipe_bodies_survive_indentation_and_crlf() {
    // A workflow that indents the heredoc body (or a Windows runner writing CRLF) must not
    // change what is read.
    for body in [
        deployment_body(),
        lead_time_body(),
        INCIDENT_BODY.to_owned(),
    ] {
        let plain = ok(&body);
        let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
        let crlf = body.replace('\n', "\r\n");
        assert_eq!(ok(&indented), plain);
        assert_eq!(ok(&crlf), plain);
    }
}

#[test]
fn a_failed_variable_expansion_is_refused_on_its_line() {
    // `$(date +%s)` missing from the runner leaves the value empty.
    let body = "# TYPE dora_deployment_timestamp gauge\n\
                dora_deployment_timestamp{repo=\"acme/payments-api\",env=\"production\"} \n";
    let e = promtext::parse(body).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.message
            .contains("sample of \"dora_deployment_timestamp\" has no value"),
        "{e}"
    );
}
