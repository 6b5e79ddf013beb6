//! Soak test: a `pacer serve` child process (the bench profile's build, i.e. release)
//! driven at a steady rate for N minutes with a mix of valid (70 %), duplicate (20 %) and
//! malformed (10 %) requests. At the end every acknowledged event must be in the database
//! file; along the way RSS is sampled from `/proc/<pid>/status` and latencies recorded.
//!
//! ```sh
//! cargo bench -p pacer --bench soak -- --minutes 10            # 500 req/s
//! cargo bench -p pacer --bench soak -- --minutes 1 --rate 200
//! ```
//!
//! Without `--minutes` it does nothing (so `cargo bench` and `--all-targets` runs stay
//! short). The load is open-loop: requests start on a fixed schedule whatever the server's
//! latency (a closed loop would slow down with the server and hide queueing), with at most
//! 1,024 in flight. It exits non-zero on a lost acknowledged event, a 5xx, a connection
//! error or an answer outside the expected class of its request.
//! Results: docs/reliability.md.

use serde_json::json;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const MAX_IN_FLIGHT: usize = 1024;

struct Args {
    minutes: f64,
    rate: u32,
}

fn args() -> Option<Args> {
    let mut minutes = None;
    let mut rate = 500;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => minutes = it.next().and_then(|v| v.parse().ok()),
            "--rate" => rate = it.next().and_then(|v| v.parse().ok()).unwrap_or(rate),
            // cargo passes `--bench`; anything else is ignored too.
            _ => {}
        }
    }
    Some(Args {
        minutes: minutes?,
        rate,
    })
}

/// What a request was, so its answer can be judged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Valid,
    Duplicate,
    Malformed,
}

