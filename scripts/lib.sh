# shellcheck shell=bash
# The one log/die of vmstack's shell scripts (rig/ and scripts/). Sourced, never executed.
# A script sets VMSTACK_LOG_TAG after sourcing to name itself in its messages.

VMSTACK_LOG_TAG="${VMSTACK_LOG_TAG:-vmstack}"

# Progress on stderr: `[tag] message`.
log() { printf '[%s] %s\n' "${VMSTACK_LOG_TAG}" "$*" >&2; }

# The reason on stderr, then exit 1: `[tag] ERROR: message`.
die() {
  printf '[%s] ERROR: %s\n' "${VMSTACK_LOG_TAG}" "$*" >&2
  exit 1
}
