//! `pacer deployment record --repo`: real git repositories built here with fixed commit dates,
//! a real `pacer serve` child process, and (for squash and rebase merges) a local HTTP server
//! answering GitHub's documented response shapes. Every test checks the changes the server
//! stored and the lead-time p50/p90 of `/api/v1/metrics`, computed by hand in comments.

use crate::support::{END, Run, Server, pacer, run, serve};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// 2026-03-01T00:00:00Z, the tests' hour 0 (as `support::t`).
const H0: i64 = 1_772_323_200;

/// `H0 + hours`, as RFC 3339 (what `--deployed-at` and the API take).
pub fn at(hours: f64) -> String {
    crate::support::t(hours)
}

/// `GET url` as JSON.
pub fn get(url: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = pacer::http::client().get(url).send().await.expect("GET");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    })
}

/// The lead-time figures of one service over the 30 days ending at `END`.
pub fn lead_time(server: &Server, service: &str) -> Value {
    get(&format!(
        "{}/api/v1/metrics?service={service}&days=30&end={END}",
        server.url
    ))["lead_time"]
        .clone()
}

/// `[(id, started_at)]` of a stored deployment.
pub fn stored_changes(server: &Server, id: &str) -> Vec<(String, String)> {
    let d = get(&format!("{}/api/v1/deployments/{id}", server.url));
    d["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["started_at"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn deployment_count(server: &Server, service: &str) -> usize {
    get(&format!(
        "{}/api/v1/deployments?service={service}",
        server.url
    ))["deployments"]
        .as_array()
        .expect("deployments")
        .len()
}

/// A git repository whose every commit has the committer and author time the test says.
pub struct Repo {
    pub dir: PathBuf,
}

/// `git` with no user or system configuration (so the machine's settings change nothing).
pub fn git_command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com");
    c
}

