"""External auditors against the converged host: lynis, ssh-audit, testssl.sh.

The auditors live on the controller, not on the target: lynis and testssl.sh are
Debian packages (scripts/host-packages.txt), ssh-audit comes from PyPI into the
venv (pyproject.toml: Debian 12's 2.5.0 misreads OpenSSH 10). lynis is copied into
the instance's /var/tmp for the run (its /tmp is a tmpfs that `docker exec` tar
would fill underneath); ssh-audit and testssl.sh run on the controller inside the
instance's network namespace (`nsenter -n`), so nothing has to be published.

Each run is kept in .cache/audit/ (raw output plus <host>-summary.json with the
lynis hardening index), and the figures are printed whether the test passes or not.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmstack_testlib import lynis

REPO = Path(__file__).resolve().parents[3]
AUDIT_DIR = REPO / ".cache" / "audit"
LYNIS_REMOTE = lynis.REMOTE

# lynis hardening index of the converged container target (Debian 13 instance of
# the default scenario): 77 on 2026-11-23 (docs/hardening.md; 63 before the base
# role's audit hardening). The floor is that figure minus 2, so a lost measure
# fails here. Some lynis tests cannot pass in a container (kernel settings belong
# to the host's kernel, auditd cannot reach the kernel's audit subsystem, no boot
# loader or partitions); the vm scenario has those.
LYNIS_FLOOR = 75


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def instance(host) -> dict[str, str]:
    name = host.ansible.get_variables()["inventory_hostname"]
    pid = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Pid}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert pid.isdigit(), f"instance {name}: no pid ({pid!r})"
    assert pid != "0", f"instance {name} is not running"
    AUDIT_DIR.mkdir(parents=True, exist_ok=True)
    return {"name": name, "pid": pid}


def _record(instance: dict[str, str], tool: str, **figures: object) -> None:
    """Merge one auditor's figures into .cache/audit/<host>-summary.json."""
    path = AUDIT_DIR / f"{instance['name']}-summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {}
    summary[tool] = {"at": _now(), **figures}
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


