//! Engine benchmark: `Prepared::new` and `Prepared::metrics` over synthetic one-year
//! histories. A plain `fn main` (no criterion): `cargo bench -p pacer-core --bench engine`.
//!
//! Sizes: `PACER_BENCH_EVENTS` (comma-separated event counts, default `10000,100000`).
//! An event is one stored row: a deployment, a change or an incident. Each history has one
//! service per 1,000 events (at least 10), 20 services per team, and covers 365 days; the
//! window is the last 30 days. `PACER_BENCH_SECS` (default 1) is the time budget per
//! measurement; each figure is the median of the repetitions that fit (at least 3).

use pacer_core::engine::{EventSet, Prepared};
use pacer_core::{
    Change, DeployStatus, Deployment, Incident, MetricsConfig, Scope, TeamMap, Timestamp, Window,
};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2025-06-01T00:00:00Z: the end of every history.
const END: i64 = 1_748_736_000_000;
const HISTORY_DAYS: i64 = 365;
const WINDOW_DAYS: u32 = 30;

/// splitmix64: small, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64 + 1) as i64
    }
    /// Log-uniform in [lo, hi].
    fn log_range(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        (a + (b - a) * self.unit()).exp() as i64
    }
}

/// Events per deployment on average: the deployment, ~1.9 changes, ~0.05 incidents.
const EVENTS_PER_DEPLOYMENT: f64 = 2.9;

/// A one-year history of about `events` events over `services` services.
fn history(events: usize, services: usize, seed: u64) -> EventSet {
    let mut rng = Rng(seed);
    // Heavy-tailed activity: per-service weights log-uniform over two decades.
    let weights: Vec<f64> = (0..services)
        .map(|_| rng.log_range(100, 10_000) as f64)
        .collect();
    let total_weight: f64 = weights.iter().sum();
    let total_deployments = events as f64 / EVENTS_PER_DEPLOYMENT;
    let start = END - HISTORY_DAYS * DAY;
    let mut set = EventSet {
        incident_feed_seen: true,
        ..EventSet::default()
    };
    let mut next_incident = 0u64;
    for (s, w) in weights.iter().enumerate() {
        let service = format!("svc-{s:04}");
        let team = format!("team-{:02}", s / 20);
        let n = ((total_deployments * w / total_weight).round() as usize).max(1);
        let mut times: Vec<i64> = (0..n).map(|_| rng.range(start + 1, END)).collect();
        times.sort_unstable();
        let mut change_ids: Vec<String> = Vec::new();
        for (k, &t) in times.iter().enumerate() {
            let production = rng.chance(0.7);
            let environment = match (production, rng.below(20)) {
                (false, _) => "staging",
                (true, 0) => "Production",
                (true, 1) => "prod",
                (true, _) => "production",
            };
            let status = if rng.chance(0.93) {
                DeployStatus::Success
            } else {
                DeployStatus::Failure
            };
            let id = format!("dep-{s:04}-{k:06}");
            let mut d = Deployment {
                id: id.clone(),
                service: service.clone(),
                environment: environment.to_string(),
                status,
                deployed_at: Timestamp::from_millis(t),
                sha: Some(format!("{:040x}", rng.next())),
                repo: Some(format!("acme/{service}")),
                team: Some(team.clone()),
                changes: Vec::new(),
                lead_time_seconds: None,
                // Every deployment goes through the branch rules, as from a CI sender.
                branch: Some(format!("feature/{k}")),
                ..Deployment::default()
            };
            if rng.chance(0.05) {
                d.lead_time_seconds = Some(rng.log_range(600, 20 * 86_400) as f64);
            } else {
                for _ in 0..rng.range(1, 3) {
                    // A few changes are redeployed in a later deployment of the service.
                    let cid = if !change_ids.is_empty() && rng.chance(0.03) {
                        change_ids[rng.below(change_ids.len() as u64) as usize].clone()
                    } else {
                        let c = format!("{:040x}", rng.next());
                        change_ids.push(c.clone());
                        c
                    };
                    d.changes.push(Change {
                        id: cid,
                        started_at: Timestamp::from_millis(
                            t - rng.log_range(10 * MINUTE, 20 * DAY),
                        ),
                    });
                }
            }
            if production && status == DeployStatus::Success && rng.chance(0.08) {
                let opened = t + rng.range(MINUTE, 6 * HOUR);
                if opened <= END {
                    let resolved = opened + rng.log_range(5 * MINUTE, 2 * DAY);
                    let caused = match rng.below(100) {
                        0..35 => Some(true),
                        35..75 => Some(false),
                        _ => None,
                    };
                    next_incident += 1;
                    set.incidents.push(Incident {
                        id: format!("inc-{next_incident:07}"),
                        service: (!rng.chance(0.05)).then(|| service.clone()),
                        environment: "production".into(),
                        opened_at: Timestamp::from_millis(opened),
                        resolved_at: (resolved <= END && !rng.chance(0.03))
                            .then(|| Timestamp::from_millis(resolved)),
                        severity: Some(format!("SEV{}", rng.range(1, 3))),
                        caused_by_deploy: caused,
                        deployment_id: (caused == Some(true) && rng.chance(0.5)).then_some(id),
                        ..Incident::default()
                    });
                }
            }
            set.deployments.push(d);
        }
    }
    set
}

