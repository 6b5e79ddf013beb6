//! Re-delivery never double counts: a deployment keeps its first recording; an incident
//! takes the newest state of each field. The in-memory [`EventSet`] is the reference.

use crate::support::{
    DeploymentExt, IncidentExt, at, deploy, fresh_store, incident, prod_keys, update,
};
use pacer::store::{Recorded, StoreError};
use pacer_core::{EventSet, IncidentError, IncidentUpdate, Window};

#[tokio::test]
async fn a_redelivered_deployment_keeps_its_first_recording() {
    let store = fresh_store().await;
    let first = deploy("d1", "api", at(10))
        .change("pr-1", at(1))
        .change("pr-2", at(2))
        .team("red");
    assert_eq!(
        store.record_deployment(&first).await.unwrap(),
        Recorded::Created
    );
    // Same id, every field different, and later (it would take the team if it counted).
    let mut again = deploy("d1", "web", at(20))
        .env("staging")
        .failed()
        .change("pr-9", at(15))
        .team("blue");
    again.sha = Some("abc".into());
    again.repo = Some("org/web".into());
    assert_eq!(
        store.record_deployment(&again).await.unwrap(),
        Recorded::AlreadyRecorded
    );
    // The same delivery twice, too.
    assert_eq!(
        store.record_deployment(&first).await.unwrap(),
        Recorded::AlreadyRecorded
    );

    assert_eq!(store.deployment("d1").await.unwrap(), Some(first.clone()));
    // No change was added twice or taken from the re-delivery.
    let loaded = store
        .load_window(None, &prod_keys(), Window::new(at(24), 1))
        .await
        .unwrap();
    assert_eq!(loaded.deployments, vec![first]);
    let services = store.services().await.unwrap();
    assert_eq!(services.len(), 1, "the re-delivery's service is not known");
    assert_eq!(services[0].name, "api");
    assert_eq!(services[0].named_team.as_deref(), Some("red"));
}

#[tokio::test]
async fn a_deployment_round_trips_field_for_field() {
    let store = fresh_store().await;
    let mut full = deploy("full", "api", at(10))
        .env("Production")
        .team("red")
        .change("pr-2", at(3))
        .change("pr-1", at(1))
        // The same change listed twice, and one that started after the deployment.
        .change("pr-2", at(2))
        .change("late", at(11));
    full.sha = Some("0123abc".into());
    full.repo = Some("org/api".into());
    full.deployed_at = pacer_core::Timestamp::from_millis(at(10).millis() + 7);
    // More changes than one insert statement takes.
    let mut many = deploy("many", "api", at(12));
    for k in 0..250 {
        many = many.change(&format!("c{k:03}"), at(11));
    }
    let lead = deploy("lead", "web", at(13)).lead(5_400.5);
    let failed = deploy("failed", "web", at(14)).failed();
    for d in [&full, &many, &lead, &failed] {
        assert_eq!(store.record_deployment(d).await.unwrap(), Recorded::Created);
    }
    for d in [full, many, lead, failed] {
        assert_eq!(store.deployment(&d.id).await.unwrap(), Some(d));
    }
    assert_eq!(store.deployment("nope").await.unwrap(), None);
}

/// Records `update` in the store and in the reference; both must agree on the merge.
async fn both(
    store: &dyn pacer::store::Store,
    reference: &mut EventSet,
    update: IncidentUpdate,
) -> (pacer_core::Incident, Recorded) {
    let existed = reference.incidents.iter().any(|i| i.id == update.id);
    let expected = reference.record_incident(update.clone()).unwrap().clone();
    let (merged, recorded) = store.record_incident(update).await.unwrap();
    assert_eq!(merged, expected);
    assert_eq!(
        store.incident(&merged.id).await.unwrap().as_ref(),
        Some(&merged)
    );
    let expected_recorded = if existed {
        Recorded::AlreadyRecorded
    } else {
        Recorded::Created
    };
    assert_eq!(recorded, expected_recorded);
    (merged, recorded)
}

#[tokio::test]
async fn an_incident_is_opened_then_resolved_in_two_deliveries() {
    let store = fresh_store().await;
    let mut reference = EventSet::default();
    let opened = incident("inc-1", Some("api"), at(10))
        .severity(Some("SEV1"))
        .names("d1");
    let (first, recorded) = both(&*store, &mut reference, opened).await;
    assert_eq!(recorded, Recorded::Created);
    assert_eq!(first.environment, "production", "the default environment");
    assert_eq!(first.resolved_at, None);
    assert_eq!(first.caused_by_deploy, None);

    // Only the resolution and triage: every other field keeps its stored value.
    let resolved = update("inc-1").resolved(at(12)).caused(Some(true));
    let (second, recorded) = both(&*store, &mut reference, resolved).await;
    assert_eq!(recorded, Recorded::AlreadyRecorded);
    assert_eq!(second.opened_at, at(10));
    assert_eq!(second.resolved_at, Some(at(12)));
    assert_eq!(second.service.as_deref(), Some("api"));
    assert_eq!(second.severity.as_deref(), Some("SEV1"));
    assert_eq!(second.deployment_id.as_deref(), Some("d1"));
    assert_eq!(second.caused_by_deploy, Some(true));

    // Re-delivering the same state changes nothing.
    let again = update("inc-1").resolved(at(12));
    let (third, _) = both(&*store, &mut reference, again).await;
    assert_eq!(third, second);

    // The newest state of each field wins, including a move of opened_at.
    let moved = IncidentUpdate {
        opened_at: Some(at(9)),
        environment: Some("Prod".into()),
        ..update("inc-1").caused(Some(false)).names("d0")
    };
    let (fourth, _) = both(&*store, &mut reference, moved).await;
    assert_eq!(fourth.opened_at, at(9));
    assert_eq!(fourth.environment, "Prod");
    assert_eq!(fourth.caused_by_deploy, Some(false));
    assert_eq!(fourth.deployment_id.as_deref(), Some("d0"));
    assert_eq!(fourth.resolved_at, Some(at(12)));
}

