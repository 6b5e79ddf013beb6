//! SQLite's inbox (migration 0010): acknowledged deployments wait there until the writer
//! moves them into the event tables, and no read or write that needs them ever misses
//! them. SQLite only: PostgreSQL writes deployments straight into their tables.

use crate::support::{Backend, DeploymentExt, at, deploy, prod_keys};
use pacer::store::{LeadTimeSet, ListQuery, Recorded, SharedStore};
use pacer_core::Window;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A store on a fresh SQLite file in `dir` (the suite's own), and the file.
async fn sqlite_store(dir: &Path) -> (SharedStore, PathBuf) {
    let url = crate::common::backends::fresh_url(Backend::Sqlite, dir).await;
    let store = pacer::store::open(&url).await.expect("open a SQLite store");
    let path = PathBuf::from(url.strip_prefix("sqlite://").expect("a SQLite URL"));
    (store, path)
}

/// `sql`'s one integer, read from the file beside the store's own connections.
fn count(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open the file");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn in_inbox(path: &Path) -> i64 {
    count(path, "SELECT count(*) FROM deployment_inbox")
}

fn in_deployments(path: &Path) -> i64 {
    count(path, "SELECT count(*) FROM deployments")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_deployments_wait_in_the_inbox_and_the_next_read_sees_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, path) = sqlite_store(dir.path()).await;
    for i in 0..3 {
        let d = deploy(&format!("d{i}"), "payments", at(i)).change(&format!("c{i}"), at(i - 1));
        assert_eq!(
            store.record_deployment(&d).await.unwrap(),
            Recorded::Created
        );
    }
    assert_eq!((in_inbox(&path), in_deployments(&path)), (3, 0));
    // A re-delivery of a deployment still in the inbox keeps the first recording.
    let again = deploy("d1", "payments", at(50));
    assert_eq!(
        store.record_deployment(&again).await.unwrap(),
        Recorded::AlreadyRecorded
    );
    // The read moves the inbox first, and sees all three with their changes.
    let d1 = store.deployment("d1").await.unwrap().expect("d1 is served");
    assert_eq!(d1.deployed_at, at(1), "the first recording is kept");
    assert_eq!(d1.changes.len(), 1);
    assert_eq!((in_inbox(&path), in_deployments(&path)), (0, 3));
    assert_eq!(
        count(&path, "SELECT count(*) FROM deployment_change_inbox"),
        0
    );
    // Once moved, a re-delivery is still known.
    assert_eq!(
        store.record_deployment(&again).await.unwrap(),
        Recorded::AlreadyRecorded
    );
    let events = store
        .load_window(None, &prod_keys(), Window::new(at(24), 30))
        .await
        .unwrap();
    assert_eq!(events.deployments.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_time_finds_a_deployment_still_in_the_inbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, path) = sqlite_store(dir.path()).await;
    store
        .record_deployment(&deploy("d1", "payments", at(0)))
        .await
        .unwrap();
    assert_eq!(in_inbox(&path), 1);
    // Any write other than a deployment moves the inbox first.
    assert_eq!(
        store.set_lead_time("d1", 5400.0).await.unwrap(),
        LeadTimeSet::Set
    );
    assert_eq!(in_inbox(&path), 0);
    let d1 = store.deployment("d1").await.unwrap().expect("d1");
    assert_eq!(d1.lead_time_seconds, Some(5400.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_a_stop_left_in_the_inbox_are_moved_when_the_store_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, path) = sqlite_store(dir.path()).await;
    store
        .record_deployment(&deploy("stored", "payments", at(0)))
        .await
        .unwrap();
    store.deployment("stored").await.unwrap().expect("moved");
    drop(store);
    // What a stop leaves: two deployments (one with a change) in the inbox, and a third
    // whose id `pacer import` has stored since; its first recording must stay.
    let conn = rusqlite::Connection::open(&path).expect("open the file");
    let columns = "id, service, environment, env_key, status, deployed_at, received_at, \
                   marked_hotfix, marked_rollback";
    for (id, hours) in [("left1", 1), ("left2", 2), ("stored", 3)] {
        conn.execute(
            &format!(
                "INSERT INTO deployment_inbox ({columns}) \
                 VALUES (?1, 'payments', 'production', 'production', 'success', ?2, ?2, 0, 0)"
            ),
            rusqlite::params![id, at(hours).millis()],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO deployment_change_inbox VALUES ('left2', 0, 'payments', 'c2', ?1)",
        [at(0).millis()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO deployment_change_inbox VALUES ('stored', 0, 'payments', 'cx', ?1)",
        [at(0).millis()],
    )
    .unwrap();
    drop(conn);

    let (store, path) = sqlite_store(dir.path()).await;
    assert_eq!((in_inbox(&path), in_deployments(&path)), (0, 3));
    let all = store
        .list_deployments(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    let mut got: Vec<(String, usize)> = all
        .iter()
        .map(|d| (d.id.clone(), d.changes.len()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("left1".to_string(), 0),
            ("left2".to_string(), 1),
            ("stored".to_string(), 0)
        ]
    );
    let stored = store.deployment("stored").await.unwrap().unwrap();
    assert_eq!(stored.deployed_at, at(0), "the first recording is kept");
}

/// More deployments than the writer lets gather (16,384) start a move in steps between
/// batches, with no read asking; a read in the middle of it sees each deployment once,
/// with its change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_in_steps_starts_without_a_read_and_a_read_sees_each_deployment_once() {
    const CLIENTS: usize = 64;
    const EACH: usize = 320; // 20,480 in all
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, path) = sqlite_store(dir.path()).await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                let k = (n * CLIENTS + client) as i64;
                let d = deploy(&format!("d{k:05}"), &format!("svc{}", k % 100), at(k / 100))
                    .change(&format!("c{k}"), at(k / 100 - 1));
                assert_eq!(
                    store.record_deployment(&d).await.unwrap(),
                    Recorded::Created
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let total = (CLIENTS * EACH) as i64;
    assert!(
        in_deployments(&path) > 0,
        "the writer moved deployments with no read asking"
    );
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM (SELECT id FROM deployments UNION SELECT id FROM deployment_inbox)"
        ),
        total,
        "every deployment is in the inbox or in deployments"
    );
    let all = store
        .list_deployments(&ListQuery {
            limit: 100_000,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len() as i64, total);
    assert!(all.iter().all(|d| d.changes.len() == 1), "each change once");
    assert_eq!((in_inbox(&path), in_deployments(&path)), (0, total));
    assert_eq!(
        count(&path, "SELECT count(*) FROM deployment_changes"),
        total
    );
}
