//! The chaos advisory (`pacer_core::advisory`) and the human-triage merge rule of
//! `IncidentUpdate::apply`, with figures worked out by hand.

use pacer_core::advisory::{ChaosRules, chaos_advisory};
use pacer_core::{
    Deployment, EventSet, FaultClass, Incident, IncidentUpdate, MetricsConfig, Prepared, Scope,
    TeamMap, Timestamp, TriageBy,
};

const DAY: i64 = 86_400;
/// The advisory's `end`: day 100.
const END: i64 = 100 * DAY;

/// A time inside week `k` (k = 0: the week ending at END), `hours` after its middle.
fn in_week(k: i64, hours: i64) -> Timestamp {
    Timestamp::from_seconds(END - (7 * k + 3) * DAY + hours * 3600)
}

fn deploy(id: &str, service: &str, at: Timestamp) -> Deployment {
    Deployment {
        id: id.into(),
        service: service.into(),
        environment: "production".into(),
        deployed_at: at,
        ..Deployment::default()
    }
}

/// An incident triaged as caused by `deployment` (opened 10 minutes after `at`).
fn caused(id: &str, deployment: &str, at: Timestamp, class: Option<FaultClass>) -> Incident {
    Incident {
        id: id.into(),
        service: Some("api".into()),
        environment: "production".into(),
        opened_at: Timestamp::from_millis(at.millis() + 600_000),
        caused_by_deploy: Some(true),
        deployment_id: Some(deployment.into()),
        fault_class: class,
        ..Incident::default()
    }
}

/// Service `api`, weeks counted back from END (oldest first):
///
/// | week | deployments | failed                         | CFR      |
/// |------|-------------|--------------------------------|----------|
/// | w4   | 10          | a4_0 (i-old, capacity)         | 10 %     |
/// | w3   | 4           | a3_0 (i-cfg-1, bad_config)     | 25 %     |
/// | w2   | 5           | a2_0 (i-dep-1, dependency)     | 20 %     |
/// | w1   | 2           | a1_0 (i-cfg-2, i-cfg-3)        | 50 %     |
/// | w0   | 3           | a0_0 (i-cfg-4), a0_1 (i-none)  | 66.67 %  |
///
/// a0_2 also has an incident triaged `caused_by_deploy = false` (infrastructure): it is
/// not deploy-caused and shows nowhere.
fn history() -> EventSet {
    let mut events = EventSet {
        incident_feed_seen: true,
        ..EventSet::default()
    };
    for (k, n) in [(4, 10), (3, 4), (2, 5), (1, 2), (0, 3)] {
        for i in 0..n {
            events
                .deployments
                .push(deploy(&format!("a{k}_{i}"), "api", in_week(k, i)));
        }
    }
    use FaultClass::*;
    let cfg = Some(BadConfiguration);
    events.incidents = vec![
        caused("i-old", "a4_0", in_week(4, 0), Some(Capacity)),
        caused("i-cfg-1", "a3_0", in_week(3, 0), cfg),
        caused("i-dep-1", "a2_0", in_week(2, 0), Some(DependencyFailure)),
        caused("i-cfg-2", "a1_0", in_week(1, 0), cfg),
        caused("i-cfg-3", "a1_0", in_week(1, 1), cfg),
        caused("i-cfg-4", "a0_0", in_week(0, 0), cfg),
        caused("i-none", "a0_1", in_week(0, 1), None),
        Incident {
            caused_by_deploy: Some(false),
            ..caused("i-infra", "a0_2", in_week(0, 2), Some(Infrastructure))
        },
    ];
    events
}

fn rules(threshold_percent: f64, consecutive_weeks: u32) -> ChaosRules {
    ChaosRules {
        threshold_percent,
        consecutive_weeks,
    }
}

fn advisory(
    events: &EventSet,
    scope: &Scope,
    rules: &ChaosRules,
) -> Option<pacer_core::ChaosAdvisory> {
    let config = MetricsConfig::default();
    let prepared = Prepared::new(events, &config);
    chaos_advisory(
        &prepared,
        &TeamMap::default(),
        scope,
        Timestamp::from_seconds(END),
        rules,
    )
}

