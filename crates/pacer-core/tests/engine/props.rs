//! Property tests over random small histories: a few services, two teams, random
//! environments (staging included), statuses, changes with shared ids, incidents with
//! random triage, service and named deployment, delivered in one or more updates, and
//! random windows whose edges fall on the same half-hour grid as the events.

use crate::oracle;
use crate::support::DAY;
use pacer_core::engine::{MTTR_NO_FEED, MTTR_NONE_RESOLVED, Metrics, compute};
use pacer_core::{
    AttributionPolicy, Change, DeployStatus, Deployment, EventSet, IncidentUpdate, MetricsConfig,
    Scope, TeamMap, Timestamp, Window,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// `ops` is in no configured team: its team comes from its deployments.
const SERVICES: [&str; 4] = ["api", "web", "search", "ops"];
const T0: i64 = 1_000 * DAY;
/// Events and window edges fall on a half-hour grid so that ties and edges are common.
const SLOT: i64 = 1_800;
/// Six days of slots.
const SLOTS: i64 = 6 * 48;
const MAX_DEPLOYMENTS: usize = 12;
const MAX_INCIDENTS: usize = 8;
const CASES: u32 = 256;

#[derive(Debug, Clone)]
enum Delivery {
    Deploy(Deployment),
    Incident(IncidentUpdate),
}

#[derive(Debug, Clone)]
struct Case {
    deliveries: Vec<Delivery>,
    config: MetricsConfig,
    windows: Vec<Window>,
}

fn slot(k: i64) -> Timestamp {
    Timestamp::from_seconds(T0 + k * SLOT)
}

fn plus(t: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_millis(t.millis() + seconds * 1000)
}

fn configured_teams() -> BTreeMap<String, String> {
    [("api", "red"), ("web", "red"), ("search", "blue")]
        .into_iter()
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect()
}

fn scopes() -> Vec<Scope> {
    let mut scopes = vec![Scope::organisation()];
    scopes.extend(SERVICES.iter().map(|s| Scope::service(*s)));
    scopes.extend(["red", "blue", "nobody"].map(Scope::team));
    scopes.push(Scope {
        service: Some("api".into()),
        team: Some("red".into()),
    });
    scopes.push(Scope {
        service: Some("ops".into()),
        team: Some("blue".into()),
    });
    scopes
}

/// A deployment with an empty id (ids are given when the history is assembled).
fn arb_deployment(
    environments: &'static [&'static str],
    success: f64,
) -> impl Strategy<Value = Deployment> {
    (
        0..SERVICES.len(),
        prop::sample::select(environments),
        prop::bool::weighted(success),
        // Often one of a few busy half-hours, so that deployments tie on deployed_at.
        prop_oneof![0..SLOTS, prop::sample::select(&[100, 101, 200][..])],
        prop::option::of(prop::sample::select(&["red", "blue"][..])),
        // (change id, started this many 10-minute steps before deployment; < 0: after)
        prop::collection::vec((0..6usize, -2i64..40), 0..3),
        prop::option::weighted(0.2, -1_200i64..400_000),
        arb_rework(),
    )
        .prop_map(
            |(service, environment, ok, at, team, changes, lead, rework)| Deployment {
                id: String::new(),
                service: SERVICES[service].to_string(),
                environment: environment.to_string(),
                status: if ok {
                    DeployStatus::Success
                } else {
                    DeployStatus::Failure
                },
                deployed_at: slot(at),
                sha: rework.sha,
                repo: None,
                team: team.map(String::from),
                changes: changes
                    .into_iter()
                    .map(|(c, back)| Change {
                        id: format!("c{c}"),
                        started_at: plus(slot(at), -back * 600),
                    })
                    .collect(),
                lead_time_seconds: lead.map(|s| s as f64),
                hotfix: rework.hotfix,
                rollback: rework.rollback,
                branch: rework.branch,
                labels: rework.labels,
            },
        )
}

/// The fields the rework rate reads.
#[derive(Debug, Clone)]
struct Rework {
    sha: Option<String>,
    hotfix: bool,
    rollback: bool,
    branch: Option<String>,
    labels: Vec<String>,
}

