//! `pacer deployment record --repo PATH`: ask the server for the previous production
//! deployment, work out the changes from git, print them and record the deployment.

use super::{Base, Found, Lookup, Origin, Repo};
use crate::cli::RecordArgs;
use crate::http::send;
use crate::{github, timefmt};
use anyhow::Context;
use pacer_core::Timestamp;
use serde_json::{Value, json};

/// The newest earlier successful production deployment of the service that names a sha.
#[derive(Debug, Clone)]
struct Previous {
    id: String,
    sha: String,
    deployed_at: String,
}

/// Pages through `GET /api/v1/deployments?service=S&status=success` (newest first) to the
/// first deployment that counts (a production environment, as the server's settings say)
/// and has a sha, skipping the one being recorded (a re-send) and any at or after it.
async fn previous_deployment(
    http: &reqwest::Client,
    server: &str,
    service: &str,
    this_id: Option<&str>,
    deployed_at: Timestamp,
) -> anyhow::Result<Option<Previous>> {
    let service_q: String = form_urlencoded::byte_serialize(service.as_bytes()).collect();
    let mut offset = 0u64;
    loop {
        let url = format!(
            "{server}/api/v1/deployments?service={service_q}&status=success&limit=1000&offset={offset}"
        );
        let (_, page) = send(http.get(&url)).await?;
        let items = page["deployments"]
            .as_array()
            .context("the server's deployment list is not in the expected shape")?;
        for d in items {
            let (Some(id), Some(sha), Some(at)) = (
                d["id"].as_str(),
                d["sha"].as_str(),
                d["deployed_at"].as_str(),
            ) else {
                continue;
            };
            let earlier = timefmt::parse_rfc3339(at).is_ok_and(|t| t < deployed_at);
            if d["counts"] == json!(true) && Some(id) != this_id && earlier {
                return Ok(Some(Previous {
                    id: id.into(),
                    sha: sha.into(),
                    deployed_at: at.into(),
                }));
            }
        }
        match page["next_offset"].as_u64() {
            Some(next) if next > offset => offset = next,
            _ => return Ok(None),
        }
    }
}

/// `7200` -> `2h 0m`; lead times read better in hours and days than in seconds.
fn human(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m {}s", s % 60)
    }
}

fn describe(found: &Found, deployed_at: Timestamp) -> String {
    let mut out = format!("{} change(s):\n", found.changes.len());
    for c in &found.changes {
        let lead = deployed_at.seconds_since(c.started_at);
        let origin = match &c.origin {
            Origin::MergedBranch { merge, commits } => {
                format!(
                    "branch of {commits} commit(s) merged in {}",
                    super::short(merge)
                )
            }
            Origin::Commit => "commit on the main line".to_string(),
            Origin::PullRequest { commits } => format!(
                "pull request landed as {}",
                commits
                    .iter()
                    .map(|c| super::short(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let lead = if lead < 0.0 {
            "0 s (started after the deployment: clock skew; counted as 0)".to_string()
        } else {
            format!("{lead} s ({})", human(lead))
        };
        out.push_str(&format!(
            "  {}  started {}  lead time {lead}  [{origin}]\n",
            c.id,
            timefmt::format(c.started_at)
        ));
    }
    for note in &found.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

pub async fn record(args: RecordArgs) -> anyhow::Result<()> {
    let path = args.repo.clone().context("--repo is required here")?;
    let server = args.server.server.trim_end_matches('/').to_string();
    let repo = Repo::open(&path)?;
    let deployed_at = match &args.deployed_at {
        Some(v) => timefmt::parse_flexible(v).map_err(|e| anyhow::anyhow!("--deployed-at: {e}"))?,
        None => timefmt::now(),
    };
    let http = args.server.client()?;
    let previous = previous_deployment(
        &http,
        &server,
        &args.service,
        args.id.as_deref(),
        deployed_at,
    )
    .await?;
    let base = previous
        .as_ref()
        .map_or(Base::FirstDeployment, |p| Base::Previous(p.sha.clone()));

    let client = match (&args.github_token, &args.github_repo) {
        (Some(token), Some(name)) => Some(github::Client::new(
            &args.github_api_url,
            token.clone(),
            name.clone(),
        )),
        _ => None,
    };
    let lookup = match (&client, &args.github_repo) {
        (Some(c), _) => Lookup::GitHub(c),
        (None, None) if args.github_token.is_some() => Lookup::Unavailable(
            "no GitHub repository (--github-repo OWNER/NAME or GITHUB_REPOSITORY), so pull requests cannot be looked up"
                .into(),
        ),
        (None, _) => Lookup::Unavailable(
            "no GitHub token (--github-token or GITHUB_TOKEN), so squash-merged and rebased pull requests cannot be looked up"
                .into(),
        ),
    };
    let sha = args.sha.as_deref().unwrap_or("HEAD");
    let found = super::changes(&repo, sha, &base, args.github_repo.as_ref(), lookup).await?;

    let mut text = format!(
        "deployment of {} to {} at {}, sha {}\n",
        args.service,
        args.environment,
        timefmt::format(deployed_at),
        found.sha
    );
    match &previous {
        Some(p) => text.push_str(&format!(
            "counted since the previous production deployment {} (sha {}, {})\n",
            p.id, p.sha, p.deployed_at
        )),
        None => text.push_str("no earlier production deployment of this service with a sha\n"),
    }
    text.push_str(&describe(&found, deployed_at));
    print!("{text}");

    let changes: Vec<Value> = found
        .changes
        .iter()
        .map(|c| json!({"id": c.id, "started_at": timefmt::format(c.started_at)}))
        .collect();
    let mut body = json!({
        "service": args.service,
        "environment": args.environment,
        "status": args.status,
        "deployed_at": timefmt::format(deployed_at),
        "sha": found.sha,
        "changes": changes,
    });
    if let Some(id) = &args.id {
        body["id"] = json!(id);
    }
    if let Some(team) = &args.team {
        body["team"] = json!(team);
    }
    if let Some(name) = &args.github_repo {
        body["repo"] = json!(name.to_string());
    }
    let (status, answer) = send(
        http.post(format!("{server}/api/v1/deployments"))
            .json(&body),
    )
    .await
    .context("recording the deployment")?;
    let id = answer["id"].as_str().unwrap_or_default();
    let what = if status == 200 {
        "was already recorded (nothing counted twice)"
    } else {
        "recorded"
    };
    println!("server answered {status} {answer}: deployment {id} {what}");
    Ok(())
}
