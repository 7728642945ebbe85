"""The docker role's `upstream` apt source, rendered for each supported platform."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "playbooks" / "render_docker_upstream_sources.yml"


def render(tmp_path: Path, distribution: str, release: str, arch: str) -> dict[str, str]:
    dest = tmp_path / "docker.sources"
    subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            str(PLAYBOOK),
            "-e",
            f"render_distribution={distribution} render_release={release} "
            f"render_architecture={arch} render_dest={dest}",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    fields = {}
    for line in dest.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


@pytest.mark.parametrize(
    ("distribution", "release", "arch", "expected_arch"),
    [
        ("Debian", "trixie", "x86_64", "amd64"),
        ("Debian", "bookworm", "aarch64", "arm64"),
        ("Ubuntu", "noble", "x86_64", "amd64"),
        ("Ubuntu", "jammy", "x86_64", "amd64"),
    ],
)
def test_deb822_source(tmp_path, distribution, release, arch, expected_arch):
    fields = render(tmp_path, distribution, release, arch)
    assert fields == {
        "Types": "deb",
        "URIs": f"https://download.docker.com/linux/{distribution.lower()}",
        "Suites": release,
        "Components": "stable",
        "Architectures": expected_arch,
        "Signed-By": "/etc/apt/keyrings/docker.asc",
    }


def test_the_file_starts_with_the_managed_marker(tmp_path):
    render(tmp_path, "Debian", "trixie", "x86_64")
    assert (tmp_path / "docker.sources").read_text().startswith("#\n# Ansible managed")
