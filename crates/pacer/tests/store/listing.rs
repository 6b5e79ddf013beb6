//! Listing: every filter, newest first with the id as tie-break, and paging. Each query is
//! checked against a straightforward filter over the recorded events, and a few against
//! hand-written answers.

use crate::support::{DeploymentExt, IncidentExt, T0, at, deploy, fresh_store, incident};
use pacer::store::ListQuery;
use pacer_core::{Deployment, Incident, Timestamp};

const ALL: u32 = 10_000;

fn env_key(e: &str) -> String {
    e.trim().to_lowercase()
}

/// Deployments at 3 per hour-slot (ties on deployed_at), with ids that sort neither in
/// time nor in recording order, over services, environment spellings and statuses.
fn deployments() -> Vec<Deployment> {
    const SERVICES: [&str; 3] = ["api", "web", "search"];
    const ENVS: [&str; 5] = [
        "production",
        "Production",
        "staging",
        "prod",
        " PRODUCTION ",
    ];
    (0..30)
        .map(|k: usize| {
            let id = format!("d{:02}", (k * 7) % 30);
            let d = deploy(&id, SERVICES[k % 3], at((k / 3) as i64))
                .env(ENVS[k % 5])
                .change(&format!("c{k}"), at(-1));
            if k % 4 == 3 { d.failed() } else { d }
        })
        .collect()
}

/// Incidents with ties on opened_at, services (or none), environments and triage.
fn incidents() -> Vec<pacer_core::IncidentUpdate> {
    const SERVICES: [Option<&str>; 4] = [Some("api"), Some("web"), None, Some("search")];
    const ENVS: [&str; 3] = ["production", "Staging", "PROD"];
    const TRIAGE: [Option<bool>; 3] = [None, Some(true), Some(false)];
    (0..24)
        .map(|k: usize| {
            let id = format!("i{:02}", (k * 5) % 24);
            let u = incident(&id, SERVICES[k % 4], at((k / 2) as i64))
                .env(ENVS[k % 3])
                .caused(TRIAGE[(2 * k + k / 3) % 3]);
            if k.is_multiple_of(2) {
                u.resolved(at(20))
            } else {
                u
            }
        })
        .collect()
}

fn matches(
    q: &ListQuery,
    service: Option<&str>,
    environment: &str,
    status: Option<&str>,
    t: Timestamp,
    caused: Option<Option<bool>>,
) -> bool {
    q.service.as_deref().is_none_or(|s| Some(s) == service)
        && q.services
            .as_ref()
            .is_none_or(|list| service.is_some_and(|s| list.iter().any(|l| l == s)))
        && q.environment
            .as_deref()
            .is_none_or(|e| env_key(e) == env_key(environment))
        && q.status.as_deref().is_none_or(|s| Some(s) == status)
        && q.from.is_none_or(|from| from <= t)
        && q.to.is_none_or(|to| t <= to)
        && match (q.untriaged, caused) {
            (None, _) | (_, None) => true,
            (Some(untriaged), Some(c)) => untriaged == c.is_none(),
        }
}

/// Newest first, larger id first on ties; then the page.
fn page<T: Clone>(mut items: Vec<(Timestamp, String, T)>, q: &ListQuery) -> Vec<T> {
    items.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    items
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit as usize)
        .map(|(_, _, t)| t)
        .collect()
}

fn expected_deployments(all: &[Deployment], q: &ListQuery) -> Vec<Deployment> {
    let found = all
        .iter()
        .filter(|d| {
            let status = Some(d.status.as_str());
            matches(
                q,
                Some(&d.service),
                &d.environment,
                status,
                d.deployed_at,
                None,
            )
        })
        .map(|d| (d.deployed_at, d.id.clone(), d.clone()))
        .collect();
    page(found, q)
}

fn expected_incidents(all: &[Incident], q: &ListQuery) -> Vec<Incident> {
    let found = all
        .iter()
        .filter(|i| {
            let caused = Some(i.caused_by_deploy);
            matches(
                q,
                i.service.as_deref(),
                &i.environment,
                None,
                i.opened_at,
                caused,
            )
        })
        .map(|i| (i.opened_at, i.id.clone(), i.clone()))
        .collect();
    page(found, q)
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| id(i).to_string()).collect()
}

