//! PostgreSQL beside SQLite: ingest rate with one and two `pacer serve` replicas, and
//! metric-query latency over a large stored history. A plain `fn main`:
//! `cargo bench -p pacer --bench postgres` (docs/benchmarks.md, "PostgreSQL").
//!
//! Every server is a child process (`pacer serve`, the release binary), as in production,
//! so the replicas really are separate processes on one database. PostgreSQL is a
//! throwaway cluster from Debian's postgresql-15 binaries with its default durability
//! (fsync on, synchronous_commit on), SQLite runs with its default `synchronous=FULL`.
//! Everything shares this machine's cores: the servers, PostgreSQL and the load generator.
//!
//! Knobs: `PACER_BENCH_EVENTS` (stored events for the query phase, default 1,000,000),
//! `PACER_BENCH_SECS` (seconds per ingest run, default 10), `PACER_BENCH_CLIENTS`
//! (concurrent HTTP clients, default 32).

// The test suites' cluster support; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/common/pg.rs"]
mod pg;

use sqlx::Connection;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
/// 2026-03-31T00:00:00Z: the end of the stored year and of every queried window.
const END_MS: i64 = 1_774_915_200_000;
const SERVICES: usize = 1000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[path = "../tests/common/serve.rs"]
mod serve;

use serve::Served as Server;

fn serve(database: &str) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    // The bench's own PACER_BENCH_* knobs are not server settings.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    // A load generator on loopback is one client address: the per-client rate limit
    // (limits.rate_per_second) would measure itself, not the store.
    command.env("PACER_LIMITS__RATE_PER_SECOND", "0");
    serve::start(
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit()),
    )
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `clients` clients post new deployments (one change each) for `secs` seconds, spread
/// over `bases` round-robin by client. Returns (accepted per second, p50 ms, p99 ms).
async fn ingest(bases: &[String], clients: usize, secs: f64, tag: &str) -> (f64, f64, f64) {
    let client = pacer::http::client();
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, next) = (client.clone(), next.clone());
        let url = format!("{}/api/v1/deployments", bases[c % bases.len()]);
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let at = pacer::timefmt::format(pacer_core::Timestamp::from_millis(
                    END_MS - 3_600_000 + (n as i64 % 3_600_000),
                ));
                let body = serde_json::json!({
                    "id": format!("{tag}-{n}"), "service": format!("svc{}", n % 50),
                    "environment": "production", "deployed_at": at,
                    "changes": [{"id": format!("{tag}-c{n}"), "started_at": at}]
                });
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status().as_u16(), 201, "ingest answered {}", r.status());
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    (all.len() as f64 / elapsed, pct(&all, 0.5), pct(&all, 0.99))
}

/// Stores `events` events in one statement per table (98 % deployments, each carrying one
/// change, 2 % incidents, a third caused by a deployment) over the year before `END_MS`,
/// spread over 1,000 services. The same SQL runs on both backends.
async fn bulk_load(url: &str, events: usize) {
    pacer::store::migrate(url).await.expect("migrate");
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let deployments = events * 98 / 100;
    let incidents = events - deployments;
    let start = END_MS - 365 * DAY_MS;
    let step = 365 * DAY_MS / deployments as i64;
    let istep = 365 * DAY_MS / incidents as i64;
    let series = |n: usize| {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < {})",
            n - 1
        )
    };
    let statements = [
        format!(
            "{} INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, received_at) \
             SELECT 'd' || i, 'svc' || (i % {SERVICES}), 'production', 'production', 'success', \
             {start} + i * {step}, {start} + i * {step} FROM s",
            series(deployments)
        ),
        "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) \
         SELECT id, 0, service, 'c' || id, deployed_at - 600000 - (deployed_at % 97) * 60000 \
         FROM deployments"
            .to_string(),
        format!(
            "{} INSERT INTO incidents (id, service, environment, env_key, opened_at, resolved_at, \
             caused_by_deploy, received_at, updated_at) \
             SELECT 'i' || i, 'svc' || (i % {SERVICES}), 'production', 'production', {start} + i * {istep}, \
             {start} + i * {istep} + 1800000 + (i % 5) * 600000, \
             CASE WHEN i % 3 = 0 THEN 1 ELSE NULL END, {start}, {start} FROM s",
            series(incidents)
        ),
        "INSERT INTO services (name) SELECT DISTINCT service FROM deployments".to_string(),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("bulk load");
    }
    if url.starts_with("postgres") {
        // What autovacuum would do shortly after a bulk load; without statistics the
        // planner guesses on the first queries.
        sqlx::query("ANALYZE")
            .execute(&mut conn)
            .await
            .expect("analyze");
    }
    conn.close().await.ok();
}

