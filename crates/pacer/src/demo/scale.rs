//! A generated history of any size, for `pacer demo generate` and the import benchmark.
//!
//! [`generate_scaled`] returns an iterator of events in time order (deployments by
//! `deployed_at`, incidents by `opened_at`) that holds one day of events at a time, so ten
//! million events never sit in memory at once. The shape, per service and day:
//!
//! - exactly `deploys_per_day` deployments on average: day `d` gets
//!   `floor((d+1)·x) − floor(d·x)` of them, so a history has `services × floor(days·x)`
//!   deployments, at uniformly random times of the day;
//! - 70 % to production, the rest to staging; 93 % succeed;
//! - 1 to 3 changes each (three in four pull requests `svc-0042#1234` numbered upwards per
//!   service, one in four a commit pushed straight to main), started 5 minutes to 7 days
//!   (log-uniform) before the deployment;
//! - services are in teams of 20 (`svc-0000`..`svc-0019` in `team-000`), each deployment
//!   names its team and its repository `acme/svc-NNNN`, and carries a 40-hex sha;
//! - 8 % of successful production deployments are followed, 2 to 60 minutes later, by an
//!   incident of the same service (SEV1 10 %, SEV2 30 %, SEV3 60 %), resolved 5 minutes to
//!   2 days later (log-uniform; left open when that is after `now`), triaged as linked to
//!   the deployment (30 %), caused by a deployment without naming it (20 %), not caused by
//!   a deployment (25 %) or untriaged (25 %);
//! - about 5 % of incidents name no service (the handbook's organisation-wide incident):
//!   one in 19 service incidents brings one of those, at a random time of the same day.
//!
//! Ids are `g{seed}-dep-000000001`... and `g{seed}-inc-00000001`... in time order. The same
//! options give the same events.

use fastrand::Rng;
use pacer_core::{Change, DeployStatus, Deployment, IncidentUpdate, Timestamp};
use std::collections::VecDeque;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Services per team.
pub const TEAM_SIZE: u32 = 20;

/// The size and seed of a generated history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleOptions {
    pub services: u32,
    pub days: u32,
    /// Deployments per day per service, all environments.
    pub deploys_per_day: f64,
    pub seed: u64,
    /// The end of the history: every event lies in `(now - days, now]`.
    pub now: Timestamp,
}

impl ScaleOptions {
    /// How many deployments the history has (exact).
    pub fn deployments(&self) -> u64 {
        u64::from(self.services) * (f64::from(self.days) * self.deploys_per_day).floor() as u64
    }
}

/// One event of a generated history.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Deployment(Deployment),
    Incident(IncidentUpdate),
}

impl Event {
    /// The time that orders it: `deployed_at` or `opened_at`.
    pub fn at(&self) -> Timestamp {
        match self {
            Event::Deployment(d) => d.deployed_at,
            Event::Incident(i) => i.opened_at.unwrap_or_default(),
        }
    }
}

/// The events of a history with these options, in time order.
pub fn generate_scaled(options: ScaleOptions) -> Scaled {
    let services = options.services as usize;
    let width = options
        .services
        .saturating_sub(1)
        .max(1)
        .to_string()
        .len()
        .max(4);
    let mut rng = Rng::with_seed(options.seed);
    let names = (0..options.services)
        .map(|s| format!("svc-{s:0width$}"))
        .collect();
    let teams = (0..options.services)
        .map(|s| format!("team-{:03}", s / TEAM_SIZE))
        .collect();
    // Pull requests of each service start somewhere in the hundreds.
    let pr_numbers = (0..services).map(|_| 100 + rng.u32(..900)).collect();
    Scaled {
        start: options.now.millis() - i64::from(options.days) * DAY,
        options,
        rng,
        names,
        teams,
        pr_numbers,
        day: 0,
        ready: VecDeque::new(),
        carry: Vec::new(),
        next_deployment: 1,
        next_incident: 1,
    }
}

/// The iterator [`generate_scaled`] returns.
pub struct Scaled {
    options: ScaleOptions,
    /// Exclusive start of the history, Unix ms.
    start: i64,
    rng: Rng,
    names: Vec<String>,
    teams: Vec<String>,
    pr_numbers: Vec<u32>,
    /// The next day to generate.
    day: u32,
    /// Events of the days generated so far, in time order, waiting to be returned.
    ready: VecDeque<Event>,
    /// Incidents that open after the end of the last generated day.
    carry: Vec<Event>,
    next_deployment: u64,
    next_incident: u64,
}

#[derive(Clone, Copy)]
enum Triage {
    Linked,
    ByTime,
    NotCaused,
    Untriaged,
}

