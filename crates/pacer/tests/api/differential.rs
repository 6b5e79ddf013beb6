//! End-to-end differential test of the whole pipeline, the way an outside checker tests
//! Pacer: random histories of deployments and incidents go through the real HTTP API
//! (JSON parsing, the group-commit writer, SQLite, the window load) and into an in-memory
//! [`EventSet`] (the reference recording semantics), one by one in the same order, or
//! concurrently in an order whose outcome does not depend on interleaving (so that the
//! writer commits batches). Every answer to a delivery is checked (status, merged
//! incident), every deployment reads back as recorded, and then, for several windows,
//! every scope and the case's attribution policy, `GET /api/v1/metrics` must answer
//! exactly `metrics_json(compute(..))` over the reference history, and
//! `GET /api/v1/report` must answer exactly the per-scope figures (each also equal to its
//! own `GET /api/v1/metrics`).
//!
//! Histories mix several services, two teams (named on some deployments, and sometimes
//! configured), every spelling of production (and staging), failed deployments, changes
//! whose ids are shared across deployments and services (some starting after their
//! deployment), precomputed lead times, re-delivered deployment ids, server-made ids, and
//! incidents with or without a service, environment and triage, naming real or unknown
//! deployments, opened and resolved in separate POSTs, reopened, and triaged later with
//! `PATCH /api/v1/incidents/{id}`. Every timestamp is sent in one of several forms:
//! integer Unix seconds, or RFC 3339 with `Z` or an offset, with or without a fraction.
//! Times are whole milliseconds, so every figure compares exactly.

use crate::helpers::{Answer, TestApp, spawn_app_with};
use pacer::app::Report;
use pacer::present::{deployment_json, incident_json, metrics_json, report_json};
use pacer::settings::{DEFAULT_WINDOW_DAYS, Settings};
use pacer_core::engine::compute;
use pacer_core::{
    AttributionPolicy, Change, DeployStatus, Deployment, EventSet, IncidentUpdate, MetricsConfig,
    Scope, TeamMap, Timestamp, Window,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// `2026-03-01T00:00:00Z`, Unix seconds.
const T0: i64 = 1_772_323_200;
const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Events fall on a 10-minute grid (plus a few milliseconds now and then) so that ties,
/// the attribution policy's hour and window edges are common.
const STEP: i64 = 10 * MINUTE;
/// Twelve days of steps.
const STEPS: i64 = 12 * 144;
const MAX_DEPLOYMENTS: usize = 18;
const MAX_INCIDENTS: usize = 10;
/// Each case starts a server on a fresh database: keep the count modest.
const CASES: u32 = 24;

/// `ops` is in no configured team: its team comes only from its deployments.
const SERVICES: [&str; 4] = ["api", "web", "search", "ops"];
/// Names are trimmed by the API.
const TEAMS: &[&str] = &["red", "blue", "red", "blue", " blue", "red "];
const DEPLOYMENT_ENVS: &[&str] = &[
    "production",
    "production",
    "prod",
    "Production",
    "staging",
    " PROD ",
    "prd",
];
const INCIDENT_ENVS: &[&str] = &["production", "Production", "prod", "staging"];
/// `None`: no `status` field (success).
const STATUSES: &[Option<&str>] = &[
    None,
    Some("success"),
    Some("success"),
    Some("Success"),
    Some("failure"),
    Some("FAILURE"),
];
const SEVERITIES: &[&str] = &["SEV1", "SEV2", "degraded"];
/// Forms a timestamp is sent in (see [`render`]).
const FORMS: u8 = 9;

// ---------------------------------------------------------------------------------------
// Timestamps on the wire.

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's
/// `civil_from_days`): written out here so that the test does not format times with the
/// library the server parses them with.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 at a fixed offset (`None`: `Z`), with exactly three fraction digits when
/// `millis_always`, else the shortest fraction (none for whole seconds); `lower`: with
/// the lower-case `t` (and `z`) RFC 3339 allows.
fn rfc3339(ms: i64, offset_minutes: Option<i64>, millis_always: bool, lower: bool) -> String {
    let local = ms + offset_minutes.unwrap_or(0) * MINUTE;
    let (secs, frac) = (local.div_euclid(SECOND), local.rem_euclid(SECOND));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sod / 3_600, sod / 60 % 60, sod % 60);
    let fraction = if millis_always {
        format!(".{frac:03}")
    } else if frac == 0 {
        String::new()
    } else {
        format!(".{frac:03}").trim_end_matches('0').to_string()
    };
    let offset = match offset_minutes {
        None => "Z".to_string(),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60)
        }
    };
    let (t, offset) = if lower {
        ('t', offset.to_lowercase())
    } else {
        ('T', offset)
    };
    format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{offset}")
}

