//! The changes a deployment carries, read from a git checkout (`pacer deployment record --repo`).
//!
//! Git is read through the `git` command (see docs/integrations/git-lead-time.md for why, not a
//! library): every CI runner that has a checkout has git, and its revision walking is the
//! reference behaviour that users can replay by hand with the commands quoted in the comments.
//!
//! The rules (docs/metrics.md, "Change"):
//! - walk the first-parent line from the previous production deployment's sha (exclusive) to
//!   the deployed sha (inclusive);
//! - a merge commit brings one change per merged branch, started at the committer time of the
//!   branch's first commit that is not on the merge's first parent;
//! - any other commit is its own change at its committer time, unless GitHub names the pull
//!   request that was squash-merged or rebased into it: then the change is that pull request,
//!   started at its first commit.

use crate::github::{self, RepoName};
use pacer_core::Timestamp;
use std::collections::HashSet;
pub mod record;

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git ({0}); install git (e.g. `apt-get install git`) or put it on PATH")]
    NoGit(std::io::Error),
    #[error(
        "{path} is not a git checkout ({detail}); point --repo at the repository's working tree"
    )]
    NotARepository { path: String, detail: String },
    #[error("`git {args}` failed in {path}: {detail}")]
    Failed {
        args: String,
        path: String,
        detail: String,
    },
    #[error(
        "commit {sha} is not in the repository at {path}; check --sha, or fetch it (in GitHub Actions: actions/checkout with fetch-depth: 0)"
    )]
    UnknownCommit { sha: String, path: String },
    #[error(
        "the repository at {path} is a shallow clone and lacks the history needed ({why}); \
         lead time from a cut history would be wrong, so nothing was recorded. \
         Fetch the whole history: actions/checkout with `fetch-depth: 0`, or `git fetch --unshallow`"
    )]
    Shallow { path: String, why: String },
    #[error(
        "the previous production deployment of this service was sha {previous}, which is not in the repository at {path} \
         (force-pushed away, or never fetched); nothing was recorded. Fetch it (`git fetch origin {previous}`) and Pacer \
         counts from the merge base of {previous} and {sha}, or record the changes yourself with --change ID=STARTED_AT"
    )]
    MissingPrevious {
        previous: String,
        sha: String,
        path: String,
    },
    #[error(
        "the previous production deployment's sha {previous} shares no history with {sha}; \
         nothing was recorded. Check --sha and --service, or record the changes yourself with --change ID=STARTED_AT"
    )]
    Unrelated { previous: String, sha: String },
    #[error("git printed something Pacer cannot read ({0})")]
    Unreadable(String),
}

/// A git working tree (or bare repository) read through the `git` command.
pub struct Repo {
    path: PathBuf,
}

/// One commit: its id, its parents and its committer time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub parents: Vec<String>,
    /// Committer time (`%ct`), Unix seconds.
    pub committed: i64,
}

impl Repo {
    pub fn open(path: &Path) -> Result<Repo, GitError> {
        let repo = Repo {
            path: path.to_path_buf(),
        };
        repo.git(&["rev-parse", "--git-dir"]).map_err(|e| match e {
            GitError::Failed { detail, .. } => GitError::NotARepository {
                path: path.display().to_string(),
                detail,
            },
            other => other,
        })?;
        Ok(repo)
    }

    pub fn path(&self) -> String {
        self.path.display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C")
            .arg(&self.path)
            // Replacement refs and grafts would change what history means; read the real one.
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .args(args);
        c
    }

    fn git(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.command(args).output().map_err(GitError::NoGit)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                path: self.path(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        String::from_utf8(out.stdout).map_err(|e| GitError::Unreadable(e.to_string()))
    }

    /// Whether `git ARGS` succeeds (for the commands that answer with their exit status).
    fn git_ok(&self, args: &[&str]) -> Result<bool, GitError> {
        let out = self.command(args).output().map_err(GitError::NoGit)?;
        Ok(out.status.success())
    }

    /// The full sha of a revision, or `None` when the repository does not have it.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>, GitError> {
        if rev.starts_with('-') {
            return Ok(None);
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .command(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .output()
            .map_err(GitError::NoGit)?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    /// The commits where a shallow clone's history is cut (empty for a full clone).
    pub fn shallow_boundary(&self) -> Result<HashSet<String>, GitError> {
        if self.git(&["rev-parse", "--is-shallow-repository"])?.trim() != "true" {
            return Ok(HashSet::new());
        }
        let file = self.git(&["rev-parse", "--git-path", "shallow"])?;
        let file = self.path.join(file.trim());
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        Ok(text.lines().map(|l| l.trim().to_string()).collect())
    }

    /// Parents as the commit object records them, even where a shallow clone cut them off.
    fn recorded_parents(&self, sha: &str) -> Result<usize, GitError> {
        let text = self.git(&["cat-file", "-p", sha])?;
        Ok(text
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("parent "))
            .count())
    }

    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> Result<bool, GitError> {
        self.git_ok(&["merge-base", "--is-ancestor", ancestor, of])
    }

    /// `git log --format='%H %ct %P' ARGS`, parsed.
    fn commits(&self, args: &[&str]) -> Result<Vec<Commit>, GitError> {
        let mut full = vec!["log", "--format=%H %ct %P"];
        full.extend_from_slice(args);
        let text = self.git(&full)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut parts = line.split_whitespace();
                let sha = parts.next().unwrap_or_default().to_string();
                let committed = parts
                    .next()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| GitError::Unreadable(format!("log line {line:?}")))?;
                Ok(Commit {
                    sha,
                    committed,
                    parents: parts.map(String::from).collect(),
                })
            })
            .collect()
    }

    pub fn commit(&self, sha: &str) -> Result<Commit, GitError> {
        self.commits(&["-1", sha, "--"])?
            .pop()
            .ok_or_else(|| GitError::Unreadable(format!("no commit {sha}")))
    }

    fn subject(&self, sha: &str) -> Result<String, GitError> {
        Ok(self
            .git(&["log", "-1", "--format=%s", sha, "--"])?
            .trim()
            .to_string())
    }
}

