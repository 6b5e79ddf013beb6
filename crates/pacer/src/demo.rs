//! A generated, deterministic demo history for `pacer demo`.
//!
//! Two teams own three services each, and the services perform differently so that the
//! report shows every band:
//!
//! | service       | team     | cadence (production)   | lead time        | restore      | expected band |
//! |---------------|----------|------------------------|------------------|--------------|---------------|
//! | checkout-web  | payments | ~2.6 per weekday       | 8 min - 90 min   | 4 - 40 min   | elite         |
//! | payments-api  | payments | ~1.2 per weekday       | 2 h - 3 d        | 30 min - 10 h| high          |
//! | ledger        | payments | every 14 - 21 days     | 5 - 12 weeks     | 1 - 10 d     | low           |
//! | auth-service  | platform | ~2 per week            | 8 - 28 d         | 2 h - 2 d    | medium        |
//! | search-api    | platform | ~0.9 per weekday       | 1 h - 2 d        | 20 min - 8 h | high          |
//! | notifications | platform | ~2.5 per week          | 6 h - 5 d        | 1 - 6 d      | medium        |
//!
//! (change failure rate depends on which incidents land in the window, so a service can
//! drop a band for some seeds.)
//!
//! The history also exercises the contract's edge cases: staging deploys of the same sha
//! before most production deploys, failed production deploys retried a bit later,
//! production spelled `prod` or `Production`, deployments carrying only a precomputed
//! `lead_time_seconds` (search-api, like the handbook's CI step), a change redeployed in a
//! later deployment of the same service, one commit deployed to two services of the
//! `acme/platform` monorepo (search-api and notifications), exactly one change that starts
//! two minutes after its deployment (clock skew), and incidents with every triage state:
//! linked to a deployment, caused by a deployment but attributed by time, infrastructure
//! (`caused_by_deploy = false`), untriaged (some within an hour after a production deploy,
//! which the `window` policy counts), with no service (the handbook's incident push),
//! in staging, still open, and degraded service (SEV3 over hours).
//!
//! Every time lies in `(now - days, now]`, including the start of every change (a change
//! whose work started earlier is clamped to just after the start of the history). Ids are
//! `demo-dep-0001`... and `demo-inc-0001`... in time order.

pub mod scale;

use fastrand::Rng;
use pacer_core::{Change, DeployStatus, Deployment, IncidentUpdate, Timestamp};
pub use scale::{Event, FileFormat, ScaleOptions, Scaled, Written, generate_scaled};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// A generated history: deployments and one delivery per incident, each sorted by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoData {
    pub deployments: Vec<Deployment>,
    pub incidents: Vec<IncidentUpdate>,
}

/// A `days`-long history ending at `now`, the same for the same `seed`.
pub fn generate(now: Timestamp, days: u32, seed: u64) -> DemoData {
    let mut g = Generator {
        rng: Rng::with_seed(seed),
        now: now.millis(),
        start: now.millis() - i64::from(days) * DAY,
        pr_numbers: Vec::new(),
    };
    let mut releases = Vec::new();
    for (p, profile) in PROFILES.iter().enumerate() {
        for t in g.schedule(&profile.cadence) {
            let release = g.release(p, t);
            releases.push(release);
        }
    }
    g.add_redeploys(&mut releases);
    g.add_monorepo_release(&mut releases);
    g.add_clock_skew(&mut releases);
    let deployments = emit_deployments(&releases);
    let incidents = g.incidents(&deployments);
    DemoData {
        deployments,
        incidents,
    }
}

/// How often a service releases to production.
enum Cadence {
    /// A Poisson number of releases each weekday with this mean (working hours, UTC), and
    /// an occasional weekend hotfix.
    PerWeekday(f64),
    /// One release every `min..=max` days, on a weekday.
    EveryDays(i64, i64),
}

/// Relative weights of the triage states of a service's incidents.
struct Mix {
    /// `caused_by_deploy = true` with the deployment named.
    linked: u32,
    /// `caused_by_deploy = true`, attributed by time.
    by_time: u32,
    /// `caused_by_deploy = false`.
    infra: u32,
    /// Not triaged yet.
    untriaged: u32,
}

struct Profile {
    service: &'static str,
    team: &'static str,
    repo: &'static str,
    cadence: Cadence,
    max_changes: usize,
    /// Log-uniform range of change lead times, ms.
    lead: (i64, i64),
    /// How long before production the staging deploy happens, ms.
    staging: (i64, i64),
    /// Share of releases that carry only `lead_time_seconds`.
    lead_time_only_percent: u32,
    incidents_per_90_days: u32,
    /// At most this many incidents caused by a deployment per 90 days (more become
    /// infrastructure incidents), so that the elite service stays elite.
    max_caused_per_90_days: Option<u32>,
    /// Log-uniform range of times to restore, ms.
    restore: (i64, i64),
    mix: Mix,
}

const CHECKOUT_WEB: usize = 0;
const PAYMENTS_API: usize = 1;
const SEARCH_API: usize = 4;
const NOTIFICATIONS: usize = 5;

