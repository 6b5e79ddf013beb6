//! The Helm chart. Helm is not installed here (and has no Python or Debian package), so a
//! small evaluator renders the part of the template language the chart uses: `if`/`else`/
//! `with`/`range` blocks, `fail`, and plain value expressions. Lines it cannot render (label
//! helpers, `toYaml`) are left out of the comparison. With the default values the rendered
//! templates must match deploy/kubernetes/ line for line, in order; the render-time refusals
//! (`pacer.validate`) are run on good and bad values.

use crate::support::{read, workspace_package, yaml, yaml_docs_of};
use serde_json::{Value, json};

const CHART: &str = "deploy/helm/pacer";

fn values() -> Value {
    yaml(&format!("{CHART}/values.yaml"))
}

fn chart() -> Value {
    yaml(&format!("{CHART}/Chart.yaml"))
}

fn template(name: &str) -> String {
    read(&format!("{CHART}/templates/{name}"))
}

// ---- a tiny evaluator for the chart's expressions ----------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Text(String),
    Number(i64),
    Word(String),
}

fn tokenize(expr: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.push(chars.next().unwrap_or('\\')),
                        '"' => break,
                        _ => text.push(c),
                    }
                }
                tokens.push(Token::Text(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ' ' || c == '(' || c == ')' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(match word.parse() {
                    Ok(n) => Token::Number(n),
                    Err(_) => Token::Word(word),
                });
            }
        }
    }
    tokens
}

struct Scope<'a> {
    values: &'a Value,
    chart: &'a Value,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

