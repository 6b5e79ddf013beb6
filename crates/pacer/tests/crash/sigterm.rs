//! SIGTERM under load: the server stops accepting, finishes what is in flight, exits 0, and
//! nothing it acknowledged is lost.

use crate::support::{
    Ledger, SharedLedger, check_ledger, check_served, ingest, read_database, seed, serve, temp_db,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_cleanly() {
    let mut rng = fastrand::Rng::with_seed(seed("sigterm"));
    let (_dir, db) = temp_db();
    let ledger: SharedLedger = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..5 {
        let mut server = serve(&db);
        let context = format!("round {round}");

        // A request caught half-sent when the signal arrives: headers and half the body
        // now, the rest after SIGTERM. Draining means it is still answered, and stored.
        let body = format!(
            r#"{{"id":"slow-{round}","service":"api","environment":"production","deployed_at":1772323200}}"#
        );
        let (head, tail) = body.split_at(body.len() / 2);
        let mut slow = TcpStream::connect(&server.addr).expect("connect");
        write!(
            slow,
            "POST /api/v1/deployments HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{head}",
            server.addr,
            body.len()
        )
        .expect("send the first half");

        let clients: Vec<_> = (0..4)
            .map(|c| {
                tokio::spawn(ingest(
                    server.url.clone(),
                    format!("t{round}-{c}"),
                    ledger.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.u64(50..300))).await;
        server.term();

        // The half-sent request completes after the signal.
        tokio::time::sleep(Duration::from_millis(100)).await;
        slow.write_all(tail.as_bytes()).expect("send the rest");
        let mut answer = String::new();
        slow.read_to_string(&mut answer).expect("read the answer");
        assert!(
            answer.starts_with("HTTP/1.1 201"),
            "{context}: the in-flight request was not finished: {answer:?}"
        );
        ledger
            .lock()
            .expect("ledger")
            .acked_deployments
            .insert(format!("slow-{round}"));

        let status = server
            .wait_exit(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("{context}: still running 15 s after SIGTERM"));
        assert!(status.success(), "{context}: exit status {status}");
        for client in clients {
            client.await.expect("client task");
        }
        // Stopped accepting: nothing listens on the address any more.
        assert!(
            TcpStream::connect(&server.addr).is_err(),
            "{context}: still accepting"
        );

        let next = serve(&db);
        let stored = read_database(&db).await;
        check_ledger(&ledger.lock().expect("ledger"), &stored, &context);
        let slow_id = format!("slow-{round}");
        check_served(&next.url, &[("deployments", &slow_id)], &context).await;
        drop(next);
    }
}