fn budget() -> Duration {
    let secs: f64 = std::env::var("PACER_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

/// Median duration of `f` over as many runs as fit in the budget (at least 3).
fn median<T>(mut f: impl FnMut() -> T) -> Duration {
    let budget = budget();
    // One untimed call first: the allocator and caches start warm for every figure.
    black_box(f());
    let started = Instant::now();
    let mut runs = Vec::new();
    while runs.len() < 3 || (started.elapsed() < budget && runs.len() < 10_000) {
        let t = Instant::now();
        black_box(f());
        runs.push(t.elapsed());
    }
    runs.sort_unstable();
    runs[runs.len() / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let sizes: Vec<usize> = std::env::var("PACER_BENCH_EVENTS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .expect("PACER_BENCH_EVENTS: integers")
        })
        .collect();
    let config = MetricsConfig::default();
    let window = Window::new(Timestamp::from_millis(END), WINDOW_DAYS);
    println!(
        "pacer-core engine benchmark: one-year histories, window = last {WINDOW_DAYS} days, median of runs within {:?} each",
        budget()
    );
    println!("load average at start: {}", loadavg());
    println!();
    println!(
        "| events | deployments | changes | incidents | services | teams | Prepared::new | metrics(service) | metrics(team) | metrics(org) | report (new + all scopes) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &size in &sizes {
        let services = (size / 1000).max(10);
        let events = history(size, services, 42);
        let n_changes: usize = events.deployments.iter().map(|d| d.changes.len()).sum();
        let total = events.deployments.len() + n_changes + events.incidents.len();
        let teams = TeamMap::from_deployments(BTreeMap::new(), &events.deployments);
        let team_names: Vec<String> = teams.teams().into_iter().map(String::from).collect();
        let service_names = pacer_core::engine::services(&events);

        let t_new = median(|| Prepared::new(&events, &config));
        let prepared = Prepared::new(&events, &config);
        // Per-call figures, averaged over every service / team.
        let t_service = median(|| {
            for s in &service_names {
                black_box(prepared.metrics(&teams, &Scope::service(s), window));
            }
        }) / service_names.len() as u32;
        let t_team = median(|| {
            for t in &team_names {
                black_box(prepared.metrics(&teams, &Scope::team(t), window));
            }
        }) / team_names.len() as u32;
        let t_org = median(|| prepared.metrics(&teams, &Scope::organisation(), window));
        // What `Pacer::report` does after its load: prepare once, every scope.
        let t_report = median(|| {
            let p = Prepared::new(&events, &config);
            let mut n = 0;
            n += p
                .metrics(&teams, &Scope::organisation(), window)
                .deployment_frequency
                .deployments;
            for t in &team_names {
                n += p
                    .metrics(&teams, &Scope::team(t), window)
                    .deployment_frequency
                    .deployments;
            }
            for s in &service_names {
                n += p
                    .metrics(&teams, &Scope::service(s), window)
                    .deployment_frequency
                    .deployments;
            }
            n
        });
        let org = prepared.metrics(&teams, &Scope::organisation(), window);
        assert!(org.deployment_frequency.deployments > 0, "empty window");
        println!(
            "| {total} | {} | {n_changes} | {} | {} | {} | {} | {} | {} | {} | {} |",
            events.deployments.len(),
            events.incidents.len(),
            service_names.len(),
            team_names.len(),
            fmt(t_new),
            fmt(t_service),
            fmt(t_team),
            fmt(t_org),
            fmt(t_report),
        );
    }
    println!();
    println!(
        "Prepared::new and report run over the whole history (the store's window load is smaller);"
    );
    println!(
        "metrics(service) and metrics(team) are per call, averaged over every service / team."
    );
    println!("load average at end: {}", loadavg());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
