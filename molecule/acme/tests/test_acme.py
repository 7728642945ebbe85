"""nginx_tls_mode: acme against Pebble inside the instance: issued, renewed under
load without a failed request, and a failed renewal keeps the served certificate.

The tests run in file order: the first checks what converge issued, the next
renews it, then Pebble is stopped (and left stopped) for a failed renewal that the
status collector reports, and the last switches the host to another TLS mode.
"""

import json
import re
import time

from vmstack_testlib import playbooks

DOMAIN = "acme.vmstack.test"
TLS = "/opt/vmstack/nginx/tls"
STATE = "/var/lib/vmstack-acme"
SERVICE = "vmstack-acme-renew.service"
PEBBLE_CA = "/etc/pebble/tls/ca.pem"
# The certificate nginx serves on 443 for DOMAIN, as a client receives it.
SERVED = (
    f"openssl s_client -connect 127.0.0.1:443 -servername {DOMAIN} -showcerts"
    " </dev/null 2>/dev/null | openssl x509 -noout {args}"
)
LOOP_REQUESTS = 400


def _served(host, args: str) -> str:
    return host.check_output(SERVED.format(args=args))


def _serial(host) -> str:
    serial = _served(host, "-serial")
    assert serial.startswith("serial="), serial
    return serial


def _workers(host) -> set[str]:
    """PIDs of nginx's serving worker processes: a reload replaces them (old ones say
    "worker process is shutting down" until their last connection ends)."""
    out = host.check_output("docker top vmstack-nginx-1 -o pid,args")
    return {
        line.split()[0]
        for line in out.splitlines()
        if "worker process" in line and "shutting down" not in line
    }


def _pebble_chain(host) -> None:
    """Pebble's current root and intermediate (made at its start) from its management API."""
    for kind in ("roots", "intermediates"):
        host.check_output(
            f"curl -sf --cacert {PEBBLE_CA} -o /tmp/pebble-{kind}.pem https://localhost:15000/{kind}/0"
        )


def test_served_certificate_is_issued_by_pebble_for_the_domain(host):
    _pebble_chain(host)
    chain = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {DOMAIN} -showcerts"
        " </dev/null 2>/dev/null"
    )
    leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", chain, re.S)
    assert leaf, chain
    host.run("rm -f /tmp/acme-leaf.pem")
    host.check_output(f"printf '%s\\n' '{leaf.group(0)}' > /tmp/acme-leaf.pem")
    verify = host.run(
        "openssl verify -CAfile /tmp/pebble-roots.pem -untrusted /tmp/pebble-intermediates.pem"
        f" -verify_hostname {DOMAIN} /tmp/acme-leaf.pem"
    )
    assert verify.rc == 0, verify.stdout + verify.stderr
    assert verify.stdout.strip().endswith(": OK"), verify.stdout
    assert "Pebble Intermediate CA" in _served(host, "-issuer")
    # What nginx serves is the file the client issued, installed for nginx.
    assert host.file(f"{TLS}/tls.key").mode == 0o600
    assert (
        host.check_output(f"cmp {STATE}/certificates/{DOMAIN}.crt {TLS}/tls.crt && echo same")
        == "same"
    )


def test_account_key_and_state_are_root_only(host):
    assert host.file(STATE).mode == 0o700
    keys = host.check_output(f"find {STATE}/accounts -name '*.key' -printf '%m %u\\n'").splitlines()
    assert keys
    assert all(line == "600 root" for line in keys), keys
    assert host.service("vmstack-acme-renew.timer").is_enabled
    assert host.service("vmstack-acme-renew.timer").is_running


def test_challenge_path_is_not_redirected_to_https(host):
    host.check_output("install -d -m 0755 /opt/vmstack/nginx/html/.well-known/acme-challenge")
    host.check_output(
        "echo probe > /opt/vmstack/nginx/html/.well-known/acme-challenge/vmstack-probe"
    )
    try:
        out = host.check_output(
            f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {DOMAIN}'"
            " http://127.0.0.1/.well-known/acme-challenge/vmstack-probe"
        )
        assert out == "200"
        other = host.check_output(
            f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {DOMAIN}' http://127.0.0.1/"
        )
        assert other == "301"
    finally:
        host.run("rm -f /opt/vmstack/nginx/html/.well-known/acme-challenge/vmstack-probe")


def test_forced_renewal_issues_a_new_certificate_served_without_a_failed_request(host):
    before = _serial(host)
    workers_before = _workers(host)
    _pebble_chain(host)
    # A bounded loop of HTTPS requests through nginx (each verifying the served
    # chain against Pebble's root) runs while the timer's service renews and reloads.
    result = host.run(
        "bash -c '"
        f"( for i in $(seq {LOOP_REQUESTS}); do"
        f'  curl -s -o /dev/null -w "%{{http_code}}\\n" --resolve {DOMAIN}:443:127.0.0.1'
        f"  --cacert /tmp/pebble-roots.pem https://{DOMAIN}/ || echo failed;"
        "  done > /tmp/acme-loop.txt ) & loop=$!;"
        " sleep 0.5;"
        " systemctl set-environment VMSTACK_ACME_FORCE=1;"
        f" systemctl start {SERVICE}; rc=$?;"
        " systemctl unset-environment VMSTACK_ACME_FORCE;"
        " if kill -0 $loop 2>/dev/null; then echo loop-outlived-renewal; fi;"
        " wait $loop; exit $rc'"
    )
    assert result.rc == 0, result.stdout + result.stderr
    assert "loop-outlived-renewal" in result.stdout, (
        "the request loop ended before the reload: it proves nothing"
    )
    codes = host.file("/tmp/acme-loop.txt").content_string.split()
    assert len(codes) == LOOP_REQUESTS
    assert set(codes) == {"200"}, {code: codes.count(code) for code in set(codes)}
    after = _serial(host)
    assert after != before
    assert "Pebble Intermediate CA" in _served(host, "-issuer")
    log = host.check_output(f"journalctl -u {SERVICE} --no-pager -o cat -n 50")
    assert f"nginx reloaded with {after}" in log
    time.sleep(1)
    assert workers_before, "no nginx worker to compare"
    assert not workers_before & _workers(host), "the reload did not replace nginx's workers"
    last = json.loads(host.file(f"{STATE}/last-run.json").content_string)
    assert last["status"] == "ok", last
    assert last["message"] == f"nginx reloaded with {after}"


