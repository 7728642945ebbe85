"""The base role on the container target: firewall, sysctl, updates, journald, sshd."""

import re
import socket
import time

import pytest

PROBE = "vmstack-bypass-probe"
PROBE_PORT = 8081


def _tcp_answers(address: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_vmstack_table_is_loaded_with_default_drop(host):
    ruleset = host.check_output("nft list table inet vmstack_filter")
    assert "type filter hook input priority filter; policy drop;" in ruleset
    assert "elements = { 22, 80, 443 }" in ruleset
    assert "type filter hook forward priority filter - 10; policy accept;" in ruleset
    assert "ct status dnat meta l4proto tcp ct original proto-dst @allowed_tcp accept" in ruleset
    assert host.service("nftables").is_enabled


def test_nftables_restart_keeps_dockers_tables(host):
    before = host.check_output("nft list tables")
    assert "table ip nat" in before  # Docker's (iptables-nft)
    host.check_output("systemctl restart nftables")
    after = host.check_output("nft list tables")
    assert "table inet vmstack_filter" in after
    assert "table ip nat" in after
    assert "table ip filter" in after
    assert "DOCKER" in host.check_output("nft list chain ip nat PREROUTING")


def test_ruleset_file_has_no_flush_ruleset(host):
    conf = host.file("/etc/nftables.conf").content_string
    rules = [line.strip() for line in conf.splitlines() if not line.lstrip().startswith("#")]
    assert "flush ruleset" not in rules
    assert "delete table inet vmstack_filter" in conf
    dropin = host.file("/etc/systemd/system/nftables.service.d/10-vmstack.conf").content_string
    assert "ExecStop=-/usr/sbin/nft delete table inet vmstack_filter" in dropin


@pytest.fixture
def bypass_probe(host):
    """A container publishing a port that is NOT in base_firewall_allowed_tcp_ports."""
    host.run(f"docker rm -f {PROBE}")
    host.check_output(
        f"docker run -d --name {PROBE} -p 0.0.0.0:{PROBE_PORT}:80 vmstack-rig/nginx:trixie"
    )
    try:
        for _ in range(30):
            if host.run(f"curl -fs -o /dev/null http://127.0.0.1:{PROBE_PORT}/").rc == 0:
                break
            time.sleep(1)
        else:
            pytest.fail("the probe container never answered on the instance's loopback")
        yield
    finally:
        host.run(f"docker rm -f {PROBE}")


def test_published_port_outside_the_allow_list_is_dropped(host, bypass_probe):
    address = host.interface("eth0").addresses[0]
    # Allowed port (nginx of the stack, published on 0.0.0.0:80): reachable from the controller.
    assert _tcp_answers(address, 80), f"{address}:80 should answer (allowed port)"
    # Docker published 8081 on 0.0.0.0, but the forward-hook guard drops it.
    assert not _tcp_answers(address, PROBE_PORT), f"{address}:{PROBE_PORT} bypassed the firewall"
    counters = host.check_output("nft list chain inet vmstack_filter docker_inbound")
    assert "counter packets 0 " not in counters


def test_ip_forward_is_set_for_docker(host):
    conf = host.file("/etc/sysctl.d/60-vmstack.conf").content_string
    assert re.search(r"^net\.ipv4\.ip_forward\s*=\s*1$", conf, re.MULTILINE), conf
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"


def test_unattended_upgrades_take_security_updates_only(host):
    assert host.package("unattended-upgrades").is_installed
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    prefix = "Unattended-Upgrade::Origins-Pattern:: "
    patterns = [line for line in dump.splitlines() if line.startswith(prefix)]
    assert patterns, dump
    assert all("security" in line for line in patterns), patterns
    periodic = host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic


def test_journald_is_capped(host):
    conf = host.file("/etc/systemd/journald.conf.d/10-vmstack.conf")
    assert conf.contains("^SystemMaxUse=500M$")
    assert conf.contains("^RuntimeMaxUse=100M$")


def test_sshd_effective_settings(host):
    effective = host.check_output("sshd -T -C user=root,host=localhost,addr=127.0.0.1").splitlines()
    assert "permitrootlogin no" in effective
    assert "passwordauthentication no" in effective
    assert "kbdinteractiveauthentication no" in effective
    assert "x11forwarding no" in effective
    ciphers = next(line for line in effective if line.startswith("ciphers "))
    assert "cbc" not in ciphers
    macs = next(line for line in effective if line.startswith("macs "))
    assert all("etm" in mac for mac in macs.split()[1].split(","))
    assert host.service("ssh").is_running