fn git_run(c: &mut Command) -> String {
    let out = c
        .output()
        .expect("git is needed by these tests: apt-get install git");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Repo {
    pub fn init(dir: PathBuf) -> Repo {
        std::fs::create_dir_all(&dir).unwrap();
        git_run(git_command(&dir).args(["init", "-q", "-b", "main"]));
        Repo { dir }
    }

    /// `git ARGS` with both dates at `hours`.
    pub fn git(&self, hours: f64, args: &[&str]) -> String {
        self.git_dated(hours, hours, args)
    }

    /// `git ARGS` with the author date at `author` and the committer date at `committer`.
    pub fn git_dated(&self, author: f64, committer: f64, args: &[&str]) -> String {
        let date = |h: f64| format!("{} +0000", H0 + (h * 3600.0) as i64);
        git_run(
            git_command(&self.dir)
                .env("GIT_AUTHOR_DATE", date(author))
                .env("GIT_COMMITTER_DATE", date(committer))
                .args(args),
        )
    }

    pub fn head(&self) -> String {
        self.git(0.0, &["rev-parse", "HEAD"])
    }

    /// A commit writing the file `name`, at `hours`; its sha.
    pub fn commit(&self, name: &str, hours: f64) -> String {
        self.commit_dated(name, hours, hours)
    }

    pub fn commit_dated(&self, name: &str, author: f64, committer: f64) -> String {
        std::fs::write(self.dir.join(name), name).unwrap();
        self.git(0.0, &["add", name]);
        self.git_dated(author, committer, &["commit", "-q", "-m", name]);
        self.head()
    }

    /// `git merge --no-ff BRANCH -m MESSAGE` at `hours`; the merge commit's sha.
    pub fn merge(&self, branch: &str, message: &str, hours: f64) -> String {
        self.git(hours, &["merge", "-q", "--no-ff", branch, "-m", message]);
        self.head()
    }
}

/// `pacer deployment record --server URL ARGS` with no GITHUB_* variables but those given.
pub fn record(dir: &Path, server: &Server, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = pacer(dir);
    for key in ["GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"] {
        c.env_remove(key);
    }
    c.envs(env.iter().copied());
    c.args(["deployment", "record", "--server", &server.url]);
    run(c.args(args))
}

/// `record` of service `service` to production from `repo`, as deployment `id` at `hours`.
fn deploy(server: &Server, repo: &Repo, service: &str, id: &str, sha: &str, hours: f64) -> Run {
    record(
        &repo.dir,
        server,
        &[
            "--service",
            service,
            "--environment",
            "production",
            "--repo",
            ".",
            "--sha",
            sha,
            "--id",
            id,
            "--deployed-at",
            &at(hours),
        ],
        &[],
    )
}

/// A local GitHub REST API: `GET /repos/{owner}/{repo}/commits/{sha}/pulls` and
/// `GET /repos/{owner}/{repo}/pulls/{number}/commits`, answering with GitHub's documented
/// shapes (pull-request-simple and commit objects) for the pull requests it is given, and
/// 401 `Bad credentials` unless the request carries `Authorization: Bearer test-token`.
pub struct FakeGitHub {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

pub const TOKEN: &str = "test-token";

/// One merged pull request: its number, the commits it landed as on main (the last is its
/// merge_commit_sha), its branch commits' committer times (hours, oldest first).
pub struct Pull {
    pub number: u64,
    pub landed: Vec<String>,
    pub branch_commits: Vec<f64>,
}

fn pull_simple(repo: &str, p: &Pull) -> Value {
    let api = format!("https://api.github.com/repos/{repo}");
    json!({
        "url": format!("{api}/pulls/{}", p.number),
        "id": 1_000_000 + p.number,
        "node_id": "PR_kwDOtest",
        "html_url": format!("https://github.com/{repo}/pull/{}", p.number),
        "number": p.number,
        "state": "closed",
        "locked": false,
        "title": format!("Change {}", p.number),
        "user": {"login": "dev", "id": 1, "type": "User"},
        "body": null,
        "labels": [],
        "created_at": at(p.branch_commits[0] + 0.1),
        "updated_at": at(9.0),
        "closed_at": at(9.0),
        "merged_at": at(9.0),
        "merge_commit_sha": p.landed.last().unwrap(),
        "draft": false,
        "head": {"label": "acme:feature", "ref": "feature", "sha": "0".repeat(40)},
        "base": {"label": "acme:main", "ref": "main", "sha": "1".repeat(40)},
        "author_association": "MEMBER",
    })
}

fn pull_commits(p: &Pull) -> Value {
    Value::Array(
        p.branch_commits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let sig = json!({"name": "Dev", "email": "dev@example.com", "date": at(*h)});
                json!({
                    "sha": format!("{:040x}", 0xabc0 + i),
                    "node_id": "C_kwDOtest",
                    "commit": {
                        "author": sig, "committer": sig,
                        "message": format!("work {i}"),
                        "tree": {"sha": "2".repeat(40), "url": "https://api.github.com/x"},
                        "url": "https://api.github.com/x", "comment_count": 0,
                        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null}
                    },
                    "url": "https://api.github.com/x",
                    "html_url": "https://github.com/x",
                    "author": {"login": "dev", "id": 1},
                    "committer": {"login": "dev", "id": 1},
                    "parents": []
                })
            })
            .collect(),
    )
}