def test_a_certificate_nginx_t_refuses_is_taken_back_and_nginx_is_not_reloaded(host):
    """nginx -t checks the whole configuration: a broken file beside vmstack.conf makes it
    refuse whatever certificate comes, so the script's refusal path runs for real."""
    before = _serial(host)
    served_before = host.check_output(f"sha256sum {TLS}/tls.crt {TLS}/tls.key")
    workers = _workers(host)
    assert workers, "no nginx worker to compare"
    broken = "/opt/vmstack/nginx/conf.d/zz-refused.conf"
    host.check_output(f"echo 'this_is_not_a_directive;' > {broken}")
    try:
        result = host.run(
            "systemctl set-environment VMSTACK_ACME_FORCE=1;"
            f" systemctl start {SERVICE}; rc=$?;"
            " systemctl unset-environment VMSTACK_ACME_FORCE; exit $rc"
        )
    finally:
        host.run(f"rm -f {broken}")
    assert result.rc != 0
    log = host.check_output(f"journalctl -u {SERVICE} --no-pager -o cat -n 30")
    assert "nginx -t refused the new certificate; the previous one is back in place" in log
    assert host.check_output(f"sha256sum {TLS}/tls.crt {TLS}/tls.key") == served_before
    assert _serial(host) == before
    # No reload happened: the same workers (a reload replaces them, as the renewal
    # test above saw) still serve the old files.
    time.sleep(1)
    assert _workers(host) == workers
    last = json.loads(host.file(f"{STATE}/last-run.json").content_string)
    assert last["status"] == "failed"
    assert "checking the new certificate with nginx -t" in last["message"]


def test_failed_renewal_is_visible_and_the_current_certificate_keeps_being_served(host):
    before = _serial(host)
    host.check_output("systemctl stop pebble.service")
    result = host.run(
        "systemctl set-environment VMSTACK_ACME_FORCE=1;"
        f" systemctl start {SERVICE}; rc=$?;"
        " systemctl unset-environment VMSTACK_ACME_FORCE; exit $rc"
    )
    assert result.rc != 0
    assert host.run(f"systemctl is-failed {SERVICE}").stdout.strip() == "failed"
    assert _serial(host) == before
    code = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --resolve {DOMAIN}:443:127.0.0.1"
        f" --cacert /tmp/pebble-roots.pem https://{DOMAIN}/"
    )
    assert code == "200"
    # The run's record, and the status collector's report of it.
    last = json.loads(host.file(f"{STATE}/last-run.json").content_string)
    assert last["status"] == "failed", last
    assert "asking https://localhost:14000/dir for the certificate" in last["message"]
    host.check_output("systemctl start vmstack-status.service")
    status = json.loads(host.file("/opt/vmstack/status/status.json").content_string)
    assert status["tls"]["renewal"]["status"] == "failed"
    assert status["tls"]["renewal"]["at"] == last["finished_at"]
    problem = f"the last ACME certificate renewal ({last['finished_at']}) failed: {last['message']}"
    assert problem in status["problems"], status["problems"]


def test_leaving_acme_mode_removes_the_renewal_timer_and_keeps_the_account(host):
    assert host.file("/etc/systemd/system/vmstack-acme-renew.timer").exists
    run = playbooks.run(
        "molecule/acme/converge.yml",
        "--tags",
        "nginx",
        "-e",
        json.dumps({"nginx_tls_mode": "selfsigned"}),
        timeout=600,
    )
    assert run.returncode == 0, run.output[-3000:]
    assert "Remove the renewal timer, service and script" in run.output
    for path in (
        "/etc/systemd/system/vmstack-acme-renew.timer",
        "/etc/systemd/system/vmstack-acme-renew.service",
        "/usr/local/sbin/vmstack-acme-renew",
    ):
        assert not host.file(path).exists, path
    assert host.run("systemctl is-active vmstack-acme-renew.timer").stdout.strip() == "inactive"
    assert host.run("systemctl cat vmstack-acme-renew.timer").rc != 0
    # The account stays for a switch back; nginx keeps serving HTTPS.
    assert host.file(STATE).is_directory
    assert host.check_output(f"find {STATE}/accounts -name '*.key' | wc -l") != "0"
    code = host.check_output(
        f"curl -sk -o /dev/null -w '%{{http_code}}' --resolve {DOMAIN}:443:127.0.0.1"
        f" https://{DOMAIN}/"
    )
    assert code == "200"
