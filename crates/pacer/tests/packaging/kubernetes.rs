//! deploy/kubernetes/: the chart's default output as plain manifests, parsed strictly; their
//! probes, ports, paths and command run against the real binary.

use crate::support::{at, get, pacer, read, root, start, tool, yaml};
use serde_json::Value;
use std::process::Command;

const DIR: &str = "deploy/kubernetes";

fn manifest(file: &str) -> Value {
    yaml(&format!("{DIR}/{file}"))
}

fn deployment() -> Value {
    manifest("deployment.yaml")
}

fn container(deployment: &Value) -> &Value {
    let containers = at(
        deployment,
        "/spec/template/spec/containers",
        "the Deployment",
    )
    .as_array()
    .unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// Whether every label of `selector` is on `labels` with the same value.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn kustomization_lists_every_manifest_and_each_is_the_expected_kind() {
    let kustomization = manifest("kustomization.yaml");
    let resources: Vec<&str> = at(&kustomization, "/resources", "kustomization.yaml")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "configmap.yaml",
            "pvc.yaml",
            "deployment.yaml",
            "service.yaml"
        ]
    );
    for (file, api, kind) in [
        ("configmap.yaml", "v1", "ConfigMap"),
        ("pvc.yaml", "v1", "PersistentVolumeClaim"),
        ("deployment.yaml", "apps/v1", "Deployment"),
        ("service.yaml", "v1", "Service"),
        (
            "optional/servicemonitor.yaml",
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
        ),
    ] {
        let m = manifest(file);
        assert_eq!(m["apiVersion"], api, "{file}");
        assert_eq!(m["kind"], kind, "{file}");
        assert_eq!(m["metadata"]["name"], "pacer", "{file}");
    }
}

/// The probes use the routes Pacer serves, on the port the container exposes, and the
/// ServiceMonitor scrapes /metrics there: all three answer 200 from the real server.
#[test]
fn probes_and_scrape_path_are_served_by_pacer() {
    let d = deployment();
    let c = container(&d);
    let ports = c["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["name"], "http");
    assert_eq!(ports[0]["containerPort"], 7077);
    let mut paths = Vec::new();
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let get = at(c, &format!("/{probe}/httpGet"), probe);
        assert_eq!(get["port"], "http", "{probe}");
        paths.push((probe, get["path"].as_str().unwrap().to_string()));
    }
    assert_eq!(
        paths,
        [
            ("livenessProbe", "/healthz".to_string()),
            ("readinessProbe", "/readyz".to_string()),
            ("startupProbe", "/healthz".to_string()),
        ],
        "liveness must not depend on the database; readiness must"
    );
    let monitor = manifest("optional/servicemonitor.yaml");
    let endpoint = at(&monitor, "/spec/endpoints/0", "the ServiceMonitor");
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["path"], "/metrics");

    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/p.db", dir.path().display());
    let server = start(pacer(dir.path()).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &database,
    ]));
    for (_, path) in &paths {
        assert_eq!(get(&server.addr, path).0, 200, "GET {path}");
    }
    let (status, body) = get(&server.addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE "),
        "/metrics is not Prometheus text: {body}"
    );
}

/// Non-root with the image's numeric user, read-only root file system, no capabilities, no
/// privilege escalation, and the API server's token kept out of the pod.
#[test]
fn pod_runs_non_root_read_only_without_capabilities() {
    let d = deployment();
    let pod = at(&d, "/spec/template/spec", "the Deployment");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // The id the Dockerfile's USER names.
    assert!(read("Dockerfile").contains("\nUSER 10001:10001\n"));
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    assert_eq!(pod["securityContext"]["fsGroup"], 10001);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let c = container(&d);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(
        c["resources"]["limits"]["memory"].is_string(),
        "a memory limit"
    );
    assert!(
        c["resources"]["requests"]["cpu"].is_string(),
        "a CPU request"
    );
    // The grace period covers the drain after SIGTERM (the systemd unit gives the same).
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
}

#[test]
fn service_and_servicemonitor_select_the_pods() {
    let d = deployment();
    let pod_labels = at(&d, "/spec/template/metadata/labels", "the pod template");
    assert!(selects(
        at(&d, "/spec/selector/matchLabels", "the Deployment"),
        pod_labels
    ));
    let service = manifest("service.yaml");
    assert!(selects(&service["spec"]["selector"], pod_labels));
    let port = at(&service, "/spec/ports/0", "the Service");
    assert_eq!(port["name"], "http");
    assert_eq!(port["targetPort"], "http");
    assert_eq!(port["port"], 7077);
    let monitor = manifest("optional/servicemonitor.yaml");
    assert!(selects(
        at(&monitor, "/spec/selector/matchLabels", "the ServiceMonitor"),
        &service["metadata"]["labels"]
    ));
}

