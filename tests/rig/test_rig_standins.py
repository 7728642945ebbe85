"""The rig's stand-ins for postgres:17, nginx:stable, redis:8 honour the official images' contract.

Runs real containers on the local Docker engine (skipped, loudly, only when no engine answers).
Missing stand-in images are built through `rig/images.sh` first. Every container and network is
named `vmstack-standin-test-<random>-...` and removed at the end; published ports are bound to
127.0.0.1 only.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITE = "trixie"
POSTGRES = f"vmstack-rig/postgres:{SUITE}"
NGINX = f"vmstack-rig/nginx:{SUITE}"
REDIS = f"vmstack-rig/redis:{SUITE}"
PREFIX = f"vmstack-standin-test-{secrets.token_hex(3)}"


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], check=check, capture_output=True, text=True, timeout=timeout
    )


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("info", check=False, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = pytest.mark.skipif(
    not engine_answers(),
    reason="no Docker engine answers (`docker info` failed): start one, e.g. rig/ensure-docker.sh",
)


@pytest.fixture(scope="module")
def images() -> None:
    missing = [
        name.split("/")[1].split(":")[0]
        for name in (POSTGRES, NGINX, REDIS)
        if docker("image", "inspect", name, check=False).returncode != 0
    ]
    if missing:
        subprocess.run([str(REPO / "rig" / "images.sh"), *missing], check=True, timeout=900)


class Janitor:
    """Names test resources and removes exactly those at the end."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.networks: list[str] = []

    def container(self, suffix: str) -> str:
        self.containers.append(f"{PREFIX}-{suffix}")
        return self.containers[-1]

    def network(self, suffix: str) -> str:
        name = f"{PREFIX}-{suffix}"
        docker("network", "create", name)
        self.networks.append(name)
        return name

    def clean(self) -> None:
        if self.containers:
            docker("rm", "--force", "--volumes", *self.containers, check=False)
        for net in self.networks:
            docker("network", "rm", net, check=False)


@pytest.fixture
def janitor(images) -> Iterator[Janitor]:
    j = Janitor()
    try:
        yield j
    finally:
        j.clean()


