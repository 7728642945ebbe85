"""The edge: nginx in front of the app, fast (keepalive to the app) and hardened.

Checked from inside the target through nginx. Requests that must come from a
client address of their own (so the rate limits they trip touch no other test)
are sent from the live app container's network namespace, with the host's curl.
"""

import json
import re
import time
import uuid

import pytest

PROJECT = "/opt/vmstack"
NGINX_CONF = f"{PROJECT}/nginx/conf.d"


def _container(host, service: str) -> str:
    cid = host.check_output(
        "docker ps --quiet --filter label=com.docker.compose.project=vmstack "
        f"--filter label=com.docker.compose.service={service} --filter status=running"
    ).split()
    assert cid, f"no running {service} container"
    return cid[0]


def _live_slot(host) -> str:
    return json.loads(host.file(f"{PROJECT}/release.json").content_string)["active"]


def _addresses(host, cid: str) -> dict[str, str]:
    networks = json.loads(
        host.check_output(f"docker inspect --format '{{{{json .NetworkSettings.Networks}}}}' {cid}")
    )
    return {name: net["IPAddress"] for name, net in networks.items() if net["IPAddress"]}


@pytest.fixture
def edge(host):
    """The live slot, its container, and the addresses nginx and it share."""
    slot = _live_slot(host)
    app = _container(host, f"app-{slot}")
    nginx = _container(host, "nginx")
    app_nets, nginx_nets = _addresses(host, app), _addresses(host, nginx)
    shared = sorted(set(app_nets) & set(nginx_nets))
    assert shared, (app_nets, nginx_nets)
    network = next((n for n in shared if n.endswith("_edge")), shared[0])
    pid = host.check_output(f"docker inspect --format '{{{{.State.Pid}}}}' {app}")
    return {
        "slot": slot,
        "app": app,
        "app_ip": app_nets[network],
        "nginx": nginx,
        "nginx_ip": nginx_nets[network],
        "app_netns": f"nsenter -t {pid} -n",
    }


def _nginx_pids(host, nginx: str) -> tuple[str, list[str]]:
    rows = host.check_output(f"docker top {nginx} -o pid,args").splitlines()[1:]
    master = [r.split()[0] for r in rows if "master process" in r]
    workers = sorted(r.split()[0] for r in rows if "worker process" in r)
    assert master, rows
    assert workers, rows
    return master[0], workers


def _established_to_app(host, nginx: str, app_ip: str) -> int:
    pid = host.check_output(f"docker inspect --format '{{{{.State.Pid}}}}' {nginx}")
    out = host.check_output(
        f"nsenter -t {pid} -n ss -Htn state established '( dst {app_ip} and dport = :8000 )'"
    )
    return len([line for line in out.splitlines() if line.strip()])


def test_nginx_keeps_connections_to_the_app_open(host, edge):
    upstream = host.file(f"{NGINX_CONF}/vmstack-upstream.inc").content_string
    assert re.search(rf"server {re.escape(edge['app_ip'])}:8000;", upstream), upstream
    assert re.search(r"^\s*keepalive \d+;", upstream, re.M), upstream
    for _ in range(20):
        host.check_output("curl -sk -o /dev/null https://127.0.0.1/healthz")
    # Each request above was answered; with Connection: close to the app none of
    # its connections would outlive its request.
    assert _established_to_app(host, edge["nginx"], edge["app_ip"]) > 0


def test_spoofed_x_forwarded_for_does_not_reach_the_app(host, edge):
    request_id = f"edge-xff-{uuid.uuid4().hex[:12]}"
    host.check_output(
        f"{edge['app_netns']} curl -sk -o /dev/null -H 'X-Forwarded-For: 203.0.113.7' "
        f"-H 'X-Request-ID: {request_id}' https://{edge['nginx_ip']}/api/v1/devices"
    )
    lines = []
    for _ in range(20):  # the app's log reaches docker logs within a moment
        logs = host.check_output(f"docker logs --since 2m {edge['app']} 2>&1")
        lines = [json.loads(line) for line in logs.splitlines() if request_id in line]
        if lines:
            break
        time.sleep(0.5)
    assert lines, f"no app log line with request id {request_id}"
    # The app sees the address nginx saw (the app container's own, where curl
    # ran), never the one the client claimed.
    assert {line.get("client") for line in lines} == {edge["app_ip"]}, lines


def test_fresh_fake_x_forwarded_for_does_not_escape_the_login_rate_limit(host, edge):
    # Trusting the client's X-Forwarded-For would give each attempt a bucket of
    # its own: no 429 at all. nginx_auth_rate_limit is 30r/m, burst 10.
    statuses = []
    started = time.monotonic()
    for n in range(25):
        out = host.check_output(
            f"{edge['app_netns']} curl -sk -o /dev/null -w '%{{http_code}}' "
            f"-H 'X-Forwarded-For: 198.51.100.{n + 1}' -H 'Content-Type: application/json' "
            """--data '{"email":"nobody@example.com","password":"wrong-password"}' """
            f"https://{edge['nginx_ip']}/api/v1/auth/login"
        )
        statuses.append(int(out))
    elapsed = time.monotonic() - started
    assert set(statuses) <= {401, 429}, statuses
    assert 429 in statuses, statuses
    # At most the burst, the first one and what the rate refilled meanwhile got through.
    assert statuses.count(401) <= 11 + int(elapsed / 2) + 1, (statuses, elapsed)