const PROFILES: [Profile; 6] = [
    // Elite: small changes shipped continuously, incidents rare and fixed in minutes.
    Profile {
        service: "checkout-web",
        team: "payments",
        repo: "acme/checkout-web",
        cadence: Cadence::PerWeekday(2.6),
        max_changes: 3,
        lead: (8 * MINUTE, 90 * MINUTE),
        staging: (4 * MINUTE, 15 * MINUTE),
        lead_time_only_percent: 0,
        incidents_per_90_days: 4,
        max_caused_per_90_days: Some(2),
        restore: (4 * MINUTE, 40 * MINUTE),
        mix: Mix {
            linked: 1,
            by_time: 1,
            infra: 5,
            untriaged: 2,
        },
    },
    // High: daily deploys, lead times of hours to days.
    Profile {
        service: "payments-api",
        team: "payments",
        repo: "acme/payments-api",
        cadence: Cadence::PerWeekday(1.2),
        max_changes: 4,
        lead: (2 * HOUR, 3 * DAY),
        staging: (20 * MINUTE, 3 * HOUR),
        lead_time_only_percent: 0,
        incidents_per_90_days: 7,
        max_caused_per_90_days: None,
        restore: (30 * MINUTE, 10 * HOUR),
        mix: Mix {
            linked: 2,
            by_time: 1,
            infra: 4,
            untriaged: 2,
        },
    },
    // Low: big releases every few weeks, work waits weeks, recovery takes days.
    Profile {
        service: "ledger",
        team: "payments",
        repo: "acme/ledger",
        cadence: Cadence::EveryDays(14, 21),
        max_changes: 5,
        lead: (5 * WEEK, 12 * WEEK),
        staging: (3 * HOUR, 20 * HOUR),
        lead_time_only_percent: 0,
        incidents_per_90_days: 4,
        max_caused_per_90_days: None,
        restore: (DAY, 10 * DAY),
        mix: Mix {
            linked: 4,
            by_time: 1,
            infra: 2,
            untriaged: 2,
        },
    },
    // Medium: long-lived branches (security review), lead times of weeks.
    Profile {
        service: "auth-service",
        team: "platform",
        repo: "acme/auth-service",
        cadence: Cadence::PerWeekday(0.45),
        max_changes: 5,
        lead: (8 * DAY, 28 * DAY),
        staging: (HOUR, 20 * HOUR),
        lead_time_only_percent: 0,
        incidents_per_90_days: 6,
        max_caused_per_90_days: None,
        restore: (2 * HOUR, 2 * DAY),
        mix: Mix {
            linked: 1,
            by_time: 1,
            infra: 4,
            untriaged: 2,
        },
    },
    // High; part of its pipeline sends only a precomputed lead time.
    Profile {
        service: "search-api",
        team: "platform",
        repo: "acme/platform",
        cadence: Cadence::PerWeekday(0.9),
        max_changes: 4,
        lead: (HOUR, 2 * DAY),
        staging: (20 * MINUTE, 4 * HOUR),
        lead_time_only_percent: 15,
        incidents_per_90_days: 6,
        max_caused_per_90_days: None,
        restore: (20 * MINUTE, 8 * HOUR),
        mix: Mix {
            linked: 3,
            by_time: 2,
            infra: 3,
            untriaged: 2,
        },
    },
    // Medium: queue backlogs take days to drain.
    Profile {
        service: "notifications",
        team: "platform",
        repo: "acme/platform",
        cadence: Cadence::PerWeekday(0.5),
        max_changes: 4,
        lead: (6 * HOUR, 5 * DAY),
        staging: (HOUR, 20 * HOUR),
        lead_time_only_percent: 0,
        incidents_per_90_days: 5,
        max_caused_per_90_days: None,
        restore: (DAY, 6 * DAY),
        mix: Mix {
            linked: 1,
            by_time: 1,
            infra: 4,
            untriaged: 2,
        },
    },
];

/// One release of one service: an optional staging deploy, an optional failed production
/// attempt, and the successful production deploy.
#[derive(Debug, Clone)]
struct Release {
    profile: usize,
    sha: String,
    staging_at: Option<i64>,
    failed_at: Option<i64>,
    deployed_at: i64,
    production: &'static str,
    changes: Vec<Change>,
    /// For a release that carries only `lead_time_seconds`: the first commit's time.
    first_commit_at: Option<i64>,
}

impl Release {
    fn earliest(&self) -> i64 {
        self.staging_at
            .or(self.failed_at)
            .unwrap_or(self.deployed_at)
    }
}

struct Generator {
    rng: Rng,
    now: i64,
    /// Exclusive start of the history.
    start: i64,
    /// Next pull-request number of each repo.
    pr_numbers: Vec<(&'static str, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Linked,
    ByTime,
    Infra,
    Untriaged,
}

/// A production deployment incidents can be attributed to.
struct ProdDeploy<'a> {
    at: i64,
    id: &'a str,
    service: &'a str,
}