#[test]
fn four_weeks_above_ten_percent_give_the_advisory_with_classes_counts_and_examples() {
    let a = advisory(&history(), &Scope::service("api"), &rules(10.0, 4)).expect("advisory");
    assert_eq!(a.weeks, 4);
    assert_eq!(a.threshold_percent, 10.0);
    // Oldest first: 1/4, 1/5, 1/2, 2/3.
    assert_eq!(a.weekly_percent, [25.0, 20.0, 50.0, 2.0 / 3.0 * 100.0]);
    let classes: Vec<(&str, usize, Vec<&str>)> = a
        .fault_classes
        .iter()
        .map(|c| {
            (
                c.class_name(),
                c.incidents,
                c.examples.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    // bad_configuration: 4 incidents (two of them on one deployment, which fails once in
    // the rate but is two incidents here), the 3 newest as examples; then the 1-incident
    // classes by name. i-old is older than the 4 weeks, i-infra was not caused by a deploy.
    assert_eq!(
        classes,
        [
            (
                "bad_configuration",
                4,
                vec!["i-cfg-4", "i-cfg-3", "i-cfg-2"]
            ),
            ("dependency_failure", 1, vec!["i-dep-1"]),
            ("unclassified", 1, vec!["i-none"]),
        ]
    );
    assert!(
        a.fault_classes[0]
            .experiment
            .starts_with("canary config rollout")
    );
    assert!(
        a.fault_classes[1]
            .experiment
            .starts_with("latency and fault injection on the dependency")
    );
    assert!(
        a.fault_classes[2]
            .experiment
            .starts_with("triage the fault class first")
    );
}

#[test]
fn a_week_at_the_threshold_ends_the_streak() {
    let events = history();
    // w4 is exactly 10 %: not above, so five weeks are not all above.
    assert_eq!(
        advisory(&events, &Scope::service("api"), &rules(10.0, 5)),
        None
    );
    // At 20 %, w2 (exactly 20 %) ends the streak: 4 weeks do not qualify, the last 2 do.
    assert_eq!(
        advisory(&events, &Scope::service("api"), &rules(20.0, 4)),
        None
    );
    assert_eq!(
        advisory(&events, &Scope::service("api"), &rules(20.0, 3)),
        None
    );
    let two = advisory(&events, &Scope::service("api"), &rules(20.0, 2)).expect("advisory");
    assert_eq!(two.weekly_percent, [50.0, 2.0 / 3.0 * 100.0]);
    // Only w1 and w0 incidents: i-cfg-2..4 and i-none.
    let counts: Vec<(&str, usize)> = two
        .fault_classes
        .iter()
        .map(|c| (c.class_name(), c.incidents))
        .collect();
    assert_eq!(counts, [("bad_configuration", 3), ("unclassified", 1)]);
}

#[test]
fn a_week_without_deployments_breaks_the_streak() {
    // w0 and w2 fail every deployment; w1 has none.
    let mut events = EventSet::default();
    for k in [0, 2] {
        let id = format!("b{k}");
        events.deployments.push(deploy(&id, "api", in_week(k, 0)));
        events
            .incidents
            .push(caused(&format!("j{k}"), &id, in_week(k, 0), None));
    }
    assert_eq!(
        advisory(&events, &Scope::service("api"), &rules(10.0, 3)),
        None
    );
    assert_eq!(
        advisory(&events, &Scope::service("api"), &rules(10.0, 2)),
        None
    );
    let one = advisory(&events, &Scope::service("api"), &rules(10.0, 1)).expect("advisory");
    assert_eq!(one.weekly_percent, [100.0]);
    assert_eq!(one.fault_classes[0].examples, ["j0"]);
}

#[test]
fn other_scopes_see_their_own_weeks() {
    let mut events = history();
    // A healthy service beside it: the organisation's rate is diluted below 10 % in w3
    // (1 failed of 4 + 10 = 7.1 %), so the organisation gets no advisory.
    for i in 0..10 {
        events
            .deployments
            .push(deploy(&format!("web{i}"), "web", in_week(3, i)));
    }
    assert!(advisory(&events, &Scope::service("api"), &rules(10.0, 4)).is_some());
    assert_eq!(
        advisory(&events, &Scope::service("web"), &rules(10.0, 4)),
        None
    );
    assert_eq!(
        advisory(&events, &Scope::organisation(), &rules(10.0, 4)),
        None
    );
}

#[test]
fn chaos_rules_are_validated() {
    assert!(ChaosRules::default().validate().is_ok());
    assert_eq!(ChaosRules::default(), rules(10.0, 4));
    for bad in [
        rules(100.0, 4),
        rules(-1.0, 4),
        rules(f64::NAN, 4),
        rules(10.0, 0),
        rules(10.0, 53),
    ] {
        let e = bad.validate().expect_err("refused");
        assert!(e.contains("metrics.chaos."), "{e}");
    }
}

/// A tool's later delivery never overwrites a person's triage; a person's triage always
/// applies and is marked with who and when.
#[test]
fn a_tool_update_keeps_a_human_triage() {
    let opened = Timestamp::from_seconds(1_000);
    let tool = |caused: Option<bool>| IncidentUpdate {
        id: "i1".into(),
        opened_at: Some(opened),
        resolved_at: Some(Some(Timestamp::from_seconds(2_000))),
        caused_by_deploy: Some(caused),
        ..IncidentUpdate::default()
    };
    // A tool's triage applies while no person has triaged.
    let first = tool(Some(true)).apply(None).unwrap();
    assert_eq!(first.caused_by_deploy, Some(true));
    assert!(!first.human_triaged());

    let human = IncidentUpdate {
        id: "i1".into(),
        caused_by_deploy: Some(Some(false)),
        fault_class: Some(Some(FaultClass::Infrastructure)),
        note: Some(Some("the cloud region failed".into())),
        triage_by: Some(TriageBy {
            actor: "alice".into(),
            at: Timestamp::from_seconds(3_000),
        }),
        ..IncidentUpdate::default()
    }
    .apply(Some(&first))
    .unwrap();
    assert_eq!(human.caused_by_deploy, Some(false));
    assert_eq!(human.triaged_by.as_deref(), Some("alice"));
    assert_eq!(human.triaged_at, Some(Timestamp::from_seconds(3_000)));

    let later = tool(Some(true));
    assert!(later.keeps_human_triage(Some(&human)));
    let after = later.apply(Some(&human)).unwrap();
    // The tool's resolution applies; its triage does not.
    assert_eq!(after.resolved_at, Some(Timestamp::from_seconds(2_000)));
    assert_eq!(after.caused_by_deploy, Some(false));
    assert_eq!(after.fault_class, Some(FaultClass::Infrastructure));
    assert_eq!(after.note.as_deref(), Some("the cloud region failed"));
    assert_eq!(after.triaged_by.as_deref(), Some("alice"));

    let changes = pacer_core::event::triage_changes(&first, &human);
    let fields: Vec<_> = changes
        .iter()
        .map(|c| (c.field, c.old.as_deref(), c.new.as_deref()))
        .collect();
    assert_eq!(
        fields,
        [
            ("caused_by_deploy", Some("true"), Some("false")),
            ("fault_class", None, Some("infrastructure")),
            ("note", None, Some("the cloud region failed")),
        ]
    );
}

#[test]
fn the_fault_class_vocabulary_is_fixed() {
    assert_eq!(
        FaultClass::vocabulary(),
        "bad_configuration, code_defect, dependency_failure, capacity, bad_migration, infrastructure, other"
    );
    for c in FaultClass::ALL {
        assert_eq!(FaultClass::parse(c.as_str()), Some(c));
    }
    assert_eq!(FaultClass::parse("Bad_Configuration"), None);
    assert_eq!(FaultClass::parse("config"), None);
}