/// Shas from a pool of three (or none), so that retries, rollbacks and redeploys after a
/// deployment without sha are common; rarely a sender's mark, a branch or a label that the
/// default rules match (and some they do not).
fn arb_rework() -> impl Strategy<Value = Rework> {
    (
        prop::option::weighted(0.85, prop::sample::select(&["aaa", "bbb", "ccc"][..])),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        prop::option::weighted(
            0.3,
            prop::sample::select(&["main", "hotfix/x", "Revert-12", "feature/hotfix"][..]),
        ),
        prop::collection::vec(
            prop::sample::select(&["bug", "Incident", "rollback-ish"][..]),
            0..2,
        ),
    )
        .prop_map(|(sha, hotfix, rollback, branch, labels)| Rework {
            sha: sha.map(String::from),
            hotfix,
            rollback,
            branch: branch.map(String::from),
            labels: labels.into_iter().map(String::from).collect(),
        })
}

fn arb_deployment_name() -> impl Strategy<Value = String> {
    // May name a deployment that does not exist (or one that is not production).
    (0..MAX_DEPLOYMENTS + 2).prop_map(|k| format!("d{k}"))
}

/// The deliveries of one incident (empty ids), not yet placed in time.
#[derive(Debug, Clone)]
struct PlannedIncident {
    /// Move it to open this many 10-minute steps after the deployment with this index
    /// (modulo the number of deployments), optionally taking that deployment's service:
    /// so that incidents often fall near deployments (the attribution policy's hour).
    anchor: Option<(usize, i64, bool)>,
    updates: Vec<IncidentUpdate>,
}

impl PlannedIncident {
    fn place(self, deployments: &[Deployment]) -> Vec<IncidentUpdate> {
        let mut updates = self.updates;
        let Some((k, steps, same_service)) = self.anchor else {
            return updates;
        };
        let Some(d) = deployments.get(k % deployments.len().max(1)) else {
            return updates;
        };
        let opened = updates[0].opened_at.expect("the first delivery opens it");
        let shift = plus(d.deployed_at, steps * 600).millis() - opened.millis();
        let moved = |t: Timestamp| Timestamp::from_millis(t.millis() + shift);
        for u in &mut updates {
            u.opened_at = u.opened_at.map(moved);
            u.resolved_at = u.resolved_at.map(|r| r.map(moved));
        }
        if same_service {
            updates[0].service = Some(Some(d.service.clone()));
        }
        updates
    }
}

/// The deliveries of one incident (empty ids): a first delivery that opens it, then up to
/// three updates that resolve, reopen, triage or re-attribute it. `opened_at` is sent
/// only once and every resolution is at or after it, so every delivery is valid.
fn arb_incident(environments: &'static [&'static str]) -> impl Strategy<Value = PlannedIncident> {
    let followup = (
        prop::option::of(prop::option::of(0..60i64)),
        prop::option::of(prop::option::of(any::<bool>())),
        prop::option::of(prop::option::of(arb_deployment_name())),
        prop::option::weighted(0.1, prop::option::weighted(0.8, 0..SERVICES.len())),
    );
    (
        prop::option::weighted(0.8, 0..SERVICES.len()),
        prop::sample::select(environments),
        0..SLOTS,
        0..3i64,
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.3, arb_deployment_name()),
        prop::option::weighted(0.6, 0..60i64),
        prop::collection::vec(followup, 0..3),
        prop::option::weighted(
            0.5,
            (0..MAX_DEPLOYMENTS, -1i64..8, prop::bool::weighted(0.8)),
        ),
    )
        .prop_map(
            |(service, environment, at, step, caused, named, resolved, followups, anchor)| {
                let opened = plus(slot(at), step * 600);
                let after = |steps: i64| plus(opened, steps * 600);
                let mut updates = vec![IncidentUpdate {
                    id: String::new(),
                    service: Some(service.map(|s| SERVICES[s].to_string())),
                    environment: Some(environment.to_string()),
                    opened_at: Some(opened),
                    resolved_at: resolved.map(|r| Some(after(r))),
                    severity: None,
                    caused_by_deploy: Some(caused),
                    deployment_id: Some(named),
                    ..IncidentUpdate::default()
                }];
                for (resolved, caused, named, service) in followups {
                    updates.push(IncidentUpdate {
                        resolved_at: resolved.map(|r| r.map(after)),
                        caused_by_deploy: caused,
                        deployment_id: named,
                        service: service.map(|s| s.map(|s| SERVICES[s].to_string())),
                        ..IncidentUpdate::default()
                    });
                }
                PlannedIncident { anchor, updates }
            },
        )
}