/// One replica on SQLite, its file on the claim, replaced (not rolled) so two pods never
/// write one database; and the container's exact arguments, environment and pacer.toml (paths
/// moved into a temporary directory, port 0 on loopback) start the real server.
#[test]
fn container_command_config_and_volume_start_pacer_on_sqlite() {
    let d = deployment();
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    let c = container(&d);
    let env = c["env"].as_array().unwrap();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0]["name"], "PACER_SERVER__DATABASE");
    let database = env[0]["value"].as_str().unwrap();
    assert_eq!(database, "sqlite:///var/lib/pacer/pacer.db");
    let mounts = c["volumeMounts"].as_array().unwrap();
    let mount = |name: &str| {
        mounts
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no volumeMount {name}"))["mountPath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(mount("data"), "/var/lib/pacer", "the database's directory");
    assert_eq!(mount("config"), "/etc/pacer");
    assert_eq!(
        mount("tmp"),
        "/tmp",
        "a writable /tmp beside the read-only root"
    );
    let volumes = at(&d, "/spec/template/spec/volumes", "the pod")
        .as_array()
        .unwrap();
    let data = volumes.iter().find(|v| v["name"] == "data").unwrap();
    let pvc = manifest("pvc.yaml");
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteOnce"])
    );
    let config = volumes.iter().find(|v| v["name"] == "config").unwrap();
    let configmap = manifest("configmap.yaml");
    assert_eq!(config["configMap"]["name"], configmap["metadata"]["name"]);

    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let toml = configmap["data"]["pacer.toml"].as_str().unwrap();
    std::fs::write(etc.join("pacer.toml"), toml).unwrap();
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a {
                // Loopback: no API tokens needed for the test; port 0 never collides.
                "0.0.0.0:7077" => "127.0.0.1:0".to_string(),
                _ => a.replace("/etc/pacer", &etc.display().to_string()),
            }
        })
        .collect();
    assert_eq!(c["args"][0], "serve");
    let server = start(pacer(dir.path()).args(&args).env(
        "PACER_SERVER__DATABASE",
        database.replace("/var/lib/pacer", &state.display().to_string()),
    ));
    assert_eq!(get(&server.addr, "/readyz").0, 200);
    assert!(
        state.join("pacer.db").exists(),
        "PACER_SERVER__DATABASE was not honoured: no database in the data volume"
    );
}

/// kubernetes-validate (PyPI; it ships the Kubernetes JSON schemas, so it runs offline)
/// accepts the manifests strictly, and rejects a misspelt field (so it really checks).
#[test]
fn kubernetes_validate_accepts_the_manifests() {
    let Some(validate) = tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    let dir = root().join(DIR);
    let files = [
        "configmap.yaml",
        "pvc.yaml",
        "deployment.yaml",
        "service.yaml",
    ];
    let out = Command::new(&validate)
        .args(["--strict", "--no-warn"])
        .args(files.iter().map(|f| dir.join(f)))
        .output()
        .expect("run kubernetes-validate");
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("deployment.yaml");
    std::fs::write(
        &broken,
        read(&format!("{DIR}/deployment.yaml")).replace("readinessProbe:", "readynessProbe:"),
    )
    .unwrap();
    let out = Command::new(&validate)
        .args(["--strict", "--no-warn"])
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "kubernetes-validate missed a misspelt field"
    );
}

/// The pod listens on 0.0.0.0, where Pacer refuses to run without API tokens: the
/// ConfigMap's pacer.toml alone is refused with a message naming the way out, and with a
/// token hash from `pacer token hash` added, as docs/deployment.md says, it serves.
#[test]
fn beyond_loopback_the_pod_needs_tokens_and_serves_with_one() {
    let d = deployment();
    let c = container(&d);
    let configmap = manifest("configmap.yaml");
    let toml = configmap["data"]["pacer.toml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pacer.toml");
    let args = |config: &std::path::Path| -> Vec<String> {
        c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a.as_str().unwrap() {
                // Still every interface, as in the pod; port 0 never collides.
                "0.0.0.0:7077" => "0.0.0.0:0".to_string(),
                "/etc/pacer/pacer.toml" => config.display().to_string(),
                other => other.to_string(),
            })
            .collect()
    };
    let database = format!("sqlite://{}/p.db", dir.path().display());
    std::fs::write(&config, toml).unwrap();
    let mut refused = pacer(dir.path())
        .args(args(&config))
        .env("PACER_SERVER__DATABASE", &database)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = crate::support::exit_within(&mut refused, std::time::Duration::from_secs(20))
        .expect("pacer kept running on 0.0.0.0 without tokens");
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut refused.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("allow_unauthenticated") && stderr.contains("tokens"),
        "the refusal does not say what to configure: {stderr}"
    );

    let mut hash = pacer(dir.path())
        .args(["token", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut hash.stdin.take().unwrap(),
        b"k8s-ci-token-0123456789abcdef\n",
    )
    .unwrap();
    let out = hash.wait_with_output().unwrap();
    assert!(out.status.success());
    let sha = String::from_utf8(out.stdout).unwrap().trim().to_string();
    std::fs::write(
        &config,
        format!("{toml}\n[auth.tokens.ci]\nsha256 = \"{sha}\"\nscopes = [\"ingest\"]\n"),
    )
    .unwrap();
    let server = start(
        pacer(dir.path())
            .args(args(&config))
            .env("PACER_SERVER__DATABASE", &database),
    );
    let port = server.addr.rsplit(':').next().unwrap();
    assert!(server.addr.starts_with("0.0.0.0:"), "{}", server.addr);
    assert_eq!(get(&format!("127.0.0.1:{port}"), "/readyz").0, 200);
}