impl Scope<'_> {
    /// `.Values.a.b` from the values, `.a.b` from the dot, `.` the dot itself; a missing key
    /// is null (Helm's nil). `None` for what the evaluator does not know (`.Release`, `$`).
    fn path(&self, word: &str, dot: &Value) -> Option<Value> {
        if word == "." {
            return Some(dot.clone());
        }
        let (mut v, rest) = match word.strip_prefix(".Values") {
            Some(rest) => (self.values, rest),
            None if word.starts_with('.') && !word.starts_with(".Release") => (dot, word),
            None => return None,
        };
        for key in rest.split('.').filter(|k| !k.is_empty()) {
            v = v.get(key).unwrap_or(&Value::Null);
        }
        Some(v.clone())
    }

    /// The chart's helpers, for release `pacer` (so the full name is the release name).
    fn include(&self, name: &str) -> Option<Value> {
        let selector = "app.kubernetes.io/name: pacer\napp.kubernetes.io/instance: pacer";
        Some(json!(match name {
            "pacer.fullname" => "pacer".to_string(),
            "pacer.image" => {
                let image = &self.values["image"];
                let tag = match image["tag"].as_str() {
                    Some(t) if !t.is_empty() => t.to_string(),
                    _ => scalar(&self.chart["appVersion"]),
                };
                format!("{}:{tag}", scalar(&image["repository"]))
            }
            "pacer.selectorLabels" => selector.to_string(),
            "pacer.labels" => format!(
                "{selector}\napp.kubernetes.io/version: {:?}\napp.kubernetes.io/managed-by: Helm\nhelm.sh/chart: pacer-{}",
                scalar(&self.chart["appVersion"]),
                scalar(&self.chart["version"])
            ),
            _ => return None,
        }))
    }

    /// One term: `( expr )`, a literal or a path.
    fn term(&self, tokens: &[Token], i: &mut usize, dot: &Value) -> Option<Value> {
        let token = tokens.get(*i)?.clone();
        *i += 1;
        match token {
            Token::Open => {
                let v = self.call(tokens, i, dot)?;
                (tokens.get(*i) == Some(&Token::Close)).then_some(())?;
                *i += 1;
                Some(v)
            }
            Token::Text(t) => Some(json!(t)),
            Token::Number(n) => Some(json!(n)),
            Token::Word(w) => self.path(&w, dot),
            Token::Close => None,
        }
    }

    /// A function call `f a b ...` up to a `)` or the end, or a single term.
    fn call(&self, tokens: &[Token], i: &mut usize, dot: &Value) -> Option<Value> {
        let Some(Token::Word(f)) = tokens.get(*i) else {
            return self.term(tokens, i, dot);
        };
        if f.starts_with('.') || f.starts_with('$') {
            return self.term(tokens, i, dot);
        }
        let f = f.clone();
        *i += 1;
        let mut args = Vec::new();
        while *i < tokens.len() && tokens[*i] != Token::Close {
            args.push(self.term(tokens, i, dot)?);
        }
        let int = |v: &Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        };
        Some(match (f.as_str(), args.as_slice()) {
            ("eq", [a, b]) => json!(a == b),
            ("ne", [a, b]) => json!(a != b),
            ("and", [a, b]) => json!(truthy(a) && truthy(b)),
            ("or", [a, b]) => json!(truthy(a) || truthy(b)),
            ("not", [a]) => json!(!truthy(a)),
            ("gt", [a, b]) => json!(int(a)? > int(b)?),
            ("int", [a]) => json!(int(a).unwrap_or(0)),
            ("has", [needle, Value::Array(list)]) => json!(list.contains(needle)),
            ("list", items) => Value::Array(items.to_vec()),
            ("include", [Value::String(name), _]) => self.include(name)?,
            _ => return None,
        })
    }

    /// A pipeline `expr | quote | default X | toYaml | nindent N`; `None` when it uses
    /// anything else.
    fn pipeline(&self, expr: &str, dot: &Value) -> Option<Value> {
        let mut stages = expr.split('|').map(str::trim);
        let first = tokenize(stages.next()?);
        let mut i = 0;
        let mut value = self.call(&first, &mut i, dot)?;
        (i == first.len()).then_some(())?;
        for stage in stages {
            value = if stage == "quote" {
                json!(format!("{:?}", scalar(&value)))
            } else if stage == "toYaml" {
                let text = serde_norway::to_string(&value).ok()?;
                json!(text.trim_end())
            } else if let Some(n) = stage.strip_prefix("nindent ") {
                let pad = " ".repeat(n.parse().ok()?);
                let lines: Vec<String> = scalar(&value)
                    .lines()
                    .map(|l| format!("{pad}{l}"))
                    .collect();
                json!(format!("\n{}", lines.join("\n")))
            } else if let Some(fallback) = stage.strip_prefix("default ") {
                if truthy(&value) {
                    value
                } else {
                    self.term(&tokenize(fallback), &mut 0, dot)?
                }
            } else {
                return None;
            };
        }
        Some(value)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The action of a line that holds only `{{ ... }}`, without its delimiters.
fn action(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{")).then(|| inner.trim_start_matches('-').trim_end_matches('-').trim())
}

/// A template as a tree of lines and blocks.
#[derive(Debug)]
enum Node {
    /// A line as written (`{{ }}` inside it substituted when rendered).
    Line(String),
    /// A line that is one action (`include`, `fail`, a pipeline that prints lines).
    Action(String),
    /// `if`, `with` or `range` with its expression, body and `else` body.
    Block(String, String, Vec<Node>, Vec<Node>),
}

/// A block being read: its keyword (empty for the top level), expression, body, `else`
/// body, and whether the `else` was reached.
#[derive(Default)]
struct Open {
    keyword: String,
    expr: String,
    body: Vec<Node>,
    other: Vec<Node>,
    in_else: bool,
}

fn parse(text: &str) -> Vec<Node> {
    let mut stack = vec![Open::default()];
    let mut in_comment = false;
    for line in text.lines() {
        let t = line.trim();
        if in_comment || t.starts_with("{{/*") {
            in_comment = !t.ends_with("*/}}");
            continue;
        }
        let node = match action(t) {
            Some(act) => {
                let keyword = ["if ", "with ", "range "]
                    .into_iter()
                    .find(|k| act.starts_with(k));
                if let Some(k) = keyword {
                    stack.push(Open {
                        keyword: k.trim().into(),
                        expr: act[k.len()..].into(),
                        ..Open::default()
                    });
                    continue;
                }
                if act == "else" {
                    stack.last_mut().unwrap().in_else = true;
                    continue;
                }
                if act == "end" {
                    let open = stack.pop().unwrap();
                    assert!(!open.keyword.is_empty(), "end without a block");
                    Node::Block(open.keyword, open.expr, open.body, open.other)
                } else {
                    Node::Action(act.to_string())
                }
            }
            None => Node::Line(line.to_string()),
        };
        let top = stack.last_mut().unwrap();
        if top.in_else {
            top.other.push(node)
        } else {
            top.body.push(node)
        }
    }
    assert_eq!(stack.len(), 1, "a block is not closed");
    stack.pop().unwrap().body
}

/// Renders a tree with `dot`: the output lines (`None` for one the evaluator cannot render),
/// or the message of a `fail`.
fn render_nodes(
    nodes: &[Node],
    scope: &Scope,
    dot: &Value,
    out: &mut Vec<Option<String>>,
) -> Result<(), String> {
    let eval = |expr: &str| {
        scope
            .pipeline(expr, dot)
            .unwrap_or_else(|| panic!("cannot evaluate {expr:?}"))
    };
    for node in nodes {
        match node {
            Node::Block(kind, expr, body, other) => {
                let v = eval(expr);
                match kind.as_str() {
                    "if" if truthy(&v) => render_nodes(body, scope, dot, out)?,
                    "with" if truthy(&v) => render_nodes(body, scope, &v, out)?,
                    "range" if truthy(&v) => {
                        for item in v.as_array().expect("range over a list") {
                            render_nodes(body, scope, item, out)?;
                        }
                    }
                    _ => render_nodes(other, scope, dot, out)?,
                }
            }
            Node::Action(act) => {
                if let Some(message) = act.strip_prefix("fail ") {
                    return Err(message.to_string());
                } else if act == "include \"pacer.validate\" ." {
                    render_nodes(&parse(&define("pacer.validate")), scope, dot, out)?;
                } else {
                    match scope.pipeline(act, dot) {
                        Some(v) => out.extend(
                            scalar(&v)
                                .lines()
                                .filter(|l| !l.is_empty())
                                .map(|l| Some(l.to_string())),
                        ),
                        None => out.push(None),
                    }
                }
            }
            Node::Line(line) => {
                // Substitute each `{{ ... }}`; a line with one the evaluator cannot render is
                // `None`.
                let mut rendered = String::new();
                let mut rest = line.as_str();
                let mut known = true;
                while let Some(start) = rest.find("{{") {
                    rendered.push_str(&rest[..start]);
                    let end = rest[start..].find("}}").expect("unclosed {{") + start;
                    let expr = rest[start + 2..end].trim_matches('-').trim();
                    match scope.pipeline(expr, dot) {
                        Some(v) => rendered.push_str(&scalar(&v)),
                        None => known = false,
                    }
                    rest = &rest[end + 2..];
                }
                rendered.push_str(rest);
                out.push(known.then_some(rendered));
            }
        }
    }
    Ok(())
}

fn render(text: &str, scope: &Scope) -> Result<Vec<Option<String>>, String> {
    let mut out = Vec::new();
    render_nodes(&parse(text), scope, &Value::Null, &mut out)?;
    Ok(out)
}

/// The body of `{{ define "name" }}` in _helpers.tpl.
fn define(name: &str) -> String {
    let helpers = template("_helpers.tpl");
    let start = format!("{{{{- define \"{name}\" -}}}}");
    let mut depth = 0;
    let mut body = Vec::new();
    for line in helpers.lines().skip_while(|l| l.trim() != start).skip(1) {
        match action(line) {
            Some("end") if depth == 0 => return body.join("\n"),
            Some("end") => depth -= 1,
            Some(a)
                if ["if ", "with ", "range ", "define "]
                    .iter()
                    .any(|k| a.starts_with(k)) =>
            {
                depth += 1
            }
            _ => {}
        }
        body.push(line);
    }
    panic!("no define {name:?} in _helpers.tpl");
}

/// With `values`, `template` renders to lines that appear, in order, in the plain manifest
/// `plain` (which may hold more: what the evaluator leaves out, and longer comments).
fn assert_renders_to(template_name: &str, values: &Value, plain: &str) {
    let chart = chart();
    let scope = Scope {
        values,
        chart: &chart,
    };
    let rendered = render(&template(template_name), &scope)
        .unwrap_or_else(|m| panic!("{template_name} fails with the default values: {m}"));
    let plain_text = read(plain);
    let mut plain_lines = plain_text.lines().map(str::trim);
    let mut compared = 0;
    // The plain manifests leave out the two labels that say Helm manages the objects.
    let helm_only = |l: &&str| {
        l.starts_with("app.kubernetes.io/managed-by:") || l.starts_with("helm.sh/chart:")
    };
    for line in rendered
        .iter()
        .flatten()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !helm_only(l))
    {
        assert!(
            plain_lines.any(|p| p == line),
            "{plain} lacks (or has out of order) the line {line:?} that {template_name} renders"
        );
        compared += 1;
    }
    assert!(
        compared >= 10,
        "{template_name}: only {compared} lines compared"
    );
}

// ---- tests -------------------------------------------------------------------------------

#[test]
fn chart_metadata_follows_the_workspace_version() {
    let chart = chart();
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "pacer");
    assert_eq!(chart["type"], "application");
    // The image tag defaults to appVersion: it must be the version the workspace builds.
    assert_eq!(chart["appVersion"], workspace_package("version"));
    let version = chart["version"].as_str().unwrap();
    assert_eq!(
        version.split('.').count(),
        3,
        "version {version} is not SemVer"
    );
}

