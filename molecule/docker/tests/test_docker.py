"""The docker role, checked on the converged instance."""

import json

import pytest

MIN_COMPOSE = (2, 18, 0)


def _version_tuple(text: str) -> tuple[int, ...]:
    core = text.strip().lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(part) for part in core.split("."))


def test_engine_is_enabled_and_running(host):
    service = host.service("docker")
    assert service.is_enabled
    assert service.is_running
    assert host.run("docker info --format '{{.ServerVersion}}'").rc == 0


def test_compose_v2_is_new_enough(host):
    out = host.check_output("docker compose version --short")
    assert _version_tuple(out) >= MIN_COMPOSE, out


def test_daemon_json_is_what_the_engine_runs_with(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    # defaults merged with the scenario's override
    assert config["log-opts"] == {"max-size": "20m", "max-file": "3"}
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    assert info["Driver"] == "overlay2", "dockerd fell back from overlay2"


def test_container_log_rotation_applies(host, rig_image):
    cid = host.check_output("docker run -d --network none %s sleep 30", rig_image)
    try:
        log_config = json.loads(
            host.check_output("docker inspect --format '{{json .HostConfig.LogConfig}}' %s", cid)
        )
        assert log_config == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "20m"}}
    finally:
        host.run("docker rm -f %s", cid)


@pytest.fixture(scope="module")
def rig_image(host):
    loaded = host.run("docker load -i /opt/rig-debian.tar")
    assert loaded.rc == 0, loaded.stderr
    return "vmstack-rig/debian:trixie"


def test_a_container_runs(host, rig_image):
    out = host.check_output("docker run --rm %s sh -c 'echo ran-inside-$((6*7))'", rig_image)
    assert out == "ran-inside-42"


def test_compose_project_runs(host, rig_image):
    project = "/tmp/vmstack-compose-check"
    host.run("mkdir -p %s", project)
    compose = (
        "services:\n"
        "  one:\n"
        f"    image: {rig_image}\n"
        "    init: true\n"
        "    command: [sleep, '300']\n"
        "  two:\n"
        f"    image: {rig_image}\n"
        "    init: true\n"
        "    command: [getent, hosts, one]\n"
        "    depends_on: [one]\n"
    )
    host.run("printf '%%s' %s > %s/compose.yaml", compose, project)
    try:
        up = host.run("docker compose --project-directory %s up -d one", project)
        assert up.rc == 0, up.stderr
        lookup = host.run("docker compose --project-directory %s run --rm two", project)
        assert lookup.rc == 0, lookup.stderr
        assert " one" in lookup.stdout
    finally:
        host.run("docker compose --project-directory %s down -t 1", project)


def test_docker_users_are_in_the_group(host):
    assert "docker" in host.user("deployer").groups


def test_dockerd_environment_drop_in(host):
    env = host.check_output("systemctl show docker --property=Environment")
    assert "DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1" in env
