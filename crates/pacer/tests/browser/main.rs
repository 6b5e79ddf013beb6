//! The dashboard in a real headless browser: Debian's chromium through chromedriver
//! (WebDriver, the `fantoccini` crate), against a Pacer loaded with the demo history and
//! against an empty one. Screenshots of each page go to `target/browser-artifacts/`.
//! Needs `apt-get install -y chromium chromium-driver` (a test without them fails and says so).

mod harness;

mod empty;
mod http;
mod incidents;
mod overview;
mod pages;