/// Every combination of a few values of each filter.
fn queries(
    times: [Timestamp; 2],
    statuses: &[Option<&str>],
    untriaged: &[Option<bool>],
) -> Vec<ListQuery> {
    let services: [(Option<&str>, Option<&[&str]>); 5] = [
        (None, None),
        (Some("api"), None),
        (None, Some(&["api", "search"])),
        (None, Some(&[])),
        (Some("web"), Some(&["api", "web"])),
    ];
    let environments = [
        None,
        Some("PRODUCTION"),
        Some("staging"),
        Some(" prod "),
        Some("qa"),
    ];
    let bounds = [
        (None, None),
        (Some(times[0]), None),
        (None, Some(times[1])),
        (Some(times[0]), Some(times[1])),
        (Some(times[1]), Some(times[1])),
    ];
    let pages = [(ALL, 0), (4, 0), (4, 3), (1, 1_000)];
    let mut out = Vec::new();
    for (service, list) in services {
        for environment in environments {
            for &status in statuses {
                for (from, to) in bounds {
                    for &untriaged in untriaged {
                        for (limit, offset) in pages {
                            out.push(ListQuery {
                                service: service.map(String::from),
                                services: list.map(|l| l.iter().map(|s| s.to_string()).collect()),
                                environment: environment.map(String::from),
                                status: status.map(String::from),
                                from,
                                to,
                                untriaged,
                                limit,
                                offset,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn deployments_are_listed_with_every_filter_newest_first() {
    let store = fresh_store().await;
    let all = deployments();
    for d in &all {
        store.record_deployment(d).await.unwrap();
    }
    // Bounds fall exactly on event times: both are inclusive.
    for q in queries(
        [at(2), at(5)],
        &[None, Some("success"), Some("failure")],
        &[None],
    ) {
        let listed = store.list_deployments(&q).await.unwrap();
        assert_eq!(listed, expected_deployments(&all, &q), "{q:?}");
    }

    // Hand-checked answers.
    let q = |f: fn(&mut ListQuery)| {
        let mut q = ListQuery {
            limit: ALL,
            ..ListQuery::default()
        };
        f(&mut q);
        q
    };
    let list = async |q: ListQuery| ids(&store.list_deployments(&q).await.unwrap(), |d| &d.id);
    // The three deployments of hour 9 (k = 27, 28, 29), larger id first, then hour 8.
    let newest = list(q(|q| q.limit = 4)).await;
    assert_eq!(newest, ["d23", "d16", "d09", "d25"]);
    // From hour 9 up to hour 9 inclusive.
    let hour9 = list(q(|q| {
        q.from = Some(at(9));
        q.to = Some(at(9));
    }))
    .await;
    assert_eq!(hour9, ["d23", "d16", "d09"]);
    // "PRODUCTION" matches production, Production and " PRODUCTION ", not prod.
    let production = list(q(|q| q.environment = Some("PRODUCTION".into()))).await;
    assert_eq!(production.len(), 18);
    let prod = list(q(|q| q.environment = Some("Prod".into()))).await;
    assert_eq!(prod.len(), 6);
    let failed = list(q(|q| q.status = Some("failure".into()))).await;
    // k = 27, 23, 19, 15, 11, 7, 3.
    assert_eq!(failed, ["d09", "d11", "d13", "d15", "d17", "d19", "d21"]);
    assert!(list(q(|q| q.services = Some(vec![]))).await.is_empty());

    // Walking the pages gives the whole list once, in order.
    let whole = store.list_deployments(&q(|_| {})).await.unwrap();
    assert_eq!(whole.len(), all.len());
    let mut walked = Vec::new();
    for offset in (0..).step_by(4) {
        let page = store
            .list_deployments(&ListQuery {
                limit: 4,
                offset,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        walked.extend(page);
    }
    assert_eq!(walked, whole);
}

#[tokio::test]
async fn incidents_are_listed_with_every_filter_newest_first() {
    let store = fresh_store().await;
    let mut all = Vec::new();
    for u in incidents() {
        all.push(store.record_incident(u).await.unwrap().0);
    }
    for q in queries([at(2), at(5)], &[None], &[None, Some(true), Some(false)]) {
        let listed = store.list_incidents(&q).await.unwrap();
        assert_eq!(listed, expected_incidents(&all, &q), "{q:?}");
    }

    let q = |f: fn(&mut ListQuery)| {
        let mut q = ListQuery {
            limit: ALL,
            ..ListQuery::default()
        };
        f(&mut q);
        q
    };
    let list = async |q: ListQuery| ids(&store.list_incidents(&q).await.unwrap(), |i| &i.id);
    // Hour 11 holds k = 22, 23: ids i14 and i19, larger first.
    assert_eq!(list(q(|q| q.limit = 2)).await, ["i19", "i14"]);
    // Untriaged: k % 3 == 0.
    let untriaged = list(q(|q| q.untriaged = Some(true))).await;
    assert_eq!(untriaged.len(), 8);
    let triaged = list(q(|q| q.untriaged = Some(false))).await;
    assert_eq!(triaged.len(), 16);
    // Incidents that name no service are in no service list.
    let listed = list(q(|q| {
        q.services = Some(vec!["api".into(), "web".into(), "search".into()])
    }))
    .await;
    assert_eq!(listed.len(), 18);
    // The time filter is on opened_at (all resolutions are at hour 20).
    let opened = list(q(|q| {
        q.from = Some(at(20));
        q.to = Some(Timestamp::from_seconds(T0 + 1_000 * 3_600));
    }))
    .await;
    assert!(opened.is_empty());
}