#[derive(Default)]
struct Tally {
    acked_deployments: BTreeSet<String>,
    acked_incidents: BTreeSet<String>,
    /// (kind, status) counts.
    statuses: std::collections::BTreeMap<(String, u16), u64>,
    /// Answers outside the expected class, connection errors.
    wrong: Vec<String>,
    /// The last acknowledged requests, for duplicates: (path, body, is deployment, id).
    recent: Vec<(&'static str, String, bool, String)>,
    /// Latency of every answered request in microseconds, with its completion time.
    latencies: Vec<(Duration, u32)>,
}

/// The body of a malformed request, one of the classes docs/reliability.md lists.
fn malformed(n: u64) -> (&'static str, String) {
    match n % 8 {
        0 => ("/api/v1/deployments", "{\"service\": \"api\",".into()),
        1 => (
            "/api/v1/deployments",
            json!({"environment": "production"}).to_string(),
        ),
        2 => (
            "/api/v1/deployments",
            json!({"service": 7, "environment": "production"}).to_string(),
        ),
        3 => (
            "/api/v1/deployments",
            json!({"service": "api", "environment": "production", "deployed_at": "yesterday"})
                .to_string(),
        ),
        4 => (
            "/api/v1/deployments",
            json!({"service": "api", "environment": "production", "sevrice": "x"}).to_string(),
        ),
        5 => ("/api/v1/incidents", json!({"service": "api"}).to_string()),
        6 => (
            "/api/v1/incidents",
            json!({"id": "x", "opened_at": -5, "service": "api"}).to_string(),
        ),
        _ => ("/api/v1/deployments", "\u{0}\u{1}not json".into()),
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    f64::from(sorted[rank.min(sorted.len()) - 1]) / 1000.0
}

fn main() {
    let Some(args) = args() else {
        eprintln!("soak: pass --minutes N (and optionally --rate R) to run; skipping");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ok = runtime.block_on(soak(args));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn soak(args: Args) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("soak.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite://{}", db.display()))
        // One client address sends everything: the per-client limit would answer 429.
        .env("PACER_LIMITS__RATE_PER_SECOND", "0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pacer serve");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .strip_prefix("pacer listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let url = format!("http://{addr}");
    let client = pacer::http::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let total = (args.minutes * 60.0 * f64::from(args.rate)).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    println!(
        "soak: {} min at {} req/s ({total} requests: 70 % valid, 20 % duplicate, 10 % \
         malformed) against pacer serve pid {pid} on {url}",
        args.minutes, args.rate
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let start = Instant::now();
    let mut rss = vec![(Duration::ZERO, rss_kib(pid).unwrap_or(0))];
    let mut next_sample = SAMPLE_EVERY;
    let mut rng = fastrand::Rng::with_seed(8);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut late_starts = 0u64;
    for n in 0..total {
        ticker.tick().await;
        if start.elapsed() >= next_sample {
            rss.push((start.elapsed(), rss_kib(pid).unwrap_or(0)));
            next_sample += SAMPLE_EVERY;
        }
        let roll = rng.u32(0..100);
        let kind = match roll {
            0..70 => Kind::Valid,
            70..90 => Kind::Duplicate,
            _ => Kind::Malformed,
        };
        let (path, body, id, kind) = {
            let t = tally.lock().expect("tally");
            // A duplicate repeats an acknowledged request byte for byte (as a retrying
            // sender does); with nothing acknowledged yet it is a new valid write instead.
            let dup = (kind == Kind::Duplicate && !t.recent.is_empty())
                .then(|| t.recent[rng.usize(..t.recent.len())].clone());
            match (kind, dup) {
                (Kind::Malformed, _) => {
                    let (p, b) = malformed(n);
                    (p, b, None, kind)
                }
                (_, Some((p, b, deploy, id))) => (p, b, Some((deploy, id)), Kind::Duplicate),
                _ => {
                    let id = format!("soak-{n}");
                    let at = 1_772_323_200 + (n as i64 % 2_000_000);
                    let service = format!("svc-{}", n % 50);
                    if rng.bool() {
                        let body = json!({"id": id, "service": service,
                               "environment": "production", "deployed_at": at,
                               "changes": [{"id": format!("c-{id}"), "started_at": at - 3600}]});
                        (
                            "/api/v1/deployments",
                            body.to_string(),
                            Some((true, id)),
                            Kind::Valid,
                        )
                    } else {
                        let body = json!({"id": id, "service": service, "opened_at": at});
                        (
                            "/api/v1/incidents",
                            body.to_string(),
                            Some((false, id)),
                            Kind::Valid,
                        )
                    }
                }
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Every slot busy: wait (the schedule slips; counted below).
            late_starts += 1;
            let permit = slots.clone().acquire_owned().await.expect("semaphore");
            spawn_request(&client, &url, path, body, id, kind, &tally, start, permit);
            continue;
        };
        spawn_request(&client, &url, path, body, id, kind, &tally, start, permit);
    }
    // Wait for the last answers.
    let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
    let elapsed = start.elapsed();
    rss.push((elapsed, rss_kib(pid).unwrap_or(0)));

    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    // Zero acknowledged events lost: read the file through a read-only connection while
    // the server still holds it.
    let lost = lost_events(&db, &t).await;
    let _ = child.kill();
    let _ = child.wait();
    report(&t, &rss, elapsed, late_starts, lost, total);
    lost == 0 && t.wrong.is_empty()
}

#[allow(clippy::too_many_arguments)]
fn spawn_request(
    client: &reqwest::Client,
    url: &str,
    path: &'static str,
    body: String,
    id: Option<(bool, String)>,
    kind: Kind,
    tally: &Arc<Mutex<Tally>>,
    start: Instant,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let request = client
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(body.clone());
    let tally = tally.clone();
    tokio::spawn(async move {
        let sent = Instant::now();
        let result = request.send().await;
        let latency = sent.elapsed();
        let mut t = tally.lock().expect("tally");
        match result {
            Ok(r) => {
                let status = r.status().as_u16();
                t.latencies.push((
                    start.elapsed(),
                    latency.as_micros().min(u32::MAX as u128) as u32,
                ));
                *t.statuses
                    .entry((format!("{kind:?}").to_lowercase(), status))
                    .or_default() += 1;
                let expected = match kind {
                    Kind::Valid => status == 201,
                    Kind::Duplicate => status == 200,
                    Kind::Malformed => (400..500).contains(&status),
                };
                if !expected {
                    t.wrong.push(format!("{kind:?} {path} answered {status}"));
                }
                if (200..300).contains(&status)
                    && let Some((deploy, id)) = id
                {
                    if kind == Kind::Valid {
                        if t.recent.len() >= 1024 {
                            let i = t.latencies.len() % t.recent.len();
                            t.recent.swap_remove(i);
                        }
                        t.recent.push((path, body, deploy, id.clone()));
                    }
                    if deploy {
                        t.acked_deployments.insert(id);
                    } else {
                        t.acked_incidents.insert(id);
                    }
                }
            }
            Err(e) => t.wrong.push(format!("{kind:?} {path}: {e}")),
        }
        drop(permit);
    });
}

async fn lost_events(db: &std::path::Path, t: &Tally) -> usize {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .expect("open read-only");
    let mut lost = 0;
    for (table, sql, acked) in [
        (
            "deployments",
            "SELECT id FROM deployments",
            &t.acked_deployments,
        ),
        ("incidents", "SELECT id FROM incidents", &t.acked_incidents),
    ] {
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(&mut conn)
            .await
            .expect("ids");
        let stored: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(stored.len(), ids.len(), "an id stored twice in {table}");
        lost += acked.iter().filter(|id| !stored.contains(*id)).count();
    }
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    println!("integrity_check: {integrity}");
    if integrity != "ok" {
        lost += 1;
    }
    lost
}

fn report(
    t: &Tally,
    rss: &[(Duration, u64)],
    elapsed: Duration,
    late: u64,
    lost: usize,
    total: u64,
) {
    println!();
    println!("| t (s) | RSS (MiB) | requests in the last 10 s | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut from = Duration::ZERO;
    for (at, kib) in rss {
        let mut window: Vec<u32> = t
            .latencies
            .iter()
            .filter(|(done, _)| *done > from && *done <= *at)
            .map(|(_, us)| *us)
            .collect();
        window.sort_unstable();
        println!(
            "| {:.0} | {:.1} | {} | {:.2} | {:.2} | {:.2} |",
            at.as_secs_f64(),
            *kib as f64 / 1024.0,
            window.len(),
            percentile(&window, 50.0),
            percentile(&window, 99.0),
            window.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0)
        );
        from = *at;
    }
    let mut all: Vec<u32> = t.latencies.iter().map(|(_, us)| *us).collect();
    all.sort_unstable();
    println!();
    println!(
        "{} answers to {total} requests in {:.1} s ({:.1} req/s); {late} started late (all {} slots busy)",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        MAX_IN_FLIGHT
    );
    println!(
        "latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        percentile(&all, 50.0),
        percentile(&all, 90.0),
        percentile(&all, 99.0),
        percentile(&all, 99.9),
        all.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0)
    );
    println!("answers by request kind and status:");
    for ((kind, status), count) in &t.statuses {
        println!("  {kind:<10} {status}: {count}");
    }
    let first = rss.first().map_or(0, |r| r.1);
    let settled = rss.get(1).map_or(first, |r| r.1);
    let last = rss.last().map_or(0, |r| r.1);
    let peak = rss.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "RSS MiB: at start {:.1}, after 10 s {:.1}, peak {:.1}, at end {:.1}",
        first as f64 / 1024.0,
        settled as f64 / 1024.0,
        peak as f64 / 1024.0,
        last as f64 / 1024.0
    );
    println!(
        "acknowledged: {} deployments, {} incidents; lost: {lost}; unexpected answers: {}",
        t.acked_deployments.len(),
        t.acked_incidents.len(),
        t.wrong.len()
    );
    for w in t.wrong.iter().take(20) {
        println!("  {w}");
    }
}
