#!/usr/bin/env bash
# pytest with exit status 5 ("no tests collected") turned into a loud failure:
# a suite that silently ran nothing must never look green.
set -uo pipefail
pytest "$@"
rc=$?
if [[ ${rc} -eq 5 ]]; then
  echo "pytest collected no tests in: $* -- treating that as a failure" >&2
  exit 1
fi
exit "${rc}"
