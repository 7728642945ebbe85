#!/usr/bin/env bash
# Boots, waits for and stops the throwaway Debian VM of the `vm` Molecule scenario.
#
#   rig/vm/vm.sh up STATE_DIR     boot (idempotent): qcow2 overlay on the cached image
#                                 (rig/vm/image.sh), a fresh ed25519 key, SSH and the
#                                 test ports forwarded on 127.0.0.1 only; waits for SSH
#                                 and writes STATE_DIR/vm.env
#   rig/vm/vm.sh wait STATE_DIR   wait until SSH answers again (after a reboot)
#   rig/vm/vm.sh down STATE_DIR   stop the supervisor and qemu (by their pidfiles), delete the overlay
#   rig/vm/vm.sh accel            print the accelerator the VM would use (tcg|kvm)
#
# Environment: VMSTACK_VM_USER (vmadmin), VMSTACK_VM_MEMORY (4096), VMSTACK_VM_CPUS (2),
# VMSTACK_VM_ACCEL (auto|tcg|kvm), VMSTACK_VM_BOOT_TIMEOUT (600 s).
#
# A guest reboot is a cold boot. Under TCG with two vCPUs, QEMU's warm reset (a guest
# `systemctl reboot`) left a guest whose kernel panicked 3 s into the next boot ("Oops:
# int3" in sched_clock_cpu, the boot's first live code patching), in both reboots tried
# (2026-12-03 and 12-07), while every cold start booted. So qemu runs with -no-reboot
# under a supervisor (STATE_DIR/supervisor.pid) that starts it again when the guest
# asked for a restart, and lets it stay down after a power-off, a kill or a panic
# (panic=10: the kernel's reboot after a panic ends qemu, and `wait` reports it).
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VM_USER="${VMSTACK_VM_USER:-vmadmin}"
VM_MEMORY="${VMSTACK_VM_MEMORY:-4096}"
VM_CPUS="${VMSTACK_VM_CPUS:-2}"
VM_ACCEL="${VMSTACK_VM_ACCEL:-auto}"
VM_BOOT_TIMEOUT="${VMSTACK_VM_BOOT_TIMEOUT:-600}"
# Guest ports forwarded to 127.0.0.1:<free port>: ssh, nginx, and 8081 for the
# Docker-bypass test (a container publishes it; the firewall must drop it).
VM_GUEST_PORTS=(22 80 443 8081)

ensure_qemu() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v qemu-img >/dev/null 2>&1 && return 0
  [[ ${EUID} -eq 0 ]] || die "qemu is missing: apt-get install -y qemu-system-x86 qemu-utils"
  log "installing qemu-system-x86 qemu-utils"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86 qemu-utils >/dev/null
}

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# /dev/kvm may exist and still not run a stock Debian kernel (here it is PVM,
# which accelerates only PVM guest kernels). So never trust the device file:
# boot the image's kernel with KVM until it panics for want of a root fs, and
# use KVM only when that finishes quickly. The answer is cached per kernel+qemu.
probe_accel() {
  local image="$1" cache verdict="tcg" log t0
  if [[ "${VM_ACCEL}" != auto ]]; then printf '%s\n' "${VM_ACCEL}"; return 0; fi
  if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then printf 'tcg\n'; return 0; fi
  cache="${RIG_CACHE}/vm/accel-$( (sha256sum "${image}/vmlinuz"; qemu-system-x86_64 --version) | sha256sum | cut -c1-16)"
  if [[ -f "${cache}" ]]; then cat "${cache}"; return 0; fi
  log "probing KVM with the guest kernel (at most 30 s)"
  log="$(mktemp /tmp/vmstack-vm-probe.XXXXXX)"
  t0=${SECONDS}
  if timeout 30 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -m 512 -smp 1 \
      -kernel "${image}/vmlinuz" -append 'console=ttyS0 panic=-1 root=/dev/nonexistent rootwait=0' \
      -display none -serial "file:${log}" -no-reboot >/dev/null 2>&1 \
      && grep -q 'Kernel panic' "${log}" && (( SECONDS - t0 < 15 )); then
    verdict="kvm"
  fi
  log "KVM probe: ${verdict} ($((SECONDS - t0)) s)"
  rm -f "${log}"
  printf '%s\n' "${verdict}" | tee "${cache}"
}

ssh_args() {
  local dir="$1"
  # shellcheck source=/dev/null
  source "${dir}/vm.env"
  printf '%s\n' -i "${dir}/id_ed25519" -p "${VM_SSH_PORT}" -o BatchMode=yes -o ConnectTimeout=5 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "${VM_USER}@127.0.0.1"
}

# The supervisor is alive (it restarts qemu after a guest reboot).
running() {
  local dir="$1"
  [[ -f "${dir}/supervisor.pid" ]] && kill -0 "$(cat "${dir}/supervisor.pid")" 2>/dev/null
}

# The kernel prints this line (on ttyS0) when the guest asks for a restart.
restarts() {
  grep -ac 'reboot: Restarting system' "$1/serial.log" || true
}

# Runs qemu in the foreground until the guest powers off or qemu is killed; starts
# it again each time the guest rebooted. Started by `up` in its own session.
supervise() {
  local dir="$1" before rc
  shift
  while :; do
    before="$(restarts "${dir}")"
    rc=0
    "$@" || rc=$?
    if (( $(restarts "${dir}") > before )); then
      log "the guest rebooted: starting qemu again (a cold boot)"
      continue
    fi
    log "qemu ended (exit ${rc}) without a guest reboot: not restarting"
    rm -f "${dir}/qemu.pid" "${dir}/supervisor.pid"
    return 0
  done
}