const BASE_DEPLOYMENT_ENVS: &[&str] = &[
    "production",
    "production",
    "Prod",
    " PRD ",
    "staging",
    "dev",
];
const BASE_INCIDENT_ENVS: &[&str] = &["production", "production", "prod", "staging"];

/// Gives ids (`d0..`, `i0..`) to deployments and incidents.
fn assemble(mut deployments: Vec<Deployment>, incidents: Vec<PlannedIncident>) -> Vec<Delivery> {
    for (k, d) in deployments.iter_mut().enumerate() {
        d.id = format!("d{k}");
    }
    let mut deliveries = Vec::new();
    for (k, incident) in incidents.into_iter().enumerate() {
        for mut u in incident.place(&deployments) {
            u.id = format!("i{k}");
            deliveries.push(Delivery::Incident(u));
        }
    }
    deliveries.extend(deployments.into_iter().map(Delivery::Deploy));
    deliveries
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(
            arb_deployment(BASE_DEPLOYMENT_ENVS, 0.85),
            0..=MAX_DEPLOYMENTS,
        ),
        prop::collection::vec(arb_incident(BASE_INCIDENT_ENVS), 0..=MAX_INCIDENTS),
        prop::sample::select(&[AttributionPolicy::Explicit, AttributionPolicy::Window][..]),
        prop::collection::vec((0..SLOTS + 4 * 48, 1u32..=7), 1..=2),
        any::<u64>(),
    )
        .prop_map(|(deployments, incidents, policy, windows, seed)| Case {
            // The base history itself arrives interleaved.
            deliveries: shuffled(&assemble(deployments, incidents), seed),
            config: MetricsConfig {
                attribution: policy,
                ..MetricsConfig::default()
            },
            windows: windows
                .into_iter()
                .map(|(end, days)| Window::new(slot(end), days))
                .collect(),
        })
}

/// Events that must never reach a figure: staging (or other non-production) deployments
/// of any status, failed production deployments, and non-production incidents. They share
/// services, change ids and named deployments with the base history; their own ids are new.
fn arb_non_production() -> impl Strategy<Value = Vec<Extra>> {
    const OTHER_ENVS: &[&str] = &["staging", "dev", "production-eu", "QA", "preprod"];
    const PROD_ENVS: &[&str] = &["production", "prod", "Production"];
    let one = prop_oneof![
        arb_deployment(OTHER_ENVS, 0.7).prop_map(Extra::Deploy),
        arb_deployment(PROD_ENVS, 0.0).prop_map(Extra::Deploy),
        arb_incident(&["staging", "preprod", "dev"]).prop_map(Extra::Incident),
    ];
    prop::collection::vec(one, 1..6)
}

#[derive(Debug, Clone)]
enum Extra {
    Deploy(Deployment),
    Incident(PlannedIncident),
}

