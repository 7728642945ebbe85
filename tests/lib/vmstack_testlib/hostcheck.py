"""What a host's configuration looks like, to compare before and after a run."""

from __future__ import annotations

import shlex
import subprocess


def docker_exec(instance: str, script: str, timeout: float = 120) -> str:
    """Run a shell script inside a Molecule instance (a container on this engine)."""
    done = subprocess.run(
        ["docker", "exec", instance, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{script[:200]}: {done.stderr}"
    return done.stdout


def fingerprint(
    instance: str,
    roots: tuple[str, ...] = ("/etc", "/opt/vmstack", "/usr/local/sbin"),
    exclude: tuple[str, ...] = ("/opt/vmstack/status",),
    compose_project: str | None = None,
    images: bool = True,
) -> list[str]:
    """Sorted lines: every file, directory and link under `roots` (type, mode, owner,
    link target), every file's sha256, and the ids of the inner engine's containers,
    networks, volumes and images (only `compose_project`'s containers when given).
    `exclude` holds paths that change by design (the status timer's output). Without
    `images` the engine's image tags are left out (another project may load a newer
    archive under the same tag: tags are the engine's, not a project's)."""
    prune = " ".join(f"-path {shlex.quote(p)} -prune -o" for p in exclude)
    label = (
        f"--filter label=com.docker.compose.project={compose_project}" if compose_project else ""
    )
    script = f"""
set -eu
for root in {" ".join(shlex.quote(r) for r in roots)}; do
  [ -e "$root" ] || continue
  find "$root" -xdev {prune} \\( -type f -o -type l -o -type d \\) -printf '%p %y %m %U:%G %l\\n'
  find "$root" -xdev {prune} -type f -print0 | xargs -0 -r sha256sum
done
docker ps -a --no-trunc {label} --format 'container {{{{.ID}}}} {{{{.Names}}}} {{{{.State}}}}'
docker network ls --no-trunc --format 'network {{{{.ID}}}} {{{{.Name}}}}'
docker volume ls --format 'volume {{{{.Name}}}}'
"""
    if images:
        script += "docker images --no-trunc --format 'image {{.ID}} {{.Repository}}:{{.Tag}}'\n"
    return sorted(docker_exec(instance, script).splitlines())


def difference(before: list[str], after: list[str], limit: int = 20) -> dict[str, list[str]]:
    """What went and what came (at most `limit` lines each); empty lists when equal."""
    old, new = set(before), set(after)
    return {"gone": sorted(old - new)[:limit], "new": sorted(new - old)[:limit]}