wait_ssh() {
  local dir="$1" t0=${SECONDS} args
  mapfile -t args < <(ssh_args "${dir}")
  until ssh "${args[@]}" true 2>/dev/null; do
    if ! running "${dir}"; then
      tail -30 "${dir}/serial.log" >&2 || true
      die "qemu exited and was not restarted; serial log: ${dir}/serial.log"
    fi
    (( SECONDS - t0 < VM_BOOT_TIMEOUT )) || { tail -30 "${dir}/serial.log" >&2; die "no SSH after ${VM_BOOT_TIMEOUT} s"; }
    sleep 2
  done
  log "SSH answers after $((SECONDS - t0)) s"
}

up() {
  local dir="$1" image accel ports fwd="" i t0=${SECONDS}
  mkdir -p "${dir}"
  dir="$(cd "${dir}" && pwd)"
  if running "${dir}"; then
    log "VM is running (supervisor pid $(cat "${dir}/supervisor.pid")); reusing it"
    wait_ssh "${dir}"
    return 0
  fi
  ensure_qemu
  image="$("${RIG_DIR}/vm/image.sh")"
  [[ -f "${dir}/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C vmstack-vm -f "${dir}/id_ed25519"
  # Copy-on-write: the cached image is never written to.
  rm -f "${dir}/vmstack-vm-overlay.qcow2"
  qemu-img create -q -f qcow2 -F raw -b "${image}/disk.img" "${dir}/vmstack-vm-overlay.qcow2"
  accel="$(probe_accel "${image}")"
  read -r -a ports <<<"$(free_ports "${#VM_GUEST_PORTS[@]}")"
  for i in "${!VM_GUEST_PORTS[@]}"; do
    fwd+=",hostfwd=tcp:127.0.0.1:${ports[$i]}-:${VM_GUEST_PORTS[$i]}"
  done
  cat >"${dir}/vm.env" <<ENV
VM_USER=${VM_USER}
VM_SSH_PORT=${ports[0]}
VM_HTTP_PORT=${ports[1]}
VM_HTTPS_PORT=${ports[2]}
VM_PROBE_PORT=${ports[3]}
VM_KEY=${dir}/id_ed25519
VM_ACCEL=${accel}
ENV
  local accel_args=(-accel "tcg,thread=multi" -cpu max)
  [[ "${accel}" == kvm ]] && accel_args=(-accel kvm -cpu host)
  log "booting vmstack-vm (${accel}, ${VM_CPUS} CPUs, ${VM_MEMORY} MiB; ssh on 127.0.0.1:${ports[0]})"
  : >"${dir}/serial.log"
  # The serial log is appended to across the supervisor's restarts (the history of
  # every boot); -no-reboot makes a guest reboot end qemu, and the supervisor starts
  # it again.
  setsid "${RIG_DIR}/vm/vm.sh" supervise "${dir}" \
    qemu-system-x86_64 -name "vmstack-vm,process=vmstack-vm" "${accel_args[@]}" -machine q35 \
    -m "${VM_MEMORY}" -smp "${VM_CPUS}" \
    -kernel "${image}/vmlinuz" -initrd "${image}/initrd.img" \
    -append 'root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.firstboot=off panic=10' \
    -drive "file=${dir}/vmstack-vm-overlay.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=n0${fwd}" -device virtio-net-pci,netdev=n0 \
    -fw_cfg "name=opt/vmstack/user,string=${VM_USER}" \
    -fw_cfg "name=opt/vmstack/authorized_keys,file=${dir}/id_ed25519.pub" \
    -display none -chardev "file,id=serial0,path=${dir}/serial.log,append=on" -serial chardev:serial0 \
    -no-reboot -pidfile "${dir}/qemu.pid" \
    </dev/null >>"${dir}/supervisor.log" 2>&1 &
  printf '%s\n' "$!" >"${dir}/supervisor.pid"
  wait_ssh "${dir}"
  printf 'VM_BOOT_SECONDS=%s\n' "$((SECONDS - t0))" >>"${dir}/vm.env"
}

down() {
  local dir="$1" pid
  # The supervisor first, so that it does not start qemu again.
  if [[ -f "${dir}/supervisor.pid" ]]; then
    pid="$(cat "${dir}/supervisor.pid")"
    kill "${pid}" 2>/dev/null || true
    rm -f "${dir}/supervisor.pid"
  fi
  if [[ -f "${dir}/qemu.pid" ]]; then
    pid="$(cat "${dir}/qemu.pid")"
    if kill -0 "${pid}" 2>/dev/null; then
      log "stopping qemu (pid ${pid})"
      kill "${pid}" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.5; done
      kill -9 "${pid}" 2>/dev/null || true
    fi
    rm -f "${dir}/qemu.pid"
  fi
  rm -f "${dir}/vmstack-vm-overlay.qcow2"
  log "vmstack-vm is down"
}

case "${1:-}" in
  up) up "${2:?state dir}" ;;
  wait) wait_ssh "${2:?state dir}" ;;
  down) down "${2:?state dir}" ;;
  supervise) supervise "${2:?state dir}" "${@:3}" ;;
  accel) ensure_qemu; probe_accel "$("${RIG_DIR}/vm/image.sh")" ;;
  *) die "usage: rig/vm/vm.sh up|wait|down STATE_DIR | accel" ;;
esac