impl FakeGitHub {
    pub fn start(repo: &str, pulls: Vec<Pull>) -> FakeGitHub {
        use axum::extract::{Path as P, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::get;

        let mut by_commit: HashMap<String, Value> = HashMap::new();
        let mut commits_of: HashMap<u64, Value> = HashMap::new();
        for p in &pulls {
            for sha in &p.landed {
                by_commit.insert(sha.clone(), json!([pull_simple(repo, p)]));
            }
            commits_of.insert(p.number, pull_commits(p));
        }
        let requests = Arc::new(Mutex::new(Vec::new()));
        type St = (
            Arc<HashMap<String, Value>>,
            Arc<HashMap<u64, Value>>,
            Arc<Mutex<Vec<String>>>,
        );
        let state: St = (Arc::new(by_commit), Arc::new(commits_of), requests.clone());
        fn authorised(h: &HeaderMap) -> bool {
            h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
                && h.contains_key("user-agent")
        }
        let denied = || {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest", "status": "401"})),
            )
        };
        let app = axum::Router::new()
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/pulls",
                get(
                    move |State(s): State<St>,
                          h: HeaderMap,
                          P((o, r, sha)): P<(String, String, String)>| async move {
                        s.2.lock().unwrap().push(format!("{o}/{r} commit {sha}"));
                        if !authorised(&h) {
                            return denied();
                        }
                        // A commit pushed straight to main belongs to no pull request.
                        let body = s.0.get(&sha).cloned().unwrap_or(json!([]));
                        (StatusCode::OK, axum::Json(body))
                    },
                ),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/commits",
                get(
                    move |State(s): State<St>,
                          h: HeaderMap,
                          P((o, r, n)): P<(String, String, u64)>| async move {
                        s.2.lock().unwrap().push(format!("{o}/{r} pull {n}"));
                        if !authorised(&h) {
                            return denied();
                        }
                        match s.1.get(&n) {
                            Some(body) => (StatusCode::OK, axum::Json(body.clone())),
                            None => (
                                StatusCode::NOT_FOUND,
                                axum::Json(json!({"message": "Not Found"})),
                            ),
                        }
                    },
                ),
            )
            .with_state(state);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeGitHub { url, requests }
    }
}

fn changes_of(pairs: &[(&str, f64)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(id, h)| (id.to_string(), at(*h)))
        .collect()
}

#[test]
fn merge_commits_bring_one_change_per_branch_and_straight_commits_count_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));

    let a = repo.commit("a", 0.0);
    // First deployment: only the deployed commit counts (lead 1 h = 3600 s).
    let out = deploy(&server, &repo, "shop", "d0", &a, 1.0).ok();
    assert!(out.contains("first production deployment"), "{out}");
    assert_eq!(stored_changes(&server, "d0"), changes_of(&[(&a, 0.0)]));

    repo.git(0.0, &["checkout", "-q", "-b", "feat1", &a]);
    repo.commit("f1a", 2.0);
    let f1b = repo.commit("f1b", 3.0);
    repo.git(0.0, &["checkout", "-q", "main"]);
    let s = repo.commit("s", 4.0);
    repo.git(0.0, &["checkout", "-q", "-b", "feat2"]);
    // Authored long before, committed at hour 5: the committer time counts.
    let g1 = repo.commit_dated("g1", -100.0, 5.0);
    repo.git(0.0, &["checkout", "-q", "-b", "feat3", &a]);
    // Backdated: committed a day before the first deployment, merged only now.
    let b1 = repo.commit("b1", -24.0);
    repo.git(0.0, &["checkout", "-q", "main"]);
    repo.merge("feat1", "Merge pull request #7 from acme/feat1", 6.0);
    repo.merge("feat2", "Merge branch 'feat2'", 7.0);
    let m3 = repo.merge("feat3", "Merge branch 'feat3'", 8.0);

    let out = record(
        &repo.dir,
        &server,
        &[
            "--service",
            "shop",
            "--environment",
            "production",
            "--repo",
            &repo.dir.display().to_string(),
            "--sha",
            &m3,
            "--id",
            "d1",
            "--deployed-at",
            &at(10.0),
            "--github-repo",
            "acme/shop",
        ],
        &[],
    )
    .ok();
    // Oldest first on the first-parent line: s (straight), then one change per merged
    // branch, named by its pull request when GitHub's merge subject gives one.
    // Lead times at hour 10: s 6 h = 21600, feat1 (first commit hour 2) 8 h = 28800,
    // feat2 (hour 5) 5 h = 18000, feat3 (hour -24) 34 h = 122400.
    assert_eq!(
        stored_changes(&server, "d1"),
        changes_of(&[(&s, 4.0), ("acme/shop#7", 2.0), (&g1, 5.0), (&b1, -24.0)])
    );
    assert!(out.contains("lead time 28800 s (8h 0m)"), "{out}");
    assert!(out.contains("branch of 2 commit(s) merged in"), "{out}");
    assert!(out.contains("note: no GitHub token"), "{out}");
    assert!(out.contains("server answered 201"), "{out}");
    assert!(
        !out.contains(&f1b),
        "the branch has a pull request id: {out}"
    );

    // Lead times [3600, 18000, 21600, 28800, 122400]: p50 = 21600;
    // p90: h = 0.9 * 4 = 3.6 -> 28800 + 0.6 * (122400 - 28800) = 84960.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["changes"], 5);
    assert_eq!(lt["p50_seconds"], 21600.0);
    assert_eq!(lt["p90_seconds"], 84960.0);

    // Sending the same deployment again counts nothing twice.
    let again = deploy(&server, &repo, "shop", "d1", &m3, 10.0).ok();
    assert!(again.contains("server answered 200"), "{again}");
    assert_eq!(lead_time(&server, "shop")["changes"], 5);
}

