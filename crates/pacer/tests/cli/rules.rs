//! `pacer rules`: the rule file passes `promtool check rules` and the promtool unit tests in
//! `tests/prometheus/`, and its thresholds follow the settings.

use crate::support::{pacer, pacer_in, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The promtool unit-test files, next to which each test writes `pacer-rules.yml`.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/prometheus");
const NO_PROMTOOL: &str =
    "install Debian's prometheus package (apt-get install prometheus): promtool checks the rules";

/// `promtool ARGS` in `dir`: whether it succeeded, and what it printed. A missing promtool
/// fails the test: skipping would let broken rules pass unnoticed.
fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{NO_PROMTOOL}"),
        Err(e) => panic!("cannot run promtool ({e}); {NO_PROMTOOL}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Copies the unit-test file `name` into `dir`, where the rules must be `pacer-rules.yml`.
fn unit_tests_in(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    std::fs::copy(Path::new(FIXTURES).join(name), &target).expect("copy the promtool tests");
    target
}

/// The alerting expression that follows `- alert: NAME` in a rule file.
fn alert_expr<'a>(rules: &'a str, name: &str) -> &'a str {
    let start = rules
        .find(&format!("- alert: {name}\n"))
        .unwrap_or_else(|| panic!("no alert {name} in:\n{rules}"));
    let mut lines = rules[start..].lines().skip(1);
    assert_eq!(lines.next().map(str::trim), Some("expr: |"), "{name}");
    lines.next().expect("expression").trim()
}

#[test]
fn the_default_rules_pass_promtool_check_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = pacer_in(dir.path(), &["rules"]).ok();
    let file = dir.path().join("pacer-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let (ok, out) = promtool(dir.path(), &["check", "rules", "pacer-rules.yml"]);
    assert!(ok, "promtool check rules failed:\n{out}\n{rules}");
    // Four records and four alerts.
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
    for rule in pacer::rules::RECORDING_RULES {
        assert!(
            rules.contains(&format!("- record: {}\n", rule.record)),
            "{rules}"
        );
    }
    // The thresholds of the default profile: high is "<= 10 %", elite MTTR "< 3600 s".
    assert_eq!(
        alert_expr(&rules, "DoraChangeFailureRateAboveBand"),
        "dora:change_failure_rate:ratio30d > 10"
    );
    assert_eq!(
        alert_expr(&rules, "DoraTimeToRestoreAboveElite"),
        "dora:mttr_seconds:p50 >= 3600"
    );
    assert_eq!(
        alert_expr(&rules, "DoraMetricMissing"),
        "pacer_dora_metric_missing{scope=\"organization\"} == 1"
    );
    assert_eq!(
        alert_expr(&rules, "PacerDoraFiguresAbsent"),
        "absent(pacer_dora_window_seconds)"
    );
    // Every rule says why it exists.
    assert!(rules.matches("\n      # ").count() >= 8, "{rules}");
}

#[test]
fn the_default_rules_pass_the_promtool_unit_tests() {
    let dir = tempfile::tempdir().unwrap();
    let tests = unit_tests_in(dir.path(), "rules_test.yml");
    // --output writes the file and prints nothing.
    let printed = pacer_in(dir.path(), &["rules", "--output", "pacer-rules.yml"]).ok();
    assert_eq!(printed, "");
    let (ok, out) = promtool(dir.path(), &["test", "rules", tests.to_str().unwrap()]);
    assert!(
        ok && out.contains("SUCCESS"),
        "promtool test rules failed:\n{out}"
    );
}

