//! `pacer --help` and `pacer config`: defaults, a config file, environment overrides.

use crate::support::{pacer, pacer_in, run};
use pacer::settings::Settings;
use pacer_core::AttributionPolicy;

fn settings(toml_text: &str) -> Settings {
    toml::from_str(toml_text)
        .unwrap_or_else(|e| panic!("`pacer config` printed bad TOML ({e}):\n{toml_text}"))
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let help = pacer_in(dir.path(), &["--help"]).ok();
    for word in [
        "serve",
        "demo",
        "report",
        "deployment",
        "incident",
        "config",
        "--config",
    ] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }
    let help = pacer_in(dir.path(), &["deployment", "record", "--help"]).ok();
    assert!(help.contains("ID=STARTED_AT"), "{help}");
    // An unknown command is an error, not a default.
    let err = pacer_in(dir.path(), &["reprot"]).err();
    assert!(err.contains("reprot"), "{err}");
}

#[test]
fn config_prints_the_defaults_as_toml() {
    let dir = tempfile::tempdir().unwrap();
    let out = pacer_in(dir.path(), &["config"]).ok();
    assert_eq!(settings(&out), Settings::default());
    assert!(
        out.contains("[server]") && out.contains("[metrics]"),
        "{out}"
    );
    assert!(out.contains("listen = \"127.0.0.1:7077\""), "{out}");
    // It only prints: no database is created.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn config_reads_a_file_then_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pacer.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:8080\"\n\n[metrics]\nattribution = \"window\"\ndefault_window_days = 7\n\n[teams]\napi = \"platform\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let from_file = settings(&pacer_in(dir.path(), &["--config", path, "config"]).ok());
    assert_eq!(from_file.server.listen, "0.0.0.0:8080");
    assert_eq!(from_file.metrics.attribution, AttributionPolicy::Window);
    assert_eq!(from_file.metrics.default_window_days, 7);
    assert_eq!(
        from_file.teams.get("api").map(String::as_str),
        Some("platform")
    );
    // What the file leaves out keeps its default.
    assert_eq!(
        from_file.server.database,
        Settings::default().server.database
    );

    // The global flag works after the subcommand too, and PACER_CONFIG names the file.
    assert_eq!(
        settings(&pacer_in(dir.path(), &["config", "--config", path]).ok()),
        from_file
    );
    let via_env = run(pacer(dir.path()).env("PACER_CONFIG", path).arg("config")).ok();
    assert_eq!(settings(&via_env), from_file);

    // Environment variables override the file.
    let overridden = run(pacer(dir.path())
        .args(["--config", path, "config"])
        .env("PACER_SERVER__LISTEN", "127.0.0.1:9999")
        .env("PACER_METRICS__ATTRIBUTION", "explicit")
        .env("PACER_METRICS__PRODUCTION_ENVIRONMENTS", "live,prod"))
    .ok();
    let overridden = settings(&overridden);
    assert_eq!(overridden.server.listen, "127.0.0.1:9999");
    assert_eq!(overridden.metrics.attribution, AttributionPolicy::Explicit);
    assert_eq!(overridden.metrics.production_environments, ["live", "prod"]);
    assert_eq!(overridden.metrics.default_window_days, 7);
}

#[test]
fn environment_overrides_apply_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(pacer(dir.path())
        .arg("config")
        .env("PACER_METRICS__ATTRIBUTION", "window")
        .env("PACER_SERVER__LISTEN", "0.0.0.0:7000"))
    .ok();
    let s = settings(&out);
    assert_eq!(s.metrics.attribution, AttributionPolicy::Window);
    assert_eq!(s.server.listen, "0.0.0.0:7000");
    assert!(out.contains("attribution = \"window\""), "{out}");
}

#[test]
fn the_command_line_variables_are_not_settings() {
    // PACER_CONFIG and PACER_SERVER belong to the command line (--config, --server); the
    // settings loader must not read them as a `config` key or a `server` section.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pacer.toml");
    std::fs::write(&file, "[metrics]\nattribution = \"window\"\n").unwrap();
    let out = run(pacer(dir.path())
        .arg("config")
        .env("PACER_CONFIG", &file)
        .env("PACER_SERVER", "http://127.0.0.1:7077"))
    .ok();
    let s = settings(&out);
    assert_eq!(s.metrics.attribution, AttributionPolicy::Window);
    assert_eq!(s.server, Settings::default().server);
}

#[test]
fn bad_configuration_is_an_error_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    for (file, needle) in [
        (
            write("typo.toml", "[metrics]\nattributon = \"window\"\n"),
            "attributon",
        ),
        (write("top.toml", "colour = true\n"), "colour"),
        (
            write("section.toml", "[sever]\nlisten = \"0.0.0.0:1\"\n"),
            "sever",
        ),
        (
            write("value.toml", "[metrics]\nattribution = \"sometimes\"\n"),
            "sometimes",
        ),
        (
            write("days.toml", "[metrics]\ndefault_window_days = 0\n"),
            "default_window_days",
        ),
        (write("syntax.toml", "[metrics\n"), "syntax.toml"),
    ] {
        let err = pacer_in(dir.path(), &["--config", &file, "config"]).err();
        assert!(err.contains(needle), "{file}: {err}");
        assert!(err.starts_with("error: "), "{file}: {err}");
    }
    let missing = dir.path().join("missing.toml");
    let err = pacer_in(
        dir.path(),
        &["--config", missing.to_str().unwrap(), "config"],
    )
    .err();
    assert!(
        err.contains("missing.toml") && err.contains("does not exist"),
        "{err}"
    );
    let err = run(pacer(dir.path())
        .arg("config")
        .env("PACER_METRICS__ATTRIBUTON", "window"))
    .err();
    assert!(err.contains("attributon"), "{err}");
}