/// Median and p90 of `n` GETs of each path (paths taken round-robin).
async fn latency(base: &str, paths: &[String], n: usize) -> (f64, f64) {
    let client = pacer::http::client();
    let mut times = Vec::new();
    for i in 0..n {
        let url = format!("{base}{}", paths[i % paths.len()]);
        let t = Instant::now();
        let r = client.get(&url).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 200, "{url}");
        r.bytes().await.expect("body");
        times.push(t.elapsed());
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.9))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    sqlx::any::install_default_drivers();
    let events: usize = env_or("PACER_BENCH_EVENTS", 1_000_000);
    let secs: f64 = env_or("PACER_BENCH_SECS", 10.0);
    let clients: usize = env_or("PACER_BENCH_CLIENTS", 32);
    let bin = pg::server_bin().expect("PostgreSQL server binaries (apt-get install postgresql-15)");
    let admin = pg::start_cluster(bin, true);
    let dir = tempfile::tempdir().expect("temp dir");

    println!("## ingest: {clients} clients, {secs} s each, one change per deployment");
    println!("| backend | replicas | deployments/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let sqlite = format!("sqlite://{}", dir.path().join("ingest.db").display());
    let runs: Vec<(&str, String, usize)> = vec![
        ("SQLite", sqlite, 1),
        ("PostgreSQL", pg::create_database(&admin).await, 1),
        ("PostgreSQL", pg::create_database(&admin).await, 2),
    ];
    for (name, url, replicas) in runs {
        pacer::store::migrate(&url).await.expect("migrate");
        let servers: Vec<Server> = (0..replicas).map(|_| serve(&url)).collect();
        let bases: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
        let (rate, p50, p99) = ingest(&bases, clients, secs, &format!("{name}{replicas}")).await;
        println!("| {name} | {replicas} | {rate:.0} | {p50:.1} | {p99:.1} |");
    }

    println!();
    println!("## metric queries over {events} stored events (30-day window, 1,000 services)");
    println!(
        "| backend | load s | service p50 ms | service p90 ms | organisation p50 ms | report p50 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let end = pacer::timefmt::format(pacer_core::Timestamp::from_millis(END_MS));
    let service_paths: Vec<String> = (0..20)
        .map(|s| format!("/api/v1/metrics?service=svc{}&days=30&end={end}", s * 37))
        .collect();
    let org = vec![format!("/api/v1/metrics?days=30&end={end}")];
    let report = vec![format!("/api/v1/report?days=30&end={end}")];
    let sqlite = format!("sqlite://{}", dir.path().join("big.db").display());
    for (name, url) in [
        ("SQLite", sqlite),
        ("PostgreSQL", pg::create_database(&admin).await),
    ] {
        let t = Instant::now();
        bulk_load(&url, events).await;
        let load = t.elapsed().as_secs_f64();
        let server = serve(&url);
        // One warm-up pass, as a running server would have had.
        latency(&server.url, &service_paths, 20).await;
        let (s50, s90) = latency(&server.url, &service_paths, 100).await;
        let (o50, _) = latency(&server.url, &org, 5).await;
        let (r50, _) = latency(&server.url, &report, 3).await;
        println!("| {name} | {load:.1} | {s50:.1} | {s90:.1} | {o50:.0} | {r50:.0} |");
    }
}
