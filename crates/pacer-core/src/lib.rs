//! The pure core of Pacer: events, windows, quantiles, bands and the metric engine.
//!
//! Nothing in this crate performs I/O or reads the clock: every function takes the
//! events and the window it works on, so a figure depends only on its inputs. The
//! contract implemented here is `docs/metrics.md` (which follows the product spec).

pub mod advisory;
pub mod band;
pub mod config;
pub mod engine;
pub mod event;
pub mod quantile;
pub mod scope;
pub mod time;

pub use advisory::{ChaosAdvisory, ChaosRules};
pub use band::{Band, BandThresholds};
pub use config::{AttributionPolicy, MetricsConfig, ProductionEnvironments, ReworkRules};
pub use engine::{EventSet, Metrics, Prepared};
pub use event::{
    Change, DeployStatus, Deployment, FaultClass, Incident, IncidentError, IncidentUpdate,
    TriageBy, TriageChange,
};
pub use scope::{Scope, TeamMap};
pub use time::{Timestamp, Window};