/// A timestamp (Unix milliseconds) as sent in `form`: integer Unix seconds when it is a
/// whole second and the form says so, else an RFC 3339 string in one of several styles.
fn render(ms: i64, form: u8) -> Value {
    match form % FORMS {
        0..=2 if ms % SECOND == 0 => json!(ms / SECOND),
        0..=3 => json!(rfc3339(ms, None, false, false)),
        4 => json!(rfc3339(ms, Some(120), false, false)),
        5 => json!(rfc3339(ms, Some(-330), false, false)),
        6 => json!(rfc3339(ms, Some(0), true, false)),
        7 => json!(rfc3339(ms, Some(345), true, false)),
        _ => json!(rfc3339(ms, Some(-480), false, true)),
    }
}

/// A query-string value for `end`: Unix seconds or RFC 3339.
fn render_query(ms: i64, form: u8) -> String {
    match render(ms, form) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn arb_form() -> impl Strategy<Value = u8> {
    0..FORMS
}

/// An instant (Unix ms): mostly on the grid within the history, sometimes at one of a few
/// busy steps (ties), sometimes weeks before it (for the 30- and 90-day windows); now and
/// then a millisecond or a second off the grid.
fn arb_instant() -> impl Strategy<Value = i64> {
    (
        prop_oneof![
            6 => 0..STEPS,
            2 => prop::sample::select(&[100i64, 101, 700][..]),
            1 => -8_000i64..-2_000,
        ],
        prop::sample::select(&[0i64, 0, 0, 0, 0, 0, 1, -1, 250, SECOND][..]),
    )
        .prop_map(|(step, jitter)| T0 * SECOND + step * STEP + jitter)
}

// ---------------------------------------------------------------------------------------
// Deployments.

#[derive(Debug, Clone)]
enum Carried {
    Nothing,
    /// (change id, started this many steps before the deployment (< 0: after), form).
    Changes(Vec<(usize, i64, u8)>),
    /// A precomputed lead time; `true`: sent beside an empty `changes` list.
    Lead(f64, bool),
}

#[derive(Debug, Clone)]
struct DeploySpec {
    /// `None`: sent without an id (the server makes one).
    id: Option<String>,
    /// As sent (maybe padded).
    service: String,
    environment: &'static str,
    status: Option<&'static str>,
    /// Unix ms and form.
    at: (i64, u8),
    team: Option<&'static str>,
    sha: Option<String>,
    carried: Carried,
}

impl DeploySpec {
    fn body(&self) -> Value {
        let mut m = Map::new();
        if let Some(id) = &self.id {
            m.insert("id".into(), json!(id));
        }
        m.insert("service".into(), json!(self.service));
        m.insert("environment".into(), json!(self.environment));
        if let Some(s) = self.status {
            m.insert("status".into(), json!(s));
        }
        m.insert("deployed_at".into(), render(self.at.0, self.at.1));
        if let Some(t) = self.team {
            m.insert("team".into(), json!(t));
        }
        if let Some(sha) = &self.sha {
            m.insert("sha".into(), json!(sha));
        }
        match &self.carried {
            Carried::Nothing => {}
            Carried::Changes(list) => {
                let changes: Vec<Value> = list
                    .iter()
                    .map(|&(c, back, form)| {
                        json!({"id": format!("c{c}"), "started_at": render(self.at.0 - back * STEP, form)})
                    })
                    .collect();
                m.insert("changes".into(), Value::Array(changes));
            }
            Carried::Lead(s, with_empty_changes) => {
                m.insert("lead_time_seconds".into(), json!(s));
                if *with_empty_changes {
                    m.insert("changes".into(), json!([]));
                }
            }
        }
        Value::Object(m)
    }

    /// What the API makes of [`DeploySpec::body`] (`id`: the one it answered with).
    fn domain(&self, id: String) -> Deployment {
        let at = self.at.0;
        let (changes, lead_time_seconds) = match &self.carried {
            Carried::Nothing => (Vec::new(), None),
            Carried::Changes(list) => (
                list.iter()
                    .map(|&(c, back, _)| Change {
                        id: format!("c{c}"),
                        started_at: Timestamp::from_millis(at - back * STEP),
                    })
                    .collect(),
                None,
            ),
            Carried::Lead(s, _) => (Vec::new(), Some(*s)),
        };
        Deployment {
            id,
            service: self.service.trim().to_string(),
            environment: self.environment.trim().to_string(),
            status: match self.status.map(str::to_lowercase).as_deref() {
                None | Some("success") => DeployStatus::Success,
                _ => DeployStatus::Failure,
            },
            deployed_at: Timestamp::from_millis(at),
            sha: self.sha.clone(),
            repo: None,
            team: self.team.map(|t| t.trim().to_string()),
            changes,
            lead_time_seconds,
            ..Deployment::default()
        }
    }
}

fn arb_service() -> impl Strategy<Value = String> {
    (0..SERVICES.len(), prop::bool::weighted(0.1)).prop_map(|(k, padded)| {
        if padded {
            format!(" {} ", SERVICES[k])
        } else {
            SERVICES[k].to_string()
        }
    })
}

/// A deployment with an empty id (ids are given when the history is assembled).
fn arb_deployment() -> impl Strategy<Value = (DeploySpec, bool)> {
    let carried = prop_oneof![
        1 => Just(Carried::Nothing),
        5 => prop::collection::vec((0..6usize, -3i64..200, arb_form()), 1..4)
            .prop_map(Carried::Changes),
        2 => (0u32..400_000, any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(s, half, empty)| Carried::Lead(f64::from(s) + if half { 0.5 } else { 0.0 }, empty)),
    ];
    (
        arb_service(),
        prop::sample::select(DEPLOYMENT_ENVS),
        prop::sample::select(STATUSES),
        (arb_instant(), arb_form()),
        prop::option::weighted(0.6, prop::sample::select(TEAMS)),
        prop::option::weighted(0.5, 0u32..0xff_ffff),
        carried,
        // Sent without an id.
        prop::bool::weighted(0.08),
    )
        .prop_map(
            |(service, environment, status, at, team, sha, carried, anonymous)| {
                (
                    DeploySpec {
                        id: None,
                        service,
                        environment,
                        status,
                        at,
                        team,
                        sha: sha.map(|s| format!("{s:06x}")),
                        carried,
                    },
                    anonymous,
                )
            },
        )
}

// ---------------------------------------------------------------------------------------
// Incidents.

/// One delivery of an incident, with times relative to its opening.
#[derive(Debug, Clone, Default)]
struct IncidentDelivery {
    /// `PATCH /api/v1/incidents/{id}` (triage only) instead of a POST.
    patch: bool,
    /// Absent / `null` / a name as sent.
    service: Option<Option<String>>,
    environment: Option<&'static str>,
    /// Sends `opened_at` in this form: the incident's first opening moved this many
    /// milliseconds earlier (0 in the first delivery), so that every resolution (at or
    /// after the first opening) stays valid.
    opened_at: Option<(i64, u8)>,
    /// Absent / `null` (reopened) / milliseconds after the opening, form.
    resolved: Option<Option<(i64, u8)>>,
    severity: Option<Option<&'static str>>,
    caused: Option<Option<bool>>,
    deployment_id: Option<Option<String>>,
}

fn nullable<T>(
    m: &mut Map<String, Value>,
    key: &str,
    v: &Option<Option<T>>,
    f: impl Fn(&T) -> Value,
) {
    if let Some(v) = v {
        m.insert(key.into(), v.as_ref().map_or(Value::Null, f));
    }
}

impl IncidentDelivery {
    fn body(&self, id: &str, opened: i64) -> Value {
        let mut m = Map::new();
        if !self.patch {
            m.insert("id".into(), json!(id));
        }
        nullable(&mut m, "service", &self.service, |s| json!(s));
        if let Some(e) = self.environment {
            m.insert("environment".into(), json!(e));
        }
        if let Some((earlier, form)) = self.opened_at {
            m.insert("opened_at".into(), render(opened - earlier, form));
        }
        nullable(&mut m, "resolved_at", &self.resolved, |&(after, form)| {
            render(opened + after, form)
        });
        nullable(&mut m, "severity", &self.severity, |s| json!(s));
        nullable(&mut m, "caused_by_deploy", &self.caused, |c| json!(c));
        nullable(&mut m, "deployment_id", &self.deployment_id, |d| json!(d));
        Value::Object(m)
    }

    /// What the API makes of [`IncidentDelivery::body`].
    fn update(&self, id: &str, opened: i64) -> IncidentUpdate {
        let trim = |s: &String| s.trim().to_string();
        IncidentUpdate {
            id: id.to_string(),
            service: self.service.as_ref().map(|s| s.as_ref().map(trim)),
            environment: self.environment.map(|e| e.trim().to_string()),
            opened_at: self
                .opened_at
                .map(|(earlier, _)| Timestamp::from_millis(opened - earlier)),
            resolved_at: self
                .resolved
                .map(|r| r.map(|(after, _)| Timestamp::from_millis(opened + after))),
            severity: self.severity.map(|s| s.map(String::from)),
            caused_by_deploy: self.caused,
            deployment_id: self.deployment_id.as_ref().map(|d| d.as_ref().map(trim)),
            // A PATCH is a person's triage (anonymous: no tokens configured); its time is
            // the server's clock, which the comparison leaves out.
            triage_by: self.patch.then(|| pacer_core::TriageBy {
                actor: "anonymous".into(),
                at: Timestamp::default(),
            }),
            ..IncidentUpdate::default()
        }
    }
}

#[derive(Debug, Clone)]
struct IncidentPlan {
    /// Unix ms.
    opened: i64,
    /// Move it to open this many steps after the deployment with this index (modulo the
    /// number of deployments), optionally taking that deployment's service: so that
    /// incidents often fall near deployments (the attribution policy's hour).
    anchor: Option<(usize, i64, bool)>,
    deliveries: Vec<IncidentDelivery>,
}

/// A deployment name: mostly `d<k>` (which may or may not exist), sometimes junk.
fn arb_deployment_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0..MAX_DEPLOYMENTS + 2).prop_map(|k| format!("d{k}")),
        1 => Just("no-such-deployment".to_string()),
    ]
}