/// Builds: a (hour 0, deployed first at hour 1); PR 12 (branch commits at hours 2 and 3)
/// squash-merged as `q` at hour 5; PR 13 (branch commits at hours 4 and 4.5) rebased onto
/// main as `r1`, `r2` at hour 6; `x` pushed straight to main at hour 7. Returns
/// (a, q, r1, r2, x).
pub fn squash_and_rebase_history(repo: &Repo) -> (String, String, String, String, String) {
    let a = repo.commit("a", 0.0);
    repo.git(0.0, &["checkout", "-q", "-b", "pr12"]);
    repo.commit("p12a", 2.0);
    repo.commit("p12b", 3.0);
    repo.git(0.0, &["checkout", "-q", "-b", "pr13", &a]);
    let o1 = repo.commit("p13a", 4.0);
    let o2 = repo.commit("p13b", 4.5);
    repo.git(0.0, &["checkout", "-q", "main"]);
    repo.git(5.0, &["merge", "-q", "--squash", "pr12"]);
    repo.git(5.0, &["commit", "-q", "-m", "Change 12 (#12)"]);
    let q = repo.head();
    // GitHub's "rebase and merge" replays the commits: new shas, committer time of the merge.
    repo.git_dated(4.0, 6.0, &["cherry-pick", &o1]);
    let r1 = repo.head();
    repo.git_dated(4.5, 6.0, &["cherry-pick", &o2]);
    let r2 = repo.head();
    let x = repo.commit("x", 7.0);
    (a, q, r1, r2, x)
}

#[test]
fn squash_and_rebase_merges_without_a_token_fall_back_to_the_commits_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));
    let (a, q, r1, r2, x) = squash_and_rebase_history(&repo);
    deploy(&server, &repo, "shop", "d0", &a, 1.0).ok();
    let out = deploy(&server, &repo, "shop", "d1", &x, 10.0).ok();
    assert!(out.contains("note: no GitHub token"), "{out}");
    assert!(out.contains("4 commit(s) on the main line"), "{out}");
    // Each commit on its own: q 5 h = 18000, r1 and r2 4 h = 14400, x 3 h = 10800.
    assert_eq!(
        stored_changes(&server, "d1"),
        changes_of(&[(&q, 5.0), (&r1, 6.0), (&r2, 6.0), (&x, 7.0)])
    );
    // [3600, 10800, 14400, 14400, 18000]: p50 = 14400; p90: h = 3.6 -> 14400 + 0.6 * 3600 = 16560.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["p50_seconds"], 14400.0);
    assert_eq!(lt["p90_seconds"], 16560.0);
}