def test_hsts_for_one_year(host):
    headers = host.check_output("curl -sk -D - -o /dev/null https://127.0.0.1/healthz").lower()
    match = re.search(r"strict-transport-security: max-age=(\d+)", headers)
    assert match, headers
    assert int(match.group(1)) >= 31536000


# The web UI's location and the API's (a fresh host's device list is too short to compress).
@pytest.mark.parametrize("path", ["/", "/infra/", "/api/openapi.json"])
def test_dynamic_https_answers_are_not_compressed(host, admin_token, path):
    # Every one of these is larger than gzip_min_length, so plain HTTP would compress it.
    # -L: the web UI at / may first redirect (to its login page); every hop counts.
    headers = host.check_output(
        f"curl -skL -D - -o /tmp/vmstack-edge-body -H 'Accept-Encoding: gzip' "
        f"-H 'Authorization: Bearer {admin_token}' 'https://127.0.0.1{path}'"
    ).lower()
    statuses = re.findall(r"^http/\S+ (\d+)", headers, re.M)
    assert statuses, headers
    assert statuses[-1] == "200", headers
    assert int(host.check_output("stat -c %s /tmp/vmstack-edge-body")) > 512
    assert "content-encoding" not in headers, headers


def test_static_assets_are_compressed_over_https(host):
    # The counterpart of the test above: compression works where it is allowed.
    page = host.check_output("curl -skL https://127.0.0.1/")
    assets = re.findall(r'(?:href|src)="(/static/[^"?#]+\.(?:css|js))', page)
    assert assets, "the page at / references no /static/ stylesheet or script"
    sizes = {}
    for asset in assets:
        sizes[asset] = int(
            host.check_output(
                f"curl -sk -o /dev/null -w '%{{size_download}}' https://127.0.0.1{asset}"
            )
        )
    largest = max(sizes, key=sizes.__getitem__)
    assert sizes[largest] > 512, sizes
    headers = host.check_output(
        f"curl -sk -D - -o /dev/null -H 'Accept-Encoding: gzip' https://127.0.0.1{largest}"
    ).lower()
    assert "content-encoding: gzip" in headers, headers


def test_tls_is_mozilla_intermediate(host):
    def handshake(*options: str) -> bool:
        result = host.run(
            "openssl s_client -connect 127.0.0.1:443 -servername localhost "
            + " ".join(options)
            + " </dev/null"
        )
        return result.rc == 0 and "Cipher is (NONE)" not in result.stdout

    # Each suite in its ECDSA and RSA form: the certificate decides which applies.
    assert handshake("-tls1_3")
    assert handshake(
        "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
    )
    assert not handshake("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")  # CBC
    assert not handshake("-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384")
    assert not handshake("-tls1_2", "-cipher", "AES128-GCM-SHA256")  # no forward secrecy
    assert not handshake("-tls1_1")


def test_tls_sessions_resume(host):
    host.check_output(
        "openssl s_client -connect 127.0.0.1:443 -tls1_2 -sess_out /tmp/vmstack-edge.sess "
        "</dev/null"
    )
    out = host.check_output(
        "openssl s_client -connect 127.0.0.1:443 -tls1_2 -sess_in /tmp/vmstack-edge.sess </dev/null"
    )
    host.run("rm -f /tmp/vmstack-edge.sess")
    assert "Reused, TLSv1.2" in out, out


def test_https_speaks_http2(host):
    version = host.check_output(
        "curl -sk --http2 -o /dev/null -w '%{http_version}' https://127.0.0.1/healthz"
    )
    assert version == "2"


def test_recreated_app_container_is_reached_again_without_a_failed_request(host, edge):
    master, workers = _nginx_pids(host, edge["nginx"])
    slot = edge["slot"]
    host.check_output(
        f"docker compose --project-directory {PROJECT} --profile {slot} "
        f"up --detach --no-deps --force-recreate app-{slot}"
    )
    new = _container(host, f"app-{slot}")
    assert new != edge["app"], "the container was not recreated"
    health = ""
    for _ in range(90):
        health = host.check_output(f"docker inspect --format '{{{{.State.Health.Status}}}}' {new}")
        if health == "healthy":
            break
        time.sleep(1)
    assert health == "healthy", health
    # From the first request on, every one is answered by the new container,
    # without nginx being reloaded (same master, same workers).
    statuses = [
        host.check_output("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1/readyz")
        for _ in range(30)
    ]
    assert statuses == ["200"] * 30, statuses
    assert _nginx_pids(host, edge["nginx"]) == (master, workers)