fn next(rng: &mut u64) -> u64 {
    // xorshift64
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

/// A random permutation of `deliveries` that keeps each incident's own deliveries in
/// their order (the newest state of a field is by definition the last one sent).
fn shuffled(deliveries: &[Delivery], seed: u64) -> Vec<Delivery> {
    let mut rng = seed | 1;
    let mut out = deliveries.to_vec();
    for i in (1..out.len()).rev() {
        let j = (next(&mut rng) % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    let mut in_order: HashMap<String, VecDeque<IncidentUpdate>> = HashMap::new();
    for d in deliveries {
        if let Delivery::Incident(u) = d {
            in_order
                .entry(u.id.clone())
                .or_default()
                .push_back(u.clone());
        }
    }
    for d in &mut out {
        if let Delivery::Incident(u) = d {
            *u = in_order
                .get_mut(&u.id)
                .and_then(VecDeque::pop_front)
                .expect("one per delivery");
        }
    }
    out
}

/// Merges `extra` into `base` at random places, keeping the order within each.
fn interleaved(base: &[Delivery], extra: &[Delivery], seed: u64) -> Vec<Delivery> {
    let mut rng = seed | 1;
    let (mut a, mut b) = (base.iter().peekable(), extra.iter().peekable());
    let mut out = Vec::with_capacity(base.len() + extra.len());
    loop {
        let take_extra = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(_), Some(_)) => next(&mut rng).is_multiple_of(3),
        };
        let d = if take_extra { b.next() } else { a.next() };
        out.extend(d.cloned());
    }
    out
}

fn deliver(deliveries: &[Delivery]) -> EventSet {
    let mut events = EventSet::default();
    deliver_into(&mut events, deliveries);
    events
}

fn deliver_into(events: &mut EventSet, deliveries: &[Delivery]) {
    for d in deliveries {
        match d {
            Delivery::Deploy(d) => {
                events.record_deployment(d.clone());
            }
            Delivery::Incident(u) => {
                events
                    .record_incident(u.clone())
                    .expect("generated deliveries are valid");
            }
        }
    }
}

fn team_map(events: &EventSet) -> TeamMap {
    TeamMap::from_deployments(configured_teams(), &events.deployments)
}

/// Every scope over every window of the case.
fn figures(events: &EventSet, case: &Case, teams: &TeamMap) -> Vec<Metrics> {
    let mut out = Vec::new();
    for &window in &case.windows {
        for scope in scopes() {
            out.push(compute(events, &case.config, teams, &scope, window));
        }
    }
    out
}

fn without_missing_reason(mut figures: Vec<Metrics>) -> Vec<Metrics> {
    for m in &mut figures {
        m.mttr.missing_reason = None;
        m.failed_deployment_recovery_time.missing_reason = None;
    }
    figures
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// The engine agrees, figure for figure, with the naive reference implementation.
    #[test]
    fn engine_matches_the_reference(case in arb_case()) {
        let events = deliver(&case.deliveries);
        let teams = team_map(&events);
        for &window in &case.windows {
            for scope in scopes() {
                let engine = compute(&events, &case.config, &teams, &scope, window);
                let reference = oracle::metrics(&events, &case.config, &teams, &scope, window);
                prop_assert_eq!(engine, reference, "scope {:?} window {:?}", scope, window);
            }
        }
    }

    /// CFR is a rate: 0 ..= 100 %, never more failed than deployed; quantiles are ordered
    /// and non-negative.
    #[test]
    fn change_failure_rate_stays_within_0_and_100(case in arb_case()) {
        let events = deliver(&case.deliveries);
        for m in figures(&events, &case, &team_map(&events)) {
            let cfr = &m.change_failure_rate;
            prop_assert_eq!(cfr.deployments, m.deployment_frequency.deployments);
            prop_assert!(cfr.failed_deployments <= cfr.deployments);
            prop_assert!(cfr.attributed_organisation_wide <= cfr.failed_deployments);
            match cfr.percent {
                None => prop_assert_eq!(cfr.deployments, 0),
                Some(p) => prop_assert!((0.0..=100.0).contains(&p), "percent {}", p),
            }
            for (p50, p90) in [
                (m.lead_time.p50_seconds, m.lead_time.p90_seconds),
                (m.mttr.p50_seconds, m.mttr.p90_seconds),
                (
                    m.failed_deployment_recovery_time.p50_seconds,
                    m.failed_deployment_recovery_time.p90_seconds,
                ),
            ] {
                prop_assert_eq!(p50.is_some(), p90.is_some());
                if let (Some(p50), Some(p90)) = (p50, p90) {
                    prop_assert!(0.0 <= p50 && p50 <= p90, "p50 {} p90 {}", p50, p90);
                }
            }
            prop_assert!(m.failed_deployment_recovery_time.incidents <= m.mttr.incidents);
        }
    }

    /// Adding staging deployments, failed deployments or staging incidents anywhere in the
    /// delivery stream changes no figure. The team map is held to the base history's:
    /// team membership (not a figure) does follow any deployment that names a team. The
    /// first incident of any environment flips MTTR's missing reason from "no feed" to
    /// "none resolved"; that one difference is checked separately.
    #[test]
    fn non_production_events_change_no_figure(
        case in arb_case(),
        extras in arb_non_production(),
        seed in any::<u64>(),
    ) {
        let base_deployments: Vec<Deployment> = case
            .deliveries
            .iter()
            .filter_map(|d| match d {
                Delivery::Deploy(d) => Some(d.clone()),
                Delivery::Incident(_) => None,
            })
            .collect();
        let mut extra = Vec::new();
        for (k, e) in extras.into_iter().enumerate() {
            match e {
                Extra::Deploy(mut d) => {
                    d.id = format!("x{k}");
                    extra.push(Delivery::Deploy(d));
                }
                Extra::Incident(plan) => {
                    for mut u in plan.place(&base_deployments) {
                        u.id = format!("x{k}");
                        extra.push(Delivery::Incident(u));
                    }
                }
            }
        }
        let base = deliver(&case.deliveries);
        let more = deliver(&interleaved(&case.deliveries, &extra, seed));
        let teams = team_map(&base);
        let before = figures(&base, &case, &teams);
        let after = figures(&more, &case, &teams);
        if base.incident_feed_seen {
            prop_assert_eq!(before, after);
        } else {
            let expected = if more.incident_feed_seen { MTTR_NONE_RESOLVED } else { MTTR_NO_FEED };
            for m in &before {
                prop_assert_eq!(m.mttr.missing_reason, Some(MTTR_NO_FEED));
            }
            for m in &after {
                prop_assert_eq!(m.mttr.missing_reason, Some(expected));
                prop_assert_eq!(m.failed_deployment_recovery_time.missing_reason, Some(expected));
            }
            prop_assert_eq!(without_missing_reason(before), without_missing_reason(after));
        }
    }

    /// The order in which deliveries arrive changes no figure (each incident's own
    /// updates keep their order: the last one sent is the newest state).
    #[test]
    fn delivery_order_changes_no_figure(case in arb_case(), seed in any::<u64>()) {
        let a = deliver(&case.deliveries);
        let b = deliver(&shuffled(&case.deliveries, seed));
        prop_assert_eq!(figures(&a, &case, &team_map(&a)), figures(&b, &case, &team_map(&b)));
    }

    /// Re-delivering the whole stream changes nothing: not the stored events, not a figure.
    #[test]
    fn delivering_everything_twice_changes_no_figure(case in arb_case()) {
        let once = deliver(&case.deliveries);
        let mut twice = once.clone();
        deliver_into(&mut twice, &case.deliveries);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(
            figures(&once, &case, &team_map(&once)),
            figures(&twice, &case, &team_map(&twice)),
        );
    }

    /// Services partition the organisation: counts per service add up to the
    /// organisation's (plus, for incidents, those that name no service), and a team's
    /// counts are the sum over its services.
    #[test]
    fn scopes_add_up_to_the_organisation(case in arb_case()) {
        let events = deliver(&case.deliveries);
        let teams = team_map(&events);
        for &window in &case.windows {
            let at = |scope: Scope| compute(&events, &case.config, &teams, &scope, window);
            let counts = |m: &Metrics| {
                [
                    m.deployment_frequency.deployments,
                    m.lead_time.changes,
                    m.lead_time.changes_started_after_deployment,
                    m.change_failure_rate.failed_deployments,
                    m.change_failure_rate.attributed_organisation_wide,
                    m.mttr.incidents,
                    m.failed_deployment_recovery_time.incidents,
                    m.untriaged_incidents,
                ]
            };
            let add = |a: [usize; 8], b: [usize; 8]| std::array::from_fn(|k| a[k] + b[k]);
            let per_service: Vec<(&str, [usize; 8])> = SERVICES
                .iter()
                .map(|s| (*s, counts(&at(Scope::service(*s)))))
                .collect();
            let total = per_service.iter().fold([0; 8], |acc, (_, c)| add(acc, *c));
            // What only the organisation sees: incidents with no service.
            let org = counts(&at(Scope::organisation()));
            prop_assert_eq!(&org[..5], &total[..5]);
            prop_assert!(org[5..].iter().zip(&total[5..]).all(|(o, t)| o >= t));
            for team in ["red", "blue"] {
                let sum = per_service
                    .iter()
                    .filter(|(s, _)| teams.team_of(s) == Some(team))
                    .fold([0; 8], |acc, (_, c)| add(acc, *c));
                prop_assert_eq!(counts(&at(Scope::team(team))), sum, "team {}", team);
            }
        }
    }
}