impl Scaled {
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { self.rng.i64(lo..=hi) }
    }

    fn log_between(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        ((a + self.rng.f64() * (b - a)).exp().round() as i64).clamp(lo, hi)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.rng.u32(..100) < p
    }

    fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.rng.u64(..),
            self.rng.u64(..),
            self.rng.u32(..)
        )
    }

    fn severity(&mut self) -> &'static str {
        match self.rng.u32(..10) {
            0 => "SEV1",
            1..=3 => "SEV2",
            _ => "SEV3",
        }
    }

    /// Deployments of each service on day `day`.
    fn per_service(&self, day: u32) -> u32 {
        let x = self.options.deploys_per_day;
        ((f64::from(day + 1) * x).floor() - (f64::from(day) * x).floor()) as u32
    }

    fn incident(&mut self, service: Option<&str>, opened: i64, triage: Triage) -> IncidentUpdate {
        let now = self.options.now.millis();
        let resolved = opened + self.log_between(5 * MINUTE, 2 * DAY);
        let severity = self.severity();
        let mut update = IncidentUpdate {
            id: String::new(),
            service: service.map(|s| Some(s.to_string())),
            opened_at: Some(Timestamp::from_millis(opened)),
            resolved_at: (resolved <= now).then(|| Some(Timestamp::from_millis(resolved))),
            severity: Some(Some(severity.to_string())),
            ..IncidentUpdate::default()
        };
        match triage {
            Triage::Linked | Triage::ByTime => update.caused_by_deploy = Some(Some(true)),
            Triage::NotCaused => update.caused_by_deploy = Some(Some(false)),
            Triage::Untriaged => {}
        }
        update
    }

    /// Generates one day into `ready` (and `carry`).
    fn generate_day(&mut self) {
        let day_start = self.start + i64::from(self.day) * DAY;
        let day_end = day_start + DAY;
        let now = self.options.now.millis();
        let per_service = self.per_service(self.day);
        let mut deployments: Vec<Deployment> = Vec::new();
        for s in 0..self.names.len() {
            for _ in 0..per_service {
                // (day_start, day_end]: every time lies in (now - days, now].
                let at = day_start + 1 + self.rng.i64(0..DAY);
                let production = self.percent(70);
                let status = if self.percent(93) {
                    DeployStatus::Success
                } else {
                    DeployStatus::Failure
                };
                let sha = self.sha();
                let n_changes = 1 + self.rng.usize(..3);
                let mut changes = Vec::with_capacity(n_changes);
                for _ in 0..n_changes {
                    let id = if self.rng.u32(..4) < 3 {
                        let n = self.pr_numbers[s];
                        self.pr_numbers[s] += 1;
                        format!("{}#{n}", self.names[s])
                    } else {
                        format!("{:07x}", self.rng.u32(..0x1000_0000))
                    };
                    let lead = self.log_between(5 * MINUTE, 7 * DAY);
                    changes.push(Change {
                        id,
                        started_at: Timestamp::from_millis(at - lead),
                    });
                }
                deployments.push(Deployment {
                    id: String::new(),
                    service: self.names[s].clone(),
                    environment: if production { "production" } else { "staging" }.into(),
                    status,
                    deployed_at: Timestamp::from_millis(at),
                    sha: Some(sha),
                    repo: Some(format!("acme/{}", self.names[s])),
                    team: Some(self.teams[s].clone()),
                    changes,
                    ..Deployment::default()
                });
            }
        }
        // Stable: equal times keep service order, so ids follow time order.
        deployments.sort_by_key(|d| d.deployed_at);
        let mut events: Vec<Event> = std::mem::take(&mut self.carry);
        let mut incidents = Vec::new();
        for mut d in deployments {
            d.id = format!("g{}-dep-{:09}", self.options.seed, self.next_deployment);
            self.next_deployment += 1;
            if d.environment == "production" && d.status == DeployStatus::Success && self.percent(8)
            {
                let opened = d.deployed_at.millis() + self.between(2 * MINUTE, HOUR);
                let triage = match self.rng.u32(..20) {
                    0..=5 => Triage::Linked,
                    6..=9 => Triage::ByTime,
                    10..=14 => Triage::NotCaused,
                    _ => Triage::Untriaged,
                };
                let mut update = self.incident(Some(&d.service), opened, triage);
                if matches!(triage, Triage::Linked) {
                    update.deployment_id = Some(Some(d.id.clone()));
                }
                if opened <= now {
                    incidents.push(update);
                }
                if self.rng.u32(..19) == 0 {
                    let at = day_start + 1 + self.rng.i64(0..DAY);
                    let triage = match self.rng.u32(..3) {
                        0 => Triage::ByTime,
                        1 => Triage::NotCaused,
                        _ => Triage::Untriaged,
                    };
                    incidents.push(self.incident(None, at, triage));
                }
            }
            events.push(Event::Deployment(d));
        }
        events.extend(incidents.into_iter().map(Event::Incident));
        // Deployments before incidents at the same time (a linked incident never precedes
        // its deployment); stable otherwise.
        events.sort_by_key(|e| (e.at(), matches!(e, Event::Incident(_))));
        for e in events {
            if e.at().millis() > day_end && self.day + 1 < self.options.days {
                self.carry.push(e);
                continue;
            }
            let e = match e {
                Event::Incident(mut i) => {
                    i.id = format!("g{}-inc-{:08}", self.options.seed, self.next_incident);
                    self.next_incident += 1;
                    Event::Incident(i)
                }
                d => d,
            };
            self.ready.push_back(e);
        }
        self.day += 1;
    }
}

