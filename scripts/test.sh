#!/usr/bin/env bash
# `make test`: every phase in order, each timed; stops at the first failure and
# prints the timings either way. Usage: scripts/test.sh [molecule scenario...]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(docker default acme)

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

# shellcheck disable=SC2317 # run by the EXIT trap
summary() {
  printf '\n==> make test: phase timings\n'
  local i
  for i in "${!names[@]}"; do
    printf '  %-28s %5ss  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
  done
  printf '  %-28s %5ss\n' "total" "$((SECONDS - overall_start))"
}
trap summary EXIT

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
  local s
  for s in "${scenarios[@]}"; do
    phase "molecule:${s}" .venv/bin/molecule test -s "${s}" || return 1
  done
}

export PATH="${PWD}/.venv/bin:${PATH}" NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=false
if run_all; then
  echo "make test: all phases passed"
  exit 0
fi
echo "make test: phase '${failed}' failed" >&2
exit 1