/// Milliseconds from opening to resolution: usually minutes, sometimes days, sometimes
/// (almost) none.
fn arb_resolution() -> impl Strategy<Value = (i64, u8)> {
    (
        prop_oneof![
            4 => (0i64..40).prop_map(|steps| steps * STEP),
            2 => (24i64..240).prop_map(|hours| hours * HOUR),
            1 => prop::sample::select(&[0i64, 1, 999, SECOND, 90 * SECOND + 1][..]),
        ],
        arb_form(),
    )
}

fn arb_caused() -> impl Strategy<Value = Option<Option<bool>>> {
    prop::sample::select(&[None, Some(None), Some(Some(true)), Some(Some(false))][..])
}

fn arb_followup() -> impl Strategy<Value = IncidentDelivery> {
    prop_oneof![
        // Triage through PATCH.
        2 => (
            any::<Option<bool>>(),
            prop::option::weighted(0.3, prop::option::weighted(0.8, arb_deployment_name())),
        )
            .prop_map(|(caused, deployment_id)| IncidentDelivery {
                patch: true,
                caused: Some(caused),
                deployment_id,
                ..IncidentDelivery::default()
            }),
        // Another POST: resolves, reopens, triages, re-attributes, moves it.
        3 => (
            prop::option::weighted(0.7, prop::option::weighted(0.85, arb_resolution())),
            arb_caused(),
            prop::option::weighted(0.2, prop::option::weighted(0.8, arb_deployment_name())),
            prop::option::weighted(0.1, prop::option::weighted(0.8, arb_service())),
            // The same opening again in another form, or an earlier one.
            prop::option::weighted(
                0.35,
                (
                    prop_oneof![
                        3 => Just(0i64),
                        1 => prop::sample::select(&[1i64, SECOND, STEP, 4 * STEP, 3 * DAY][..]),
                    ],
                    arb_form(),
                ),
            ),
            prop::option::weighted(0.08, prop::sample::select(INCIDENT_ENVS)),
        )
            .prop_map(
                |(resolved, caused, deployment_id, service, opened_at, environment)| {
                    IncidentDelivery {
                        service,
                        environment,
                        opened_at,
                        resolved,
                        caused,
                        deployment_id,
                        ..IncidentDelivery::default()
                    }
                },
            ),
    ]
}

