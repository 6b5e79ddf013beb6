//! The two GitHub REST calls that give a squash-merged or rebased pull request its real start:
//! the pull request a commit landed from, and that pull request's first commit.
//!
//! Only `pacer deployment record --repo` uses this. Every failure is a [`GithubError`] that the
//! caller turns into a note and a fallback (the commit itself), never a failed deployment.

use pacer_core::Timestamp;
use serde::Deserialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A token that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl FromStr for Token {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the GitHub token is empty".into());
        }
        Ok(Token(s.to_string()))
    }
}

/// `owner/name`, as GITHUB_REPOSITORY gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl FromStr for RepoName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.trim().split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => Ok(RepoName {
                owner: owner.into(),
                name: name.into(),
            }),
            _ => Err(format!(
                "{s:?} is not a GitHub repository name; write it as owner/name, e.g. acme/payments-api"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("cannot reach the GitHub API at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the GitHub API answered {status} for {url}{hint}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
        hint: &'static str,
    },
    #[error("the GitHub API's answer for {url} is not in the documented shape: {detail}")]
    Shape { url: String, detail: String },
}

/// The whole cause chain: reqwest's top message alone ("error sending request") says little.
fn unreachable(url: &str, e: &reqwest::Error) -> GithubError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(&format!(": {s}"));
        source = s.source();
    }
    GithubError::Unreachable {
        url: url.to_string(),
        detail,
    }
}

/// A merged pull request and when its work started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// Committer time of the pull request's first commit.
    pub started_at: Timestamp,
}

/// The fields Pacer reads of `GET /repos/{owner}/{repo}/commits/{sha}/pulls`.
#[derive(Debug, Deserialize)]
struct PullSummary {
    number: u64,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
}

/// The fields Pacer reads of `GET /repos/{owner}/{repo}/pulls/{n}/commits`.
#[derive(Debug, Deserialize)]
struct PullCommit {
    commit: CommitDetail,
}

#[derive(Debug, Deserialize)]
struct CommitDetail {
    committer: Option<Signature>,
}

#[derive(Debug, Deserialize)]
struct Signature {
    date: String,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Token,
    pub repo: RepoName,
}

impl Client {
    pub fn new(base: &str, token: Token, repo: RepoName) -> Client {
        // GitHub refuses requests without a User-Agent; the builder sets Pacer's.
        let http = crate::http::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_else(|_| crate::http::client());
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
            repo,
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, GithubError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => " (the token is not valid; check --github-token or GITHUB_TOKEN)",
                403 | 429 => {
                    " (rate limit or missing permission: the token needs `contents: read` and `pull-requests: read`)"
                }
                404 => {
                    " (unknown repository or commit, or the token cannot read it; check --github-repo)"
                }
                _ => "",
            };
            return Err(GithubError::Status { url, status, hint });
        }
        let bytes = response.bytes().await.map_err(|e| unreachable(&url, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| GithubError::Shape {
            url,
            detail: e.to_string(),
        })
    }

    /// The merged pull request that brought `sha` to its base branch, if any, with its first
    /// commit's committer time. A commit pushed straight to the branch has none.
    pub async fn pull_request_of(&self, sha: &str) -> Result<Option<PullRequest>, GithubError> {
        let RepoName { owner, name } = &self.repo;
        let pulls: Vec<PullSummary> = self
            .get(&format!("/repos/{owner}/{name}/commits/{sha}/pulls"))
            .await?;
        // The pull request that merged this very commit, else one merged that contains it;
        // an open pull request that merely contains it did not bring it here.
        let merged = pulls
            .iter()
            .find(|p| p.merge_commit_sha.as_deref() == Some(sha) && p.merged_at.is_some())
            .or_else(|| pulls.iter().find(|p| p.merged_at.is_some()));
        let Some(pull) = merged else {
            return Ok(None);
        };
        let path = format!("/repos/{owner}/{name}/pulls/{}/commits", pull.number);
        // Oldest first, as GitHub documents: the first entry is the branch's first commit.
        let commits: Vec<PullCommit> = self.get(&path).await?;
        let shape = |detail: String| GithubError::Shape {
            url: format!("{}{path}", self.base),
            detail,
        };
        let first = commits
            .first()
            .ok_or_else(|| shape("pull request has no commits".into()))?;
        let date = &first
            .commit
            .committer
            .as_ref()
            .ok_or_else(|| shape("first commit has no committer".into()))?
            .date;
        let started_at = crate::timefmt::parse_rfc3339(date).map_err(shape)?;
        Ok(Some(PullRequest {
            number: pull.number,
            started_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_parse_and_bad_ones_say_how() {
        let r: RepoName = "acme/payments-api".parse().unwrap();
        assert_eq!(r.to_string(), "acme/payments-api");
        let e = "acme".parse::<RepoName>().unwrap_err();
        assert!(e.contains("owner/name"), "{e}");
        assert!("acme/pay/x".parse::<RepoName>().is_err());
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let t: Token = "ghp_secret".parse().unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }
}
