//! Several `pacer serve` replicas on one PostgreSQL database: every event is stored once
//! however many replicas receive it at the same moment, the replicas answer alike, and
//! their figures equal a single SQLite instance fed the same events. Idempotency must come
//! from the database (unique keys, `ON CONFLICT`, locks), never from a process's memory.
//! Also the start-up checks: an unreachable database and a schema newer than the binary.
//!
//! Needs PostgreSQL server binaries (tests/common/pg.rs); without them the PostgreSQL
//! tests print "PostgreSQL suite skipped" and pass, unless `PACER_REQUIRE_POSTGRES=1`.

#[path = "../common/mod.rs"]
mod common;

use pacer::store::{IncidentDelivery, IncidentEvent, IncidentState, WebhookDelivery};
use pacer_core::{Deployment, Timestamp};
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::Path;
use std::process::{Command, Stdio};

/// Window end of the tests: 2026-03-31T00:00:00Z; events lie in the 30 days before.
const END: &str = "2026-03-31T00:00:00Z";

/// 2026-03-01T00:00:00Z plus `hours`, as RFC 3339.
fn t(hours: i64) -> String {
    pacer::timefmt::format(Timestamp::from_seconds(1_772_323_200 + hours * 3600))
}

fn pacer(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    command
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

fn serve(dir: &Path, database: &str) -> common::serve::Served {
    common::serve::start(
        pacer(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .stderr(Stdio::null()),
    )
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> u16 {
    let r = client
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    assert!(status == 200 || status == 201, "{status} {text}");
    status
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    let r = client.get(&url).send().await.expect("request");
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.json().await.expect("json")
}

/// The test stream: 120 deployments with a change each over the 30 days, 3 services, and
/// 12 incidents, each opened then resolved (a separate delivery).
fn deployments() -> Vec<Value> {
    (0..120)
        .map(|i| {
            json!({
                "id": format!("d{i:03}"), "service": format!("svc{}", i % 3),
                "environment": "production", "deployed_at": t(5 * i + 10),
                "changes": [{"id": format!("c{i}"), "started_at": t(5 * i + 10 - 1 - i % 7)}]
            })
        })
        .collect()
}

fn incidents() -> Vec<(Value, Value)> {
    (0..12)
        .map(|i| {
            let opened = 50 * i + 12;
            (
                json!({"id": format!("i{i}"), "service": format!("svc{}", i % 3), "opened_at": t(opened)}),
                json!({"id": format!("i{i}"), "resolved_at": t(opened + 1 + i % 4), "caused_by_deploy": i % 2 == 0}),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_store_each_event_once_and_agree_with_sqlite() {
    let Some(url) = common::pg::fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    // The schema first, as an operator rolling out replicas would.
    let out = pacer(dir.path())
        .args(["migrate", "--database", &url])
        .output()
        .expect("run pacer migrate");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("schema version {}", pacer::store::SCHEMA_VERSION)),
        "{said}"
    );

    let (a, b) = (serve(dir.path(), &url), serve(dir.path(), &url));
    let client = pacer::http::client();
    // Even deployments go to both replicas at the same moment; odd ones to one replica
    // each (alternating), so the stream also has distinct events.
    let mut created = 0;
    for (i, d) in deployments().into_iter().enumerate() {
        if i % 2 == 0 {
            let (x, y) = tokio::join!(
                post(&client, format!("{}/api/v1/deployments", a.url), d.clone()),
                post(&client, format!("{}/api/v1/deployments", b.url), d)
            );
            assert_eq!(
                [x, y].iter().filter(|s| **s == 201).count(),
                1,
                "deployment {i}: exactly one replica creates it ({x}, {y})"
            );
            created += 1;
        } else {
            let target = if i % 4 == 1 { &a.url } else { &b.url };
            assert_eq!(
                post(&client, format!("{target}/api/v1/deployments"), d).await,
                201
            );
            created += 1;
        }
    }
    // Both deliveries of each incident to both replicas at once: the opening races the
    // resolution, and the merge must converge whichever lands first.
    for (open, resolve) in incidents() {
        tokio::join!(
            post(&client, format!("{}/api/v1/incidents", a.url), open.clone()),
            post(&client, format!("{}/api/v1/incidents", b.url), open),
        );
        tokio::join!(
            post(
                &client,
                format!("{}/api/v1/incidents", a.url),
                resolve.clone()
            ),
            post(&client, format!("{}/api/v1/incidents", b.url), resolve),
        );
    }

    // Counted through the API of each replica and in the database itself.
    for server in [&a, &b] {
        let list = get(
            &client,
            format!("{}/api/v1/deployments?limit=1000", server.url),
        )
        .await;
        assert_eq!(list["deployments"].as_array().expect("list").len(), created);
        let list = get(
            &client,
            format!("{}/api/v1/incidents?limit=1000", server.url),
        )
        .await;
        assert_eq!(list["incidents"].as_array().expect("list").len(), 12);
    }
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    for (table, want) in [
        ("deployments", 120),
        ("deployment_changes", 120),
        ("incidents", 12),
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .expect("count");
        assert_eq!(n, want, "{table} rows");
    }

    // A single SQLite instance fed the same events, one at a time.
    let sqlite = serve(
        dir.path(),
        &format!("sqlite://{}", dir.path().join("one.db").display()),
    );
    for d in deployments() {
        post(&client, format!("{}/api/v1/deployments", sqlite.url), d).await;
    }
    for (open, resolve) in incidents() {
        post(&client, format!("{}/api/v1/incidents", sqlite.url), open).await;
        post(&client, format!("{}/api/v1/incidents", sqlite.url), resolve).await;
    }
    for path in [
        format!("/api/v1/metrics?days=30&end={END}"),
        format!("/api/v1/metrics?service=svc1&days=30&end={END}"),
        format!("/api/v1/report?days=30&end={END}"),
    ] {
        let from_a = get(&client, format!("{}{path}", a.url)).await;
        let from_b = get(&client, format!("{}{path}", b.url)).await;
        let from_sqlite = get(&client, format!("{}{path}", sqlite.url)).await;
        assert_eq!(from_a, from_b, "{path}: the replicas disagree");
        assert_eq!(
            from_a, from_sqlite,
            "{path}: PostgreSQL and SQLite disagree"
        );
    }
    // Sanity of the figures compared: 120 deployments in 30 days (4.0 a day), 6 of the 12
    // incidents caused by a deployment.
    let m = get(
        &client,
        format!("{}/api/v1/metrics?days=30&end={END}", a.url),
    )
    .await;
    assert_eq!(m["deployment_frequency"]["deployments"], 120);
    assert_eq!(m["deployment_frequency"]["per_day"], 4.0);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 6);
    assert_eq!(m["mttr"]["incidents"], 12);
}

fn github_deploy(i: usize) -> Deployment {
    Deployment {
        id: format!("gh{i}"),
        service: "api".into(),
        environment: "production".into(),
        deployed_at: Timestamp::from_seconds(1_772_323_200 + i as i64 * 60),
        ..Deployment::default()
    }
}

/// The webhook paths race across replicas: two stores (one per replica) on one database
/// receive the same vendor delivery at the same moment; and the events of one incident
/// arrive out of order at different replicas at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_vendor_deliveries_are_stored_once_and_converge() {
    let Some(url) = common::pg::fresh_database().await else {
        return;
    };
    let one = pacer::store::open(&url).await.expect("replica one");
    let two = pacer::store::open(&url).await.expect("replica two");
    for i in 0..40 {
        let d = github_deploy(i);
        let key = format!("delivery-{i}");
        let (x, y) = tokio::join!(
            one.record_webhook_deployment("github", &key, &d),
            two.record_webhook_deployment("github", &key, &d)
        );
        let answers = [x.expect("one"), y.expect("two")];
        let processed = answers
            .iter()
            .filter(|a| matches!(a, WebhookDelivery::Processed(_)))
            .count();
        assert_eq!(processed, 1, "delivery {i}: {answers:?}");
    }
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(n, 40);

    // Per incident: a trigger (hour 1, severity P3), a resolution (hour 3, no severity) and
    // a severity change (hour 2, P1), sent at once, the newer two to the other replica first. Whatever
    // the interleaving, the newest of each part wins: resolved at hour 3, severity P1.
    let at = |h: i64| Timestamp::from_seconds(1_772_323_200 + h * 3600);
    for i in 0..20 {
        let id = format!("pd{i}");
        let event = |h: i64, state, severity: Option<&str>| IncidentEvent {
            incident_id: id.clone(),
            occurred_at: at(h),
            opened_at: Some(at(1)),
            state,
            service: Some("api".into()),
            severity: severity.map(String::from),
            environment: "production".into(),
        };
        let trigger = event(1, Some(IncidentState::Open), Some("P3"));
        let resolve = event(
            3,
            Some(IncidentState::Resolved {
                at: at(3),
                exact: true,
            }),
            None,
        );
        let escalate = event(2, None, Some("P1"));
        let keys = [1, 2, 3].map(|n| format!("{id}-{n}"));
        let (x, y, z) = tokio::join!(
            two.record_incident_event("pagerduty", &keys[2], &resolve),
            one.record_incident_event("pagerduty", &keys[0], &trigger),
            two.record_incident_event("pagerduty", &keys[1], &escalate),
        );
        for answer in [x, y, z] {
            assert!(matches!(
                answer.expect("event"),
                IncidentDelivery::Processed { .. }
            ));
        }
        // The same delivery again, to both at once: already processed by both.
        let (x, y) = tokio::join!(
            one.record_incident_event("pagerduty", &keys[2], &resolve),
            two.record_incident_event("pagerduty", &keys[2], &resolve),
        );
        for answer in [x, y] {
            assert!(matches!(
                answer.expect("replay"),
                IncidentDelivery::AlreadyProcessed { .. }
            ));
        }
        let stored = one.incident(&id).await.expect("read").expect("stored");
        assert_eq!(stored.resolved_at, Some(at(3)), "{id}");
        assert_eq!(stored.severity.as_deref(), Some("P1"), "{id}");
        assert_eq!(stored.opened_at, at(1), "{id}");
    }
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("postgres://pacer:s3cret@127.0.0.1:{port}/pacer");
    let out = pacer(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
        .output()
        .expect("run pacer serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "cannot reach the database at postgres://pacer:***@127.0.0.1:{port}/pacer"
        )),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "the password leaked: {err}");
}

/// A database a newer Pacer migrated (the version after this binary's, unknown here) is
/// refused, not written.
async fn refuses_a_newer_schema(url: &str, insert_future: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    pacer::store::migrate(url).await.expect("migrate");
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(insert_future.to_string()))
        .execute(&mut conn)
        .await
        .expect("pretend a newer Pacer migrated");
    conn.close().await.ok();
    for args in [
        vec!["migrate", "--database", url],
        vec!["serve", "--listen", "127.0.0.1:0", "--database", url],
    ] {
        let out = pacer(dir.path()).args(&args).output().expect("run pacer");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted a newer schema");
        let known = pacer::store::SCHEMA_VERSION;
        assert!(
            err.contains(&format!(
                "schema is at version {}, newer than this binary knows ({known})",
                known + 1
            )),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_on_sqlite() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    refuses_a_newer_schema(
        &url,
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ({}, 'future', TRUE, X'00', 0)",
            pacer::store::SCHEMA_VERSION + 1
        ),
    )
    .await;
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_on_postgres() {
    sqlx::any::install_default_drivers();
    let Some(url) = common::pg::fresh_database().await else {
        return;
    };
    refuses_a_newer_schema(
        &url,
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ({}, 'future', TRUE, '\\x00'::bytea, 0)",
            pacer::store::SCHEMA_VERSION + 1
        ),
    )
    .await;
}

/// A store upgraded from schema version 8 holds pushed deployments under the old push id
/// format (a hash alone; ids now begin with the deployment time). A re-push of one of
/// them must find it, not record it a second time under its new id; deployments the old
/// version never stored get new ids, before and after that time alike.
async fn a_repush_finds_a_deployment_stored_under_the_old_push_id(url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = pacer(dir.path())
        .args(["migrate", "--database", url])
        .output()
        .expect("run pacer migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What schema version 8 stored for a push of acme/payments to production at T: its
    // row under the old id. Then the store is put back to version 8 (migration 9 undone),
    // so that starting the server upgrades it as it would upgrade a real one.
    let at = Timestamp::from_seconds(1_772_323_200); // 2026-03-01T00:00:00Z
    let legacy = pacer::pushgateway::legacy_deployment_id("acme/payments", "production", at);
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for statement in [
        format!(
            "INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, \
             repo, received_at) VALUES ('{legacy}', 'acme/payments', 'production', \
             'production', 'success', {ms}, 'acme/payments', {ms})",
            ms = at.millis()
        ),
        // A later deployment sent through the API: not a push, so not what bounds the
        // old push ids.
        format!(
            "INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, \
             received_at) VALUES ('dep_later', 'acme/payments', 'production', 'production', \
             'success', {ms}, {ms})",
            ms = at.millis() + 3_600_000
        ),
        "INSERT INTO services (name) VALUES ('acme/payments')".to_string(),
        "DROP TABLE legacy_push_ids".to_string(),
        "DELETE FROM _sqlx_migrations WHERE version = 9".to_string(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.close().await.ok();

    let server = serve(dir.path(), url);
    // The upgrade recorded the latest old push id's time: T, not the later API deployment's.
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let until: Option<i64> = sqlx::Row::get(
        &sqlx::query("SELECT stored_until FROM legacy_push_ids")
            .fetch_one(&mut conn)
            .await
            .expect("legacy_push_ids"),
        "stored_until",
    );
    assert_eq!(until, Some(at.millis()));
    conn.close().await.ok();
    let client = pacer::http::client();
    let push = |seconds: i64| {
        let client = client.clone();
        let url = format!("{}/metrics/job/dora/instance/acme_payments", server.url);
        async move {
            let r = client
                .post(url)
                .body(format!(
                    "# TYPE dora_deployment_timestamp gauge\n\
                     dora_deployment_timestamp{{repo=\"acme/payments\",env=\"production\"}} {seconds}\n"
                ))
                .send()
                .await
                .expect("push");
            assert_eq!(r.status().as_u16(), 200);
            let body: Value = r.json().await.expect("json");
            let d = &body["deployments"][0];
            (
                d["id"].as_str().expect("id").to_string(),
                d["already_recorded"].as_bool().expect("already_recorded"),
            )
        }
    };
    // The same deployment again: found under its old id.
    assert_eq!(push(at.millis() / 1000).await, (legacy.clone(), true));
    // Deployments the old version never stored, before and after T: new ids, recorded.
    for seconds in [at.millis() / 1000 - 60, at.millis() / 1000 + 60] {
        let new_id = pacer::pushgateway::deployment_id(
            "acme/payments",
            "production",
            Timestamp::from_seconds(seconds),
        );
        assert!(new_id.starts_with("push_019"), "{new_id}");
        assert_eq!(push(seconds).await, (new_id.clone(), false));
        assert_eq!(push(seconds).await, (new_id, true));
    }
    let listed = get(
        &client,
        format!("{}/api/v1/deployments?service=acme/payments", server.url),
    )
    .await;
    assert_eq!(
        listed["deployments"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
}

#[tokio::test]
async fn a_repush_finds_the_old_push_id_on_sqlite() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    a_repush_finds_a_deployment_stored_under_the_old_push_id(&url).await;
}

#[tokio::test]
async fn a_repush_finds_the_old_push_id_on_postgres() {
    sqlx::any::install_default_drivers();
    let Some(url) = common::pg::fresh_database().await else {
        return;
    };
    a_repush_finds_a_deployment_stored_under_the_old_push_id(&url).await;
}