#[test]
fn default_values_are_one_replica_on_sqlite_on_port_7077() {
    let v = values();
    assert_eq!(v["replicaCount"], 1);
    assert_eq!(v["database"]["backend"], "sqlite");
    assert_eq!(v["service"]["port"], 7077);
    assert_eq!(v["serviceMonitor"]["enabled"], false);
    assert_eq!(v["secretEnv"], json!([]));
    assert_eq!(v["terminationGracePeriodSeconds"], 30);
}

/// Every `.Values.x.y` a template reads is declared in values.yaml (a typo would render
/// empty silently); `config` is free-form pacer.toml.
#[test]
fn every_value_the_templates_read_is_declared() {
    let values = values();
    let mut checked = 0;
    for name in [
        "_helpers.tpl",
        "configmap.yaml",
        "deployment.yaml",
        "pvc.yaml",
        "service.yaml",
        "servicemonitor.yaml",
        "poddisruptionbudget.yaml",
        "NOTES.txt",
    ] {
        let text = template(name);
        for (at, _) in text.match_indices(".Values.") {
            let path: String = text[at + ".Values.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            let mut v = &values;
            for key in path.split('.').filter(|k| !k.is_empty()) {
                v = v.get(key).unwrap_or_else(|| {
                    panic!("{name} reads .Values.{path}, which values.yaml lacks")
                });
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} references found");
}

#[test]
fn default_render_matches_the_plain_manifests() {
    let v = values();
    assert_renders_to("deployment.yaml", &v, "deploy/kubernetes/deployment.yaml");
    assert_renders_to("service.yaml", &v, "deploy/kubernetes/service.yaml");
    assert_renders_to("pvc.yaml", &v, "deploy/kubernetes/pvc.yaml");
    let mut with_monitor = v.clone();
    with_monitor["serviceMonitor"]["enabled"] = json!(true);
    assert_renders_to(
        "servicemonitor.yaml",
        &with_monitor,
        "deploy/kubernetes/optional/servicemonitor.yaml",
    );
    // Off by default: the ServiceMonitor and the PodDisruptionBudget render nothing.
    let chart = chart();
    let scope = Scope {
        values: &v,
        chart: &chart,
    };
    for off in ["servicemonitor.yaml", "poddisruptionbudget.yaml"] {
        let lines = render(&template(off), &scope).unwrap();
        assert!(
            lines.is_empty(),
            "{off} renders with the defaults: {lines:?}"
        );
    }
}

/// The ConfigMap's pacer.toml is `toToml .Values.config`: the plain ConfigMap holds the same
/// settings.
#[test]
fn configmap_holds_the_values_config_as_toml() {
    assert!(template("configmap.yaml").contains("{{- toToml .Values.config | nindent 4 }}"));
    let configmap = &yaml_docs_of(&read("deploy/kubernetes/configmap.yaml"), "configmap")[0];
    let toml: toml::Table = configmap["data"]["pacer.toml"]
        .as_str()
        .unwrap()
        .parse()
        .expect("pacer.toml parses");
    assert_eq!(serde_json::to_value(toml).unwrap(), values()["config"]);
}

/// The render-time refusals: several replicas only on PostgreSQL, PostgreSQL only with its
/// URL in a Secret, and a known backend.
#[test]
fn render_refuses_replicas_on_sqlite_and_postgres_without_a_secret() {
    let chart = chart();
    let outcome = |edit: &dyn Fn(&mut Value)| {
        let mut v = values();
        edit(&mut v);
        let scope = Scope {
            values: &v,
            chart: &chart,
        };
        render(&template("deployment.yaml"), &scope)
            .map(|lines| lines.into_iter().flatten().collect::<Vec<_>>().join("\n"))
    };
    let err = outcome(&|v| v["replicaCount"] = json!(2)).unwrap_err();
    assert!(err.contains("needs database.backend"), "{err}");
    let err = outcome(&|v| v["database"]["backend"] = json!("postgres")).unwrap_err();
    assert!(err.contains("needs database.existingSecret"), "{err}");
    let err = outcome(&|v| v["database"]["backend"] = json!("mysql")).unwrap_err();
    assert!(err.contains("use \\\"sqlite\\\""), "{err}");

    // Three replicas on PostgreSQL: the URL from the Secret, no claim, rolling updates.
    let rendered = outcome(&|v| {
        v["replicaCount"] = json!(3);
        v["database"]["backend"] = json!("postgres");
        v["database"]["existingSecret"] = json!("pacer-database");
        v["secretEnv"] = json!([{"name": "PACER_WEBHOOKS__GITHUB__SECRET",
                                  "secretName": "pacer-webhooks", "key": "github"}]);
    })
    .expect("renders");
    let docs = yaml_docs_of(&rendered, "the rendered Deployment");
    let d = &docs[0];
    assert_eq!(d["spec"]["replicas"], 3);
    assert!(
        d["spec"].get("strategy").is_none(),
        "no Recreate on PostgreSQL"
    );
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([
            {"name": "PACER_SERVER__DATABASE",
             "valueFrom": {"secretKeyRef": {"name": "pacer-database", "key": "url"}}},
            {"name": "PACER_WEBHOOKS__GITHUB__SECRET",
             "valueFrom": {"secretKeyRef": {"name": "pacer-webhooks", "key": "github"}}},
        ])
    );
    let volumes = &d["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[1], json!({"name": "data", "emptyDir": {}}));
    assert_eq!(volumes[0]["configMap"]["name"], "pacer");

    // pacer.toml from a Secret: mounted instead of the ConfigMap, which is not rendered.
    let rendered = outcome(&|v| v["existingConfigSecret"] = json!("pacer-config")).unwrap();
    let d = &yaml_docs_of(&rendered, "the rendered Deployment")[0];
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][0],
        json!({"name": "config", "secret": {"secretName": "pacer-config"}})
    );
    let mut v = values();
    v["existingConfigSecret"] = json!("pacer-config");
    let scope = Scope {
        values: &v,
        chart: &chart,
    };
    assert!(
        render(&template("configmap.yaml"), &scope)
            .unwrap()
            .is_empty()
    );
}
