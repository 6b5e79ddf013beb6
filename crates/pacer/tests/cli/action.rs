//! scripts/record-deployment.sh, the script the GitHub Action (action.yml) runs: against real
//! git repositories, a running `pacer serve` and a local GitHub API, with the variables that
//! GitHub Actions sets.

use crate::git_lead_time::{
    FakeGitHub, Pull, Repo, TOKEN, at, deployment_count, get, git_command, lead_time,
    stored_changes,
};
use crate::support::{Run, serve};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/record-deployment.sh")
}

/// `bash scripts/record-deployment.sh` in `checkout` with only the given variables (and PATH).
fn action(checkout: &Path, env: &[(&str, &str)]) -> Run {
    let mut c = Command::new("bash");
    c.arg(script())
        .current_dir(checkout)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    crate::support::run(&mut c)
}

#[test]
fn the_action_script_records_merges_and_squash_merges_once_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo = Repo::init(dir.path().join("repo"));
    let a = repo.commit("a", 0.0);
    repo.git(0.0, &["checkout", "-q", "-b", "f"]);
    repo.commit("f1", 2.0);
    repo.commit("f2", 3.0);
    repo.git(0.0, &["checkout", "-q", "-b", "g", &a]);
    repo.commit("g1", 3.5);
    repo.git(0.0, &["checkout", "-q", "main"]);
    repo.merge("f", "Merge pull request #5 from acme/f", 4.0);
    repo.git(5.0, &["merge", "-q", "--squash", "g"]);
    repo.git(5.0, &["commit", "-q", "-m", "Change g (#6)"]);
    let q = repo.head();
    let github = FakeGitHub::start(
        "acme/shop",
        vec![Pull {
            number: 6,
            landed: vec![q.clone()],
            branch_commits: vec![3.5],
        }],
    );
    let summary = dir.path().join("summary.md");
    let bin = env!("CARGO_BIN_EXE_pacer");
    let summary_path = summary.display().to_string();
    let run = |sha: &str, run_id: &str, hours: f64| {
        let deployed_at = at(hours);
        action(
            &repo.dir,
            &[
                ("INPUT_SERVER_URL", server.url.as_str()),
                ("INPUT_SERVICE", "shop"),
                ("INPUT_ENVIRONMENT", "production"),
                ("INPUT_TOKEN", ""),
                ("INPUT_PACER_BINARY", bin),
                ("INPUT_DEPLOYED_AT", deployed_at.as_str()),
                ("GITHUB_SHA", sha),
                ("GITHUB_REPOSITORY", "acme/shop"),
                ("GITHUB_TOKEN", TOKEN),
                ("GITHUB_API_URL", github.url.as_str()),
                ("GITHUB_RUN_ID", run_id),
                ("GITHUB_RUN_ATTEMPT", "1"),
                ("GITHUB_STEP_SUMMARY", summary_path.as_str()),
            ],
        )
    };
    // The first deployment: a alone, 1 h = 3600 s.
    run(&a, "100", 1.0).ok();
    assert_eq!(
        stored_changes(&server, "github-acme-shop-100-1-shop-production"),
        vec![(a.clone(), at(0.0))]
    );
    // PR 5 merged with a merge commit (first commit hour 2, 4 h = 14400 s) and PR 6
    // squash-merged (first commit hour 3.5 per GitHub, 2.5 h = 9000 s), deployed at hour 6.
    let out = run(&q, "101", 6.0).ok();
    assert!(out.contains("server answered 201"), "{out}");
    assert_eq!(
        stored_changes(&server, "github-acme-shop-101-1-shop-production"),
        vec![
            ("acme/shop#5".to_string(), at(2.0)),
            ("acme/shop#6".to_string(), at(3.5))
        ]
    );
    // A retried step of the same run attempt counts nothing twice.
    let again = run(&q, "101", 6.0).ok();
    assert!(again.contains("server answered 200"), "{again}");
    assert_eq!(deployment_count(&server, "shop"), 2);
    // [3600, 9000, 14400]: p50 = 9000; p90: h = 1.8 -> 9000 + 0.8 * 5400 = 13320.
    let lt = lead_time(&server, "shop");
    assert_eq!(lt["changes"], 3);
    assert_eq!(lt["p50_seconds"], 9000.0);
    assert_eq!(lt["p90_seconds"], 13320.0);
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("### Pacer: deployment of shop to production"),
        "{summary}"
    );
    assert!(summary.contains("acme/shop#6"), "{summary}");
    let stored = get(&format!(
        "{}/api/v1/deployments/github-acme-shop-101-1-shop-production",
        server.url
    ));
    assert_eq!(stored["repo"], "acme/shop");
    assert_eq!(stored["sha"], q.as_str());
}

#[test]
fn the_action_script_fails_a_shallow_checkout_with_fetch_depth_advice() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let origin = Repo::init(dir.path().join("origin"));
    origin.commit("a", 0.0);
    let b = origin.commit("b", 1.0);
    let url = format!("file://{}", origin.dir.display());
    let out = git_command(dir.path())
        .args(["clone", "-q", "--depth", "1", &url, "shallow"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let checkout = dir.path().join("shallow");
    let base = [
        ("INPUT_SERVER_URL", server.url.as_str()),
        ("INPUT_SERVICE", "shop"),
        ("GITHUB_SHA", b.as_str()),
        ("GITHUB_REPOSITORY", "acme/shop"),
    ];
    let mut env = base.to_vec();
    env.push(("INPUT_PACER_BINARY", env!("CARGO_BIN_EXE_pacer")));
    let err = action(&checkout, &env).err();
    assert!(err.contains("is shallow"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");
    assert_eq!(deployment_count(&server, "shop"), 0);

    // No pacer binary on the runner: say how to get one.
    let mut env = base.to_vec();
    env.push(("INPUT_PACER_BINARY", "/nonexistent/pacer"));
    let err = action(&origin.dir, &env).err();
    assert!(err.contains("cannot find the pacer binary"), "{err}");
    assert!(err.contains("cargo install"), "{err}");
    // Not a checkout at all.
    let mut env = base.to_vec();
    env.push(("INPUT_PACER_BINARY", env!("CARGO_BIN_EXE_pacer")));
    let err = action(dir.path(), &env).err();
    assert!(err.contains("actions/checkout"), "{err}");
}