def _in_netns(instance: dict[str, str], command: list[str], timeout: int) -> str:
    """Run a controller program inside the instance's network namespace."""
    result = subprocess.run(
        ["nsenter", "-t", instance["pid"], "-n", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.stdout + result.stderr


def test_lynis_hardening_index_does_not_regress(host, instance, capsys):
    if lynis.missing():
        pytest.fail(f"{lynis.missing()} not on the controller: apt-get install lynis (make setup)")
    bundle = AUDIT_DIR / "lynis-bundle.tar.gz"
    bundle.write_bytes(lynis.bundle())
    host.run(f"rm -rf {LYNIS_REMOTE}")
    # docker cp, not the ansible copy module: one tar stream into a real filesystem.
    subprocess.run(
        ["docker", "exec", "-i", instance["name"], "sh", "-c",
         f"mkdir -p {LYNIS_REMOTE} && tar -xzf - -C {LYNIS_REMOTE}"],
        input=bundle.read_bytes(),
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    # A pid file left by an interrupted run makes lynis refuse to start.
    host.run("rm -f /run/lynis.pid /var/run/lynis.pid")
    run = host.run(lynis.command())
    name = instance["name"]
    (AUDIT_DIR / f"{name}-lynis.txt").write_text(run.stdout + run.stderr)
    assert run.rc == 0, f"lynis exited {run.rc}: {run.stderr[-2000:]}"
    report = host.file(f"{LYNIS_REMOTE}/report.dat").content_string
    (AUDIT_DIR / f"{name}-lynis-report.dat").write_text(report)
    found = lynis.figures(report)
    index, warnings = found["hardening_index"], found["warnings"]
    suggestions = found["suggestions"]
    _record(instance, "lynis", floor=LYNIS_FLOOR, **found)
    with capsys.disabled():
        print(
            f"\nlynis hardening index on {name}: {index} (floor {LYNIS_FLOOR}); "
            f"{len(warnings)} warning(s), {len(suggestions)} suggestion(s); "
            f"full report in {AUDIT_DIR / (name + '-lynis-report.dat')}"
        )
    host.run(f"rm -rf {LYNIS_REMOTE}")
    assert index >= LYNIS_FLOOR, (
        f"lynis hardening index {index} is below the recorded floor {LYNIS_FLOOR}; "
        f"warnings: {warnings}"
    )


def test_ssh_audit_finds_no_failure(host, instance, capsys):
    ssh_audit = Path(sys.executable).parent / "ssh-audit"
    if not ssh_audit.exists():
        pytest.fail(f"{ssh_audit} is missing: make setup (pyproject.toml pins ssh-audit)")
    port = host.ansible.get_variables().get("base_ssh_port", 22)
    output = _in_netns(
        instance,
        [str(ssh_audit), "--no-colors", "--timeout=10", f"--port={port}", "127.0.0.1"],
        300,
    )
    name = instance["name"]
    (AUDIT_DIR / f"{name}-ssh-audit.txt").write_text(output)
    assert "(gen) banner:" in output, f"ssh-audit did not reach sshd on 127.0.0.1:{port}:\n{output}"
    # A CVE ssh-audit knows for this OpenSSH version counts as a failure too.
    failures = [
        line.strip() for line in output.splitlines() if "[fail]" in line or line.startswith("(cve)")
    ]
    warnings = [line.strip() for line in output.splitlines() if "[warn]" in line]
    kex = re.findall(r"^\(kex\) (\S+)", output, re.MULTILINE)
    host_keys = re.findall(r"^\(key\) (\S+)", output, re.MULTILINE)
    _record(
        instance, "ssh_audit", failures=failures, warnings=warnings, kex=kex, host_keys=host_keys
    )
    with capsys.disabled():
        print(
            f"\nssh-audit on {name}:{port}: {len(failures)} failure(s), {len(warnings)} "
            f"warning(s); kex {', '.join(kex)}; host keys {', '.join(host_keys)}"
        )
    assert failures == [], "ssh-audit failures:\n" + "\n".join(failures)
    assert kex, "ssh-audit listed no key exchange algorithm"
    assert kex[0] == "mlkem768x25519-sha256", f"first KEX offered: {kex[0]}"
    assert not any(key.startswith("ecdsa-") for key in host_keys), host_keys


def _served_certificate(instance: dict[str, str]) -> str:
    """The PEM certificate nginx serves on the instance's 127.0.0.1:443."""
    chain = _in_netns(
        instance,
        ["openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", "localhost",
         "-showcerts"],
        60,
    )  # fmt: skip
    match = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", chain, re.DOTALL)
    assert match, f"no certificate from 127.0.0.1:443:\n{chain[-2000:]}"
    return match.group(0) + "\n"


def _self_signed(pem: str) -> bool:
    names = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-issuer", "-nameopt", "RFC2253"],
        input=pem,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    subject = next(line for line in names if line.startswith("subject="))
    issuer = next(line for line in names if line.startswith("issuer="))
    return subject.partition("=")[2] == issuer.partition("=")[2]


# With nginx_tls_mode=selfsigned (the demo) the certificate is its own issuer:
# testssl.sh is told to trust it (--add-ca), as a user who accepted it does, and
# the one finding no self-signed certificate can avoid -- it names no CRL or
# OCSP responder, there being no CA to run one -- is listed as not applicable
# instead of failing. Every other finding counts.
SELF_SIGNED_NOT_APPLICABLE = "NOT ok -- neither CRL nor OCSP URI provided"


def test_testssl_finds_nothing_not_ok_or_vulnerable(host, instance, capsys):
    if not shutil.which("testssl"):
        pytest.fail("testssl is missing on the controller: apt-get install testssl.sh (make setup)")
    name = instance["name"]
    certificate = _served_certificate(instance)
    self_signed = _self_signed(certificate)
    command = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
               "--connect-timeout", "10", "--openssl-timeout", "10"]  # fmt: skip
    if self_signed:
        ca_file = AUDIT_DIR / f"{name}-served-certificate.pem"
        ca_file.write_text(certificate)
        command += ["--add-ca", str(ca_file)]
    output = _in_netns(instance, [*command, "https://127.0.0.1:443/"], 900)
    (AUDIT_DIR / f"{name}-testssl.txt").write_text(output)
    assert "Testing protocols" in output, f"testssl.sh did not reach 127.0.0.1:443:\n{output}"
    lines = [line.strip() for line in output.splitlines()]
    not_applicable = [line for line in lines if self_signed and line == SELF_SIGNED_NOT_APPLICABLE]
    not_ok = [line for line in lines if "NOT ok" in line and line not in not_applicable]
    vulnerable = [line for line in lines if "VULNERABLE" in line]
    _record(
        instance,
        "testssl",
        self_signed=self_signed,
        not_ok=not_ok,
        vulnerable=vulnerable,
        not_applicable=not_applicable,
    )
    with capsys.disabled():
        print(
            f"\ntestssl.sh on {name}:443: {len(not_ok)} 'NOT ok' line(s), "
            f"{len(vulnerable)} 'VULNERABLE' line(s)"
            + (f"; self-signed, not applicable: {not_applicable}" if not_applicable else "")
        )
    assert not_ok == [], "testssl.sh, NOT ok:\n" + "\n".join(not_ok)
    assert vulnerable == [], "testssl.sh, VULNERABLE:\n" + "\n".join(vulnerable)
