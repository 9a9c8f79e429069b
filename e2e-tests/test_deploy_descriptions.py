"""The Docker and Kubernetes descriptions agree with the code and with the local stack.

Nothing here runs a container: compose.yaml, the Dockerfiles, the PostgreSQL init SQL
and the Helm charts are read as files and checked against infra/stack.toml (ports,
services, schemas), infra/stack.py (Kafka broker settings) and each service's own
settings class (every variable they set must name a real setting). When a `helm`
binary is on PATH (or in $HELM) the charts are also linted and rendered.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
STACK = tomllib.loads((ROOT / "infra" / "stack.toml").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
HELM_DIR = ROOT / "helm"
LIBRARY_CHART = HELM_DIR / "platform-service"

# Compose service name -> infra/stack.toml [servers] entry.
SERVERS = {"postgres": "postgres", "redis": "redis", "kafka": "kafka", "typesense": "typesense"}
# Settings every Python service is given; services with a schema get the database ones.
REQUIRED_FIELDS = {
    "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "JWKS_URL", "ENVIRONMENT", "HTTP_HOST",
    "HTTP_PORT", "SERVICE_TOKEN", "LOG_LEVEL", "OTLP_ENDPOINT",
}  # fmt: skip
DATABASE_FIELDS = {"DATABASE_URL", "DB_SCHEMA"}
# Containers listen on every interface of their own network namespace.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


# --------------------------------------------------------------------------- helpers


def interpolate(value: Any) -> str:
    """A compose value with `${VAR:-default}` / `${VAR-default}` / `${VAR}` as in an
    empty shell environment (defaults only), `$$` as a literal `$`."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return m.group(3) or ""

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}", repl, str(value))


def compose_env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(v) for k, v in env.items()}


def built_services() -> list[str]:
    return sorted(name for name, svc in SERVICES.items() if "build" in svc)


def is_python(service: str) -> bool:
    return (ROOT / STACK["services"][service]["path"] / "pyproject.toml").is_file()


def python_services() -> list[str]:
    """Compose services built from a Python package of the uv workspace."""
    return [name for name in built_services() if is_python(name)]


def deployables_present() -> list[str]:
    """infra/stack.toml services whose source folder exists in this checkout."""
    return sorted(n for n, s in STACK["services"].items() if (ROOT / s["path"]).is_dir())


def pyproject(path: Path) -> dict[str, Any]:
    return tomllib.loads((path / "pyproject.toml").read_text())


def workspace_members() -> dict[str, Path]:
    """Distribution name -> folder, for every uv workspace member."""
    members: dict[str, Path] = {}
    for pattern in pyproject(ROOT)["tool"]["uv"]["workspace"]["members"]:
        for folder in sorted(ROOT.glob(pattern)):
            if (folder / "pyproject.toml").is_file():
                members[pyproject(folder)["project"]["name"]] = folder
    return members


def workspace_closure(package: str) -> set[str]:
    """The package and every workspace member it depends on, transitively."""
    members = workspace_members()
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in pyproject(members[name])["project"].get("dependencies", []):
            dep_name = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0]
            if dep_name in members:
                todo.append(dep_name)
    return seen