#[test]
fn the_thresholds_follow_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pacer.toml");
    std::fs::write(
        &config,
        "[alerts]\nchange_failure_rate_band = \"medium\"\nfor = \"5m\"\n\n\
         [metrics.bands.mttr]\nelite_below_seconds = 1800\n",
    )
    .unwrap();
    let tests = unit_tests_in(dir.path(), "rules_custom_test.yml");
    // PACER_CONFIG names the file, as for every subcommand.
    run(pacer(dir.path())
        .env("PACER_CONFIG", &config)
        .args(["rules", "-o", "pacer-rules.yml"]))
    .ok();
    let rules = std::fs::read_to_string(dir.path().join("pacer-rules.yml")).unwrap();
    // medium is "<= 15 %"; elite MTTR "< 1800 s".
    assert_eq!(
        alert_expr(&rules, "DoraChangeFailureRateAboveBand"),
        "dora:change_failure_rate:ratio30d > 15"
    );
    assert_eq!(
        alert_expr(&rules, "DoraTimeToRestoreAboveElite"),
        "dora:mttr_seconds:p50 >= 1800"
    );
    assert_eq!(rules.matches("for: 5m\n").count(), 4, "{rules}");
    assert!(!rules.contains("for: 15m"), "{rules}");
    let (ok, out) = promtool(dir.path(), &["test", "rules", tests.to_str().unwrap()]);
    assert!(
        ok && out.contains("SUCCESS"),
        "promtool test rules failed:\n{out}"
    );

    // Elite is "< 5 %", so leaving it means reaching 5 %: `>=`, not `>`. An environment
    // variable overrides the file, and band names are case-insensitive.
    let rules = run(pacer(dir.path())
        .args(["--config", config.to_str().unwrap(), "rules"])
        .env("PACER_ALERTS__CHANGE_FAILURE_RATE_BAND", "Elite")
        .env(
            "PACER_METRICS__BANDS__CHANGE_FAILURE_RATE__ELITE_BELOW_PERCENT",
            "2.5",
        ))
    .ok();
    assert_eq!(
        alert_expr(&rules, "DoraChangeFailureRateAboveBand"),
        "dora:change_failure_rate:ratio30d >= 2.5"
    );
    assert!(
        rules.contains("worse than the elite band (below 2.5%)"),
        "{rules}"
    );

    // Another window keeps the handbook's record names, and says so.
    let rules = run(pacer(dir.path())
        .arg("rules")
        .env("PACER_METRICS__DEFAULT_WINDOW_DAYS", "7"))
    .ok();
    assert!(rules.contains("these figures cover 7 days"), "{rules}");
    assert!(rules.contains("in the last 7 days"), "{rules}");
    assert!(rules.contains("- record: dora:deployment_frequency:rate30d\n"));
}

#[test]
fn alert_settings_that_make_no_sense_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (name, toml_text, needles) in [
        (
            "low.toml",
            "[alerts]\nchange_failure_rate_band = \"low\"\n",
            &[
                "alerts.change_failure_rate_band",
                "\"low\"",
                "no upper bound",
            ][..],
        ),
        (
            "unknown.toml",
            "[alerts]\nchange_failure_rate_band = \"extreme\"\n",
            &[
                "alerts.change_failure_rate_band",
                "\"extreme\"",
                "\"medium\"",
            ][..],
        ),
        (
            "for.toml",
            "[alerts]\nfor = \"15 minutes\"\n",
            &["alerts.for", "\"15 minutes\"", "15m"][..],
        ),
        (
            "order.toml",
            "[alerts]\nfor = \"30m1h\"\n",
            &["alerts.for", "\"30m1h\""][..],
        ),
        ("typo.toml", "[alerts]\nfour = \"15m\"\n", &["four"][..]),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, toml_text).unwrap();
        let err = pacer_in(
            dir.path(),
            &["--config", file.to_str().unwrap(), "rules", "-o", "out.yml"],
        )
        .err();
        assert!(err.starts_with("error: "), "{name}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{name}: {needle} not in {err}");
        }
        // No half-written rule file that Prometheus could load.
        assert!(!dir.path().join("out.yml").exists(), "{name}");
    }
    // The same from the environment.
    let err = run(pacer(dir.path())
        .arg("rules")
        .env("PACER_ALERTS__CHANGE_FAILURE_RATE_BAND", "low"))
    .err();
    assert!(err.contains("alerts.change_failure_rate_band"), "{err}");
}

#[test]
fn an_unwritable_output_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = pacer_in(dir.path(), &["rules", "--output", "no/such/dir/rules.yml"]).err();
    assert!(
        err.contains("no/such/dir/rules.yml") && err.starts_with("error: "),
        "{err}"
    );
}
