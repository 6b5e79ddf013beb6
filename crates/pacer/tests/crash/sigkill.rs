//! `kill -9` at random moments under concurrent ingest, 50 cycles on one database file.

use crate::support::{
    Ledger, SharedLedger, check_ledger, check_served, ingest, read_database, seed, serve, temp_db,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CYCLES: usize = 50;
/// Concurrent client connections per cycle.
const CLIENTS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_sigkill_exactly_once() {
    let mut rng = fastrand::Rng::with_seed(seed("sigkill"));
    let (_dir, db) = temp_db();
    let ledger: SharedLedger = Arc::new(Mutex::new(Ledger::default()));
    let (mut acked_total, mut busy_cycles) = (0, 0);
    for cycle in 0..CYCLES {
        let mut server = serve(&db);
        let context = format!("cycle {cycle}");

        // The previous cycle's events, read through the restarted server (GET by id): a
        // sample of each kind keeps a cycle short, the file check below covers them all.
        let sample: Vec<(&str, String)> = {
            let l = ledger.lock().expect("ledger");
            let deployments = l.acked_deployments.iter().rev().take(20);
            let incidents = l.acked_incidents.iter().rev().take(20);
            deployments
                .map(|id| ("deployments", id.clone()))
                .chain(incidents.map(|id| ("incidents", id.clone())))
                .collect()
        };
        let ids: Vec<(&str, &String)> = sample.iter().map(|(c, id)| (*c, id)).collect();
        check_served(&server.url, &ids, &context).await;

        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(ingest(
                    server.url.clone(),
                    format!("k{cycle}-{c}"),
                    ledger.clone(),
                ))
            })
            .collect();
        // Anywhere from before the first request is answered to well into the ingest.
        let delay = rng.u64(5..400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill9();
        for client in clients {
            client.await.expect("client task");
        }

        // The file as the killed process left it, read through the next server (which
        // recovers the WAL) and a read-only connection.
        let next = serve(&db);
        let stored = read_database(&db).await;
        let l = ledger.lock().expect("ledger");
        check_ledger(&l, &stored, &format!("{context} (killed after {delay} ms)"));
        let acked = l.acked_deployments.len() + l.acked_incidents.len();
        drop(l);
        if acked > acked_total {
            busy_cycles += 1;
        }
        acked_total = acked;
        drop(next);
    }
    // The kills landed while the server was writing (requests in flight, unanswered), not
    // only before the first write or while idle.
    let doubtful = {
        let l = ledger.lock().expect("ledger");
        l.doubtful_deployments.len() + l.doubtful_incidents.len()
    };
    assert!(
        busy_cycles >= CYCLES / 5 && doubtful >= CYCLES / 5,
        "only {busy_cycles} cycles acknowledged writes, {doubtful} requests cut off"
    );
    eprintln!(
        "sigkill: {CYCLES} cycles, {acked_total} acknowledged events (in {busy_cycles} \
         cycles), {doubtful} requests cut off by the kill; none acknowledged was lost"
    );
}