#[tokio::test]
async fn an_explicit_null_clears_a_field_and_reopens() {
    let store = fresh_store().await;
    let mut reference = EventSet::default();
    let opened = incident("inc-1", Some("api"), at(10))
        .resolved(at(11))
        .caused(Some(true))
        .severity(Some("SEV2"))
        .names("d1");
    both(&*store, &mut reference, opened).await;

    // Reopened: resolved_at explicitly null.
    let (reopened, _) = both(&*store, &mut reference, update("inc-1").reopened()).await;
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(reopened.caused_by_deploy, Some(true), "absent: kept");
    assert_eq!(
        reopened.deployment_id.as_deref(),
        Some("d1"),
        "absent: kept"
    );

    // A reopened incident is open again: it is not in MTTR until it is resolved again.
    let window = Window::new(at(48), 2);
    let loaded = store.load_window(None, &prod_keys(), window).await.unwrap();
    assert_eq!(loaded.incidents, vec![reopened]);

    // Every nullable field can be cleared.
    let cleared = IncidentUpdate {
        service: Some(None),
        severity: Some(None),
        caused_by_deploy: Some(None),
        deployment_id: Some(None),
        ..update("inc-1")
    };
    let (cleared, _) = both(&*store, &mut reference, cleared).await;
    assert_eq!(cleared.service, None);
    assert_eq!(cleared.severity, None);
    assert_eq!(cleared.caused_by_deploy, None);
    assert_eq!(cleared.deployment_id, None);
    assert_eq!(cleared.opened_at, at(10));

    // Resolved again, later: from first opening to final resolution.
    let (resolved, _) = both(&*store, &mut reference, update("inc-1").resolved(at(20))).await;
    assert_eq!(resolved.opened_at, at(10));
    assert_eq!(resolved.resolved_at, Some(at(20)));
}

#[tokio::test]
async fn an_invalid_merge_is_refused_and_changes_nothing() {
    let store = fresh_store().await;
    let mut reference = EventSet::default();
    let opened = incident("inc-1", Some("api"), at(10))
        .resolved(at(12))
        .caused(Some(true))
        .severity(Some("SEV1"));
    let (stored, _) = both(&*store, &mut reference, opened).await;

    // Resolved before it opened; the other fields of the delivery must not land either.
    let early = update("inc-1")
        .resolved(at(9))
        .caused(Some(false))
        .severity(Some("SEV3"));
    let err = store.record_incident(early).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid(IncidentError::ResolvedBeforeOpened { opened, resolved })
                if opened == at(10).millis() && resolved == at(9).millis()
        ),
        "{err:?}"
    );
    assert_eq!(store.incident("inc-1").await.unwrap(), Some(stored.clone()));

    // Moving opened_at after the stored resolution is refused the same way.
    let late_open = IncidentUpdate {
        opened_at: Some(at(13)),
        ..update("inc-1")
    };
    let err = store.record_incident(late_open).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid(IncidentError::ResolvedBeforeOpened { .. })
        ),
        "{err:?}"
    );
    assert_eq!(store.incident("inc-1").await.unwrap(), Some(stored.clone()));

    // A new incident without opened_at is refused and not stored.
    let err = store
        .record_incident(update("inc-2").resolved(at(12)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(IncidentError::MissingOpenedAt)),
        "{err:?}"
    );
    assert_eq!(store.incident("inc-2").await.unwrap(), None);

    // The store still takes valid deliveries afterwards (the refused ones left no lock
    // or half-written transaction behind).
    let (later, recorded) = both(&*store, &mut reference, update("inc-1").resolved(at(15))).await;
    assert_eq!(recorded, Recorded::AlreadyRecorded);
    assert_eq!(later.resolved_at, Some(at(15)));
    assert_eq!(later.caused_by_deploy, Some(true));
}

#[tokio::test]
async fn an_incident_alone_makes_the_feed_seen_and_names_its_service() {
    let store = fresh_store().await;
    let window = Window::new(at(48), 2);
    let empty = store.load_window(None, &prod_keys(), window).await.unwrap();
    assert!(!empty.incident_feed_seen);
    // A staging incident long ago still shows that an incident feed exists.
    store
        .record_incident(incident("stg", Some("search"), at(-1_000)).env("staging"))
        .await
        .unwrap();
    let loaded = store.load_window(None, &prod_keys(), window).await.unwrap();
    assert!(loaded.incident_feed_seen);
    assert!(loaded.incidents.is_empty());
    let services = store.services().await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].name, "search");
    assert_eq!(services[0].named_team, None);
}