fn arb_incident() -> impl Strategy<Value = IncidentPlan> {
    (
        // Absent, null or named.
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(None)),
            6 => arb_service().prop_map(|s| Some(Some(s))),
        ],
        prop::option::weighted(0.7, prop::sample::select(INCIDENT_ENVS)),
        (arb_instant(), arb_form()),
        prop::option::weighted(0.5, arb_resolution()),
        arb_caused(),
        prop::option::weighted(0.3, arb_deployment_name()),
        prop::option::weighted(0.5, prop::sample::select(SEVERITIES)),
        prop::collection::vec(arb_followup(), 0..3),
        prop::option::weighted(
            0.5,
            (0..MAX_DEPLOYMENTS, -1i64..8, prop::bool::weighted(0.8)),
        ),
    )
        .prop_map(
            |(
                service,
                environment,
                (opened, opened_form),
                resolved,
                caused,
                named,
                severity,
                followups,
                anchor,
            )| {
                let first = IncidentDelivery {
                    patch: false,
                    service,
                    environment,
                    opened_at: Some((0, opened_form)),
                    resolved: resolved.map(Some),
                    severity: severity.map(Some),
                    caused,
                    deployment_id: named.map(Some),
                };
                let mut deliveries = vec![first];
                deliveries.extend(followups);
                IncidentPlan {
                    opened,
                    anchor,
                    deliveries,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------
// Cases.

#[derive(Debug, Clone)]
enum Delivery {
    Deploy(DeploySpec),
    Incident {
        id: String,
        opened: i64,
        delivery: IncidentDelivery,
    },
}

#[derive(Debug, Clone)]
struct WindowSpec {
    /// `None`: no `days` parameter (the default).
    days: Option<u32>,
    /// Unix ms and the form it is sent in.
    end: (i64, u8),
}

impl WindowSpec {
    fn window(&self) -> Window {
        Window::new(
            Timestamp::from_millis(self.end.0),
            self.days.unwrap_or(DEFAULT_WINDOW_DAYS),
        )
    }
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("end", render_query(self.end.0, self.end.1))];
        if let Some(d) = self.days {
            out.push(("days", d.to_string()));
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Case {
    attribution: AttributionPolicy,
    configured_teams: bool,
    /// Production names other than the default ones (staging counts, production not).
    other_production: bool,
    /// Deliveries sent concurrently (see [`plan_rounds`]) rather than one by one.
    concurrent: bool,
    deliveries: Vec<Delivery>,
    windows: Vec<WindowSpec>,
}

impl Case {
    fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        settings.metrics.attribution = self.attribution;
        if self.configured_teams {
            settings.teams = [("api", "red"), ("search", "blue"), ("ghost", "red")]
                .into_iter()
                .map(|(s, t)| (s.to_string(), t.to_string()))
                .collect();
        }
        if self.other_production {
            settings.metrics.production_environments =
                vec!["Prod".into(), "STAGING".into(), "live".into()];
        }
        settings
    }
}

fn next(rng: &mut u64) -> u64 {
    // xorshift64
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

/// A random permutation of `deliveries` that keeps each incident's own deliveries in
/// their order (the first one opens it; the newest state is the last one sent).
fn shuffled(deliveries: Vec<Delivery>, seed: u64) -> Vec<Delivery> {
    let mut rng = seed | 1;
    let mut in_order: HashMap<String, VecDeque<Delivery>> = HashMap::new();
    for d in &deliveries {
        if let Delivery::Incident { id, .. } = d {
            in_order.entry(id.clone()).or_default().push_back(d.clone());
        }
    }
    let mut out = deliveries;
    for i in (1..out.len()).rev() {
        let j = (next(&mut rng) % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    for d in &mut out {
        if let Delivery::Incident { id, .. } = d {
            let id = id.clone();
            *d = in_order
                .get_mut(&id)
                .and_then(VecDeque::pop_front)
                .expect("one per delivery");
        }
    }
    out
}

/// Gives ids (`d0..`, `i0..`), places incidents near their anchor deployment, adds
/// re-deliveries of deployment ids (with other content: the first recording wins).
fn assemble(
    deployments: Vec<(DeploySpec, bool)>,
    redeliveries: Vec<(usize, (DeploySpec, bool))>,
    incidents: Vec<IncidentPlan>,
) -> Vec<Delivery> {
    let deployments: Vec<DeploySpec> = deployments
        .into_iter()
        .enumerate()
        .map(|(k, (mut d, anonymous))| {
            d.id = (!anonymous).then(|| format!("d{k}"));
            d
        })
        .collect();
    let mut out = Vec::new();
    for (k, plan) in incidents.into_iter().enumerate() {
        let mut opened = plan.opened;
        let mut deliveries = plan.deliveries;
        if let Some((a, steps, same_service)) = plan.anchor
            && !deployments.is_empty()
        {
            let d = &deployments[a % deployments.len()];
            opened = d.at.0 + steps * STEP;
            if same_service {
                deliveries[0].service = Some(Some(d.service.clone()));
            }
        }
        for delivery in deliveries {
            out.push(Delivery::Incident {
                id: format!("i{k}"),
                opened,
                delivery,
            });
        }
    }
    for (k, (mut again, _)) in redeliveries {
        if let Some(first) = deployments.get(k % deployments.len().max(1))
            && first.id.is_some()
        {
            again.id = first.id.clone();
            out.push(Delivery::Deploy(again));
        }
    }
    out.extend(deployments.into_iter().map(Delivery::Deploy));
    out
}

/// The instants the deliveries name, sorted.
#[derive(Default)]
struct Times {
    /// Deployed, opened and resolved.
    all: Vec<i64>,
    deployed: Vec<i64>,
    /// (opened, resolved) of every resolution sent.
    resolved: Vec<(i64, i64)>,
}

fn event_times(deliveries: &[Delivery]) -> Times {
    let (mut deployed, mut opened_at, mut resolved) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for d in deliveries {
        match d {
            Delivery::Deploy(d) => {
                deployed.insert(d.at.0);
            }
            Delivery::Incident {
                opened, delivery, ..
            } => {
                opened_at.insert(*opened);
                if let Some((earlier, _)) = delivery.opened_at {
                    opened_at.insert(opened - earlier);
                }
                if let Some(Some((after, _))) = delivery.resolved {
                    resolved.insert((*opened, opened + after));
                }
            }
        }
    }
    let all: BTreeSet<i64> = deployed
        .iter()
        .chain(&opened_at)
        .copied()
        .chain(resolved.iter().map(|&(_, r)| r))
        .collect();
    Times {
        all: all.into_iter().collect(),
        deployed: deployed.into_iter().collect(),
        resolved: resolved.into_iter().collect(),
    }
}

/// (days or the default, form, where in the history, a step count).
type WindowSeed = (Option<u32>, u8, prop::sample::Index, i64);

fn arb_window_seed() -> impl Strategy<Value = WindowSeed> {
    (
        prop::option::weighted(0.9, prop::sample::select(&[1u32, 1, 7, 7, 30, 90][..])),
        arb_form(),
        any::<prop::sample::Index>(),
        0i64..400,
    )
}

/// Windows ending at a resolution, starting at a deployment (so that it is just
/// outside), a millisecond either side of an event, before the history, after it, in its
/// middle, and ending at an event.
fn windows(times: &Times, seeds: Vec<WindowSeed>) -> Vec<WindowSpec> {
    let (first, last) = match (times.all.first(), times.all.last()) {
        (Some(&f), Some(&l)) => (f, l),
        _ => (T0 * SECOND, T0 * SECOND),
    };
    seeds
        .into_iter()
        .enumerate()
        .map(|(kind, (days, form, index, steps))| {
            let pick = |list: &[i64]| {
                if list.is_empty() {
                    first
                } else {
                    list[index.index(list.len())]
                }
            };
            let resolution = times
                .resolved
                .get(index.index(times.resolved.len().max(1)))
                .copied();
            // Ending at a resolution: as long as the incident (when it lasted a day or
            // more), so that it opened outside the window.
            let days = match resolution {
                Some((opened, resolved)) if kind == 0 => [90u32, 30, 7, 1]
                    .into_iter()
                    .find(|&d| i64::from(d) * DAY <= resolved - opened)
                    .or(days),
                _ => days,
            };
            let span = i64::from(days.unwrap_or(DEFAULT_WINDOW_DAYS)) * DAY;
            let end = match kind {
                0 => resolution.map_or(first, |(_, resolved)| resolved),
                1 => pick(&times.deployed) + span,
                2 => pick(&times.all) + if steps % 2 == 0 { 1 } else { -1 },
                3 => first - (1 + steps) * STEP,
                4 => last + steps * STEP,
                5 => T0 * SECOND + steps * STEPS / 400 * STEP,
                _ => pick(&times.all),
            };
            WindowSpec {
                days,
                end: (end, form),
            }
        })
        .collect()
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(&[AttributionPolicy::Explicit, AttributionPolicy::Window][..]),
        any::<bool>(),
        prop::bool::weighted(0.2),
        any::<bool>(),
        prop::collection::vec(arb_deployment(), 0..=MAX_DEPLOYMENTS),
        prop::collection::vec((0..MAX_DEPLOYMENTS, arb_deployment()), 0..3),
        prop::collection::vec(arb_incident(), 0..=MAX_INCIDENTS),
        prop::collection::vec(arb_window_seed(), 7),
        any::<u64>(),
    )
        .prop_map(
            |(
                attribution,
                configured_teams,
                other_production,
                concurrent,
                deployments,
                redeliveries,
                incidents,
                window_seeds,
                seed,
            )| {
                let deliveries = assemble(deployments, redeliveries, incidents);
                let windows = windows(&event_times(&deliveries), window_seeds);
                Case {
                    attribution,
                    configured_teams,
                    other_production,
                    concurrent,
                    deliveries: shuffled(deliveries, seed),
                    windows,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------
// Running a case.

/// The reference: every delivery recorded with [`EventSet`]'s semantics, and the services
/// the store has heard of, as `GET /api/v1/report` lists them: every service a recorded
/// deployment or any stored incident state named (an incident moved to another service
/// leaves its former service listed, with figures of its own events only).
#[derive(Default)]
struct Reference {
    events: EventSet,
    named_services: BTreeSet<String>,
}

impl Reference {
    fn record_deployment(&mut self, d: Deployment) -> bool {
        let service = d.service.clone();
        let created = self.events.record_deployment(d);
        if created {
            self.named_services.insert(service);
        }
        created
    }
}

/// One request and what it must answer.
#[derive(Debug, Clone)]
struct Planned {
    patch: bool,
    path: String,
    body: Value,
    status: u16,
    /// For incidents: the merged state, as a client reads it.
    incident: Option<Value>,
    /// A deployment sent without an id: recorded in the reference once the server has
    /// named it.
    anonymous: Option<DeploySpec>,
}

/// Records one delivery in the reference and plans its request.
fn plan(config: &MetricsConfig, r: &mut Reference, delivery: &Delivery) -> Planned {
    match delivery {
        Delivery::Deploy(spec) => {
            let status = match &spec.id {
                Some(id) if !r.record_deployment(spec.domain(id.clone())) => 200,
                _ => 201,
            };
            Planned {
                patch: false,
                path: "/api/v1/deployments".into(),
                body: spec.body(),
                status,
                incident: None,
                anonymous: spec.id.is_none().then(|| spec.clone()),
            }
        }
        Delivery::Incident {
            id,
            opened,
            delivery,
        } => {
            let mut delivery = delivery.clone();
            if delivery.patch
                && let Some(Some(name)) = &delivery.deployment_id
                && !r.events.deployments.iter().any(|d| &d.id == name)
            {
                // Triage may only name a recorded deployment.
                delivery.deployment_id = None;
            }
            let existed = r.events.incidents.iter().any(|i| &i.id == id);
            let merged = r
                .events
                .record_incident(delivery.update(id, *opened))
                .expect("generated deliveries are valid")
                .clone();
            r.named_services.extend(merged.service.clone());
            Planned {
                patch: delivery.patch,
                path: if delivery.patch {
                    format!("/api/v1/incidents/{id}")
                } else {
                    "/api/v1/incidents".into()
                },
                body: delivery.body(id, *opened),
                // A PATCH answers 200; a POST 201 when it creates the incident.
                status: if existed || delivery.patch { 200 } else { 201 },
                incident: Some(as_read(&incident_json(&merged, config))),
                anonymous: None,
            }
        }
    }
}

/// Rounds of requests: the groups of a round are sent concurrently, each group's
/// requests one after the other, and a round starts when the previous one is answered.
type Rounds = Vec<Vec<Vec<Planned>>>;

/// Plans the case's deliveries. In order, one by one; or, concurrently, in three rounds
/// whose outcome does not depend on how requests interleave: every deployment whose id is
/// sent once (each alone), then the deployments whose id is sent again (in order), then
/// the incidents (each incident's deliveries in order, incidents side by side).
fn plan_rounds(case: &Case, config: &MetricsConfig, r: &mut Reference) -> Rounds {
    if !case.concurrent {
        let all = case.deliveries.iter().map(|d| plan(config, r, d)).collect();
        return vec![vec![all]];
    }
    let mut times_sent: HashMap<&str, usize> = HashMap::new();
    for d in &case.deliveries {
        if let Delivery::Deploy(DeploySpec { id: Some(id), .. }) = d {
            *times_sent.entry(id.as_str()).or_default() += 1;
        }
    }
    let repeated = |d: &DeploySpec| d.id.as_deref().is_some_and(|id| times_sent[id] > 1);
    let mut once = Vec::new();
    let mut again = Vec::new();
    let mut incidents: Vec<(String, Vec<&Delivery>)> = Vec::new();
    for d in &case.deliveries {
        match d {
            Delivery::Deploy(spec) if repeated(spec) => again.push(d),
            Delivery::Deploy(_) => once.push(d),
            Delivery::Incident { id, .. } => match incidents.iter_mut().find(|(i, _)| i == id) {
                Some((_, list)) => list.push(d),
                None => incidents.push((id.clone(), vec![d])),
            },
        }
    }
    let first = once.into_iter().map(|d| vec![plan(config, r, d)]).collect();
    let second = vec![again.into_iter().map(|d| plan(config, r, d)).collect()];
    let third = incidents
        .into_iter()
        .map(|(_, list)| list.into_iter().map(|d| plan(config, r, d)).collect())
        .collect();
    vec![first, second, third]
}

/// Sends a group of requests in order, checking each answer; returns the deployments the
/// server named.
async fn send(client: reqwest::Client, address: String, group: Vec<Planned>) -> Vec<Deployment> {
    let mut named = Vec::new();
    for p in group {
        let url = format!("{address}{}", p.path);
        let request = if p.patch {
            client.patch(url)
        } else {
            client.post(url)
        };
        let response = request
            .body(p.body.to_string())
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let what = format!(
            "{} {} {}",
            if p.patch { "PATCH" } else { "POST" },
            p.path,
            p.body
        );
        assert_eq!(status, p.status, "{what}: {text}");
        let answer: Value = serde_json::from_str(&text).expect("a JSON answer");
        if let Some(incident) = &p.incident {
            // `triaged_at` is the server's clock at the triage: not part of the model.
            let without_time = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().map(|o| o.remove("triaged_at"));
                v
            };
            assert_eq!(
                without_time(&answer["incident"]),
                without_time(incident),
                "{what}: the merged incident"
            );
        }
        if let Some(spec) = &p.anonymous {
            let id = answer["id"].as_str().expect("the id the server made");
            named.push(spec.domain(id.to_string()));
        }
    }
    named
}

/// Sends every round; records the deployments the server named in the reference.
async fn deliver(app: &TestApp, rounds: Rounds, r: &mut Reference) {
    for round in rounds {
        let mut tasks = tokio::task::JoinSet::new();
        for group in round {
            tasks.spawn(send(app.client.clone(), app.address.clone(), group));
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(named) => {
                    for d in named {
                        assert!(r.record_deployment(d), "a server-made id is new");
                    }
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
}

/// The organisation, every service (and one nobody named), every team (and one with no
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

fn query(path: &str, scope: &Scope, pairs: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = &scope.service {
        q.append_pair("service", s);
    }
    if let Some(t) = &scope.team {
        q.append_pair("team", t);
    }
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// JSON pointers where two values differ (for readable failures).
fn differences(got: &Value, want: &Value, at: String, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let keys: BTreeSet<&String> = g.keys().chain(w.keys()).collect();
            for k in keys {
                let (g, w) = (
                    g.get(k).unwrap_or(&Value::Null),
                    w.get(k).unwrap_or(&Value::Null),
                );
                differences(g, w, format!("{at}/{k}"), out);
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                differences(g, w, format!("{at}/{i}"), out);
            }
        }
        _ if got != want => out.push(format!("{at}: got {got}, expected {want}")),
        _ => {}
    }
}

/// The answer's text must be exactly what the server makes of `want` (compared as text:
/// `serde_json`'s default float parsing does not always round-trip the last bit).
fn assert_same<T: serde::Serialize>(got: &Answer, want: &T, what: &str) {
    assert_eq!(got.status, 200, "{what}: {}", got.body);
    let want_text = serde_json::to_string(want).unwrap();
    if got.text != want_text {
        let mut diffs = Vec::new();
        let want: Value = serde_json::from_str(&want_text).unwrap();
        differences(&got.body, &want, String::new(), &mut diffs);
        panic!(
            "{what}: the API differs from the reference:\n  {}\n got: {}\nwant: {want_text}",
            diffs.join("\n  "),
            got.text
        );
    }
}

/// `v` as a client reads it back from JSON text.
fn as_read<T: serde::Serialize>(v: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

async fn get_ok(app: &TestApp, path: &str) -> Answer {
    let a = app.get(path).await;
    assert_eq!(a.status, 200, "GET {path}: {}", a.body);
    a
}

async fn check(case: &Case) {
    let settings = case.settings();
    let config = settings.metrics_config();
    let app = spawn_app_with(settings.clone()).await;
    let mut r = Reference::default();
    let rounds = plan_rounds(case, &config, &mut r);
    deliver(&app, rounds, &mut r).await;
    // Every event reads back as recorded.
    for d in &r.events.deployments {
        let a = get_ok(&app, &format!("/api/v1/deployments/{}", d.id)).await;
        assert_same(&a, &deployment_json(d, &config), "a deployment read back");
    }
    let events = &r.events;
    let teams = TeamMap::from_deployments(settings.teams.clone(), &events.deployments);
    let expected = |scope: &Scope, window: Window| {
        metrics_json(&compute(events, &config, &teams, scope, window), &config)
    };

    for spec in &case.windows {
        let window = spec.window();
        for scope in scopes() {
            let path = query("/api/v1/metrics", &scope, &spec.pairs());
            let got = get_ok(&app, &path).await;
            assert_same(&got, &expected(&scope, window), &format!("GET {path}"));
        }
    }

    // The report of one window: every scope, each equal to its own GET /api/v1/metrics.
    let spec = &case.windows[0];
    let window = spec.window();
    let path = query("/api/v1/report", &Scope::organisation(), &spec.pairs());
    let got = get_ok(&app, &path).await;
    let mut services = r.named_services.clone();
    services.extend(settings.teams.keys().cloned());
    let report = Report {
        window,
        organisation: compute(events, &config, &teams, &Scope::organisation(), window),
        teams: teams
            .teams()
            .into_iter()
            .map(|t| compute(events, &config, &teams, &Scope::team(t), window))
            .collect(),
        services: services
            .iter()
            .map(|s| {
                let mut m = compute(events, &config, &teams, &Scope::service(s), window);
                m.scope.team = teams.team_of(s).map(String::from);
                m
            })
            .collect(),
    };
    let want = report_json(&report, &config);
    assert_same(&got, &want, &format!("GET {path}"));
    let entries = std::iter::once(&want.organisation)
        .chain(&want.teams)
        .chain(&want.services);
    for entry in entries {
        let scope = Scope {
            service: entry.scope.service.clone(),
            team: entry.scope.team.clone(),
        };
        let path = query("/api/v1/metrics", &scope, &spec.pairs());
        let alone = get_ok(&app, &path).await;
        assert_same(
            &alone,
            entry,
            &format!("GET {path} (an entry of the report)"),
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// What the API answers for every window and scope equals the engine's figures over
    /// the same deliveries recorded in memory.
    #[test]
    fn api_metrics_equal_the_engine_over_the_same_deliveries(case in arb_case()) {
        runtime().block_on(check(&case));
    }
}

/// The test's own timestamp rendering agrees with the server's formatter, and every form
/// names the same instant.
#[test]
fn rendered_timestamps_name_the_instant() {
    assert_eq!(
        rfc3339(T0 * SECOND, None, false, false),
        "2026-03-01T00:00:00Z"
    );
    for ms in [
        T0 * SECOND,
        T0 * SECOND + 1,
        T0 * SECOND - 1,
        T0 * SECOND + 250,
        (T0 - 70 * 86_400) * SECOND + 37_123,
        951_782_400_000, // 2000-02-29
    ] {
        let t = Timestamp::from_millis(ms);
        assert_eq!(
            rfc3339(ms, None, ms % SECOND != 0, false),
            pacer::timefmt::format(t)
        );
        for form in 0..FORMS {
            let parsed = match render(ms, form) {
                Value::Number(n) => pacer::timefmt::from_unix_seconds(n.as_i64().unwrap()),
                Value::String(s) => pacer::timefmt::parse_rfc3339(&s),
                other => panic!("{other}"),
            };
            assert_eq!(parsed, Ok(t), "form {form}: {}", render(ms, form));
            assert_eq!(
                pacer::timefmt::parse_flexible(&render_query(ms, form)),
                Ok(t)
            );
        }
    }
}
