"""lynis as an external auditor: the controller's Debian package, copied to the target.

The container target (molecule/default, test_audit.py) and the VM (molecule/vm) both
run the same copy, so their hardening indexes compare."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

# On the target's disk: /tmp is a tmpfs on the container target.
REMOTE = "/var/tmp/vmstack-lynis"  # noqa: S108 - a root-owned directory made by the test
SOURCES = ("/usr/sbin/lynis", "/usr/share/lynis/include", "/etc/lynis/default.prf")


def missing() -> list[str]:
    """The parts of the controller's lynis package that are not installed."""
    return [path for path in SOURCES if not Path(path).exists()]


def bundle() -> bytes:
    """lynis as the controller's Debian package installs it, laid out as a
    stand-alone copy (`--usecwd`: include/, db/, plugins/, default.prf beside it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
            # lynis refuses include files not owned by root or writable by others.
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode &= 0o755
            return info

        tar.add("/usr/sbin/lynis", arcname="lynis", filter=root_owned)
        tar.add("/usr/share/lynis/include", arcname="include", filter=root_owned)
        tar.add("/usr/share/lynis/db", arcname="db", filter=root_owned)
        tar.add("/etc/lynis/plugins", arcname="plugins", filter=root_owned)
        tar.add("/etc/lynis/default.prf", arcname="default.prf", filter=root_owned)
    return buffer.getvalue()


def command(timeout: int = 900) -> str:
    """The audit, run in REMOTE on the target (as root)."""
    return (
        f"cd {REMOTE} && timeout {timeout} sh ./lynis audit system --quick --no-colors --usecwd"
        f" --plugindir {REMOTE}/plugins --logfile {REMOTE}/lynis.log"
        f" --report-file {REMOTE}/report.dat"
    )


def report_values(report: str, key: str) -> list[str]:
    prefix = f"{key}="
    return [line[len(prefix) :] for line in report.splitlines() if line.startswith(prefix)]


def figures(report: str) -> dict:
    """The audit's figures from its report.dat (fails when there is no hardening index)."""
    index = report_values(report, "hardening_index")
    assert index, "no hardening_index in lynis' report"
    assert index[0].isdigit(), f"hardening_index={index[0]}"
    tests_done = report_values(report, "lynis_tests_done")
    return {
        "hardening_index": int(index[0]),
        "tests_done": int(tests_done[0]) if tests_done and tests_done[0].isdigit() else None,
        "warnings": report_values(report, "warning[]"),
        "suggestions": report_values(report, "suggestion[]"),
        "version": (report_values(report, "lynis_version") or [None])[0],
    }
