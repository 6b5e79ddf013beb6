//! The window load is exact: for every window, scope and attribution policy, the figures
//! the engine computes from `Store::load_window` equal the figures it computes from the
//! whole history (`docs/architecture.md`, "What a window load contains, and why it is
//! enough"). The whole history is kept beside the store in an in-memory [`EventSet`],
//! which records deliveries with the reference semantics (`EventSet::record_deployment`,
//! `EventSet::record_incident`).

use crate::support::{
    DAY, DeploymentExt, HOUR, IncidentExt, T0, at, deploy, fresh_store, incident, runtime, ts,
    update,
};
use pacer::store::{Recorded, Store, named_teams};
use pacer_core::engine::Prepared;
use pacer_core::scope::ScopeFilter;
use pacer_core::{
    AttributionPolicy, Change, DeployStatus, Deployment, EventSet, IncidentUpdate, MetricsConfig,
    ProductionEnvironments, Scope, TeamMap, Timestamp, Window,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// `ops` is in no configured team: its team comes from its deployments.
const SERVICES: [&str; 4] = ["api", "web", "search", "ops"];
/// Events fall on an hourly grid (plus a few minutes or a millisecond) so that ties and
/// window edges are common.
const SLOT: i64 = HOUR;
/// Ten days of slots.
const SLOTS: i64 = 10 * 24;
const MAX_DEPLOYMENTS: usize = 16;
const MAX_INCIDENTS: usize = 10;
/// Each case writes a fresh database: keep the count modest.
const CASES: u32 = 48;

const DEPLOYMENT_ENVS: &[&str] = &["production", "production", "prod", "Production", "staging"];
const INCIDENT_ENVS: &[&str] = &["production", "Production", "prod", "staging"];

#[derive(Debug, Clone)]
enum Delivery {
    Deploy(Deployment),
    Incident(IncidentUpdate),
}

fn configured_teams() -> BTreeMap<String, String> {
    [("api", "red"), ("web", "red"), ("search", "blue")]
        .into_iter()
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect()
}

/// The organisation, every service (and one nobody deploys), every team (and one with no
/// service), and service + team pairs that do and do not match.
fn scopes() -> Vec<Scope> {
    let mut scopes = vec![Scope::organisation()];
    scopes.extend(SERVICES.iter().map(|s| Scope::service(*s)));
    scopes.push(Scope::service("ghost"));
    scopes.extend(["red", "blue", "nobody"].map(Scope::team));
    for (service, team) in [("api", "red"), ("ops", "blue"), ("search", "red")] {
        scopes.push(Scope {
            service: Some(service.into()),
            team: Some(team.into()),
        });
    }
    scopes
}

/// Records every delivery in the store and in the reference, checking that both answer
/// alike (created or already recorded; the merged incident).
async fn deliver(store: &dyn Store, events: &mut EventSet, deliveries: &[Delivery]) {
    for delivery in deliveries {
        match delivery {
            Delivery::Deploy(d) => {
                let recorded = store.record_deployment(d).await.expect("record deployment");
                let expected = if events.record_deployment(d.clone()) {
                    Recorded::Created
                } else {
                    Recorded::AlreadyRecorded
                };
                assert_eq!(recorded, expected, "recording deployment {}", d.id);
            }
            Delivery::Incident(u) => {
                let existed = events.incidents.iter().any(|i| i.id == u.id);
                let (stored, recorded) = store
                    .record_incident(u.clone())
                    .await
                    .expect("record incident");
                let reference = events
                    .record_incident(u.clone())
                    .expect("generated deliveries are valid");
                assert_eq!(&stored, reference, "merging incident delivery {u:?}");
                let expected = if existed {
                    Recorded::AlreadyRecorded
                } else {
                    Recorded::Created
                };
                assert_eq!(recorded, expected, "recording incident {}", u.id);
            }
        }
    }
}

/// The store holds exactly the reference's events.
async fn assert_same_events(store: &dyn Store, events: &EventSet) {
    for d in &events.deployments {
        let stored = store.deployment(&d.id).await.expect("read deployment");
        assert_eq!(stored.as_ref(), Some(d), "deployment {}", d.id);
    }
    for i in &events.incidents {
        let stored = store.incident(&i.id).await.expect("read incident");
        assert_eq!(stored.as_ref(), Some(i), "incident {}", i.id);
    }
}

/// Whatever a load holds is real: each event once, as recorded.
fn assert_real(load: &EventSet, events: &EventSet, what: &str) {
    let mut seen = BTreeSet::new();
    for d in &load.deployments {
        assert!(
            seen.insert(&d.id),
            "{what}: deployment {} loaded twice",
            d.id
        );
        let recorded = events.deployments.iter().find(|r| r.id == d.id);
        assert_eq!(Some(d), recorded, "{what}: loaded deployment {}", d.id);
    }
    let mut seen = BTreeSet::new();
    for i in &load.incidents {
        assert!(seen.insert(&i.id), "{what}: incident {} loaded twice", i.id);
        let recorded = events.incidents.iter().find(|r| r.id == i.id);
        assert_eq!(Some(i), recorded, "{what}: loaded incident {}", i.id);
    }
    assert_eq!(
        load.incident_feed_seen, events.incident_feed_seen,
        "{what}: incident_feed_seen"
    );
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<&str> {
    let mut out: Vec<&str> = items.iter().map(id).collect();
    out.sort_unstable();
    out
}

/// The heart of the suite: builds the team map as the app does, and for every window,
/// every scope and both attribution policies compares the figures from the store's
/// window load with the figures from the whole history.
async fn assert_window_loads_exact(
    store: &dyn Store,
    events: &EventSet,
    production: &ProductionEnvironments,
    windows: &[Window],
) {
    let configured = configured_teams();
    let services = store.services().await.expect("services");
    let teams = TeamMap::new(configured.clone(), named_teams(&services));
    assert_eq!(
        teams,
        TeamMap::from_deployments(configured, &events.deployments),
        "team map from the store"
    );
    let configs =
        [AttributionPolicy::Explicit, AttributionPolicy::Window].map(|attribution| MetricsConfig {
            production: production.clone(),
            attribution,
            ..MetricsConfig::default()
        });
    let whole: Vec<Prepared> = configs
        .iter()
        .map(|config| Prepared::new(events, config))
        .collect();
    // What `Pacer::production_keys` passes: the configured names, lower-case.
    let environments = configs[0].production.names().to_vec();
    for &window in windows {
        for scope in scopes() {
            // As `Pacer::metrics` does it.
            let services: Option<Vec<String>> = match ScopeFilter::resolve(&scope, &teams) {
                ScopeFilter::Organisation => None,
                ScopeFilter::Services(set) => Some(set.into_iter().collect()),
            };
            let load = store
                .load_window(services.as_deref(), &environments, window)
                .await
                .expect("load window");
            let what = format!("scope {scope:?}, window {window:?}");
            assert_real(&load, events, &what);
            for (config, whole) in configs.iter().zip(&whole) {
                let from_load = Prepared::new(&load, config).metrics(&teams, &scope, window);
                let expected = whole.metrics(&teams, &scope, window);
                assert_eq!(
                    from_load,
                    expected,
                    "{what}, policy {:?}: figures from the load differ from the whole history \
                     (loaded deployments {:?}, incidents {:?})",
                    config.attribution,
                    ids(&load.deployments, |d| &d.id),
                    ids(&load.incidents, |i| &i.id),
                );
            }
        }
    }
}

/// Records `deliveries` in a fresh store and checks every window load against the whole.
async fn check_history(
    deliveries: &[Delivery],
    production: &ProductionEnvironments,
    windows: &[Window],
) -> EventSet {
    let store = fresh_store().await;
    let mut events = EventSet::default();
    deliver(&*store, &mut events, deliveries).await;
    assert_same_events(&*store, &events).await;
    assert_window_loads_exact(&*store, &events, production, windows).await;
    events
}

/// A hand-built history with every case the load must get right, so that none depends on
/// the luck of the generator.
#[tokio::test]
async fn window_load_is_exact_on_a_history_with_every_case() {
    let min = 60;
    let plus = |t: Timestamp, seconds: i64| Timestamp::from_millis(t.millis() + seconds * 1000);
    let deployments = vec![
        // api: an earlier production carrier of c1 (and c2), long before the window.
        deploy("a-pre1", "api", at(10))
            .change("c1", at(5))
            .change("c2", at(6))
            .team("red"),
        deploy("a-pre2", "api", at(50))
            .env("Production")
            .change("c3", at(40)),
        // Neither a staging deploy nor a failed one is a first carrier of c4.
        // Just before the window; an untriaged incident opens at the same instant.
        deploy("a-pre3", "api", at(70)),
        deploy("a-stg", "api", at(80))
            .env("staging")
            .change("c4", at(70)),
        deploy("a-fail", "api", at(90))
            .failed()
            .change("c4", at(70)),
        // In the window: c1 was carried before the window, c4 counts here, c5 is skewed.
        deploy("a1", "api", at(100))
            .env("prod")
            .change("c1", at(5))
            .change("c4", at(70))
            .change("c5", at(101)),
        deploy("a2", "api", at(150)).lead(7_200.0),
        deploy("a-post", "api", at(260)).change("c6", at(250)),
        // web: the same change id in another service counts there on its own.
        deploy("w-pre", "web", at(60)).change("c1", at(5)),
        deploy("w0", "web", at(120)),
        // Ties with w0: the larger id is the later one.
        deploy("w1", "web", at(120)).change("c1", at(5)).team("red"),
        deploy("o1", "ops", at(110)).team("blue"),
        deploy("s1", "search", at(200)).team("blue"),
        deploy("s-post", "search", at(300)),
    ];
    let incidents = vec![
        // Opened long before the window, resolved in it: blamed (by time) on a-pre1.
        incident("i-long", Some("api"), at(20))
            .resolved(at(100))
            .caused(Some(true)),
        // Opened at a-pre3's instant (at or before counts), resolved in the window: caused
        // under the window policy, so in the failed deployment recovery time.
        incident("i-at-deploy", Some("api"), at(70)).resolved(at(75)),
        incident("i-named-pre", Some("api"), at(130))
            .resolved(at(131))
            .names("a-pre2")
            .caused(Some(true)),
        // Of another service, before the window: only its name ties it to a1.
        incident("i-named-window", Some("search"), at(30))
            .resolved(at(31))
            .names("a1")
            .caused(Some(true)),
        incident("i-named-post", Some("api"), at(265))
            .names("a-post")
            .caused(Some(true)),
        incident("i-named-unknown", Some("api"), at(140))
            .resolved(at(145))
            .names("nope")
            .caused(Some(true)),
        incident("i-named-staging", Some("api"), at(85))
            .resolved(at(86))
            .names("a-stg")
            .caused(Some(true)),
        // No service: blamed organisation-wide on the latest deployment of any (s1).
        incident("i-noservice", None, plus(at(200), min))
            .resolved(at(202))
            .caused(Some(true)),
        // Untriaged, ten minutes after w1: caused under the window policy.
        incident("i-untriaged", Some("web"), plus(at(120), 10 * min)).resolved(at(122)),
        incident("i-false", Some("ops"), plus(at(110), min))
            .resolved(at(111))
            .caused(Some(false)),
        // Opened after the window's end.
        incident("i-after-end", Some("web"), at(250)).resolved(at(251)),
        incident("i-staging", Some("api"), plus(at(100), 1))
            .env("staging")
            .resolved(at(101))
            .caused(Some(true)),
        incident("i-before-unresolved", Some("api"), at(40)),
        incident("i-reopened", Some("search"), at(210)).resolved(at(212)),
        update("i-reopened").reopened(),
        // Resolved in two deliveries, then triaged.
        incident("i-two", Some("ops"), at(160)),
        update("i-two").resolved(at(170)),
        update("i-two").caused(Some(true)),
    ];
    let mut deliveries: Vec<Delivery> = incidents.into_iter().map(Delivery::Incident).collect();
    // Deployments arrive after the incidents that name them, in reverse order.
    deliveries.extend(deployments.into_iter().rev().map(Delivery::Deploy));
    // A re-delivery with other content changes nothing.
    deliveries.push(Delivery::Deploy(
        deploy("a1", "api", at(230)).team("blue").lead(1.0),
    ));

    let window = Window::new(at(240), 7);
    let windows = [
        window,
        // Ends in the past: many events come after its end.
        Window::new(at(100), 2),
        // Nothing in it.
        Window::new(at(-1_000), 7),
        Window::new(at(400), 30),
    ];
    let events = check_history(&deliveries, &ProductionEnvironments::default(), &windows).await;

    // The history does exercise what it is meant to (figures from the whole history,
    // which the loads were just shown to equal).
    let teams = TeamMap::from_deployments(configured_teams(), &events.deployments);
    let org = |attribution| {
        let config = MetricsConfig {
            attribution,
            ..MetricsConfig::default()
        };
        Prepared::new(&events, &config).metrics(&teams, &Scope::organisation(), window)
    };
    let explicit = org(AttributionPolicy::Explicit);
    assert_eq!(explicit.deployment_frequency.deployments, 6);
    // c4 in a1 (c1 was carried before the window), c5 (skewed) and a2's lead time.
    assert_eq!(explicit.lead_time.changes, 3);
    assert_eq!(explicit.lead_time.changes_started_after_deployment, 1);
    // a1 (named by an incident of another service), s1 (organisation-wide), o1 (i-two).
    assert_eq!(explicit.change_failure_rate.failed_deployments, 3);
    assert_eq!(explicit.change_failure_rate.attributed_organisation_wide, 1);
    // i-long, i-at-deploy, i-named-pre, i-named-unknown, i-named-staging, i-noservice,
    // i-untriaged, i-false, i-two.
    assert_eq!(explicit.mttr.incidents, 9);
    // Those triaged caused_by_deploy = true (whatever they name): i-long, i-named-pre,
    // i-named-unknown, i-named-staging, i-noservice, i-two.
    assert_eq!(explicit.failed_deployment_recovery_time.incidents, 6);
    // i-untriaged, i-reopened, i-two is triaged now.
    assert_eq!(explicit.untriaged_incidents, 2);
    // w1 too, by the window policy.
    let window_policy = org(AttributionPolicy::Window);
    assert_eq!(window_policy.change_failure_rate.failed_deployments, 4);
    // i-at-deploy and i-untriaged too.
    assert_eq!(window_policy.failed_deployment_recovery_time.incidents, 8);
    assert_eq!(teams.team_of("ops"), Some("blue"));
}

/// Rework needs history from before the window: the sha each service ran right before it,
/// and whether a window deployment's sha ran earlier. Every case by hand.
#[tokio::test]
async fn window_load_is_exact_for_rework() {
    let with = |d: Deployment, sha: Option<&str>| Deployment {
        sha: sha.map(String::from),
        ..d
    };
    let deployments = vec![
        // api: v1, then v2, before the window; a staging hotfix and a failed deployment
        // that count for nothing; v1 again exactly at the window's (excluded) start.
        with(deploy("r-pre1", "api", at(10)), Some("v1")),
        with(deploy("r-pre2", "api", at(50)), Some("v2")),
        Deployment {
            hotfix: true,
            ..with(deploy("r-stg", "api", at(60)).env("staging"), Some("v3"))
        },
        with(deploy("r-fail", "api", at(65)).failed(), Some("v9")),
        with(deploy("r5", "api", at(72)), Some("v1")),
        // In the window: r1 follows v1 (r5): a retry; r2 a retry too.
        with(deploy("r1", "api", at(100)), Some("v1")),
        with(deploy("r2", "api", at(110)), Some("v1")),
        // v3 ran only in staging: the sender's mark alone.
        Deployment {
            hotfix: true,
            ..with(deploy("r3", "api", at(120)), Some("v3"))
        },
        // Back to v2 (r-pre2, before the window) from v3, from a hotfix branch.
        Deployment {
            branch: Some("refs/heads/hotfix/a".into()),
            ..with(deploy("r4", "api", at(130)), Some("v2"))
        },
        // web: back to x1 while x2 runs, both only before the window.
        with(deploy("w-pre1", "web", at(5)), Some("x1")),
        with(deploy("w-pre2", "web", at(20)), Some("x2")),
        with(deploy("w1", "web", at(150)), Some("x1")),
        Deployment {
            labels: vec!["Incident".into()],
            ..with(deploy("w2", "web", at(160)), Some("x3"))
        },
        // search: v1 ran in api, never in search.
        with(deploy("s1", "search", at(200)), Some("v1")),
        // ops: z ran, then something without a sha: what z replaces is unknown.
        with(deploy("o-pre0", "ops", at(25)), Some("z")),
        with(deploy("o-pre", "ops", at(30)), None),
        with(deploy("o1", "ops", at(140)), Some("z")),
        with(deploy("o2", "ops", at(145)), Some("z")),
    ];
    let deliveries: Vec<Delivery> = deployments
        .into_iter()
        .rev()
        .map(Delivery::Deploy)
        .collect();
    let window = Window::new(at(240), 7);
    let windows = [
        window,
        // Starts exactly at r5.
        Window::new(at(120), 2),
        Window::new(at(400), 30),
    ];
    let events = check_history(&deliveries, &ProductionEnvironments::default(), &windows).await;

    let teams = TeamMap::from_deployments(configured_teams(), &events.deployments);
    let config = MetricsConfig::default();
    let org = Prepared::new(&events, &config).metrics(&teams, &Scope::organisation(), window);
    // In the window: r1, r2, r3, r4, w1, w2, s1, o1, o2 = 9. Unplanned: r3 (sender),
    // r4 (rule: hotfix/*; and sha v2), w1 (sha x1), w2 (rule: label incident) = 4.
    // 4 / 9 * 100 = 44.44 %. Reasons: sender 1, rule 2 (r4, w2), redeployed sha 2 (r4, w1).
    let rework = &org.rework_rate;
    assert_eq!((rework.deployments, rework.unplanned_deployments), (9, 4));
    assert_eq!(rework.percent, Some(4.0 / 9.0 * 100.0));
    assert_eq!(
        (
            rework.by_reason.sender,
            rework.by_reason.rule,
            rework.by_reason.redeployed_sha
        ),
        (1, 2, 2)
    );
}

/// Past the sizes at which the store splits its statements (500 parameters): more than
/// 500 window deployments, carried changes, earlier carriers and named deployments.
#[tokio::test]
async fn window_load_is_exact_past_the_statement_chunk_sizes() {
    const N: i64 = 510;
    let window = Window::new(at(1_440), 30);
    let mut deliveries = Vec::new();
    for k in 0..N {
        // An earlier carrier of c{k}, long before the window.
        let pre = deploy(&format!("p{k:03}"), "api", at(k)).change(&format!("c{k}"), at(-1));
        // In the window: c{k} was carried before, n{k} counts here. Its sha s{k} ran in
        // p{k}, before the window, and a different one ran right before it: a rollback.
        let win = deploy(&format!("w{k:03}"), "api", at(721 + k))
            .change(&format!("c{k}"), at(-1))
            .change(&format!("n{k}"), at(720));
        let (pre, win) = (
            Deployment {
                sha: Some(format!("s{k}")),
                ..pre
            },
            Deployment {
                sha: Some(format!("s{k}")),
                ..win
            },
        );
        deliveries.push(Delivery::Deploy(pre));
        deliveries.push(Delivery::Deploy(win));
    }
    // Named by incidents of another service that opened and closed before the window: the
    // names are the only link, and they fall in the last chunk of window ids.
    for k in N - 12..N {
        let named = incident(&format!("x{k}"), Some("web"), at(-100))
            .resolved(at(-99))
            .names(&format!("w{k:03}"))
            .caused(Some(true));
        deliveries.push(Delivery::Incident(named));
    }
    // Untriaged, ten minutes after a window deployment: caused under the window policy.
    for k in [0, 250, N - 1] {
        let opened = plus(at(721 + k), 600);
        let u = incident(&format!("u{k}"), Some("api"), opened).resolved(plus(opened, 60));
        deliveries.push(Delivery::Incident(u));
    }
    deliveries.push(Delivery::Incident(
        incident("org", None, at(1_300)).caused(Some(true)),
    ));
    let windows = [window, Window::new(at(1_000), 7)];
    let events = check_history(&deliveries, &ProductionEnvironments::default(), &windows).await;

    let teams = TeamMap::from_deployments(configured_teams(), &events.deployments);
    let config = MetricsConfig::default();
    let api = Prepared::new(&events, &config).metrics(&teams, &Scope::service("api"), window);
    assert_eq!(api.deployment_frequency.deployments, N as usize);
    assert_eq!(api.lead_time.changes, N as usize);
    // w498..w509; the organisation-wide blame falls on w509 too.
    assert_eq!(api.change_failure_rate.failed_deployments, 12);
    assert_eq!(api.change_failure_rate.attributed_organisation_wide, 0);
    // w000 follows p509 (s509), w{k} follows w{k-1}: each brings back the sha of p{k}.
    assert_eq!(api.rework_rate.unplanned_deployments, N as usize);
    assert_eq!(api.rework_rate.by_reason.redeployed_sha, N as usize);
}

// ---------------------------------------------------------------------------------------
// Random histories.

fn slot(k: i64) -> Timestamp {
    ts(T0 + k * SLOT)
}

fn plus(t: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_millis(t.millis() + seconds * 1000)
}

/// What a deployment carries: the API takes changes or a lead time, not both.
#[derive(Debug, Clone)]
enum Carried {
    /// (change id, started this many half-hours before the deployment; < 0: after).
    Changes(Vec<(usize, i64)>),
    Lead(i64),
}

/// A deployment with an empty id (ids are given when the history is assembled).
fn arb_deployment() -> impl Strategy<Value = Deployment> {
    let carried = prop_oneof![
        4 => prop::collection::vec((0..6usize, -2i64..96), 0..4).prop_map(Carried::Changes),
        1 => (0i64..400_000).prop_map(Carried::Lead),
    ];
    (
        0..SERVICES.len(),
        prop::sample::select(DEPLOYMENT_ENVS),
        prop::bool::weighted(0.85),
        // Often one of a few busy hours, so that deployments tie on deployed_at.
        prop_oneof![3 => 0..SLOTS, 1 => prop::sample::select(&[60, 61, 180][..])],
        // Sometimes a millisecond off the grid: just inside or outside a window edge.
        prop::sample::select(&[0i64, 0, 0, 0, 1, -1][..]),
        prop::option::of(prop::sample::select(&["red", "blue"][..])),
        carried,
        arb_rework(),
    )
        .prop_map(
            |(service, environment, ok, at, ms, team, carried, rework)| {
                let deployed_at = Timestamp::from_millis(slot(at).millis() + ms);
                let (changes, lead_time_seconds) = match carried {
                    Carried::Changes(changes) => (
                        changes
                            .into_iter()
                            .map(|(c, back)| Change {
                                id: format!("c{c}"),
                                started_at: plus(deployed_at, -back * 1_800),
                            })
                            .collect(),
                        None,
                    ),
                    Carried::Lead(s) => (Vec::new(), Some(s as f64)),
                };
                Deployment {
                    id: String::new(),
                    service: SERVICES[service].to_string(),
                    environment: environment.to_string(),
                    status: if ok {
                        DeployStatus::Success
                    } else {
                        DeployStatus::Failure
                    },
                    deployed_at,
                    sha: rework.0,
                    repo: None,
                    team: team.map(String::from),
                    changes,
                    lead_time_seconds,
                    hotfix: rework.1,
                    rollback: rework.2,
                    branch: rework.3,
                    labels: rework.4,
                }
            },
        )
}

/// What the rework rate reads: (sha, hotfix, rollback, branch, labels). Shas come from a
/// pool of three (or none), so that rollbacks to a sha last run before a window, retries and
/// redeploys after a deployment without sha are common.
type Rework = (Option<String>, bool, bool, Option<String>, Vec<String>);

fn arb_rework() -> impl Strategy<Value = Rework> {
    (
        prop::option::weighted(0.85, prop::sample::select(&["aaa", "bbb", "ccc"][..])),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        prop::option::weighted(0.3, prop::sample::select(&["main", "hotfix/x"][..])),
        prop::collection::vec(prop::sample::select(&["bug", "Incident"][..]), 0..2),
    )
        .prop_map(|(sha, hotfix, rollback, branch, labels)| {
            (
                sha.map(String::from),
                hotfix,
                rollback,
                branch.map(String::from),
                labels.into_iter().map(String::from).collect(),
            )
        })
}

/// A deployment name: often one that exists (in or out of any window, of any environment
/// or status), sometimes one that does not.
fn arb_deployment_name() -> impl Strategy<Value = String> {
    (0..MAX_DEPLOYMENTS + 2).prop_map(|k| format!("d{k}"))
}

/// Seconds from opening to resolution: usually minutes, sometimes days (an incident
/// opened long before a window and resolved in it).
fn arb_resolution() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => (0i64..60).prop_map(|steps| steps * 600),
        1 => (24i64..240).prop_map(|hours| hours * HOUR),
    ]
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

/// A first delivery that opens the incident, then up to three that resolve, reopen,
/// triage, re-attribute or move it to another service. `opened_at` is sent only once and
/// every resolution is at or after it, so every delivery is valid.
fn arb_incident() -> impl Strategy<Value = PlannedIncident> {
    let followup = (
        prop::option::of(prop::option::of(arb_resolution())),
        prop::option::of(prop::option::of(any::<bool>())),
        prop::option::weighted(0.3, prop::option::of(arb_deployment_name())),
        prop::option::weighted(0.15, prop::option::weighted(0.8, 0..SERVICES.len())),
    );
    (
        prop::option::weighted(0.75, 0..SERVICES.len()),
        // Absent: the default environment (production).
        prop::option::weighted(0.85, prop::sample::select(INCIDENT_ENVS)),
        // Some open before the first deployment.
        -48..SLOTS,
        0..6i64,
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.35, arb_deployment_name()),
        prop::option::weighted(0.65, arb_resolution()),
        prop::collection::vec(followup, 0..3),
        prop::option::weighted(
            0.5,
            (0..MAX_DEPLOYMENTS, -1i64..8, prop::bool::weighted(0.8)),
        ),
    )
        .prop_map(
            |(service, environment, at, step, caused, named, resolved, followups, anchor)| {
                let opened = plus(slot(at), step * 600);
                let mut updates = vec![IncidentUpdate {
                    id: String::new(),
                    service: Some(service.map(|s| SERVICES[s].to_string())),
                    environment: environment.map(String::from),
                    opened_at: Some(opened),
                    resolved_at: resolved.map(|r| Some(plus(opened, r))),
                    severity: Some(Some("SEV2".to_string())),
                    caused_by_deploy: Some(caused),
                    deployment_id: Some(named),
                    ..IncidentUpdate::default()
                }];
                for (resolved, caused, named, service) in followups {
                    updates.push(IncidentUpdate {
                        resolved_at: resolved.map(|r| r.map(|r| plus(opened, r))),
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

#[derive(Debug, Clone)]
struct Case {
    deliveries: Vec<Delivery>,
    production: ProductionEnvironments,
    windows: Vec<Window>,
}

/// Gives ids (`d0..`, `i0..`) to deployments and incidents; a re-delivery takes the id of
/// the deployment it repeats (with other content: the first recording must win).
fn assemble(
    mut deployments: Vec<Deployment>,
    redeliveries: Vec<(usize, Deployment)>,
    incidents: Vec<PlannedIncident>,
) -> Vec<Delivery> {
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
    for (k, mut again) in redeliveries {
        if let Some(first) = deployments.get(k % deployments.len().max(1)) {
            again.id = first.id.clone();
            deliveries.push(Delivery::Deploy(again));
        }
    }
    deliveries.extend(deployments.into_iter().map(Delivery::Deploy));
    deliveries
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

fn arb_days() -> impl Strategy<Value = u32> {
    prop::sample::select(&[1u32, 2, 3, 7][..])
}

/// Every instant the deliveries name (deployed, opened, resolved), sorted.
fn event_times(deliveries: &[Delivery]) -> Vec<Timestamp> {
    let mut times = BTreeSet::new();
    for d in deliveries {
        match d {
            Delivery::Deploy(d) => {
                times.insert(d.deployed_at);
            }
            Delivery::Incident(u) => {
                times.extend(u.opened_at);
                times.extend(u.resolved_at.flatten());
            }
        }
    }
    times.into_iter().collect()
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(arb_deployment(), 0..=MAX_DEPLOYMENTS),
        prop::collection::vec((0..MAX_DEPLOYMENTS, arb_deployment()), 0..3),
        prop::collection::vec(arb_incident(), 0..=MAX_INCIDENTS),
        // A random window: ending before, inside or after the history.
        (-24..SLOTS + 72, arb_days()),
        // Windows that end, or start, exactly at the time of an event.
        (any::<prop::sample::Index>(), arb_days()),
        (any::<prop::sample::Index>(), arb_days()),
        any::<u64>(),
        // The default production names, or configured ones (in any case) that make
        // staging production and production not.
        prop_oneof![
            Just(ProductionEnvironments::default()),
            Just(ProductionEnvironments::new(["Prod", "STAGING", "live"])),
        ],
    )
        .prop_map(
            |(
                deployments,
                redeliveries,
                incidents,
                (end, days),
                ends_at,
                starts_at,
                seed,
                production,
            )| {
                let deliveries = assemble(deployments, redeliveries, incidents);
                let times = event_times(&deliveries);
                let mut windows = vec![Window::new(slot(end), days)];
                if !times.is_empty() {
                    let (k, days) = ends_at;
                    windows.push(Window::new(times[k.index(times.len())], days));
                    let (k, days) = starts_at;
                    let start = times[k.index(times.len())];
                    windows.push(Window::new(plus(start, i64::from(days) * DAY), days));
                }
                windows.extend([
                    // Ends mid-history: events after its end.
                    Window::new(slot(SLOTS / 2), 3),
                    // Long before anything: no event in it.
                    Window::new(ts(T0 - 40 * DAY), 7),
                    // Everything.
                    Window::new(slot(SLOTS + 24), 30),
                ]);
                Case {
                    deliveries: shuffled(&deliveries, seed),
                    production,
                    windows,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// The figures from a window load equal the figures from the whole history, for every
    /// window, scope and attribution policy.
    #[test]
    fn window_load_is_exact(case in arb_case()) {
        runtime().block_on(async {
            check_history(&case.deliveries, &case.production, &case.windows).await;
        });
    }
}