#[test]
fn squash_and_rebase_merges_with_a_token_start_at_the_pull_requests_first_commit() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));
    let (a, q, r1, r2, x) = squash_and_rebase_history(&repo);
    let github = FakeGitHub::start(
        "acme/shop",
        vec![
            Pull {
                number: 12,
                landed: vec![q.clone()],
                branch_commits: vec![2.0, 3.0],
            },
            Pull {
                number: 13,
                landed: vec![r1.clone(), r2.clone()],
                branch_commits: vec![4.0, 4.5],
            },
        ],
    );
    let env = [
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_API_URL", github.url.as_str()),
    ];
    let args = |id: &'static str, sha: &str, hours: f64| {
        vec![
            "--service".to_string(),
            "shop".into(),
            "--environment".into(),
            "production".into(),
            "--repo".into(),
            ".".into(),
            "--sha".into(),
            sha.into(),
            "--id".into(),
            id.into(),
            "--deployed-at".into(),
            at(hours),
        ]
    };
    let argv = args("d0", &a, 1.0);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    record(&repo.dir, &server, &argv, &env).ok();
    let argv = args("d1", &x, 10.0);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = record(&repo.dir, &server, &argv, &env).ok();
    assert!(!out.contains("note:"), "{out}");
    // PR 12 from hour 2: 8 h = 28800; PR 13 (both rebased commits, one change) from hour 4:
    // 6 h = 21600; x has no pull request: its own time, 3 h = 10800.
    assert_eq!(
        stored_changes(&server, "d1"),
        changes_of(&[("acme/shop#12", 2.0), ("acme/shop#13", 4.0), (&x, 7.0)])
    );
    let asked = github.requests.lock().unwrap().clone();
    assert!(
        asked.contains(&format!("acme/shop commit {x}")),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"acme/shop pull 13".to_string()),
        "{asked:?}"
    );
    // d0 [3600] and [10800, 21600, 28800]: p50: h = 1.5 -> 10800 + 0.5 * 10800 = 16200;
    // p90: h = 2.7 -> 21600 + 0.7 * 7200 = 26640.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["changes"], 4);
    assert_eq!(lt["p50_seconds"], 16200.0);
    assert_eq!(lt["p90_seconds"], 26640.0);

    // A bad token: a clear note and the commits themselves, never a failed deployment.
    let bad = [
        ("GITHUB_TOKEN", "wrong"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_API_URL", github.url.as_str()),
    ];
    let argv = args("e0", &a, 1.0);
    let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    argv[1] = "shop-b";
    record(&repo.dir, &server, &argv, &bad).ok();
    let argv = args("e1", &x, 10.0);
    let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    argv[1] = "shop-b";
    let out = record(&repo.dir, &server, &argv, &bad).ok();
    assert!(out.contains("401"), "{out}");
    assert!(out.contains("the token is not valid"), "{out}");
    assert_eq!(
        stored_changes(&server, "e1"),
        changes_of(&[(&q, 5.0), (&r1, 6.0), (&r2, 6.0), (&x, 7.0)])
    );
}

#[test]
fn first_deployment_of_a_merge_counts_only_its_merged_branch() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));
    repo.commit("a", -1000.0);
    let b = repo.commit("b", 1.0);
    repo.git(0.0, &["checkout", "-q", "-b", "feat", &b]);
    repo.commit("f1", 2.0);
    let f2 = repo.commit("f2", 3.0);
    repo.git(0.0, &["checkout", "-q", "main"]);
    let m = repo.merge("feat", "Merge branch 'feat'", 4.0);
    let out = deploy(&server, &repo, "shop", "d0", &m, 5.0).ok();
    assert!(out.contains("first production deployment"), "{out}");
    assert!(
        out.contains("older history was deployed before Pacer saw it"),
        "{out}"
    );
    // Only the branch: from hour 2 to hour 5 = 10800 s; a (1000 h old) and b are not dumped in.
    assert_eq!(stored_changes(&server, "d0"), changes_of(&[(&f2, 2.0)]));

    // Deploying the same sha again (a redeploy) brings nothing new.
    let out = deploy(&server, &repo, "shop", "d1", &m, 6.0).ok();
    assert!(out.contains("brings no new changes"), "{out}");
    assert_eq!(stored_changes(&server, "d1"), vec![]);
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["changes"], 1);
    assert_eq!(lt["p50_seconds"], 10800.0);
    assert_eq!(lt["p90_seconds"], 10800.0);
}

