#!/usr/bin/env bash
# `make test`: every phase in order, each timed; stops at the first failure and
# prints the timings either way. Usage: scripts/test.sh [molecule scenario...]
#
# The scenarios named in VMSTACK_TEST_BESIDE (default: acme) start in the background
# when the Molecule phases begin and run beside the others; their output is kept in
# .cache/test-logs/ and printed, whole, when they end. A Molecule run is one Ansible
# pipeline against one instance (controller, `docker exec`, the instance's module:
# about one core at a time), so two share two cores at a small cost; acme (about 7
# min beside) is over long before default's load tests start. Three at once cost more
# than they saved (docker beside as well: default's converge took 580 s instead of
# 345 s). VMSTACK_TEST_BESIDE= runs every scenario in order.
#
# Each Molecule run first installs this checkout as a collection into
# ~/.ansible/collections (its "prerun", with --force) and then plays from there, so
# runs that share a HOME would rewrite each other's roles mid-play (two that started
# together failed in the install itself). A scenario beside the others therefore gets
# its own HOME, .cache/test-home/<scenario> (its collection copy, its Molecule state).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(docker default acme)
read -r -a beside <<<"${VMSTACK_TEST_BESIDE-acme}"
LOGS=.cache/test-logs

declare -a names=() times=() results=()
overall_start=${SECONDS}
failed=""

phase() {
  local name="$1"; shift
  local start=${SECONDS} rc
  printf '\n==> [%s] %s\n' "${name}" "$*"
  "$@"
  rc=$?
  names+=("${name}"); times+=("$((SECONDS - start))")
  if [[ ${rc} -eq 0 ]]; then results+=("ok"); else results+=("FAILED (rc=${rc})"); failed="${name}"; fi
  return "${rc}"
}

# A phase in the background: started now, its result taken by wait_beside.
declare -A bg_pid=() bg_start=() bg_home=()
start_beside() {
  local name="$1"; shift
  mkdir -p "${LOGS}"
  printf '\n==> [%s] %s (beside the next phases; output in %s/%s.log)\n' \
    "${name}" "$*" "${LOGS}" "${name//:/-}"
  rm -f "${LOGS}/${name//:/-}.seconds"
  local home="${PWD}/.cache/test-home/${name#molecule:}"
  mkdir -p "${home}"
  bg_home[${name}]=${home}
  # its own process group, so that an interrupted `make test` can stop it; it writes
  # its own duration when it ends (the wait for it may come much later)
  # shellcheck disable=SC2016 # expanded by the inner bash
  HOME="${home}" setsid bash -c 'start=${SECONDS}; "$@"; rc=$?; echo "$((SECONDS - start))" >"${0}"; exit "${rc}"' \
    "${LOGS}/${name//:/-}.seconds" "$@" >"${LOGS}/${name//:/-}.log" 2>&1 </dev/null &
  bg_pid[${name}]=$!
  bg_start[${name}]=${SECONDS}
}

wait_beside() {
  local name rc took
  for name in "${!bg_pid[@]}"; do
    wait "${bg_pid[${name}]}"
    rc=$?
    took=$(cat "${LOGS}/${name//:/-}.seconds" 2>/dev/null || echo "$((SECONDS - bg_start[${name}]))")
    printf '\n==> [%s] took %ss, ended %ss before this wait (rc=%s); its output:\n' \
      "${name}" "${took}" "$((SECONDS - bg_start[${name}] - took))" "${rc}"
    cat "${LOGS}/${name//:/-}.log"
    names+=("${name} (beside)"); times+=("${took}")
    if [[ ${rc} -eq 0 ]]; then results+=("ok"); else results+=("FAILED (rc=${rc})"); failed="${failed:-${name}}"; fi
    unset "bg_pid[${name}]"
  done
  [[ -z "${failed}" ]]
}

# shellcheck disable=SC2317 # run by the EXIT trap
stop_beside() {
  local name
  for name in "${!bg_pid[@]}"; do
    kill -- "-${bg_pid[${name}]}" 2>/dev/null || :
    echo "make test: stopped ${name}; remove its instance:" \
      "HOME=${bg_home[${name}]} .venv/bin/molecule destroy -s ${name#molecule:}" >&2
  done
}

# shellcheck disable=SC2317 # run by the EXIT trap
summary() {
  printf '\n==> make test: phase timings\n'
  local i
  for i in "${!names[@]}"; do
    printf '  %-28s %5ss  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
  done
  printf '  %-28s %5ss\n' "total" "$((SECONDS - overall_start))"
}
trap 'stop_beside; summary' EXIT
trap 'exit 130' INT TERM

run_all() {
  phase setup make --no-print-directory setup || return 1
  phase docker-engine rig/ensure-docker.sh || return 1
  phase rig-images rig/images.sh all || return 1
  # (the list is the Makefile's RIG_ARCHIVES)
  phase rig-archives make --no-print-directory rig-archives || return 1
  phase rig-tests scripts/pytest-run.sh tests/rig || return 1
  phase lint make --no-print-directory lint || return 1
  phase unit make --no-print-directory test-unit || return 1
  phase app make --no-print-directory test-app || return 1
  phase ui scripts/test-ui.sh || return 1
  local s b ordered=()
  for s in "${scenarios[@]}"; do
    for b in "${beside[@]}"; do
      if [[ ${s} == "${b}" && ${#scenarios[@]} -gt 1 ]]; then
        start_beside "molecule:${s}" .venv/bin/molecule test -s "${s}"
        continue 2
      fi
    done
    ordered+=("${s}")
  done
  for s in "${ordered[@]}"; do
    phase "molecule:${s}" .venv/bin/molecule test -s "${s}" || { wait_beside; return 1; }
  done
  wait_beside || return 1
}

export PATH="${PWD}/.venv/bin:${PATH}" NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=false
if run_all; then
  echo "make test: all phases passed"
  exit 0
fi
echo "make test: phase '${failed}' failed" >&2
exit 1