def settings_class(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.settings")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__} should define one ServiceSettings subclass"
    return found[0]


def service_package(service: str) -> str:
    return pyproject(ROOT / STACK["services"][service]["path"])["project"]["name"]


def field_names(cls: type[ServiceSettings]) -> set[str]:
    return {name.upper() for name in cls.model_fields}


def owns_schema(service: str) -> bool:
    return bool(STACK["services"][service].get("schema"))


def published(service: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for each short-syntax port mapping."""
    out = []
    for spec in SERVICES[service].get("ports", []):
        parts = str(spec).split(":")
        host_ip = parts[0] if len(parts) == 3 else ALL_INTERFACES
        out.append((host_ip, int(parts[-2]), int(parts[-1])))
    return out


def load_settings(
    cls: type[ServiceSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    for name in list(os.environ):
        if name.upper().startswith(prefix):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cls()


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    for end in range(1, len(parts) + 1):
        for start in range(end):
            candidate = "/".join(parts[start:end])
            for pattern in patterns:
                if pattern.startswith("**/"):
                    if fnmatch.fnmatchcase(candidate, pattern[3:]):
                        return True
                elif start == 0 and fnmatch.fnmatchcase(candidate, pattern):
                    return True
    return False


# --------------------------------------------------------------------------- compose


def test_compose_structure_is_complete_and_self_consistent() -> None:
    declared_volumes = set(COMPOSE.get("volumes") or {})
    host_ports: list[int] = []
    for name, svc in SERVICES.items():
        assert "image" in svc or "build" in svc, f"{name}: neither image nor build"
        assert "healthcheck" in svc, f"{name}: no healthcheck"
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        depends = svc.get("depends_on") or {}
        for target, cond in depends.items():
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            assert cond["condition"] == "service_healthy", f"{name} -> {target}"
        for mount in svc.get("volumes", []):
            source = str(mount).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
            else:
                assert (ROOT / source).exists(), f"{name}: bind mount {source} is missing"
        host_ports += [host for _, host, _ in published(name)]
    assert len(host_ports) == len(set(host_ports)), f"host ports published twice: {host_ports}"
    used = {str(m).split(":", 1)[0] for s in SERVICES.values() for m in s.get("volumes", [])}
    assert declared_volumes <= used, "declared volumes no service mounts"


def test_compose_servers_publish_the_local_stack_ports_on_loopback() -> None:
    for service, server in SERVERS.items():
        assert service in SERVICES, f"compose lacks {service}"
        hosts = {host for _, host, _ in published(service)}
        assert STACK["servers"][server]["port"] in hosts, f"{service} ports {hosts}"
        assert all(ip == "127.0.0.1" for ip, _, _ in published(service)), service
    assert SERVICES["postgres"]["image"].split(":")[1].split(".")[0] == "18"
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{STACK['servers']['kafka']['version']}"
    command = " ".join(SERVICES["typesense"]["command"])
    assert f"--api-port={STACK['servers']['typesense']['port']}" in command
    assert f"--peering-port={STACK['servers']['typesense']['peering_port']}" in command
    assert interpolate(f"--api-key={STACK['servers']['typesense']['api_key']}") in interpolate(
        command
    )


def test_every_present_deployable_has_a_dockerfile_and_a_compose_service() -> None:
    for name in deployables_present():
        dockerfile = Path(STACK["services"][name]["path"]) / "Dockerfile"
        assert (ROOT / dockerfile).is_file(), f"{name}: no {dockerfile}"
        assert name in SERVICES, f"{name} exists but compose.yaml does not run it"
        build = SERVICES[name]["build"]
        assert build["context"] == "."
        assert Path(build["dockerfile"]) == dockerfile
    for name in built_services():
        assert name in STACK["services"], f"compose builds {name}, unknown to infra/stack.toml"


def test_python_services_listen_on_their_stack_port() -> None:
    for name in python_services():
        port = STACK["services"][name]["port"]
        prefix = settings_class(service_package(name)).model_config["env_prefix"]
        env = compose_env(name)
        assert env[f"{prefix}HTTP_PORT"] == str(port)
        assert env[f"{prefix}HTTP_HOST"] == ALL_INTERFACES
        assert [(h, c) for _, h, c in published(name)] == [(port, port)], name
        probe = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, name


def test_python_service_env_names_real_settings_and_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in python_services():
        cls = settings_class(service_package(name))
        prefix = str(cls.model_config["env_prefix"])
        env = compose_env(name)
        own = {k[len(prefix) :] for k in env if k.startswith(prefix)}
        required = REQUIRED_FIELDS | (DATABASE_FIELDS if owns_schema(name) else set())
        assert required <= own, f"{name} lacks {sorted(required - own)}"
        assert own <= field_names(cls), f"{name}: unknown settings {sorted(own - field_names(cls))}"
        settings = load_settings(cls, env, monkeypatch)
        for host_port in settings.kafka_bootstrap_servers.split(","):
            assert host_port.split(":")[0] in SERVICES, host_port
        assert urlsplit(settings.redis_url).hostname in SERVICES
        jwks = urlsplit(settings.jwks_url)
        assert (jwks.hostname, jwks.port) == ("identity", STACK["services"]["identity"]["port"])


def test_database_urls_use_the_service_role_and_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in python_services():
        if not owns_schema(name):
            continue
        settings = load_settings(
            settings_class(service_package(name)), compose_env(name), monkeypatch
        )
        url = urlsplit(settings.database_url)
        assert (url.username, url.password, url.hostname, url.port, url.path) == (
            name, name, "postgres", STACK["servers"]["postgres"]["port"], "/platform",
        )  # fmt: skip
        assert settings.db_schema == name


def test_postgres_init_sql_matches_the_local_stack_layout() -> None:
    mounts = [str(m) for m in SERVICES["postgres"]["volumes"]]
    init = [m for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert len(init) == 1 and init[0].endswith(":ro")
    sql = (ROOT / init[0].split(":")[0]).read_text()
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    assert "CREATE DATABASE platform" in [s.splitlines()[-1] for s in statements]
    schemas = sorted(n for n, s in STACK["services"].items() if s.get("schema"))
    roles = sorted(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '(\w+)'", sql))
    assert roles == [(n, n) for n in schemas]
    connect = sql.index("\\connect platform")
    for n in schemas:
        assert f"GRANT CONNECT, TEMPORARY ON DATABASE platform TO {n};" in sql
        assert f"ALTER ROLE {n} IN DATABASE platform SET search_path = {n};" in sql
        assert sql.index(f"CREATE SCHEMA {n} AUTHORIZATION {n};") > connect
    assert sql.index("REVOKE ALL ON SCHEMA public FROM PUBLIC;") > connect


def stack_kafka_properties() -> dict[str, str]:
    """The literal server.properties values infra/stack.py writes for the local broker."""
    tree = ast.parse((ROOT / "infra" / "stack.py").read_text())
    func = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "kafka_config"
    )
    props = next(
        n.value
        for n in ast.walk(func)
        if isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "props" for t in n.targets)
    )
    assert isinstance(props, ast.Dict)
    out = {}
    for key, value in zip(props.keys, props.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
            out[str(key.value)] = str(value.value)
    return out


def test_kafka_broker_settings_match_the_local_stack() -> None:
    env = compose_env("kafka")
    props = stack_kafka_properties()
    assert len(props) >= 15
    for prop, value in props.items():
        var = "KAFKA_" + prop.upper().replace("_", "__").replace(".", "_")
        got = env.get(var, "")
        if prop == "listener.security.protocol.map":
            # Compose adds the published HOST listener to the local stack's ones.
            assert set(value.split(",")) <= set(got.split(",")), got
            continue
        assert got == value, f"{var}={got!r}, infra/stack.py has {value!r}"
    kafka = STACK["servers"]["kafka"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@kafka:{kafka['controller_port']}"
    assert f"PLAINTEXT://kafka:{kafka['port']}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"HOST://127.0.0.1:{kafka['port']}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert len(env["CLUSTER_ID"]) == 22


def test_gateway_routes_reach_the_compose_services() -> None:
    from gateway.routes import RouteTable

    routes = yaml.safe_load((ROOT / "gateway" / "routes.yaml").read_text())
    table = RouteTable.from_mapping(routes, environ=compose_env("gateway"))
    for context, upstream in table.upstreams.items():
        if context in built_services():
            assert (upstream.host, upstream.port) == (context, STACK["services"][context]["port"])
    routes_file = compose_env("gateway")["GATEWAY_ROUTES_FILE"]
    assert routes_file == "/app/gateway/routes.yaml"


# --------------------------------------------------------------------------- Dockerfiles


def dockerfile_lines(path: Path) -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def instruction(lines: list[str], name: str) -> list[str]:
    return [ln[len(name) + 1 :].strip() for ln in lines if ln.split(" ", 1)[0] == name]


@pytest.mark.parametrize("service", python_services())
def test_dockerfile_builds_the_service_package(service: str) -> None:
    svc = STACK["services"][service]
    lines = dockerfile_lines(ROOT / SERVICES[service]["build"]["dockerfile"])
    package = service_package(service)
    prefix = settings_class(package).model_config["env_prefix"]

    froms = instruction(lines, "FROM")
    assert len(froms) >= 3 and froms[-1].startswith("${PYTHON_IMAGE}"), "multi-stage build"
    assert any(a.startswith("PYTHON_IMAGE=python:3.11-slim") for a in instruction(lines, "ARG"))
    runs = " ".join(instruction(lines, "RUN"))
    assert f"uv sync --frozen --no-dev --no-install-workspace --package {package}" in runs
    assert f"uv sync --frozen --no-dev --package {package}" in runs
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert package in {p["name"] for p in lock["package"]}

    copies = instruction(lines, "COPY")
    members = workspace_members()
    for dep in workspace_closure(package):
        rel = members[dep].relative_to(ROOT).as_posix()
        assert f"{rel}/pyproject.toml {rel}/" in copies, f"{service}: {dep} pyproject not copied"
        assert f"{rel} {rel}" in copies, f"{service}: workspace member {rel} not copied"
        assert not dockerignored(f"{rel}/pyproject.toml"), rel
        assert not dockerignored(f"{rel}/src/x.py"), rel
    for needed in ("uv.lock", "pyproject.toml", "gateway/routes.yaml", f"{svc['path']}/x.py"):
        assert not dockerignored(needed), needed
    assert dockerignored(".venv/bin/python") and dockerignored(f"{svc['path']}/tests/x.py")

    user = instruction(lines, "USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    assert instruction(lines, "EXPOSE") == [str(svc["port"])]
    env = " ".join(instruction(lines, "ENV"))
    assert f"{prefix}HTTP_PORT={svc['port']}" in env and f"{prefix}HTTP_HOST=0.0.0.0" in env
    health = " ".join(instruction(lines, "HEALTHCHECK"))
    assert "/livez" in health and f"{prefix}HTTP_PORT" in health

    entry = yaml.safe_load(instruction(lines, "ENTRYPOINT")[-1])
    cmd = yaml.safe_load((instruction(lines, "CMD") or ["[]"])[-1])
    assert entry + cmd == svc["command"].split(), "image runs what infra/stack.toml runs"
    scripts = pyproject(ROOT / svc["path"])["project"].get("scripts", {})
    assert entry[0] in scripts, f"{package} declares no `{entry[0]}` console script"


# --------------------------------------------------------------------------- Helm


def chart_yaml(chart: Path) -> dict[str, Any]:
    return yaml.safe_load((chart / "Chart.yaml").read_text())


def values_yaml(chart: Path) -> dict[str, Any]:
    return yaml.safe_load((chart / "values.yaml").read_text())


def templates(*charts: Path) -> str:
    return "\n".join(p.read_text() for c in charts for p in sorted((c / "templates").iterdir()))


def service_charts() -> list[str]:
    return sorted(p.name for p in HELM_DIR.iterdir() if p.is_dir() and p != LIBRARY_CHART)


def python_charts() -> list[str]:
    return [name for name in service_charts() if is_python(name)]


def test_every_deployable_has_a_chart_on_the_library() -> None:
    library = chart_yaml(LIBRARY_CHART)
    assert library["apiVersion"] == "v2" and library["type"] == "library"
    assert library["name"] == "platform-service"
    assert sorted(deployables_present()) == service_charts()
    for name in service_charts():
        chart = chart_yaml(HELM_DIR / name)
        assert chart["apiVersion"] == "v2" and chart["type"] == "application"
        assert chart["name"] == name
        assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"]) and chart["appVersion"]
        assert chart["dependencies"] == [
            {"name": "platform-service", "version": library["version"],
             "repository": "file://../platform-service"},
        ]  # fmt: skip


@pytest.mark.parametrize("name", service_charts())
def test_chart_templates_use_only_defined_templates_and_values(name: str) -> None:
    chart = HELM_DIR / name
    text = templates(chart, LIBRARY_CHART)
    defined = set(re.findall(r'define\s+"([^"]+)"', text))
    for used in re.findall(r'(?:include|template)\s+"([^"]+)"', text):
        assert used in defined, f"{name}: template {used} is not defined"
    values = values_yaml(chart)
    for ref in sorted(set(re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text))):
        node: Any = values
        for key in ref.strip(".").split("."):
            assert isinstance(node, dict) and key in node, f"{name}: values.yaml lacks {ref}"
            node = node[key]


@pytest.mark.parametrize("name", python_charts())
def test_chart_values_name_real_settings_and_stack_ports(name: str) -> None:
    cls = settings_class(service_package(name))
    fields = field_names(cls)
    values = values_yaml(HELM_DIR / name)
    prefix = values["envPrefix"]
    assert prefix == cls.model_config["env_prefix"]
    assert values["port"] == values["service"]["port"] == STACK["services"][name]["port"]
    library = templates(LIBRARY_CHART)
    rendered = set(re.findall(r"\{\{ \$p \}\}([A-Z_]+)", library))
    assert rendered <= field_names(ServiceSettings), sorted(rendered - field_names(ServiceSettings))
    assert REQUIRED_FIELDS - {"SERVICE_TOKEN"} <= rendered | set(values["secrets"]["keys"])
    assert set(values["secrets"]["keys"]) <= fields
    expected_secrets = {"SERVICE_TOKEN"} | ({"DATABASE_URL"} if owns_schema(name) else set())
    assert expected_secrets <= set(values["secrets"]["keys"])
    assert values["settings"]["dbSchema"] == (name if owns_schema(name) else "")
    for var in values["env"]:
        if var.startswith(prefix):
            assert var[len(prefix) :] in fields, f"{name}: unknown setting {var}"
    assert "path: /livez" in library and "path: /readyz" in library
    assert values["podDisruptionBudget"]["enabled"] is True


def test_content_keeps_media_on_the_persistent_volume_it_mounts() -> None:
    values = values_yaml(HELM_DIR / "content")
    assert values["persistence"]["enabled"] is True
    assert values["env"]["CONTENT_MEDIA_DIR"] == values["persistence"]["mountPath"]
    assert "ReadWriteMany" in values["persistence"]["accessModes"]  # shared by replicas


def test_gateway_chart_routes_known_contexts_to_their_releases() -> None:
    from gateway.routes import RouteTable

    env = {k: str(v) for k, v in values_yaml(HELM_DIR / "gateway")["env"].items()}
    table = RouteTable.from_mapping(yaml.safe_load((ROOT / "gateway/routes.yaml").read_text()), env)
    for context in service_charts():
        if context in table.upstreams:
            up = table.upstreams[context]
            assert (up.host, up.port) == (context, STACK["services"][context]["port"]), context


HELM = os.environ.get("HELM") or shutil.which("helm")


@pytest.mark.skipif(not HELM, reason="no helm binary on PATH or in $HELM")
@pytest.mark.parametrize("name", python_charts())
def test_chart_lints_and_renders_a_production_release(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert HELM
    shutil.copytree(HELM_DIR, tmp_path / "helm")
    chart = tmp_path / "helm" / name

    def helm(*args: str) -> str:
        return subprocess.run(
            [HELM, *args], check=True, capture_output=True, text=True, timeout=60
        ).stdout

    helm("dependency", "build", str(chart))
    helm("lint", "--strict", str(chart))
    docs = [d for d in yaml.safe_load_all(helm("template", name, str(chart))) if d]
    kinds = {d["kind"]: d for d in docs}
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert all("secretKeyRef" in e["valueFrom"] for e in container["env"])
    data = values_yaml(HELM_DIR / name)["persistence"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    if data["enabled"]:
        claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
        volumes = kinds["Deployment"]["spec"]["template"]["spec"]["volumes"]
        assert {"name": "data", "persistentVolumeClaim": {"claimName": claim}} in volumes
        assert mounts["data"] == data["mountPath"]
    else:
        assert "PersistentVolumeClaim" not in kinds and "data" not in mounts
    # The rendered release must satisfy the production checks of the service's settings
    # once the Secret's values are there.
    env = dict(kinds["ConfigMap"]["data"])
    for e in container["env"]:
        env[e["name"]] = (
            f"postgresql+asyncpg://{name}:s3cret@db:5432/platform"
            if e["name"].endswith("DATABASE_URL")
            else f"{e['name'].lower()}-from-secret"
        )
    settings = load_settings(settings_class(service_package(name)), env, monkeypatch)
    assert settings.is_production
    assert settings.http_port == STACK["services"][name]["port"]
