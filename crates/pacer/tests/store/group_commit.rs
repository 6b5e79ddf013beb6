//! Concurrent writes are committed together (group commit); each keeps its own answer.

use crate::support::{DeploymentExt, TestStore, at, deploy, each_backend, incident, prod_keys};
use pacer::store::{ListQuery, Recorded, StoreError};
use pacer_core::{IncidentUpdate, Window};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_a_refused_one_is_rolled_back_alone() {
    // Each backend on its own: a mirror would apply the writes one at a time.
    for (backend, store) in each_backend().await {
        eprintln!("group commit on {backend:?}");
        concurrent_writes(Arc::new(store)).await;
    }
}

async fn concurrent_writes(store: Arc<TestStore>) {
    // 300 deployments (each re-delivered once), 50 incidents, and 50 refused merges
    // (resolved before opened), all in flight at once so that they share transactions.
    let mut tasks = Vec::new();
    for i in 0..300 {
        for _ in 0..2 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let d = deploy(&format!("d{i:03}"), &format!("svc{}", i % 7), at(i))
                    .change(&format!("c{i}"), at(i - 1));
                store
                    .record_deployment(&d)
                    .await
                    .map(|r| (r == Recorded::Created) as usize)
            }));
        }
    }
    for i in 0..50 {
        let first = store.clone();
        tasks.push(tokio::spawn(async move {
            first
                .record_incident(incident(&format!("i{i}"), Some("svc1"), at(i)))
                .await
                .map(|_| 0)
        }));
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let bad = IncidentUpdate {
                resolved_at: Some(Some(at(i - 5))),
                ..incident(&format!("bad{i}"), Some("svc1"), at(i))
            };
            match store.record_incident(bad).await {
                Err(StoreError::Invalid(_)) => Ok(0),
                other => panic!("a resolution before the opening must be refused, got {other:?}"),
            }
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += t.await.expect("task").expect("write");
    }
    assert_eq!(created, 300, "each deployment is created exactly once");

    let all = ListQuery {
        limit: 10_000,
        ..ListQuery::default()
    };
    assert_eq!(store.list_deployments(&all).await.unwrap().len(), 300);
    let incidents = store.list_incidents(&all).await.unwrap();
    assert_eq!(incidents.len(), 50, "no refused merge left a row");
    assert!(incidents.iter().all(|i| i.id.starts_with('i')));
    let events = store
        .load_window(None, &prod_keys(), Window::new(at(400), 30))
        .await
        .unwrap();
    assert_eq!(
        events
            .deployments
            .iter()
            .map(|d| d.changes.len())
            .sum::<usize>(),
        300,
        "every change row committed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_deployments_only_store_each_once_and_answer_each_delivery() {
    // A batch holding nothing but deployments takes the writer's short path on SQLite (it
    // begins, reads the stored ids, inserts and commits in two round trips): it must keep
    // the answers of the general path. 100 deployments are stored one at a time first;
    // then 200 are sent at once, each twice: the 100 already stored (every delivery
    // answers "already recorded") and 100 new ones (one delivery each creates it).
    for (backend, store) in each_backend().await {
        let store = Arc::new(store);
        let d = |i: i64| {
            deploy(&format!("d{i:03}"), &format!("svc{}", i % 5), at(i))
                .change(&format!("c{i}"), at(i - 1))
                .team(&format!("team{i}"))
        };
        for i in 0..100 {
            store.record_deployment(&d(i)).await.unwrap();
        }
        let mut tasks = Vec::new();
        for i in 0..200 {
            for _ in 0..2 {
                let store = store.clone();
                let deployment = d(i);
                tasks.push(tokio::spawn(async move {
                    (i, store.record_deployment(&deployment).await.unwrap())
                }));
            }
        }
        let mut created = [0usize; 200];
        for t in tasks {
            let (i, recorded) = t.await.expect("task");
            created[i as usize] += (recorded == Recorded::Created) as usize;
        }
        assert!(
            created[..100].iter().all(|&n| n == 0),
            "{backend:?}: a stored deployment is never created again"
        );
        assert!(
            created[100..].iter().all(|&n| n == 1),
            "{backend:?}: each new deployment is created by exactly one of its deliveries"
        );
        let all = ListQuery {
            limit: 10_000,
            ..ListQuery::default()
        };
        assert_eq!(store.list_deployments(&all).await.unwrap().len(), 200);
        let events = store
            .load_window(None, &prod_keys(), Window::new(at(300), 30))
            .await
            .unwrap();
        assert_eq!(
            events
                .deployments
                .iter()
                .map(|d| d.changes.len())
                .sum::<usize>(),
            200,
            "{backend:?}: one change row per deployment, none twice"
        );
        // Each service's team is that of its latest deployment: svcK's is d(195 + K).
        let mut teams: Vec<(String, Option<String>)> = store
            .services()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.named_team))
            .collect();
        teams.sort();
        let expected: Vec<(String, Option<String>)> = (0..5)
            .map(|k| (format!("svc{k}"), Some(format!("team{}", 195 + k))))
            .collect();
        assert_eq!(teams, expected, "{backend:?}");
    }
}
