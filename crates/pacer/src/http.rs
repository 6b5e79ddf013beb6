//! The one way Pacer builds HTTP clients (CLI to server, GitHub API), so HTTPS works
//! everywhere: reqwest is built without a bundled crypto provider, and rustls needs one
//! installed before the first client exists.

use anyhow::{Context, bail};
use serde_json::Value;
use std::sync::Once;

static CRYPTO: Once = Once::new();

/// Installs rustls' ring provider for the process (once; a provider installed earlier by
/// someone else is kept).
pub fn install_crypto_provider() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with Pacer's user agent, ready for HTTPS.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder().user_agent(concat!("pacer/", env!("CARGO_PKG_VERSION")))
}

/// A client with the defaults of [`builder`].
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("an HTTP client with default settings always builds")
}

/// Sends a request to the Pacer server; the status and JSON body, or the server's message.
pub async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let response = request
        .send()
        .await
        .context("cannot reach the Pacer server; check --server or PACER_SERVER")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error message");
        bail!("server answered {status}: {message}");
    }
    Ok((status.as_u16(), body))
}

#[cfg(test)]
mod tests {
    /// An `https://` URL reaches the TLS layer (a refused connection), instead of being
    /// refused as an unknown scheme as it was without a TLS backend.
    #[tokio::test]
    async fn https_urls_are_supported() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = super::client()
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .expect_err("nothing listens there");
        assert!(err.is_connect(), "{err:?}");
        assert!(!format!("{err:?}").contains("scheme"), "{err:?}");
    }
}