/// Where the count starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// No earlier production deployment of the service with a sha.
    FirstDeployment,
    /// The previous production deployment's sha, exclusive.
    Previous(String),
}

/// How a change was found, for the printout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A branch merged by a merge commit on the first-parent line.
    MergedBranch { merge: String, commits: usize },
    /// A commit made straight on the first-parent line (or a squash/rebase GitHub could not name).
    Commit,
    /// A pull request GitHub named for one or more squashed or rebased commits.
    PullRequest { commits: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundChange {
    pub id: String,
    pub started_at: Timestamp,
    pub origin: Origin,
}

/// What [`changes`] worked out: the changes and everything the user should know about them.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The deployed sha, in full.
    pub sha: String,
    pub changes: Vec<FoundChange>,
    pub notes: Vec<String>,
}

/// The GitHub lookup for squash-merged and rebased pull requests, or why there is none.
pub enum Lookup<'a> {
    GitHub(&'a github::Client),
    Unavailable(String),
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The pull request number in GitHub's merge-commit subject, "Merge pull request #12 from o/b".
fn pull_number_in_subject(subject: &str) -> Option<u64> {
    let rest = subject.strip_prefix("Merge pull request #")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..]
        .starts_with(" from ")
        .then(|| digits.parse().ok())
        .flatten()
}

