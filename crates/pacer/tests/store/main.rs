//! The storage test suite. It is written against the [`pacer::store::Store`] trait only:
//! every test gets its store from [`support::fresh_store`], the one place that picks a
//! backend, so that each backend runs the same suite.
//!
//! - `window`: the window load is exact (figures from a load equal figures from the whole
//!   history, on random histories, windows, scopes and attribution policies).
//! - `merge`: re-delivery and incident merges (newest state of each field wins).
//! - `listing`: list filters, order and paging.
//! - `services`: team membership, the latest deployment, deployments between two times.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod bulk;
mod group_commit;
mod inbox;
mod listing;
mod merge;
mod services;
mod window;