impl Generator {
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

    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, self.rng.f64());
        while p > limit {
            k += 1;
            p *= self.rng.f64();
        }
        k
    }

    fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.rng.u64(..),
            self.rng.u64(..),
            self.rng.u32(..)
        )
    }

    fn short_sha(&mut self) -> String {
        format!("{:07x}", self.rng.u32(..0x1000_0000))
    }

    fn pr_ref(&mut self, repo: &'static str) -> String {
        let pos = match self.pr_numbers.iter().position(|(r, _)| *r == repo) {
            Some(pos) => pos,
            None => {
                let first = 100 + self.rng.u32(..800);
                self.pr_numbers.push((repo, first));
                self.pr_numbers.len() - 1
            }
        };
        let n = self.pr_numbers[pos].1;
        self.pr_numbers[pos].1 += 1 + self.rng.u32(..3);
        let name = repo.rsplit('/').next().unwrap_or(repo);
        format!("{name}#{n}")
    }

    /// Production release times of one service, sorted.
    fn schedule(&mut self, cadence: &Cadence) -> Vec<i64> {
        // A day of margin leaves room for staging deploys and change starts in the window;
        // the end leaves room for a retry after a failed deploy.
        let (lo, hi) = (self.start + DAY, self.now - 30 * MINUTE);
        let mut out = Vec::new();
        if hi < lo {
            return out;
        }
        match *cadence {
            Cadence::PerWeekday(mean) => {
                for day in lo.div_euclid(DAY)..=hi.div_euclid(DAY) {
                    let n = if weekday(day) < 5 {
                        self.poisson(mean)
                    } else {
                        u32::from(self.percent(4))
                    };
                    let mut times: Vec<i64> = (0..n)
                        .map(|_| day * DAY + self.between(8 * HOUR, 19 * HOUR))
                        .filter(|t| (lo..=hi).contains(t))
                        .collect();
                    times.sort_unstable();
                    out.extend(times);
                }
            }
            Cadence::EveryDays(min, max) => {
                let mut t = lo + self.between(0, max * DAY);
                while t <= hi {
                    let mut day = t.div_euclid(DAY);
                    while weekday(day) >= 5 {
                        day += 1;
                    }
                    let at = day * DAY + self.between(9 * HOUR, 17 * HOUR);
                    if (lo..=hi).contains(&at) {
                        out.push(at);
                    }
                    t = at.max(t) + self.between(min * DAY, max * DAY);
                }
            }
        }
        out
    }

    fn release(&mut self, p: usize, t: i64) -> Release {
        let profile = &PROFILES[p];
        let staging_at = if self.percent(90) {
            Some(t - self.between(profile.staging.0, profile.staging.1))
        } else {
            None
        };
        let retry_after = self.between(10 * MINUTE, 45 * MINUTE);
        let (failed_at, deployed_at) = if self.percent(5) && t + retry_after <= self.now - MINUTE {
            (Some(t), t + retry_after)
        } else {
            (None, t)
        };
        let production = match self.rng.u32(..100) {
            0..5 => "prod",
            5..8 => "Production",
            _ => "production",
        };
        let mut release = Release {
            profile: p,
            sha: self.sha(),
            staging_at,
            failed_at,
            deployed_at,
            production,
            changes: Vec::new(),
            first_commit_at: None,
        };
        let latest_start = release.earliest() - MINUTE;
        if self.percent(profile.lead_time_only_percent) {
            let lead = self.log_between(profile.lead.0, profile.lead.1);
            release.first_commit_at = Some(self.change_start(deployed_at - lead, latest_start));
        } else {
            let max = profile.max_changes;
            let n = 1 + self.rng.usize(..max).min(self.rng.usize(..max));
            for _ in 0..n {
                let lead = self.log_between(profile.lead.0, profile.lead.1);
                let started_at = self.change_start(deployed_at - lead, latest_start);
                let id = if self.percent(70) {
                    self.pr_ref(profile.repo)
                } else {
                    self.short_sha()
                };
                release.changes.push(Change {
                    id,
                    started_at: Timestamp::from_millis(started_at),
                });
            }
            release.changes.sort_by_key(|c| c.started_at);
        }
        release
    }

    /// A change start before `latest` (its release's first deploy) and inside the history.
    fn change_start(&self, wanted: i64, latest: i64) -> i64 {
        wanted.min(latest).max(self.start + MINUTE)
    }

    /// A change of the previous release re-appears in a later release of checkout-web and
    /// of payments-api (a redeploy); it counts once.
    fn add_redeploys(&mut self, releases: &mut [Release]) {
        for p in [CHECKOUT_WEB, PAYMENTS_API] {
            let idx: Vec<usize> = (0..releases.len())
                .filter(|&i| releases[i].profile == p)
                .collect();
            if idx.len() < 2 {
                continue;
            }
            for _ in 0..20 {
                let k = 1 + self.rng.usize(..idx.len() - 1);
                let (prev, this) = (&releases[idx[k - 1]], &releases[idx[k]]);
                if this.changes.is_empty() || this.changes.len() >= 5 {
                    continue;
                }
                let Some(change) = prev.changes.first() else {
                    continue;
                };
                if change.started_at.millis() >= this.earliest() - MINUTE
                    || this.changes.iter().any(|c| c.id == change.id)
                {
                    continue;
                }
                let change = change.clone();
                let this = &mut releases[idx[k]];
                this.changes.insert(0, change);
                break;
            }
        }
    }

    /// One commit of the acme/platform monorepo reaches notifications, then search-api
    /// (same sha) a few minutes later.
    fn add_monorepo_release(&mut self, releases: &mut Vec<Release>) {
        let (lo, hi) = (
            (self.now - 25 * DAY).max(self.start + DAY),
            self.now - 2 * HOUR,
        );
        let candidates: Vec<usize> = (0..releases.len())
            .filter(|&i| {
                let r = &releases[i];
                r.profile == NOTIFICATIONS
                    && r.first_commit_at.is_none()
                    && (lo..=hi).contains(&r.deployed_at)
            })
            .collect();
        let Some(&i) = self.rng.choice(&candidates) else {
            return;
        };
        let deployed_at = releases[i].deployed_at + self.between(10 * MINUTE, 40 * MINUTE);
        let staging_at = deployed_at - self.between(5 * MINUTE, 9 * MINUTE);
        let wanted = releases[i].earliest() - self.between(2 * HOUR, DAY);
        let started_at = self.change_start(wanted, releases[i].earliest().min(staging_at) - MINUTE);
        let shared = Change {
            id: self.short_sha(),
            started_at: Timestamp::from_millis(started_at),
        };
        let notifications = &mut releases[i];
        if notifications.changes.len() >= 5 {
            notifications.changes.pop();
        }
        notifications.changes.insert(0, shared.clone());
        let search = Release {
            profile: SEARCH_API,
            sha: notifications.sha.clone(),
            staging_at: Some(staging_at),
            failed_at: None,
            deployed_at,
            production: "production",
            changes: vec![shared],
            first_commit_at: None,
        };
        releases.push(search);
    }

    /// Exactly one change starts two minutes after its (only) deployment: a payments-api
    /// hotfix whose committer clock ran ahead.
    fn add_clock_skew(&mut self, releases: &mut [Release]) {
        let hi = self.now - HOUR;
        let recent = (self.now - 20 * DAY).max(self.start + DAY);
        let pick = |lo: i64| -> Vec<usize> {
            (0..releases.len())
                .filter(|&i| {
                    let r = &releases[i];
                    r.profile == PAYMENTS_API
                        && r.failed_at.is_none()
                        && !r.changes.is_empty()
                        && (lo..=hi).contains(&r.deployed_at)
                })
                .collect()
        };
        let mut candidates = pick(recent);
        if candidates.is_empty() {
            candidates = pick(i64::MIN);
        }
        let Some(&i) = self.rng.choice(&candidates) else {
            return;
        };
        let id = self.short_sha();
        let release = &mut releases[i];
        release.staging_at = None;
        if release.changes.len() >= 5 {
            release.changes.pop();
        }
        release.changes.push(Change {
            id,
            started_at: Timestamp::from_millis(release.deployed_at + 2 * MINUTE),
        });
    }

    fn incidents(&mut self, deployments: &[Deployment]) -> Vec<IncidentUpdate> {
        let prod: Vec<ProdDeploy<'_>> = deployments
            .iter()
            .filter(|d| d.status == DeployStatus::Success && d.environment != "staging")
            .map(|d| ProdDeploy {
                at: d.deployed_at.millis(),
                id: &d.id,
                service: &d.service,
            })
            .collect();
        let lo = self.start + DAY;
        let recent = (self.now - 25 * DAY).max(lo);
        let days = (self.now - self.start) / DAY;
        let mut out: Vec<(i64, IncidentUpdate)> = Vec::new();

        for profile in &PROFILES {
            let n = (i64::from(profile.incidents_per_90_days) * days + 45) / 90;
            let max_caused = profile
                .max_caused_per_90_days
                .map_or(i64::MAX, |max| (i64::from(max) * days + 89) / 90);
            let mut caused = 0;
            for k in 0..n.max(i64::from(days >= 7)) {
                let mut kind = self.kind(&profile.mix);
                if matches!(kind, Kind::Linked | Kind::ByTime) {
                    if caused >= max_caused {
                        kind = Kind::Infra;
                    }
                    caused += 1;
                }
                let duration = self.log_between(profile.restore.0, profile.restore.1);
                // The first incident of each service is recent, so that every service has a
                // time to restore in the default 30-day window.
                let from = if k == 0 { recent } else { lo };
                if let Some(incident) =
                    self.service_incident(profile.service, kind, duration, from, &prod)
                {
                    out.push(incident);
                }
            }
        }
        out.extend(self.special_incidents(&prod));
        out.sort_by_key(|(opened, _)| *opened);
        out.into_iter()
            .enumerate()
            .map(|(i, (_, mut incident))| {
                incident.id = format!("demo-inc-{:04}", i + 1);
                incident
            })
            .collect()
    }

    fn kind(&mut self, mix: &Mix) -> Kind {
        let total = mix.linked + mix.by_time + mix.infra + mix.untriaged;
        let mut r = self.rng.u32(..total);
        for (weight, kind) in [
            (mix.linked, Kind::Linked),
            (mix.by_time, Kind::ByTime),
            (mix.infra, Kind::Infra),
        ] {
            if r < weight {
                return kind;
            }
            r -= weight;
        }
        Kind::Untriaged
    }

    fn severity(&mut self) -> &'static str {
        match self.rng.u32(..100) {
            0..10 => "SEV1",
            10..45 => "SEV2",
            // SEV3: degraded service (slow responses, partial errors).
            _ => "SEV3",
        }
    }

    /// A random production deploy of `service` deployed in `[lo, hi]`.
    fn deploy_between<'a>(
        &mut self,
        prod: &'a [ProdDeploy<'a>],
        service: &str,
        lo: i64,
        hi: i64,
    ) -> Option<&'a ProdDeploy<'a>> {
        let candidates: Vec<&ProdDeploy<'_>> = prod
            .iter()
            .filter(|d| d.service == service && (lo..=hi).contains(&d.at))
            .collect();
        self.rng.choice(candidates)
    }

    fn service_incident(
        &mut self,
        service: &str,
        kind: Kind,
        duration: i64,
        lo: i64,
        prod: &[ProdDeploy<'_>],
    ) -> Option<(i64, IncidentUpdate)> {
        let latest_open = self.now - duration - 5 * MINUTE;
        if latest_open < lo {
            return None;
        }
        let near_deploy = match kind {
            Kind::Linked => true,
            Kind::Untriaged => self.rng.bool(),
            _ => false,
        };
        let (mut opened, mut deployment_id) = (None, None);
        if near_deploy {
            // Within an hour after a production deploy of the service.
            if let Some(d) = self.deploy_between(prod, service, lo, latest_open - 55 * MINUTE) {
                opened = Some(d.at + self.between(3 * MINUTE, 55 * MINUTE));
                deployment_id = Some(d.id.to_string());
            }
        } else if kind == Kind::ByTime
            && let Some(d) = self.deploy_between(prod, service, lo, latest_open - 5 * HOUR)
        {
            opened = Some(d.at + self.between(70 * MINUTE, 5 * HOUR));
        }
        let (kind, opened) = match opened {
            Some(opened) => (kind, opened),
            // No deploy to hang it on: an infrastructure incident (or untriaged) at any time.
            None => {
                let kind = if kind == Kind::Untriaged {
                    kind
                } else {
                    Kind::Infra
                };
                (kind, self.between(lo + MINUTE, latest_open))
            }
        };
        let environment = if self.percent(60) {
            None
        } else {
            Some("production".to_string())
        };
        let severity = self.severity();
        let caused_by_deploy = match kind {
            Kind::Linked | Kind::ByTime => Some(Some(true)),
            Kind::Infra => Some(Some(false)),
            Kind::Untriaged => None,
        };
        let incident = IncidentUpdate {
            id: String::new(),
            service: Some(Some(service.to_string())),
            environment,
            opened_at: Some(Timestamp::from_millis(opened)),
            resolved_at: Some(Some(Timestamp::from_millis(opened + duration))),
            severity: Some(Some(severity.to_string())),
            caused_by_deploy,
            deployment_id: if kind == Kind::Linked {
                deployment_id.map(Some)
            } else {
                None
            },
            ..IncidentUpdate::default()
        };
        Some((opened, incident))
    }

    /// Incidents with no service, in staging, still open, and a long degraded one.
    fn special_incidents(&mut self, prod: &[ProdDeploy<'_>]) -> Vec<(i64, IncidentUpdate)> {
        let lo = self.start + DAY;
        let recent = (self.now - 25 * DAY).max(lo);
        let mut out = Vec::new();
        let mut push = |opened: i64, resolved: Option<Option<i64>>, incident: IncidentUpdate| {
            out.push((
                opened,
                IncidentUpdate {
                    opened_at: Some(Timestamp::from_millis(opened)),
                    resolved_at: resolved.map(|r| r.map(Timestamp::from_millis)),
                    ..incident
                },
            ));
        };
        let sev = |s: &str| Some(Some(s.to_string()));

        // The handbook's incident push names no service: caused by a deploy, attributed
        // organisation-wide to the latest production deploy (a payments-api one).
        let duration = self.between(20 * MINUTE, 90 * MINUTE);
        let latest_open = self.now - duration - 5 * MINUTE;
        if let Some(d) = self.deploy_between(prod, "payments-api", recent, latest_open - HOUR) {
            let next = prod
                .iter()
                .map(|p| p.at)
                .filter(|&t| t > d.at)
                .min()
                .unwrap_or(i64::MAX);
            let offset = self
                .between(10 * MINUTE, 40 * MINUTE)
                .min((next - d.at) / 2);
            if offset > 0 {
                let opened = d.at + offset;
                push(
                    opened,
                    Some(Some(opened + duration)),
                    IncidentUpdate {
                        severity: sev("SEV2"),
                        caused_by_deploy: Some(Some(true)),
                        ..Default::default()
                    },
                );
            }
        }
        // ...and one not triaged yet.
        let duration = self.between(10 * MINUTE, 60 * MINUTE);
        let latest_open = self.now - duration - 5 * MINUTE;
        if latest_open > lo {
            let opened = self.between((self.now - 60 * DAY).max(lo), latest_open);
            push(
                opened,
                Some(Some(opened + duration)),
                IncidentUpdate {
                    severity: sev("SEV3"),
                    ..Default::default()
                },
            );
        }
        // Untriaged, 5 - 50 minutes after a search-api deploy: counted by the `window` policy
        // and listed with its candidate deployment for on-call to triage.
        let duration = self.between(20 * MINUTE, 2 * HOUR);
        let latest_open = self.now - duration - 5 * MINUTE;
        if let Some(d) = self.deploy_between(prod, "search-api", recent, latest_open - HOUR) {
            let opened = d.at + self.between(5 * MINUTE, 50 * MINUTE);
            push(
                opened,
                Some(Some(opened + duration)),
                IncidentUpdate {
                    service: Some(Some("search-api".to_string())),
                    severity: sev("SEV2"),
                    ..Default::default()
                },
            );
        }
        // Staging incidents: stored, never counted.
        for (service, caused) in [("checkout-web", None), ("auth-service", Some(Some(false)))] {
            let duration = self.between(30 * MINUTE, 4 * HOUR);
            let latest_open = self.now - duration - 5 * MINUTE;
            if latest_open > lo {
                let opened = self.between(lo, latest_open);
                push(
                    opened,
                    Some(Some(opened + duration)),
                    IncidentUpdate {
                        service: Some(Some(service.to_string())),
                        environment: Some("staging".to_string()),
                        severity: sev("SEV3"),
                        caused_by_deploy: caused,
                        ..Default::default()
                    },
                );
            }
        }
        // Degraded service: search latency over its SLO for hours, not caused by a deploy.
        let duration = self.between(3 * HOUR, 7 * HOUR);
        let latest_open = self.now - duration - 5 * MINUTE;
        if latest_open > recent {
            let opened = self.between(recent, latest_open);
            push(
                opened,
                Some(Some(opened + duration)),
                IncidentUpdate {
                    service: Some(Some("search-api".to_string())),
                    environment: Some("production".to_string()),
                    severity: sev("SEV3"),
                    caused_by_deploy: Some(Some(false)),
                    ..Default::default()
                },
            );
        }
        // Still open: one resolved_at explicitly null, one absent.
        if self.now - 3 * HOUR > lo {
            let opened = self.now - self.between(20 * MINUTE, 3 * HOUR);
            push(
                opened,
                Some(None),
                IncidentUpdate {
                    service: Some(Some("search-api".to_string())),
                    severity: sev("SEV2"),
                    ..Default::default()
                },
            );
        }
        if self.now - 20 * HOUR > lo {
            let opened = self.now - self.between(2 * HOUR, 20 * HOUR);
            push(
                opened,
                None,
                IncidentUpdate {
                    service: Some(Some("auth-service".to_string())),
                    environment: Some("production".to_string()),
                    severity: sev("SEV3"),
                    ..Default::default()
                },
            );
        }
        out
    }
}

/// 0 = Monday ... 6 = Sunday, for a day number since the Unix epoch (a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// The deployments of every release, sorted by time and numbered.
fn emit_deployments(releases: &[Release]) -> Vec<Deployment> {
    let mut out: Vec<Deployment> = Vec::new();
    for r in releases {
        let profile = &PROFILES[r.profile];
        let deployment = |environment: &str, status: DeployStatus, at: i64| Deployment {
            id: String::new(),
            service: profile.service.to_string(),
            environment: environment.to_string(),
            status,
            deployed_at: Timestamp::from_millis(at),
            sha: Some(r.sha.clone()),
            repo: Some(profile.repo.to_string()),
            team: Some(profile.team.to_string()),
            changes: r.changes.clone(),
            lead_time_seconds: r.first_commit_at.map(|first| (at - first) as f64 / 1000.0),
            ..Deployment::default()
        };
        if let Some(at) = r.staging_at {
            out.push(deployment("staging", DeployStatus::Success, at));
        }
        if let Some(at) = r.failed_at {
            out.push(deployment(r.production, DeployStatus::Failure, at));
        }
        out.push(deployment(
            r.production,
            DeployStatus::Success,
            r.deployed_at,
        ));
    }
    // Stable: a release's deployments keep their order on a tie.
    out.sort_by_key(|d| d.deployed_at);
    for (i, d) in out.iter_mut().enumerate() {
        d.id = format!("demo-dep-{:04}", i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_core::engine::{EventSet, compute};
    use pacer_core::{AttributionPolicy, Band, MetricsConfig, Scope, TeamMap, Window};
    use std::collections::{BTreeMap, BTreeSet, HashSet};

    /// 2025-06-04T10:17:23.456Z, a Wednesday.
    const NOW: Timestamp = Timestamp::from_millis(1_749_032_243_456);

    fn is_production(environment: &str) -> bool {
        ["production", "prod"].contains(&environment.to_ascii_lowercase().as_str())
    }

    fn events(data: &DemoData) -> EventSet {
        let mut events = EventSet::default();
        for d in &data.deployments {
            assert!(events.record_deployment(d.clone()), "duplicate {}", d.id);
        }
        for i in &data.incidents {
            events
                .record_incident(i.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", i.id));
        }
        events
    }

    fn bands(data: &DemoData) -> BTreeMap<String, Option<Band>> {
        let events = events(data);
        let config = MetricsConfig::default();
        let teams = TeamMap::from_deployments(Default::default(), &events.deployments);
        PROFILES
            .iter()
            .map(|p| {
                let m = compute(
                    &events,
                    &config,
                    &teams,
                    &Scope::service(p.service),
                    Window::new(NOW, 30),
                );
                (p.service.to_string(), m.overall_band)
            })
            .collect()
    }

    #[test]
    fn same_seed_same_history_other_seed_other_history() {
        let a = generate(NOW, 90, 42);
        assert_eq!(a, generate(NOW, 90, 42));
        assert_ne!(a, generate(NOW, 90, 43));
        assert!(!a.deployments.is_empty() && !a.incidents.is_empty());
    }

    #[test]
    fn volume_is_realistic_for_90_days() {
        for seed in 0..20 {
            let data = generate(NOW, 90, seed);
            let (d, i) = (data.deployments.len(), data.incidents.len());
            assert!((400..=900).contains(&d), "seed {seed}: {d} deployments");
            assert!((20..=50).contains(&i), "seed {seed}: {i} incidents");
        }
    }

    fn check_invariants(data: &DemoData, now: Timestamp, days: u32) {
        let start = now.minus_seconds(i64::from(days) * 86_400);
        let inside = |t: Timestamp, what: &str| {
            assert!(
                start < t && t <= now,
                "{what} at {t:?} outside ({start:?}, {now:?}]"
            );
        };
        let mut ids = HashSet::new();
        for (i, d) in data.deployments.iter().enumerate() {
            assert_eq!(d.id, format!("demo-dep-{:04}", i + 1));
            assert!(ids.insert(d.id.clone()));
            inside(d.deployed_at, &d.id);
            let sha = d.sha.as_deref().unwrap();
            assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(d.team.is_some() && d.repo.as_deref().unwrap().starts_with("acme/"));
            assert!(d.environment == "staging" || is_production(&d.environment));
            if let Some(lead_time) = d.lead_time_seconds {
                assert!(d.changes.is_empty(), "{}", d.id);
                assert!(lead_time > 0.0, "{}", d.id);
            } else {
                assert!((1..=5).contains(&d.changes.len()), "{}", d.id);
            }
            let mut change_ids = HashSet::new();
            for c in &d.changes {
                assert!(change_ids.insert(&c.id), "{} repeats {}", d.id, c.id);
                inside(c.started_at, &c.id);
            }
        }
        for w in data.deployments.windows(2) {
            assert!(w[0].deployed_at <= w[1].deployed_at);
        }
        for (i, inc) in data.incidents.iter().enumerate() {
            assert_eq!(inc.id, format!("demo-inc-{:04}", i + 1));
            assert!(ids.insert(inc.id.clone()));
            let opened = inc.opened_at.unwrap();
            inside(opened, &inc.id);
            if let Some(Some(resolved)) = inc.resolved_at {
                inside(resolved, &inc.id);
                assert!(resolved >= opened, "{}", inc.id);
            }
            let severity = inc.severity.clone().flatten().unwrap();
            assert!(["SEV1", "SEV2", "SEV3"].contains(&severity.as_str()));
            if let Some(Some(dep)) = &inc.deployment_id {
                // Linked: a successful production deploy of the same service, opened within
                // an hour after it.
                assert_eq!(inc.caused_by_deploy, Some(Some(true)));
                let d = data.deployments.iter().find(|d| &d.id == dep).unwrap();
                assert_eq!(Some(&d.service), inc.service.clone().flatten().as_ref());
                assert!(d.status == DeployStatus::Success && is_production(&d.environment));
                assert!(d.deployed_at < opened && opened.seconds_since(d.deployed_at) <= 3600.0);
            }
        }
        if days > 0 {
            let events = events(data);
            assert_eq!(events.deployments.len(), data.deployments.len());
        }
    }

    #[test]
    fn invariants_hold_for_many_seeds_and_lengths() {
        for seed in 0..10 {
            check_invariants(&generate(NOW, 90, seed), NOW, 90);
        }
        for days in [0, 1, 2, 3, 7, 30, 365] {
            check_invariants(&generate(NOW, days, 7), NOW, days);
        }
        assert_eq!(generate(NOW, 0, 1), DemoData::default());
    }

    #[test]
    fn history_exercises_every_path() {
        let data = generate(NOW, 90, 42);
        let deps = &data.deployments;
        let teams: BTreeSet<_> = deps.iter().filter_map(|d| d.team.as_deref()).collect();
        assert_eq!(teams, BTreeSet::from(["payments", "platform"]));
        let services: BTreeSet<_> = deps.iter().map(|d| d.service.as_str()).collect();
        assert_eq!(services.len(), 6);
        assert!(deps.iter().any(|d| d.environment == "staging"));
        assert!(deps.iter().any(|d| d.environment == "prod"));
        assert!(deps.iter().any(|d| d.environment == "Production"));
        assert!(deps.iter().any(|d| d.lead_time_seconds.is_some()));

        // Most production deploys follow a staging deploy of the same sha.
        let prod: Vec<&Deployment> = deps
            .iter()
            .filter(|d| d.status == DeployStatus::Success && is_production(&d.environment))
            .collect();
        let staged = prod
            .iter()
            .filter(|p| {
                deps.iter().any(|s| {
                    s.environment == "staging"
                        && s.sha == p.sha
                        && s.service == p.service
                        && s.deployed_at < p.deployed_at
                })
            })
            .count();
        assert!(
            staged * 100 >= prod.len() * 80,
            "{staged} of {}",
            prod.len()
        );

        // Failed production deploys (~5%), each retried successfully later.
        let failed: Vec<&Deployment> = deps
            .iter()
            .filter(|d| d.status == DeployStatus::Failure)
            .collect();
        assert!(!failed.is_empty() && failed.len() * 100 <= prod.len() * 10);
        for f in &failed {
            assert!(is_production(&f.environment));
            assert!(prod.iter().any(|p| p.sha == f.sha
                && p.service == f.service
                && p.deployed_at > f.deployed_at
                && p.deployed_at.seconds_since(f.deployed_at) <= 3600.0));
        }

        // Exactly one change starts after its deployment, by two minutes, in production.
        let skewed: Vec<(&Deployment, &Change)> = deps
            .iter()
            .flat_map(|d| d.changes.iter().map(move |c| (d, c)))
            .filter(|(d, c)| c.started_at >= d.deployed_at)
            .collect();
        assert_eq!(skewed.len(), 1);
        let (d, c) = skewed[0];
        assert_eq!(c.started_at.seconds_since(d.deployed_at), 120.0);
        assert!(is_production(&d.environment) && d.status == DeployStatus::Success);

        // A change redeployed to the same service (different sha), and one commit deployed to
        // two services.
        let mut carriers: BTreeMap<&str, Vec<&Deployment>> = BTreeMap::new();
        for p in &prod {
            for c in &p.changes {
                carriers.entry(c.id.as_str()).or_default().push(p);
            }
        }
        assert!(
            carriers.values().any(|ds| ds.len() >= 2
                && ds[0].service == ds[1].service
                && ds[0].sha != ds[1].sha)
        );
        assert!(carriers.values().any(|ds| {
            let services: BTreeSet<_> = ds.iter().map(|d| d.service.as_str()).collect();
            services.len() == 2
                && ds
                    .iter()
                    .all(|d| d.repo.as_deref() == Some("acme/platform"))
        }));

        // Incidents in every triage state.
        let incs = &data.incidents;
        let prod_incident =
            |i: &&IncidentUpdate| i.environment.as_deref().is_none_or(|e| e == "production");
        assert!(incs.iter().any(|i| i.environment.is_none()));
        assert!(
            incs.iter()
                .any(|i| i.environment.as_deref() == Some("production"))
        );
        assert!(
            incs.iter()
                .any(|i| i.environment.as_deref() == Some("staging"))
        );
        let linked = incs
            .iter()
            .filter(|i| matches!(i.deployment_id, Some(Some(_))))
            .count();
        assert!(linked >= 3, "{linked} linked");
        assert!(incs.iter().any(|i| i.caused_by_deploy == Some(Some(true))
            && i.deployment_id.is_none()
            && i.service.is_some()));
        assert!(incs.iter().any(|i| i.caused_by_deploy == Some(Some(false))));
        let untriaged: Vec<&IncidentUpdate> = incs
            .iter()
            .filter(prod_incident)
            .filter(|i| i.caused_by_deploy.is_none())
            .collect();
        assert!(untriaged.len() >= 3);
        assert!(untriaged.iter().any(|i| {
            let opened = i.opened_at.unwrap();
            prod.iter().any(|d| {
                Some(Some(&d.service)) == i.service.as_ref().map(Option::as_ref)
                    && d.deployed_at < opened
                    && opened.seconds_since(d.deployed_at) <= 3600.0
            })
        }));
        let no_service: Vec<&IncidentUpdate> =
            incs.iter().filter(|i| i.service.is_none()).collect();
        assert!((1..=2).contains(&no_service.len()));
        assert!(
            no_service
                .iter()
                .any(|i| i.caused_by_deploy == Some(Some(true)))
        );
        assert!(incs.iter().any(|i| i.resolved_at == Some(None)));
        assert!(incs.iter().any(|i| i.resolved_at.is_none()));
        let open = incs
            .iter()
            .filter(|i| !matches!(i.resolved_at, Some(Some(_))))
            .count();
        assert_eq!(open, 2);
        // Degraded service: a SEV3 lasting hours.
        assert!(incs.iter().filter(prod_incident).any(|i| {
            let (Some(o), Some(Some(r))) = (i.opened_at, i.resolved_at) else {
                return false;
            };
            i.severity == Some(Some("SEV3".to_string())) && r.seconds_since(o) >= 3.0 * 3600.0
        }));
    }

    #[test]
    fn default_window_shows_the_edge_cases() {
        let events = events(&generate(NOW, 90, 42));
        let teams = TeamMap::from_deployments(Default::default(), &events.deployments);
        let org = |attribution| {
            let config = MetricsConfig {
                attribution,
                ..Default::default()
            };
            compute(
                &events,
                &config,
                &teams,
                &Scope::organisation(),
                Window::new(NOW, 30),
            )
        };
        let explicit = org(AttributionPolicy::Explicit);
        let window = org(AttributionPolicy::Window);
        assert_eq!(explicit.lead_time.changes_started_after_deployment, 1);
        assert!(explicit.change_failure_rate.attributed_organisation_wide >= 1);
        assert!(explicit.untriaged_incidents >= 1);
        assert!(
            window.change_failure_rate.failed_deployments
                > explicit.change_failure_rate.failed_deployments
        );
    }

    #[test]
    fn services_land_in_different_bands() {
        for seed in [42, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {
            let bands = bands(&generate(NOW, 90, seed));
            let distinct: BTreeSet<_> = bands.values().flatten().collect();
            let banded = bands.values().filter(|b| b.is_some()).count();
            assert!(distinct.len() >= 2, "seed {seed}: {bands:?}");
            assert!(banded >= 5, "seed {seed}: {bands:?}");
            assert_eq!(
                bands["checkout-web"],
                Some(Band::Elite),
                "seed {seed}: {bands:?}"
            );
            assert_eq!(bands["ledger"], Some(Band::Low), "seed {seed}: {bands:?}");
        }
    }
}
