//! docs/deployment.md and the environment variables the packaging names: every
//! `PACER_SECTION__KEY` written anywhere in the docs or deploy files is a setting the real
//! `pacer config` reads, and every file the guide points to exists.

use crate::support::{pacer, read, root};
use serde_json::Value;

/// A value for each variable and what `pacer config` then shows at its key (secrets are
/// shown redacted, which proves they were read: an unset secret is not printed at all).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "PACER_SERVER__DATABASE",
        "sqlite:///srv/p.db",
        r#""sqlite:///srv/p.db""#,
    ),
    (
        "PACER_SERVER__LISTEN",
        "127.0.0.1:9999",
        r#""127.0.0.1:9999""#,
    ),
    (
        "PACER_WEBHOOKS__GITHUB__SECRET",
        "gh-secret",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__GITLAB__TOKEN",
        "gl-token",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__FLUX__SECRET",
        "flux-secret",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__FLUX__TOKEN",
        "flux-token",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__ARGOCD__TOKEN",
        "argo-token",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__PAGERDUTY__SECRETS",
        "current-secret,next-secret",
        r#"["<redacted>", "<redacted>"]"#,
    ),
    (
        "PACER_WEBHOOKS__OPSGENIE__TOKEN",
        "Bearer og-token",
        r#""<redacted>""#,
    ),
    (
        "PACER_WEBHOOKS__ALERTMANAGER__TOKEN",
        "am-token",
        r#""<redacted>""#,
    ),
    ("PACER_METRICS__DEFAULT_WINDOW_DAYS", "14", "14"),
    ("PACER_AUTH__ALLOW_UNAUTHENTICATED", "true", "true"),
];

/// Every `PACER_X__Y` name in `text`.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("PACER_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        // PACER_SECTION__KEY is how the docs write the pattern itself.
        if name.contains("__") && name != "PACER_SECTION__KEY" {
            out.push(name.trim_end_matches('_').to_string());
        }
    }
    out
}

fn packaging_texts() -> Vec<(String, String)> {
    let mut files = vec![
        "docs/deployment.md".to_string(),
        "Dockerfile".to_string(),
        "deploy/systemd/pacer.service".to_string(),
        "deploy/systemd/pacer.toml".to_string(),
        "deploy/kubernetes/README.md".to_string(),
        "deploy/kubernetes/deployment.yaml".to_string(),
        "deploy/helm/pacer/values.yaml".to_string(),
    ];
    for t in std::fs::read_dir(root().join("deploy/helm/pacer/templates")).unwrap() {
        let name = t.unwrap().file_name().into_string().unwrap();
        files.push(format!("deploy/helm/pacer/templates/{name}"));
    }
    files.into_iter().map(|f| (read(&f), f)).collect()
}

#[test]
fn every_environment_variable_named_in_the_packaging_is_a_setting() {
    let mut seen = std::collections::BTreeSet::new();
    for (text, file) in packaging_texts() {
        for name in names(&text) {
            assert!(
                KNOWN.iter().any(|(k, _, _)| *k == name),
                "{file} names {name}: add it to KNOWN in tests/packaging/docs.rs (and check \
                 that it is a setting)"
            );
            seen.insert(name);
        }
    }
    assert!(seen.contains("PACER_SERVER__DATABASE"));
    // Each one, set alone, appears at its key in the effective configuration.
    let dir = tempfile::tempdir().unwrap();
    for (name, value, expected) in KNOWN {
        let out = pacer(dir.path())
            .arg("config")
            .env(name, value)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}={value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: toml::Table = String::from_utf8(out.stdout).unwrap().parse().unwrap();
        let mut at = &serde_json::to_value(config).unwrap();
        let key = name.trim_start_matches("PACER_").to_lowercase();
        for part in key.split("__") {
            at = at.get(part).unwrap_or_else(|| {
                panic!(
                    "{name}={value} did not set {}: no {part}",
                    key.replace("__", ".")
                )
            });
        }
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(at, &expected, "{name}={value}");
    }
    assert_eq!(names("x PACER_A__B_C, PACER_CONFIG"), ["PACER_A__B_C"]);
}

/// Every repository path the guide mentions exists.
#[test]
fn deployment_guide_points_at_files_that_exist() {
    let guide = read("docs/deployment.md");
    let mut checked = 0;
    for prefix in ["deploy/", "docs/", "crates/"] {
        for (at, _) in guide.match_indices(prefix) {
            if at > 0 && guide.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let path: String = guide[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
                .collect();
            let path = path.trim_end_matches(['.', '/']);
            assert!(
                root().join(path).exists(),
                "docs/deployment.md names {path}, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} paths found");
    for heading in [
        "## Docker",
        "## Kubernetes",
        "## systemd",
        "## Backup",
        "## Upgrade",
    ] {
        assert!(
            guide.contains(heading),
            "docs/deployment.md lacks {heading}"
        );
    }
}
