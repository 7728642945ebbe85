"""The base role on the container target: firewall, sysctl, updates, journald, sshd,
fail2ban, auditd, login and kernel hardening."""

import re
import socket
import subprocess
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
    assert "allowtcpforwarding no" in effective
    assert "allowstreamlocalforwarding no" in effective
    assert "allowagentforwarding no" in effective
    assert "permittunnel no" in effective
    assert "loglevel VERBOSE" in effective
    assert "banner /etc/issue.net" in effective
    ciphers = next(line for line in effective if line.startswith("ciphers "))
    assert "cbc" not in ciphers
    macs = next(line for line in effective if line.startswith("macs "))
    assert all("etm" in mac for mac in macs.split()[1].split(","))
    kex = next(line for line in effective if line.startswith("kexalgorithms ")).split()[1]
    assert kex.split(",")[0] == "mlkem768x25519-sha256", kex
    assert host.service("ssh").is_running


def test_sshd_offers_ed25519_and_rsa_3072_host_keys_only(host):
    effective = host.check_output("sshd -T -C user=root,host=localhost,addr=127.0.0.1").splitlines()
    keys = [line.split()[1] for line in effective if line.startswith("hostkey ")]
    assert keys == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    algorithms = next(line for line in effective if line.startswith("hostkeyalgorithms "))
    assert "ecdsa" not in algorithms
    bits = int(host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub").split()[0])
    assert bits >= 3072
    # What a client is offered, not only what the file says: the key exchange's host key types.
    offered = host.check_output(
        "ssh-keyscan -T 10 -p 22 127.0.0.1 2>/dev/null | grep -v '^#' | awk '{print $2}' | sort -u"
    ).split()
    assert offered == ["ssh-ed25519", "ssh-rsa"], offered


@pytest.fixture
def controller_address(host):
    """The controller as the instance sees it (the Docker bridge's gateway)."""
    route = host.check_output("ip -4 route show default")
    return route.split()[2]


def test_fail2ban_bans_a_source_that_keeps_failing_ssh_logins(host, controller_address):
    """Failed logins from the controller get it banned by nftables; other sources are
    not affected (the instance's own loopback still reaches sshd)."""
    address = host.interface("eth0").addresses[0]
    assert host.service("fail2ban").is_running
    jail = host.check_output("fail2ban-client status sshd")
    assert controller_address not in jail, f"{controller_address} is banned before the test"
    assert _tcp_answers(address, 22)
    banner_seen = False
    try:
        for _ in range(12):
            attempt = subprocess.run(
                ["ssh", "-p", "22", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "PubkeyAuthentication=no", "-o", "LogLevel=INFO",
                 f"vmstack-probe@{address}", "true"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert attempt.returncode != 0, "an SSH login without a key succeeded"
            banner_seen = banner_seen or "Authorised access only" in attempt.stderr
            time.sleep(1)
            if controller_address in host.check_output("fail2ban-client status sshd"):
                break
        else:
            pytest.fail(f"12 failed logins from {controller_address} did not get it banned")
        assert banner_seen, "sshd did not show the login banner before authentication"
        assert not _tcp_answers(address, 22), "a banned source still reaches sshd"
        assert "f2b-table" in host.check_output("nft list tables")
        assert host.run("timeout 5 bash -c '</dev/tcp/127.0.0.1/22'").rc == 0
    finally:
        host.run(f"fail2ban-client set sshd unbanip {controller_address}")
    assert _tcp_answers(address, 22), "sshd is still unreachable after the unban"


def test_auditd_rules_cover_identity_sudo_sshd_time_and_modules(host):
    rules = host.file("/etc/audit/rules.d/60-vmstack.rules")
    assert rules.mode == 0o640
    for key in ("identity", "sudoers", "sshd", "time-change", "modules"):
        assert rules.contains(f"-k {key}$"), key


def test_auditd_loads_the_rules_where_the_kernel_allows_it(host):
    status = host.run("auditctl -s")
    if status.rc != 0:
        # A container shares the host's kernel, whose audit subsystem answers only
        # the initial namespaces: the role reports this instead of starting auditd.
        assert not host.service("auditd").is_running
        pytest.skip(f"kernel audit subsystem not reachable here: {status.stderr.strip()}")
    assert host.service("auditd").is_running
    loaded = host.check_output("auditctl -l")
    for key in ("identity", "sudoers", "sshd", "time-change", "modules"):
        assert f"key={key}" in loaded or f"-k {key}" in loaded, key


HARDENING_SYSCTLS = {
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv4.tcp_syncookies": "1",
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "fs.protected_symlinks": "1",
    "fs.suid_dumpable": "0",
    "kernel.core_pattern": "|/bin/false",
    "net.ipv4.ip_forward": "1",
}


def test_kernel_hardening_is_written_for_boot(host):
    conf = host.file("/etc/sysctl.d/60-vmstack.conf").content_string
    for key, value in HARDENING_SYSCTLS.items():
        assert re.search(rf"^{re.escape(key)}\s*=\s*{re.escape(value)}$", conf, re.MULTILINE), key


def test_kernel_hardening_is_live_where_proc_sys_is_writable(host):
    if host.run("test -w /proc/sys/net/ipv4/ip_forward").rc != 0:
        pytest.skip("/proc/sys is read-only here (container): the values wait for a boot")
    for key, value in HARDENING_SYSCTLS.items():
        assert host.check_output(f"sysctl -n {key}") == value, key


def test_login_umask_banner_timeout_and_no_core_dumps(host):
    login_defs = host.file("/etc/login.defs").content_string
    assert re.search(r"^UMASK\s+027$", login_defs, re.MULTILINE)
    assert re.search(r"^SHA_CRYPT_MIN_ROUNDS\s+65536$", login_defs, re.MULTILINE)
    for banner in ("/etc/issue", "/etc/issue.net"):
        assert host.file(banner).contains("Authorised access only"), banner
    assert host.file("/etc/profile.d/vmstack-timeout.sh").contains("^    TMOUT=900$")
    limits = host.file("/etc/security/limits.d/60-vmstack-core.conf").content_string
    assert re.search(r"^\*\s+hard\s+core\s+0$", limits, re.MULTILINE)
    coredump = host.file("/etc/systemd/coredump.conf.d/60-vmstack.conf")
    assert coredump.contains("^Storage=none$")
    # A login shell gets the umask from login.defs through pam_umask.
    assert host.run("grep -q pam_umask /etc/pam.d/common-session").rc == 0


def test_unused_kernel_modules_cannot_be_loaded(host):
    blacklist = host.file("/etc/modprobe.d/vmstack-blacklist.conf")
    for module in ("cramfs", "udf", "dccp", "sctp", "usb-storage"):
        assert blacklist.contains(f"^install {module} /bin/false$"), module
    if host.exists("modprobe"):
        assert "install /bin/false" in host.check_output("modprobe -n -v dccp")