impl Iterator for Scaled {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        while self.ready.is_empty() && self.day < self.options.days {
            self.generate_day();
        }
        self.ready.pop_front()
    }
}

/// How many events of each kind were written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub deployments: u64,
    pub changes: u64,
    pub incidents: u64,
}

impl Written {
    /// Events as docs/benchmarks.md counts them: deployments + changes + incidents.
    pub fn events(&self) -> u64 {
        self.deployments + self.changes + self.incidents
    }
}

/// The file formats `pacer demo generate` writes and `pacer import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Jsonl,
    Csv,
}

/// Writes `events` to `out` as JSON Lines or CSV (docs/import.md).
pub fn write_events(
    events: impl IntoIterator<Item = Event>,
    format: FileFormat,
    out: impl std::io::Write,
) -> std::io::Result<Written> {
    let mut written = Written::default();
    match format {
        FileFormat::Jsonl => {
            let mut out = out;
            for e in events {
                count(&mut written, &e);
                serde_json::to_writer(&mut out, &json_line(&e))?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        FileFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(crate::import::CSV_COLUMNS)?;
            for e in events {
                count(&mut written, &e);
                w.write_record(csv_record(&e))?;
            }
            w.flush()?;
        }
    }
    Ok(written)
}

fn count(w: &mut Written, e: &Event) {
    match e {
        Event::Deployment(d) => {
            w.deployments += 1;
            w.changes += d.changes.len() as u64;
        }
        Event::Incident(_) => w.incidents += 1,
    }
}

fn time(t: Timestamp) -> serde_json::Value {
    serde_json::Value::String(crate::timefmt::format(t))
}

/// An event as one JSON Lines object: `kind` and the API body's fields.
pub fn json_line(e: &Event) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut m = Map::new();
    let opt = |m: &mut Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    match e {
        Event::Deployment(d) => {
            m.insert("kind".into(), json!("deployment"));
            m.insert("id".into(), json!(d.id));
            m.insert("service".into(), json!(d.service));
            m.insert("environment".into(), json!(d.environment));
            m.insert("status".into(), json!(d.status.as_str()));
            m.insert("deployed_at".into(), time(d.deployed_at));
            opt(&mut m, "sha", d.sha.as_ref().map(|v| json!(v)));
            opt(&mut m, "repo", d.repo.as_ref().map(|v| json!(v)));
            opt(&mut m, "team", d.team.as_ref().map(|v| json!(v)));
            if !d.changes.is_empty() {
                let changes: Vec<Value> = d
                    .changes
                    .iter()
                    .map(|c| json!({"id": c.id, "started_at": time(c.started_at)}))
                    .collect();
                m.insert("changes".into(), Value::Array(changes));
            }
            opt(
                &mut m,
                "lead_time_seconds",
                d.lead_time_seconds.map(|v| json!(v)),
            );
            opt(&mut m, "hotfix", d.hotfix.then_some(Value::Bool(true)));
            opt(&mut m, "rollback", d.rollback.then_some(Value::Bool(true)));
            opt(&mut m, "branch", d.branch.as_ref().map(|v| json!(v)));
            if !d.labels.is_empty() {
                m.insert("labels".into(), json!(d.labels));
            }
        }
        Event::Incident(i) => {
            m.insert("kind".into(), json!("incident"));
            m.insert("id".into(), json!(i.id));
            let nullable = |v: &Option<Option<String>>| v.as_ref().map(|v| json!(v));
            opt(&mut m, "service", nullable(&i.service));
            opt(
                &mut m,
                "environment",
                i.environment.as_ref().map(|v| json!(v)),
            );
            opt(&mut m, "opened_at", i.opened_at.map(time));
            opt(
                &mut m,
                "resolved_at",
                i.resolved_at.map(|r| r.map_or(Value::Null, time)),
            );
            opt(&mut m, "severity", nullable(&i.severity));
            opt(
                &mut m,
                "caused_by_deploy",
                i.caused_by_deploy.map(|c| json!(c)),
            );
            opt(&mut m, "deployment_id", nullable(&i.deployment_id));
        }
    }
    Value::Object(m)
}

