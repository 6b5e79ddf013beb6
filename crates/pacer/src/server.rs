//! Running the server: bind, serve until a shutdown signal, drain.

use crate::api;
use crate::app::Pacer;
use std::future::Future;
use tokio::net::TcpListener;

/// Serves until `shutdown` completes, then stops accepting and lets in-flight requests
/// finish: every acknowledged write is already committed.
pub async fn run(
    listener: TcpListener,
    pacer: Pacer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    check_exposure(&pacer.settings.auth, addr)
        .map_err(|message| std::io::Error::new(std::io::ErrorKind::PermissionDenied, message))?;
    // Stalled and idle connections are closed; the peer address reaches handlers: the
    // per-client rate limit keys on it (api/limits.rs).
    let listener = api::limits::IdleTimeoutListener::new(listener, &pacer.settings.limits);
    let app = api::router(pacer).into_make_service_with_connect_info::<api::limits::Peer>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Nothing listens beyond loopback without tokens (docs/security.md): with no
/// `[auth.tokens]` every write is open, which is only safe when only this machine can
/// connect, or when `[auth] allow_unauthenticated = true` says the risk is accepted.
pub fn check_exposure(
    auth: &crate::settings::AuthSettings,
    addr: std::net::SocketAddr,
) -> Result<(), String> {
    if !auth.is_open() || addr.ip().is_loopback() || auth.allow_unauthenticated {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without authentication: no [auth.tokens] are configured, \
         so anyone who can reach this address could record deployments and incidents; \
         configure tokens (`pacer token new`, docs/security.md), listen on 127.0.0.1, or set \
         [auth] allow_unauthenticated = true to accept that risk"
    ))
}

/// A future that resolves on Ctrl-C or SIGTERM.
///
/// The handlers are installed here, when called, not when the future is first polled: the
/// server prints that it listens before axum polls the shutdown future, and a SIGTERM in
/// between would otherwise kill the process without draining.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::spawn(tokio::signal::ctrl_c());
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("shutting down: draining in-flight requests");
    }
}