#[test]
fn a_force_push_counts_from_the_merge_base_and_a_vanished_sha_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));
    let a = repo.commit("a", 0.0);
    let b = repo.commit("b", 1.0);
    deploy(&server, &repo, "shop", "d0", &b, 2.0).ok();
    // main is rewritten: b is dropped (still in the object store), c and d follow a.
    repo.git(0.0, &["reset", "-q", "--hard", &a]);
    let c = repo.commit("c", 3.0);
    let d = repo.commit("d", 4.0);
    let out = deploy(&server, &repo, "shop", "d1", &d, 5.0).ok();
    assert!(out.contains("force-push"), "{out}");
    assert!(out.contains(&format!("merge base {}", &a[..12])), "{out}");
    // From the merge base a: c (2 h = 7200) and d (1 h = 3600); a itself was deployed.
    assert_eq!(
        stored_changes(&server, "d1"),
        changes_of(&[(&c, 3.0), (&d, 4.0)])
    );
    // [3600 (b), 3600, 7200]: p50 = 3600; p90: h = 1.8 -> 3600 + 0.8 * 3600 = 6480.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["p50_seconds"], 3600.0);
    assert_eq!(lt["p90_seconds"], 6480.0);

    // The previous sha is nowhere in the repository: a clear refusal, nothing recorded.
    record(
        &repo.dir,
        &server,
        &[
            "--service",
            "gone",
            "--environment",
            "production",
            "--sha",
            &"9".repeat(40),
            "--deployed-at",
            &at(1.0),
            "--change",
            &format!("x={}", at(0.0)),
        ],
        &[],
    )
    .ok();
    let err = deploy(&server, &repo, "gone", "g1", &d, 5.0).err();
    assert!(err.contains("is not in the repository"), "{err}");
    assert!(err.contains("merge base"), "{err}");
    assert!(err.contains("--change"), "{err}");
    assert_eq!(deployment_count(&server, "gone"), 1);
}

#[test]
fn a_shallow_clone_is_refused_unless_the_needed_commits_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let origin = Repo::init(dir.path().join("origin"));
    origin.commit("a", 0.0);
    origin.commit("b", 1.0);
    let c = origin.commit("c", 2.0);
    let clone = |name: &str, depth: &str| {
        let url = format!("file://{}", origin.dir.display());
        git_run(git_command(dir.path()).args(["clone", "-q", "--depth", depth, &url, name]));
        Repo {
            dir: dir.path().join(name),
        }
    };
    // Depth 1 holds the deployed commit itself: enough for a first deployment of a
    // straight commit (2 h to 2.5 h = 1800 s).
    let one = clone("one", "1");
    deploy(&server, &one, "shop", "d0", &c, 2.5).ok();
    assert_eq!(stored_changes(&server, "d0"), changes_of(&[(&c, 2.0)]));

    let d = origin.commit("d", 3.0);
    let again = clone("again", "1");
    let err = deploy(&server, &again, "shop", "d1", &d, 4.0).err();
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");
    assert_eq!(deployment_count(&server, "shop"), 1);

    // Deep enough to reach the previous deployment: d from 3 h to 4 h = 3600 s.
    let deeper = clone("deeper", "3");
    deploy(&server, &deeper, "shop", "d1", &d, 4.0).ok();
    assert_eq!(stored_changes(&server, "d1"), changes_of(&[(&d, 3.0)]));
    // [1800, 3600]: p50 = 2700; p90 = 1800 + 0.9 * 1800 = 3420.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["p50_seconds"], 2700.0);
    assert_eq!(lt["p90_seconds"], 3420.0);

    // A merge whose branch the shallow clone cut off is refused too.
    origin.git(0.0, &["checkout", "-q", "-b", "feat"]);
    origin.commit("f", 5.0);
    origin.git(0.0, &["checkout", "-q", "main"]);
    let m = origin.merge("feat", "Merge branch 'feat'", 6.0);
    let cut = clone("cut", "1");
    let err = deploy(&server, &cut, "other", "o1", &m, 7.0).err();
    assert!(err.contains("fetch-depth: 0"), "{err}");
    assert_eq!(deployment_count(&server, "other"), 0);
}

#[test]
fn repo_cannot_be_combined_with_precomputed_changes() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(pacer(dir.path()).args([
        "deployment",
        "record",
        "--service",
        "s",
        "--environment",
        "production",
        "--repo",
        ".",
        "--lead-time-seconds",
        "60",
    ]))
    .err();
    assert!(err.contains("cannot be used with"), "{err}");
}