/// An event as one CSV record in the order of [`crate::import::CSV_COLUMNS`]. CSV cannot say
/// "clear this field" (an empty cell is "not sent"), so a `null` of an incident update is
/// left empty.
pub fn csv_record(e: &Event) -> Vec<String> {
    let t = |t: Timestamp| crate::timefmt::format(t);
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: &Option<Option<String>>| v.clone().flatten().unwrap_or_default();
    let mut r = vec![String::new(); crate::import::CSV_COLUMNS.len()];
    let mut set = |column: &str, value: String| {
        let i = crate::import::CSV_COLUMNS
            .iter()
            .position(|c| *c == column)
            .expect("a known column");
        r[i] = value;
    };
    match e {
        Event::Deployment(d) => {
            set("kind", "deployment".into());
            set("id", d.id.clone());
            set("service", d.service.clone());
            set("environment", d.environment.clone());
            set("status", d.status.as_str().into());
            set("deployed_at", t(d.deployed_at));
            set("sha", s(&d.sha));
            set("repo", s(&d.repo));
            set("team", s(&d.team));
            let changes: Vec<String> = d
                .changes
                .iter()
                .map(|c| format!("{}@{}", c.id, t(c.started_at)))
                .collect();
            set("changes", changes.join(";"));
            set(
                "lead_time_seconds",
                d.lead_time_seconds
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            );
            set(
                "hotfix",
                if d.hotfix {
                    "true".into()
                } else {
                    String::new()
                },
            );
            set(
                "rollback",
                if d.rollback {
                    "true".into()
                } else {
                    String::new()
                },
            );
            set("branch", s(&d.branch));
            set("labels", d.labels.join(";"));
        }
        Event::Incident(i) => {
            set("kind", "incident".into());
            set("id", i.id.clone());
            set("service", n(&i.service));
            set("environment", i.environment.clone().unwrap_or_default());
            set("opened_at", i.opened_at.map(t).unwrap_or_default());
            set(
                "resolved_at",
                i.resolved_at.flatten().map(t).unwrap_or_default(),
            );
            set("severity", n(&i.severity));
            set(
                "caused_by_deploy",
                i.caused_by_deploy
                    .flatten()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            );
            set("deployment_id", n(&i.deployment_id));
        }
    }
    r
}

/// The classic demo history ([`super::generate`]) as events: deployments, then incidents.
pub fn demo_events(data: super::DemoData) -> impl Iterator<Item = Event> {
    data.deployments
        .into_iter()
        .map(Event::Deployment)
        .chain(data.incidents.into_iter().map(Event::Incident))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_749_032_243_456);

    fn options(seed: u64) -> ScaleOptions {
        ScaleOptions {
            services: 45,
            days: 30,
            deploys_per_day: 2.5,
            seed,
            now: NOW,
        }
    }

    #[test]
    fn same_seed_same_events_in_time_order_and_the_asked_size() {
        let a: Vec<Event> = generate_scaled(options(7)).collect();
        assert_eq!(a, generate_scaled(options(7)).collect::<Vec<_>>());
        assert_ne!(a, generate_scaled(options(8)).collect::<Vec<_>>());
        let deployments: Vec<&Deployment> = a
            .iter()
            .filter_map(|e| match e {
                Event::Deployment(d) => Some(d),
                _ => None,
            })
            .collect();
        // 45 services x floor(30 x 2.5) = 45 x 75.
        assert_eq!(deployments.len() as u64, 45 * 75);
        assert_eq!(options(7).deployments(), 45 * 75);
        assert!(a.windows(2).all(|w| w[0].at() <= w[1].at()), "time order");
        let start = NOW.millis() - 30 * DAY;
        assert!(a.iter().all(|e| e.at().millis() > start && e.at() <= NOW));
        let incidents: Vec<&IncidentUpdate> = a
            .iter()
            .filter_map(|e| match e {
                Event::Incident(i) => Some(i),
                _ => None,
            })
            .collect();
        let ids: std::collections::BTreeSet<&str> =
            incidents.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.len(), incidents.len(), "incident ids are unique");
        let no_service = incidents.iter().filter(|i| i.service.is_none()).count();
        assert!(no_service > 0 && no_service * 10 < incidents.len());
        // ~8 % of 0.7 x 0.93 of the deployments, plus ~5 %.
        let expected = deployments.len() as f64 * 0.7 * 0.93 * 0.08 * 1.05;
        assert!((incidents.len() as f64 - expected).abs() < expected * 0.3);
        let production = deployments
            .iter()
            .filter(|d| d.environment == "production")
            .count();
        assert!((production as f64 / deployments.len() as f64 - 0.7).abs() < 0.05);
        // Every linked incident names a production deployment generated before it.
        for i in &incidents {
            if let Some(Some(id)) = &i.deployment_id {
                let d = deployments.iter().find(|d| &d.id == id).expect("known");
                assert!(d.deployed_at < i.opened_at.unwrap());
            }
        }
    }
}
