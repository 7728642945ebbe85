#!/usr/bin/env bash
# Builds (once per recipe) a bootable Debian disk image for the `vm` Molecule
# scenario, without downloading any cloud image: debootstrap with a kernel, then
# `mkfs.ext4 -d` straight from the root directory (no loop mount needed).
#
#   rig/vm/image.sh          -> prints the cache directory holding
#                               disk.img (raw, sparse), vmlinuz, initrd.img
#
# Cached under .cache/rig/vm/<recipe hash>/: a change to this script, the suite
# or the mirror builds a new image. Boot it through a qcow2 overlay (rig/vm/vm.sh)
# so the cached image stays clean.
#
# The image behaves like a cloud image: on first boot `vmstack-vm-provision`
# reads a user name and an SSH public key from QEMU's fw_cfg
# (opt/vmstack/user, opt/vmstack/authorized_keys), creates that user with
# passwordless sudo and installs the key for it and for root (cloud-init's job
# on a real cloud).
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VM_DISK_SIZE="${VMSTACK_VM_DISK_SIZE:-12G}"
VM_INCLUDE="linux-image-amd64,initramfs-tools,systemd,systemd-sysv,udev,dbus,openssh-server,python3,sudo,ca-certificates,iproute2,ifupdown,isc-dhcp-client,netbase,procps,kmod,e2fsprogs"

recipe() {
  printf '%s\n' "${RIG_SUITE}" "${RIG_MIRROR}" "${VM_DISK_SIZE}" "${VM_INCLUDE}"
  cat "${BASH_SOURCE[0]}"
  declare -f rig_apt_setup
}

provision_script() {
  cat <<'PROVISION'
#!/bin/sh
# First boot: a login user and its key from QEMU fw_cfg (what cloud-init does on a cloud).
set -eu
modprobe qemu_fw_cfg 2>/dev/null || true
fw=/sys/firmware/qemu_fw_cfg/by_name/opt/vmstack
[ -r "$fw/authorized_keys/raw" ] || { echo "vmstack-vm-provision: no key in fw_cfg"; exit 0; }
user=$(cat "$fw/user/raw" 2>/dev/null || echo vmadmin)
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
echo "$user ALL=(ALL:ALL) NOPASSWD: ALL" >/etc/sudoers.d/90-vmstack-vm-init
chmod 0440 /etc/sudoers.d/90-vmstack-vm-init
for home in /root "$(getent passwd "$user" | cut -d: -f6)"; do
  install -d -m 0700 "$home/.ssh"
  cat "$fw/authorized_keys/raw" >"$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
done
chown -R "$user:" "$(getent passwd "$user" | cut -d: -f6)/.ssh"
mkdir -p /var/lib/vmstack-vm && touch /var/lib/vmstack-vm/provisioned
echo "vmstack-vm-provision: $user provisioned"
PROVISION
}

build() {
  local dir="$1" rootfs="$1.rootfs" t0=${SECONDS}
  [[ ${EUID} -eq 0 ]] || die "building the VM image needs root (debootstrap)"
  rig_need_debootstrap
  command -v mkfs.ext4 >/dev/null 2>&1 || die "mkfs.ext4 (e2fsprogs) is missing"
  rm -rf "${rootfs}" "${dir}.tmp"
  mkdir -p "${rootfs}" "${dir}.tmp"
  log "debootstrap ${RIG_SUITE} with a kernel into ${rootfs} (~2-3 min)"
  debootstrap --variant=minbase --include="${VM_INCLUDE}" "${RIG_SUITE}" "${rootfs}" "${RIG_MIRROR}" \
    >"${dir}.tmp/debootstrap.log" 2>&1 \
    || { tail -20 "${dir}.tmp/debootstrap.log" >&2; die "debootstrap failed"; }

  echo vmstack-vm >"${rootfs}/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tvmstack-vm\n' >"${rootfs}/etc/hosts"
  printf '/dev/vda\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"${rootfs}/etc/fstab"
  cat >"${rootfs}/etc/network/interfaces" <<'IFACES'
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
IFACES
  rig_apt_setup "${rootfs}"
  provision_script >"${rootfs}/usr/local/sbin/vmstack-vm-provision"
  chmod 0755 "${rootfs}/usr/local/sbin/vmstack-vm-provision"
  cat >"${rootfs}/etc/systemd/system/vmstack-vm-provision.service" <<'UNIT'
[Unit]
Description=vmstack VM: login user and SSH key from QEMU fw_cfg (first boot)
ConditionPathExists=!/var/lib/vmstack-vm/provisioned
Before=ssh.service
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmstack-vm-provision

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/vmstack-vm-provision.service \
    "${rootfs}/etc/systemd/system/multi-user.target.wants/vmstack-vm-provision.service"
  # Every clone must not share one identity: systemd makes a machine-id on first boot.
  : >"${rootfs}/etc/machine-id"
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*

  cp "$(find "${rootfs}/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)" "${dir}.tmp/vmlinuz"
  cp "$(find "${rootfs}/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -1)" "${dir}.tmp/initrd.img"
  truncate -s "${VM_DISK_SIZE}" "${dir}.tmp/disk.img"
  mkfs.ext4 -q -F -L vmstack-vm -d "${rootfs}" "${dir}.tmp/disk.img"
  rm -rf "${rootfs}"
  rm -rf "${dir}"
  mv "${dir}.tmp" "${dir}"
  log "VM image built in $((SECONDS - t0)) s: ${dir}"
}

main() {
  local hash dir
  hash="$(recipe | sha256sum | cut -c1-16)"
  dir="${RIG_CACHE}/vm/${RIG_SUITE}-${hash}"
  mkdir -p "${RIG_CACHE}/vm"
  if [[ -f "${dir}/disk.img" && -f "${dir}/vmlinuz" && -f "${dir}/initrd.img" ]]; then
    log "VM image is current (recipe ${hash})"
  else
    # One builder at a time.
    exec 9>"${RIG_CACHE}/vm/.build.lock"
    flock 9
    [[ -f "${dir}/disk.img" ]] || build "${dir}"
  fi
  printf '%s\n' "${dir}"
}

main "$@"
