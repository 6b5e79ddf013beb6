//! The bulk path of `pacer import` (`Store::import_batch`) stores what the normal write
//! path stores: the same deployments, changes, incidents and services, whatever the batch
//! boundaries, and re-importing adds nothing. Run on every backend (the mirror also checks
//! that SQLite and PostgreSQL answer alike).

use crate::support::{
    DeploymentExt, IncidentExt, at, deploy, fresh_store, incident, prod_keys, update,
};
use pacer::demo::{Event, ScaleOptions, generate_scaled};
use pacer::store::{ImportCounts, ListQuery, Store, StoreError};
use pacer_core::{Deployment, IncidentError, IncidentUpdate, Timestamp, Window};

/// Everything a store holds that the API and the metrics can see.
async fn contents(
    store: &dyn Store,
) -> (
    Vec<Deployment>,
    Vec<pacer_core::Incident>,
    Vec<pacer::store::ServiceRecord>,
) {
    let all = ListQuery {
        limit: 1_000_000,
        ..ListQuery::default()
    };
    (
        store.list_deployments(&all).await.unwrap(),
        store.list_incidents(&all).await.unwrap(),
        store.services().await.unwrap(),
    )
}

fn split(events: &[Event]) -> (Vec<Deployment>, Vec<IncidentUpdate>) {
    let mut d = Vec::new();
    let mut i = Vec::new();
    for e in events {
        match e {
            Event::Deployment(x) => d.push(x.clone()),
            Event::Incident(x) => i.push(x.clone()),
        }
    }
    (d, i)
}

#[tokio::test]
async fn a_generated_history_in_batches_equals_the_normal_path() {
    let now = Timestamp::from_seconds(1_774_915_200); // 2026-03-31T00:00:00Z
    let events: Vec<Event> = generate_scaled(ScaleOptions {
        services: 25,
        days: 20,
        deploys_per_day: 2.0,
        seed: 3,
        now,
    })
    .collect();
    let normal = fresh_store().await;
    for e in &events {
        match e {
            Event::Deployment(d) => {
                normal.record_deployment(d).await.unwrap();
            }
            Event::Incident(i) => {
                normal.record_incident(i.clone()).await.unwrap();
            }
        }
    }
    let bulk = fresh_store().await;
    let mut total = ImportCounts::default();
    // Uneven batches, so that batch boundaries fall anywhere.
    for chunk in events.chunks(97) {
        let (d, i) = split(chunk);
        total += bulk.import_batch(&d, &i).await.unwrap();
    }
    let (deployments, incidents) = split(&events);
    let changes: usize = deployments.iter().map(|d| d.changes.len()).sum();
    assert_eq!(total.deployments_created, deployments.len() as u64);
    assert_eq!(total.changes_created, changes as u64);
    assert_eq!(total.incidents_created, incidents.len() as u64);
    assert_eq!(
        (
            total.deployments_already,
            total.incidents_updated,
            total.incidents_unchanged
        ),
        (0, 0, 0)
    );
    assert_eq!(contents(&*bulk).await, contents(&*normal).await);
    for (days, end) in [
        (7, now),
        (30, now),
        (3, Timestamp::from_seconds(1_774_000_000)),
    ] {
        let window = Window::new(end, days);
        let mut a = normal
            .load_window(None, &prod_keys(), window)
            .await
            .unwrap();
        let mut b = bulk.load_window(None, &prod_keys(), window).await.unwrap();
        for e in [&mut a, &mut b] {
            e.deployments.sort_by(|x, y| x.id.cmp(&y.id));
            e.incidents.sort_by(|x, y| x.id.cmp(&y.id));
        }
        assert_eq!(a, b, "window of {days} days");
    }

    // Importing the same events again adds nothing.
    let again = bulk.import_batch(&deployments, &incidents).await.unwrap();
    assert_eq!(
        again,
        ImportCounts {
            deployments_already: deployments.len() as u64,
            incidents_unchanged: incidents.len() as u64,
            ..ImportCounts::default()
        }
    );
    assert_eq!(contents(&*bulk).await, contents(&*normal).await);
}

