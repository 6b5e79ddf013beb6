//! What the store knows about services: the team each one's deployments name, its latest
//! deployment, and its deployments between two times.

use crate::support::{DeploymentExt, IncidentExt, at, deploy, fresh_store, incident, prod_keys};
use pacer::store::{ServiceRecord, named_teams};
use pacer_core::{Deployment, TeamMap, Timestamp};
use std::collections::BTreeMap;

fn record(name: &str, team: Option<&str>) -> ServiceRecord {
    ServiceRecord {
        name: name.to_string(),
        named_team: team.map(String::from),
    }
}

#[tokio::test]
async fn a_service_takes_the_team_of_its_latest_deployment_naming_one_in_any_delivery_order() {
    let deployments = vec![
        // api: the latest that names a team is a2; a3 is later but names none; a1 ties
        // with a2 on deployed_at and loses on id.
        deploy("a0", "api", at(1)).team("red"),
        deploy("a2", "api", at(5)).team("blue"),
        deploy("a1", "api", at(5)).team("green"),
        deploy("a3", "api", at(9)),
        // web: a staging deployment names its owners too, and so does a failed one.
        deploy("w1", "web", at(1)).team("red"),
        deploy("w2", "web", at(4)).env("staging").team("blue"),
        deploy("w3", "web", at(3)).failed().team("green"),
        // search: one deployment that names no team.
        deploy("s1", "search", at(2)),
    ];
    // A re-delivery of a2 (right after a2) that would make api's team "late" if it counted.
    let redelivery = deploy("a2", "api", at(100)).team("late");
    let expected = vec![
        record("api", Some("blue")),
        record("ops", None),
        record("search", None),
        record("web", Some("blue")),
    ];
    let n = deployments.len();
    // Forward, backward, and every rotation of both: each deployment comes first and last.
    let mut orders: Vec<Vec<Deployment>> = Vec::new();
    for reversed in [false, true] {
        for r in 0..n {
            let mut order = deployments.clone();
            if reversed {
                order.reverse();
            }
            order.rotate_left(r);
            orders.push(order);
        }
    }
    for order in orders {
        let store = fresh_store().await;
        // An incident names a service no deployment names; it also arrives before and
        // after api's deployments, and must not clear api's team.
        store
            .record_incident(incident("i-api", Some("api"), at(0)))
            .await
            .unwrap();
        store
            .record_incident(incident("i-ops", Some("ops"), at(0)))
            .await
            .unwrap();
        for d in &order {
            store.record_deployment(d).await.unwrap();
            if d.id == redelivery.id {
                store.record_deployment(&redelivery).await.unwrap();
            }
        }
        store
            .record_incident(incident("i-api", Some("api"), at(0)).resolved(at(1)))
            .await
            .unwrap();
        let services = store.services().await.unwrap();
        assert_eq!(services, expected, "delivery order {:?}", ids(&order));
        let configured = BTreeMap::from([("search".to_string(), "teal".to_string())]);
        assert_eq!(
            TeamMap::new(configured.clone(), named_teams(&services)),
            TeamMap::from_deployments(configured, &deployments),
        );
    }
}

fn ids(deployments: &[Deployment]) -> Vec<&str> {
    deployments.iter().map(|d| d.id.as_str()).collect()
}

/// Successful production deployments of api and web, with ties, and others that never
/// count: failed, staging, another service.
fn history() -> Vec<Deployment> {
    vec![
        deploy("a1", "api", at(1)).change("c1", at(0)),
        deploy("a2", "api", at(3))
            .env("Production")
            .change("c2", at(2)),
        deploy("a4", "api", at(5)).env("prod"),
        deploy("a3", "api", at(5)).env(" PRD ").lead(60.0),
        deploy("a5", "api", at(6)).failed(),
        deploy("a6", "api", at(7)).env("staging"),
        deploy("w1", "web", at(5)).change("c1", at(0)),
        deploy("w2", "web", at(8)),
    ]
}

async fn store_with(deployments: &[Deployment]) -> crate::support::TestStore {
    let store = fresh_store().await;
    for d in deployments {
        store.record_deployment(d).await.unwrap();
    }
    store
}

/// A deployment as `latest_deployment` returns it: without its changes.
fn bare(d: &Deployment) -> Deployment {
    Deployment {
        changes: Vec::new(),
        ..d.clone()
    }
}

fn find<'a>(all: &'a [Deployment], id: &str) -> &'a Deployment {
    all.iter().find(|d| d.id == id).expect("known id")
}

#[tokio::test]
async fn the_latest_deployment_is_the_newest_successful_production_one() {
    let all = history();
    let store = store_with(&all).await;
    let prod = prod_keys();
    // a5 is later but failed, a6 is later but staging; a3 and a4 tie and a4 wins on id.
    let latest = store.latest_deployment("api", &prod).await.unwrap();
    assert_eq!(latest.as_ref(), Some(&bare(find(&all, "a4"))));
    assert_eq!(
        store
            .latest_deployment("web", &prod)
            .await
            .unwrap()
            .as_ref(),
        Some(&bare(find(&all, "w2")))
    );
    assert_eq!(store.latest_deployment("ghost", &prod).await.unwrap(), None);
    // Other environments may be production: then staging counts, still not the failure.
    let staging = vec!["staging".to_string()];
    assert_eq!(
        store
            .latest_deployment("api", &staging)
            .await
            .unwrap()
            .as_ref(),
        Some(&bare(find(&all, "a6")))
    );
    assert_eq!(
        store
            .latest_deployment("api", &["production".to_string()])
            .await
            .unwrap()
            .as_ref(),
        Some(&bare(find(&all, "a2"))),
        "\"Production\" is production, \"prod\" and \" PRD \" are not"
    );
}

#[tokio::test]
async fn deployments_between_two_times_are_inclusive_and_newest_first() {
    let all = history();
    let store = store_with(&all).await;
    let prod = prod_keys();
    let between = async |service: Option<&str>, from: Timestamp, to: Timestamp| {
        let found = store
            .deployments_between(service, &prod, from, to)
            .await
            .unwrap();
        ids(&found)
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    // Both bounds inclusive; ties broken by the larger id; failed and staging left out.
    assert_eq!(between(Some("api"), at(3), at(7)).await, ["a4", "a3", "a2"]);
    assert_eq!(between(Some("api"), at(5), at(5)).await, ["a4", "a3"]);
    let just_after = Timestamp::from_millis(at(3).millis() + 1);
    assert_eq!(between(Some("api"), just_after, at(6)).await, ["a4", "a3"]);
    // Any service.
    assert_eq!(
        between(None, at(1), at(8)).await,
        ["w2", "w1", "a4", "a3", "a2", "a1"]
    );
    assert_eq!(
        between(Some("web"), at(6), at(7)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        between(Some("ghost"), at(0), at(9)).await,
        Vec::<String>::new()
    );
    // Whole deployments, changes and lead time included.
    let found = store
        .deployments_between(Some("api"), &prod, at(0), at(9))
        .await
        .unwrap();
    let expected: Vec<Deployment> = ["a4", "a3", "a2", "a1"]
        .iter()
        .map(|id| find(&all, id).clone())
        .collect();
    assert_eq!(found, expected);
}
