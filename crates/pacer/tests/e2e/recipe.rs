//! The handbook recipe's exact shell steps (heredoc + curl), pointed at a running Pacer,
//! in a real git repository, give the right figures.

use crate::support::{get_json, now, serve, tool};
use std::path::Path;
use std::process::Command;

const DEPLOY: &str = include_str!("recipe/deploy.sh");
const LEAD_TIME: &str = include_str!("recipe/lead_time.sh");
const INCIDENT: &str = include_str!("recipe/incident.sh");
const REPO: &str = "acme/payments";

/// A git repository whose commits carry chosen committer times.
struct Repo<'a> {
    dir: &'a Path,
}

impl Repo<'_> {
    fn git(&self, args: &[&str], at: i64) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=CI", "-c", "user.email=ci@example.com"])
            .args(args)
            .current_dir(self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", format!("@{at} +0000"))
            .env("GIT_COMMITTER_DATE", format!("@{at} +0000"))
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
    fn commit(&self, message: &str, at: i64) {
        self.git(&["commit", "--allow-empty", "-q", "-m", message], at);
    }
    /// `origin/main` catches up with HEAD: the branch was merged.
    fn merge(&self) {
        self.git(&["update-ref", "refs/remotes/origin/main", "HEAD"], 0);
    }
}

/// Runs one recipe step as GitHub Actions would (`bash -e`, `${{ }}` substituted, `env:`
/// as environment) against Pacer at `addr`, with `date +%s` answering `fake_now`.
/// Returns what the step printed (curl prints Pacer's answer).
fn step(
    script: &str,
    addr: &str,
    dir: &Path,
    fake_bin: &Path,
    fake_now: i64,
    env: &[(&str, String)],
) -> String {
    let script = script
        .replace("${{ github.repository }}", REPO)
        .replace("pushgateway:9091", addr);
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(dir)
        .env("PATH", path)
        .env("FAKE_NOW", fake_now.to_string())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "step failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A `date` that answers `date +%s` with `$FAKE_NOW` (so the figures are exact) and
/// passes anything else to the real one.
fn fake_date(bin: &Path) {
    let real = tool("date", "coreutils");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = \"+%s\" ]; then echo \"$FAKE_NOW\"; else exec {} \"$@\"; fi\n",
        real.display()
    );
    let path = bin.join("date");
    std::fs::write(&path, script).expect("write fake date");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test]
async fn the_recipe_steps_unchanged_give_the_right_figures() {
    tool("curl", "curl");
    tool("git", "git");
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let repo_dir = dir.path().join("repo");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&repo_dir).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    fake_date(&bin);
    let repo = Repo { dir: &repo_dir };
    repo.git(&["init", "-q", "-b", "main"], 0);

    let now = now();
    let (t1, t2, t4) = (now - 3 * 86_400, now - 2 * 86_400, now - 86_400);
    let t3 = t2 + 1;
    let run = |script: &str, at: i64| step(script, &server.addr, &repo_dir, &bin, at, &[]);

    repo.commit("base", now - 10 * 86_400);
    repo.merge();
    // Deploy 1 at t1: a branch whose first commit is 3 h earlier -> lead time 10800 s.
    repo.commit("feature: first", t1 - 3 * 3600);
    repo.commit("feature: second", t1 - 3600);
    run(DEPLOY, t1);
    let answer = run(LEAD_TIME, t1);
    assert!(answer.contains("\"seconds\":10800.0"), "{answer}");
    repo.merge();

    // Deploy 2 at t2 (first commit 1 h earlier) and deploy 3 one second later (first
    // commit 2 h earlier): two deploys a second apart both count.
    repo.commit("fix", t2 - 3600);
    run(DEPLOY, t2);
    run(LEAD_TIME, t2);
    repo.merge();
    repo.commit("another fix", t3 - 7200);
    run(DEPLOY, t3);
    run(LEAD_TIME, t3);
    // The deploy step retried: the same value again adds nothing.
    let retried = run(DEPLOY, t3);
    assert!(retried.contains("\"already_recorded\":true"), "{retried}");
    repo.merge();

    // Deploy 4 from main after a merge: `git log origin/main..HEAD` is empty, so the
    // recipe's lead time is DEPLOY_TS itself. Pacer refuses it, says why, keeps the deploy.
    run(DEPLOY, t4);
    let refused = run(LEAD_TIME, t4);
    assert!(refused.contains("invalid_lead_time"), "{refused}");
    assert!(refused.contains("git log origin/main..HEAD"), "{refused}");

    // Two incidents from the relay: Q1 caused by a deploy (28 min), Q2 not (2 h).
    for (id, duration, caused) in [("Q1W2E3R4T5Y6U7", 1680, "1"), ("Q9Z8X7", 7200, "0")] {
        let triggered = now - 5000;
        let env = [
            ("INCIDENT_ID", id.to_string()),
            ("TRIGGERED_AT", triggered.to_string()),
            ("RESOLVED_AT", (triggered + duration).to_string()),
            ("CAUSED_BY_DEPLOY", caused.to_string()),
        ];
        let answer = step(INCIDENT, &server.addr, &repo_dir, &bin, now, &env);
        assert!(answer.contains(id), "{answer}");
    }

    let deployments = get_json(&server.at("/api/v1/deployments?service=acme/payments")).await;
    assert_eq!(deployments["deployments"].as_array().unwrap().len(), 4);

    // Organisation, 30 days ending now, by hand:
    // - 4 production deployments (t1, t2, t3 = t2 + 1 s, t4): 4/30 per day;
    // - lead times 10800, 3600, 7200 (deploy 4's was refused): sorted [3600, 7200, 10800],
    //   p50 = 7200, p90: h = 0.9 * 2 = 1.8 -> 7200 + 0.8 * 3600 = 10080;
    // - Q1 (no service, caused_by_deploy) is attributed by time to the latest deployment
    //   before it opened (deploy 4): 1 failed of 4 = 25 %;
    // - MTTR over [1680, 7200]: p50 = 4440, p90: h = 0.9 -> 1680 + 0.9 * 5520 = 6648.
    let m = get_json(&server.at("/api/v1/metrics")).await;
    assert_eq!(m["deployment_frequency"]["deployments"], 4);
    assert_eq!(m["deployment_frequency"]["per_day"], 4.0 / 30.0);
    assert_eq!(m["lead_time"]["changes"], 3);
    assert_eq!(m["lead_time"]["p50_seconds"], 7200.0);
    assert_eq!(m["lead_time"]["p90_seconds"], 10080.0);
    assert_eq!(m["change_failure_rate"]["deployments"], 4);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(m["change_failure_rate"]["percent"], 25.0);
    assert_eq!(m["change_failure_rate"]["band"], "low");
    assert_eq!(m["mttr"]["incidents"], 2);
    assert_eq!(m["mttr"]["p50_seconds"], 4440.0);
    assert_eq!(m["mttr"]["p90_seconds"], 6648.0);
    assert_eq!(m["mttr"]["band"], "high");
    assert_eq!(m["untriaged_incidents"], 0);
}