/// The changes between the previous production deployment (`base`) and `sha`.
pub async fn changes(
    repo: &Repo,
    sha: &str,
    base: &Base,
    github_repo: Option<&RepoName>,
    lookup: Lookup<'_>,
) -> Result<Found, GitError> {
    let path = repo.path();
    let shallow = repo.shallow_boundary()?;
    let tip = repo.resolve(sha)?.ok_or_else(|| {
        if shallow.is_empty() {
            GitError::UnknownCommit {
                sha: sha.to_string(),
                path: path.clone(),
            }
        } else {
            GitError::Shallow {
                path: path.clone(),
                why: format!("the deployed commit {sha} is not in it"),
            }
        }
    })?;
    let mut found = Found {
        sha: tip.clone(),
        ..Found::default()
    };

    // The commits on the first-parent line that this deployment brings, oldest first, and
    // the revision whose history was already deployed (excluded from every walk).
    let (line, exclude): (Vec<Commit>, Option<String>) = match base {
        Base::FirstDeployment => {
            found.notes.push(format!(
                "first production deployment of this service known to the server: only the deployed commit {} counts \
                 (for a merge commit, the branches it merged); older history was deployed before Pacer saw it",
                short(&tip)
            ));
            (vec![repo.commit(&tip)?], None)
        }
        Base::Previous(previous) => {
            let Some(prev) = repo.resolve(previous)? else {
                if !shallow.is_empty() {
                    return Err(GitError::Shallow {
                        path,
                        why: format!(
                            "the previous production deployment's sha {previous} is not in it"
                        ),
                    });
                }
                return Err(GitError::MissingPrevious {
                    previous: previous.clone(),
                    sha: tip,
                    path,
                });
            };
            if prev == tip {
                found.notes.push(format!(
                    "{} is the sha of the previous production deployment too (a redeploy or rollback): it brings no new changes",
                    short(&tip)
                ));
                return Ok(found);
            }
            if !repo.is_ancestor(&prev, &tip)? {
                if !shallow.is_empty() {
                    // A cut history cannot tell a force-push from a missing piece.
                    return Err(GitError::Shallow {
                        path,
                        why: format!(
                            "the previous production deployment's sha {} is not reachable from {} in it",
                            short(&prev),
                            short(&tip)
                        ),
                    });
                }
                let base = repo
                    .git(&["merge-base", &prev, &tip])
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| GitError::Unrelated {
                        previous: prev.clone(),
                        sha: tip.clone(),
                    })?;
                found.notes.push(format!(
                    "the previous production deployment's sha {} is not an ancestor of {} (history rewritten by a force-push?): \
                     counting from their merge base {}",
                    short(&prev),
                    short(&tip),
                    short(&base)
                ));
            }
            // `git log --first-parent --reverse TIP ^PREV`: the first-parent line down to
            // the history already deployed (for a force-push that stops at the merge base).
            let not_prev = format!("^{prev}");
            let line = repo.commits(&["--first-parent", "--reverse", &tip, &not_prev, "--"])?;
            (line, Some(prev))
        }
    };

    if !shallow.is_empty() {
        for c in &line {
            // Only the lone deployed commit of a first deployment may sit on the cut: it
            // counts by itself, unless it is a merge whose branches were cut off.
            let lone = matches!(base, Base::FirstDeployment);
            if shallow.contains(&c.sha) && (!lone || repo.recorded_parents(&c.sha)? > 1) {
                return Err(GitError::Shallow {
                    path,
                    why: format!("the history is cut at {}", short(&c.sha)),
                });
            }
        }
    }

    // Oldest first along the first-parent line, so the printout reads like `git log --reverse`.
    let mut unnamed = 0;
    let mut lookup = lookup;
    for c in &line {
        if c.parents.len() > 1
            && merged_branches(
                repo,
                c,
                exclude.as_deref(),
                &shallow,
                github_repo,
                &mut found,
            )?
        {
            continue;
        }
        // A commit on the main line; a merge that brought nothing new (its branches were
        // already there) counts as one too.
        let pull = match &lookup {
            Lookup::GitHub(client) => match client.pull_request_of(&c.sha).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "GitHub pull request lookup failed");
                    // One failure (bad token, rate limit, unreachable) would repeat for every
                    // commit: stop asking and say so once.
                    lookup = Lookup::Unavailable(format!("the GitHub API failed: {e}"));
                    unnamed += 1;
                    None
                }
            },
            Lookup::Unavailable(_) => {
                unnamed += 1;
                None
            }
        };
        match pull {
            Some(pr) => {
                let id = format!(
                    "{}#{}",
                    github_repo.map(ToString::to_string).unwrap_or_default(),
                    pr.number
                );
                // A rebased pull request lands as several commits: one change.
                if let Some(existing) = found.changes.iter_mut().find(|f| f.id == id) {
                    if let Origin::PullRequest { commits } = &mut existing.origin {
                        commits.push(c.sha.clone());
                    }
                    continue;
                }
                found.changes.push(FoundChange {
                    id,
                    started_at: pr.started_at,
                    origin: Origin::PullRequest {
                        commits: vec![c.sha.clone()],
                    },
                });
            }
            None => found.changes.push(FoundChange {
                id: c.sha.clone(),
                started_at: Timestamp::from_seconds(c.committed),
                origin: Origin::Commit,
            }),
        }
    }
    if unnamed > 0
        && let Lookup::Unavailable(why) = &lookup
    {
        found.notes.push(format!(
            "{why}: {unnamed} commit(s) on the main line count from their own commit time; a squash-merged or rebased \
             pull request among them started earlier than that (lead time too short)"
        ));
    }
    Ok(found)
}

/// Adds one change per branch the merge commit `c` brought; false when it brought none.
fn merged_branches(
    repo: &Repo,
    c: &Commit,
    exclude: Option<&str>,
    shallow: &HashSet<String>,
    github_repo: Option<&RepoName>,
    found: &mut Found,
) -> Result<bool, GitError> {
    let mut brought = false;
    for (k, parent) in c.parents.iter().enumerate().skip(1) {
        // `git log --reverse M^k ^M^1 [^PREV]`: the branch's commits not on the base.
        let not_first = format!("^{}", c.parents[0]);
        let not_prev = exclude.map(|p| format!("^{p}"));
        let mut args = vec!["--reverse", parent.as_str(), not_first.as_str()];
        if let Some(np) = &not_prev {
            args.push(np);
        }
        args.push("--");
        let branch = repo.commits(&args)?;
        if let Some(cut) = branch.iter().find(|b| shallow.contains(&b.sha)) {
            return Err(GitError::Shallow {
                path: repo.path(),
                why: format!(
                    "the branch merged in {} is cut at {}",
                    short(&c.sha),
                    short(&cut.sha)
                ),
            });
        }
        let Some(first) = branch.first() else {
            continue;
        };
        brought = true;
        // GitHub names the pull request in its merge subject; only the first merged
        // parent is the pull request's branch.
        let pull = if k == 1 {
            pull_number_in_subject(&repo.subject(&c.sha)?)
        } else {
            None
        };
        let id = match (pull, github_repo) {
            (Some(n), Some(r)) => format!("{r}#{n}"),
            _ => parent.clone(),
        };
        found.changes.push(FoundChange {
            id,
            started_at: Timestamp::from_seconds(first.committed),
            origin: Origin::MergedBranch {
                merge: c.sha.clone(),
                commits: branch.len(),
            },
        });
    }
    Ok(brought)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_numbers_come_from_github_merge_subjects_only() {
        assert_eq!(
            pull_number_in_subject("Merge pull request #311 from acme/feature-x"),
            Some(311)
        );
        assert_eq!(pull_number_in_subject("Merge branch 'feature-x'"), None);
        assert_eq!(pull_number_in_subject("Merge pull request #x from a"), None);
    }
}