def wait_for(what: str, probe, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def logs(name: str) -> str:
    out = docker("logs", name, check=False)
    return out.stdout + out.stderr


# --- postgres ---------------------------------------------------------------------------------


def test_postgres_init_tcp_auth_dump_and_restart_keeps_data(janitor, tmp_path):
    net = janitor.network("pg")
    db = janitor.container("db")
    docker(
        "create", "--name", db, "--network", net, "--network-alias", "db",
        "-e", "POSTGRES_USER=u", "-e", "POSTGRES_PASSWORD=p", "-e", "POSTGRES_DB=d",
        POSTGRES, "postgres", "-c", "max_connections=42",
    )  # fmt: skip
    # Init scripts: copied in (no bind mount), as compose authors would mount them.
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / "10-table.sql").write_text("CREATE TABLE init_runs (at timestamptz DEFAULT now());\n")
    (initdb / "20-row.sh").write_text(
        '#!/bin/bash\nset -e\npsql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
        "-c 'INSERT INTO init_runs DEFAULT VALUES'\n"
    )
    (initdb / "20-row.sh").chmod(0o755)
    docker("cp", f"{initdb}/.", f"{db}:/docker-entrypoint-initdb.d/")
    docker("start", db)

    def ready() -> bool:
        # The compose healthcheck, plus -h 127.0.0.1: as with the official image, the plain
        # socket check already passes while the first-init temporary server (socket only) runs.
        probe = ["pg_isready", "-U", "u", "-d", "d"]
        return all(
            docker("exec", db, *probe, *extra, check=False).returncode == 0
            for extra in ([], ["-h", "127.0.0.1"])
        )

    def sql(query: str, userinfo: str = "u:p") -> subprocess.CompletedProcess:
        return docker(
            "run", "--rm", "--network", net, POSTGRES,
            "psql", f"postgresql://{userinfo}@db/d", "-Atc", query, check=False,
        )  # fmt: skip

    wait_for("pg_isready", ready)
    # Over TCP, from another container, by service name, with the password.
    out = sql("SELECT current_user, current_database(), count(*) FROM init_runs")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "u|d|1"
    wrong = sql("SELECT 1", userinfo="u:nope")
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr
    hba = docker("exec", db, "cat", "/var/lib/postgresql/data/pg_hba.conf").stdout
    assert "host all all all scram-sha-256" in hba
    assert sql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid").stdout.strip() == "t"
    settings = sql(
        "SHOW listen_addresses; SHOW max_connections; SHOW server_encoding; "
        "SELECT datcollate FROM pg_database WHERE datname = 'd'"
    ).stdout.split()
    assert settings == ["*", "42", "UTF8", "en_US.utf8"]
    stat = docker("exec", db, "stat", "-c", "%a %U", "/var/lib/postgresql/data").stdout.split()
    assert stat == ["700", "postgres"]
    assert docker("exec", db, "ps", "-o", "user=", "-p", "1").stdout.strip() == "postgres"
    assert sql("INSERT INTO init_runs DEFAULT VALUES").returncode == 0

    # Backups as the product takes them.
    dump = subprocess.run(
        ["docker", "exec", db, "pg_dump", "-U", "u", "-Fc", "d"], capture_output=True, timeout=60
    )
    assert dump.returncode == 0, dump.stderr
    assert dump.stdout.startswith(b"PGDMP")
    listing = subprocess.run(
        ["docker", "exec", "-i", db, "pg_restore", "--list"],
        input=dump.stdout, capture_output=True, timeout=60,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert b"TABLE public init_runs" in listing.stdout

    # SIGINT (the image's STOPSIGNAL) = fast shutdown, well inside docker's 10 s.
    t0 = time.monotonic()
    docker("stop", db)
    assert time.monotonic() - t0 < 8
    state = docker("inspect", "-f", "{{.State.ExitCode}}", db).stdout.strip()
    assert state == "0", logs(db)
    assert "database system is shut down" in logs(db)

    docker("start", db)
    wait_for("pg_isready after restart", ready)
    out = sql("SELECT count(*) FROM init_runs")
    assert out.stdout.strip() == "2", out.stderr  # init scripts did not run again
    log = logs(db)
    assert log.count("PostgreSQL init process complete") == 1
    assert "Skipping initialization" in log


def test_postgres_refuses_to_init_without_password(janitor):
    name = janitor.container("nopw")
    out = docker("run", "--name", name, "-e", "POSTGRES_USER=u", POSTGRES, check=False)
    assert out.returncode != 0
    assert "superuser password is not specified" in out.stderr
    assert "POSTGRES_PASSWORD" in out.stderr


def test_postgres_runs_other_commands_as_is(images):
    out = docker("run", "--rm", POSTGRES, "pg_dump", "--version")
    assert out.stdout.startswith("pg_dump (PostgreSQL) 17.")
    out = docker("run", "--rm", POSTGRES, "postgres", "--version")
    assert "(PostgreSQL) 17." in out.stdout


# --- nginx ------------------------------------------------------------------------------------

PING = """server {
    listen 80;
    location = /ping { default_type text/plain; return 200 "%s\\n"; }
    location = /status { stub_status; }
}
"""


def http_get(port: str, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:  # noqa: S310
        return resp.status, resp.read().decode()


def test_nginx_confd_test_reload_and_quick_stop(janitor, tmp_path):
    confd = tmp_path / "conf.d"
    confd.mkdir()
    confd.chmod(0o755)
    (confd / "ping.conf").write_text(PING % "pong")
    web = janitor.container("web")
    docker(
        "run", "-d", "--name", web, "-p", "127.0.0.1::80",
        "-v", f"{confd}:/etc/nginx/conf.d:ro", NGINX,
    )  # fmt: skip
    port = docker("port", web, "80/tcp").stdout.split()[0].rsplit(":", 1)[1]

    def body() -> str:
        try:
            return http_get(port, "/ping")[1].strip()
        except OSError:
            return ""

    wait_for("nginx to answer /ping", lambda: body() == "pong", timeout=15)
    assert http_get(port, "/status")[1].startswith("Active connections:")
    # A compose healthcheck without curl: bash's /dev/tcp.
    probe = docker(
        "exec", web, "bash", "-c",
        "exec 3<>/dev/tcp/127.0.0.1/80 && printf 'GET /ping HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& head -1 <&3",
    )  # fmt: skip
    assert " 200 " in probe.stdout
    assert docker("exec", web, "nginx", "-t", check=False).returncode == 0
    # No ps in the image (nor in the official one): owners of the worker processes via /proc.
    workers = docker(
        "exec", web, "bash", "-c",
        "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' <$p/cmdline 2>/dev/null) || continue; "
        "[[ $c == 'nginx: worker process'* ]] && stat -c %U $p; done; true",
    ).stdout.split()  # fmt: skip
    assert workers, "no nginx worker process found"
    assert set(workers) == {"nginx"}
    assert "GET /ping" in docker("logs", web).stdout  # access log goes to stdout

    (confd / "ping.conf").write_text(PING % "pong2")
    assert docker("exec", web, "nginx", "-s", "reload", check=False).returncode == 0
    wait_for("the reloaded config", lambda: body() == "pong2", timeout=10)

    t0 = time.monotonic()
    docker("stop", web)
    elapsed = time.monotonic() - t0
    assert elapsed < 3, f"docker stop took {elapsed:.1f} s"
    assert docker("inspect", "-f", "{{.State.ExitCode}}", web).stdout.strip() == "0"


def test_nginx_t_in_a_throwaway_container(janitor, tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    for d in (good, bad):
        d.mkdir()
        d.chmod(0o755)
    (good / "ping.conf").write_text(PING % "pong")
    (bad / "broken.conf").write_text("server { listen 80; location / { retrun 200; } }\n")
    ok = docker("run", "--rm", "-v", f"{good}:/etc/nginx/conf.d:ro", NGINX, "nginx", "-t")
    assert "test is successful" in ok.stderr
    broken = docker(
        "run", "--rm", "-v", f"{bad}:/etc/nginx/conf.d:ro", NGINX, "nginx", "-t", check=False
    )
    assert broken.returncode != 0
    assert "[emerg]" in broken.stderr
    assert "retrun" in broken.stderr


def test_nginx_image_layout_and_modules(images):
    out = docker(
        "run", "--rm", NGINX, "bash", "-c",
        "nginx -V 2>&1; readlink /var/log/nginx/access.log /var/log/nginx/error.log; "
        "id -un nginx; test -s /usr/share/nginx/html/index.html && echo has-index; "
        "nginx -T 2>/dev/null | grep -E 'include /etc/nginx/conf.d/\\*.conf|sites-enabled'",
    )  # fmt: skip
    text = out.stdout
    for module in ("http_ssl", "http_v2", "http_realip", "http_stub_status"):
        assert f"--with-{module}_module" in text
    for module in ("http_gzip", "http_map", "http_limit_req"):
        assert f"--without-{module}_module" not in text
    assert "/dev/stdout\n/dev/stderr\nnginx\nhas-index\n" in text
    assert "include /etc/nginx/conf.d/*.conf;" in text
    assert "sites-enabled" not in text
    cfg = docker("image", "inspect", "-f", "{{.Config.StopSignal}} {{json .Config.Cmd}}", NGINX)
    assert cfg.stdout.strip() == 'SIGQUIT ["nginx","-g","daemon off;"]'


# --- redis ------------------------------------------------------------------------------------


def test_redis_runs_as_999_with_a_given_config_and_keeps_aof_data(janitor, tmp_path):
    """The official image's contract: uid 999, /data, `redis-server CONFIG`, redis-cli."""
    conf = tmp_path / "redis.conf"
    conf.write_text('port 6379\ndir /data\nappendonly yes\nsave ""\n')
    conf.chmod(0o644)
    volume = f"{PREFIX}-redis-data"
    kv = janitor.container("redis")
    run = (
        "run", "-d", "--name", kv, "--read-only", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges:true", "-v", f"{volume}:/data",
        "-v", f"{conf}:/etc/test-redis.conf:ro", REDIS, "redis-server", "/etc/test-redis.conf",
    )  # fmt: skip
    try:
        docker(*run)

        def ping() -> bool:
            return docker("exec", kv, "redis-cli", "ping", check=False).stdout.strip() == "PONG"

        wait_for("redis to answer PING", ping, timeout=15)
        assert docker("exec", kv, "id", "-u").stdout.strip() == "999"
        assert docker("exec", kv, "redis-cli", "SET", "k", "v").stdout.strip() == "OK"
        assert "appendonlydir" in docker("exec", kv, "ls", "/data").stdout.split()
        docker("rm", "--force", kv)
        docker(*run)
        wait_for("redis to answer PING again", ping, timeout=15)
        assert docker("exec", kv, "redis-cli", "GET", "k").stdout.strip() == "v"
    finally:
        docker("rm", "--force", kv, check=False)
        docker("volume", "rm", volume, check=False)
