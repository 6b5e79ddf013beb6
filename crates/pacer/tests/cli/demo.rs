//! `pacer demo --no-serve`: a generated history and its report.

use crate::support::pacer_in;

#[test]
fn demo_prints_a_report_of_both_teams_and_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let out = pacer_in(dir.path(), &["demo", "--no-serve", "--database", &url]).ok();
    assert!(out.contains("Loaded a generated 90-day history"), "{out}");
    let rows: Vec<&str> = out.lines().collect();
    let row = |scope: &str, kind: &str| {
        rows.iter()
            .any(|l| l.split_whitespace().take(2).eq([scope, kind]))
    };
    assert!(row("(all)", "organisation"), "{out}");
    for team in ["payments", "platform"] {
        assert!(row(team, "team"), "no row for team {team}:\n{out}");
    }
    for service in [
        "checkout-web",
        "payments-api",
        "ledger",
        "auth-service",
        "search-api",
        "notifications",
    ] {
        assert!(
            row(service, "service"),
            "no row for service {service}:\n{out}"
        );
    }
    // Not a terminal: no colour codes.
    assert!(!out.contains('\x1b'), "{out}");
    // The demo never writes into an existing database.
    let err = pacer_in(dir.path(), &["demo", "--no-serve", "--database", &url]).err();
    assert!(err.contains("already exists"), "{err}");
}