#[tokio::test]
async fn duplicates_merges_and_teams_follow_the_api() {
    let store = fresh_store().await;
    // Stored before the import: d1 (team red) and an open incident.
    store
        .record_deployment(&deploy("d1", "api", at(10)).team("red").change("c1", at(9)))
        .await
        .unwrap();
    store
        .record_incident(incident("i1", Some("api"), at(11)))
        .await
        .unwrap();
    let deployments = vec![
        // Known id, every field different: keeps its first recording.
        deploy("d1", "web", at(20))
            .team("blue")
            .change("c9", at(19)),
        // New, names team blue later than d1: api moves to blue.
        deploy("d2", "api", at(30))
            .team("blue")
            .change("c2", at(29)),
        // The same new id twice in one batch: the first one counts.
        deploy("d3", "web", at(40)).change("c3", at(39)),
        deploy("d3", "web", at(50)).change("c4", at(49)),
    ];
    let incidents = vec![
        update("i1").resolved(at(12)).caused(Some(true)),
        incident("i2", None, at(31)),
        update("i2").resolved(at(33)).names("d2"),
    ];
    let counts = store.import_batch(&deployments, &incidents).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            deployments_created: 2,
            deployments_already: 2,
            changes_created: 2,
            incidents_created: 1,
            incidents_updated: 1,
            incidents_unchanged: 0,
        }
    );

    // The same deliveries through the normal path, for reference.
    let reference = fresh_store().await;
    reference
        .record_deployment(&deploy("d1", "api", at(10)).team("red").change("c1", at(9)))
        .await
        .unwrap();
    reference
        .record_incident(incident("i1", Some("api"), at(11)))
        .await
        .unwrap();
    for d in &deployments {
        reference.record_deployment(d).await.unwrap();
    }
    for i in &incidents {
        reference.record_incident(i.clone()).await.unwrap();
    }
    assert_eq!(contents(&*store).await, contents(&*reference).await);
    let services = store.services().await.unwrap();
    assert_eq!(services[0].name, "api");
    assert_eq!(services[0].named_team.as_deref(), Some("blue"));
}

#[tokio::test]
async fn a_refused_merge_writes_nothing_of_its_batch() {
    let store = fresh_store().await;
    store
        .record_incident(incident("i1", Some("api"), at(10)))
        .await
        .unwrap();
    let before = contents(&*store).await;
    let err = store
        .import_batch(
            &[deploy("d1", "api", at(5)).change("c1", at(4))],
            &[
                incident("i2", Some("api"), at(6)),
                // Resolved before it opened: the API refuses this delivery.
                update("i1").resolved(at(9)),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid(IncidentError::ResolvedBeforeOpened { .. })
        ),
        "{err}"
    );
    assert_eq!(contents(&*store).await, before);
}

/// The secondary indexes of a SQLite store, by name.
async fn sqlite_indexes(url: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(url).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    names.into_iter().map(|(n,)| n).collect()
}

#[tokio::test]
async fn an_import_into_an_empty_sqlite_store_builds_its_indexes_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("import.db").display());
    let store = pacer::store::open(&url).await.unwrap();
    let all_indexes = sqlite_indexes(&url).await;
    for name in [
        "deployments_service_time",
        "deployments_time",
        "deployments_service_sha_time",
        "deployment_changes_carriers",
        "incidents_service_opened",
    ] {
        assert!(
            all_indexes.iter().any(|n| n == name),
            "{name} in {all_indexes:?}"
        );
    }
    let deployments = [
        deploy("d1", "pay", at(1)).change("c1", at(0)),
        deploy("d2", "pay", at(2)),
    ];
    let incidents = [incident("i1", Some("pay"), at(3))];
    store.import_batch(&deployments, &incidents).await.unwrap();
    // Into an empty store, the event tables' secondary indexes wait for the end.
    let during = sqlite_indexes(&url).await;
    assert!(
        !during.iter().any(|n| n == "deployments_service_time"),
        "deferred during the import: {during:?}"
    );
    // An import that stops here leaves them to the next opening of the store.
    let reopened = pacer::store::open(&url).await.unwrap();
    assert_eq!(sqlite_indexes(&url).await, all_indexes);
    // The import's end finds nothing left to build, and the data is whole.
    store.import_done().await.unwrap();
    assert_eq!(sqlite_indexes(&url).await, all_indexes);
    let (stored, stored_incidents, _) = contents(&*reopened).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored_incidents.len(), 1);

    // Into a store that holds events, nothing is deferred: a server may be reading it.
    let more = [deploy("d3", "pay", at(4))];
    reopened.import_batch(&more, &[]).await.unwrap();
    assert_eq!(sqlite_indexes(&url).await, all_indexes);
    reopened.import_done().await.unwrap();
    assert_eq!(sqlite_indexes(&url).await, all_indexes);
}

#[tokio::test]
async fn a_whole_import_into_an_empty_sqlite_store_ends_with_every_index() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("import.db").display());
    let store = pacer::store::open(&url).await.unwrap();
    let all_indexes = sqlite_indexes(&url).await;
    let events: Vec<Event> = generate_scaled(ScaleOptions {
        services: 20,
        days: 30,
        deploys_per_day: 2.0,
        seed: 7,
        now: at(24 * 60),
    })
    .collect();
    let (deployments, incidents) = split(&events);
    for (d, i) in deployments.chunks(100).zip(incidents.chunks(10)) {
        store.import_batch(d, i).await.unwrap();
    }
    store.import_done().await.unwrap();
    assert_eq!(sqlite_indexes(&url).await, all_indexes);
}
