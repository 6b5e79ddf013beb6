//! What Pacer does, independent of how it is asked: the server's handlers and the CLI's
//! direct-database mode both call these.

use crate::settings::Settings;
use crate::store::{SharedStore, StoreError, named_teams};
use crate::telemetry::Telemetry;
use pacer_core::advisory::{ChaosAdvisory, chaos_advisory};
use pacer_core::engine::{Metrics, Prepared};
use pacer_core::scope::ScopeFilter;
use pacer_core::{MetricsConfig, Scope, TeamMap, Window};
use std::sync::Arc;

#[derive(Clone)]
pub struct Pacer {
    pub store: SharedStore,
    pub settings: Arc<Settings>,
    pub config: Arc<MetricsConfig>,
    /// Pacer's own operational metrics, served beside the DORA figures on `/metrics`.
    pub telemetry: Arc<Telemetry>,
}

/// Every scope's figures for one window.
#[derive(Debug, Clone)]
pub struct Report {
    pub window: Window,
    pub organisation: Metrics,
    pub teams: Vec<Metrics>,
    pub services: Vec<Metrics>,
}

impl Pacer {
    pub fn new(store: SharedStore, settings: Settings) -> Self {
        let config = Arc::new(settings.metrics_config());
        Pacer {
            store,
            settings: Arc::new(settings),
            config,
            telemetry: Arc::new(Telemetry::new()),
        }
    }

    /// Production environment names as stored in `env_key` (lower-case).
    pub fn production_keys(&self) -> Vec<String> {
        self.config.production.names().to_vec()
    }

    pub async fn team_map(&self) -> Result<(TeamMap, Vec<String>), StoreError> {
        let services = self.store.services().await?;
        let names = services.iter().map(|s| s.name.clone()).collect();
        Ok((
            TeamMap::new(self.settings.teams.clone(), named_teams(&services)),
            names,
        ))
    }

    /// The figures of one scope over one window.
    pub async fn metrics(&self, scope: &Scope, window: Window) -> Result<Metrics, StoreError> {
        // One service's scope needs no team map; reading every service for it would cost
        // more than the figures.
        let teams = match scope {
            Scope {
                service: Some(_),
                team: None,
            } => TeamMap::default(),
            _ => self.team_map().await?.0,
        };
        let services: Option<Vec<String>> = match ScopeFilter::resolve(scope, &teams) {
            ScopeFilter::Organisation => None,
            ScopeFilter::Services(set) => Some(set.into_iter().collect()),
        };
        let events = self
            .store
            .load_window(
                services.as_deref(),
                &self.production_keys(),
                self.load(window),
            )
            .await?;
        let prepared = Prepared::new(&events, &self.config);
        let mut metrics = prepared.metrics(&teams, scope, window);
        metrics.chaos_advisory = self.advisory(&prepared, &teams, scope, window);
        Ok(metrics)
    }

    /// The window to load for figures over `window`: long enough for the chaos advisory's
    /// weeks too. A longer load with the same end gives the same figures (see
    /// docs/architecture.md): it only holds more real, earlier events.
    fn load(&self, window: Window) -> Window {
        let chaos_days = self.settings.metrics.chaos.span_days();
        Window::new(window.end, window.days.max(chaos_days))
    }

    fn advisory(
        &self,
        prepared: &Prepared<'_>,
        teams: &TeamMap,
        scope: &Scope,
        window: Window,
    ) -> Option<ChaosAdvisory> {
        chaos_advisory(
            prepared,
            teams,
            scope,
            window.end,
            &self.settings.metrics.chaos,
        )
    }

    /// Every service, every team and the organisation, from one load.
    pub async fn report(&self, window: Window) -> Result<Report, StoreError> {
        let (teams, service_names) = self.team_map().await?;
        let events = self
            .store
            .load_window(None, &self.production_keys(), self.load(window))
            .await?;
        let prepared = Prepared::new(&events, &self.config);
        let mut all_services: std::collections::BTreeSet<String> =
            service_names.into_iter().collect();
        all_services.extend(self.settings.teams.keys().cloned());
        let scope_metrics = |scope: &Scope| {
            let mut m = prepared.metrics(&teams, scope, window);
            m.chaos_advisory = self.advisory(&prepared, &teams, scope, window);
            m
        };
        Ok(Report {
            window,
            organisation: scope_metrics(&Scope::organisation()),
            teams: teams
                .teams()
                .into_iter()
                .map(|t| scope_metrics(&Scope::team(t)))
                .collect(),
            services: all_services
                .into_iter()
                .map(|s| {
                    let mut m = scope_metrics(&Scope::service(&s));
                    m.scope.team = teams.team_of(&s).map(String::from);
                    m
                })
                .collect(),
        })
    }
}
