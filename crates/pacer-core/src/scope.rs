//! Scopes (one service, one team, everything) and which team a service belongs to.

use crate::event::Deployment;
use std::collections::{BTreeMap, BTreeSet};

/// What a figure is computed over. Both `None`: the whole organisation.
/// Both set: the named service, if it belongs to the named team (else nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub service: Option<String>,
    pub team: Option<String>,
}

impl Scope {
    pub fn organisation() -> Self {
        Scope::default()
    }
    pub fn service(name: impl Into<String>) -> Self {
        Scope {
            service: Some(name.into()),
            team: None,
        }
    }
    pub fn team(name: impl Into<String>) -> Self {
        Scope {
            service: None,
            team: Some(name.into()),
        }
    }
    pub fn is_organisation(&self) -> bool {
        self.service.is_none() && self.team.is_none()
    }
}

/// A service belongs to the team configuration maps it to, else to the team named by its
/// latest deployment that names one (latest by deployed-at, ties broken by the larger id so
/// that delivery order never matters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamMap {
    configured: BTreeMap<String, String>,
    named_by_deployments: BTreeMap<String, String>,
    /// Team -> its services, derived from the two maps once: a report asks for every
    /// team's services, and scanning all services per team was quadratic (a third of a
    /// 10,000-service report's time).
    members: BTreeMap<String, BTreeSet<String>>,
}

impl TeamMap {
    pub fn new(
        configured: BTreeMap<String, String>,
        named_by_deployments: BTreeMap<String, String>,
    ) -> Self {
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for service in configured.keys().chain(named_by_deployments.keys()) {
            let team = configured
                .get(service)
                .or_else(|| named_by_deployments.get(service));
            if let Some(team) = team {
                members
                    .entry(team.clone())
                    .or_default()
                    .insert(service.clone());
            }
        }
        TeamMap {
            configured,
            named_by_deployments,
            members,
        }
    }

    /// Builds the map from every deployment (any environment or status: team membership is
    /// not a figure, and a staging deploy names its owners as well as a production one).
    pub fn from_deployments<'a>(
        configured: BTreeMap<String, String>,
        deployments: impl IntoIterator<Item = &'a Deployment>,
    ) -> Self {
        let mut latest: BTreeMap<&str, (&Deployment, &str)> = BTreeMap::new();
        for d in deployments {
            let Some(team) = d.team.as_deref() else {
                continue;
            };
            let newer = match latest.get(d.service.as_str()) {
                None => true,
                Some((prev, _)) => (d.deployed_at, &d.id) > (prev.deployed_at, &prev.id),
            };
            if newer {
                latest.insert(d.service.as_str(), (d, team));
            }
        }
        let named = latest
            .into_iter()
            .map(|(s, (_, t))| (s.to_string(), t.to_string()))
            .collect();
        TeamMap::new(configured, named)
    }

    pub fn team_of(&self, service: &str) -> Option<&str> {
        self.configured
            .get(service)
            .or_else(|| self.named_by_deployments.get(service))
            .map(String::as_str)
    }

    /// Every team that at least one service maps to.
    pub fn teams(&self) -> BTreeSet<&str> {
        let mut services: BTreeSet<&str> = self.configured.keys().map(String::as_str).collect();
        services.extend(self.named_by_deployments.keys().map(String::as_str));
        services
            .into_iter()
            .filter_map(|s| self.team_of(s))
            .collect()
    }

    /// Services known to the map that belong to `team`.
    pub fn services_of<'a>(&'a self, team: &str) -> BTreeSet<&'a str> {
        self.members
            .get(team)
            .map(|set| set.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// A scope resolved against a team map: the set of services it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    /// Everything, including incidents that name no service.
    Organisation,
    Services(BTreeSet<String>),
}

impl ScopeFilter {
    pub fn resolve(scope: &Scope, teams: &TeamMap) -> Self {
        match (&scope.service, &scope.team) {
            (None, None) => ScopeFilter::Organisation,
            (Some(s), None) => ScopeFilter::Services(BTreeSet::from([s.clone()])),
            (None, Some(t)) => {
                ScopeFilter::Services(teams.services_of(t).into_iter().map(String::from).collect())
            }
            (Some(s), Some(t)) => {
                if teams.team_of(s) == Some(t.as_str()) {
                    ScopeFilter::Services(BTreeSet::from([s.clone()]))
                } else {
                    ScopeFilter::Services(BTreeSet::new())
                }
            }
        }
    }

    pub fn includes(&self, service: Option<&str>) -> bool {
        match self {
            ScopeFilter::Organisation => true,
            ScopeFilter::Services(set) => service.is_some_and(|s| set.contains(s)),
        }
    }
}
