#!/usr/bin/env bash
# Renders ${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}/**/*${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
# into ${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}, substituting only the variables that are
# set in the environment (optionally those starting with NGINX_ENVSUBST_FILTER). Same contract as
# the official image's script; skipped when there is nothing to render or the output is read-only.
set -e
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"
say() { [[ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]] || printf '%s: %s\n' "$0" "$*"; }

[[ -d "${template_dir}" ]] || exit 0
mapfile -d '' templates < <(find "${template_dir}" -follow -type f -name "*${suffix}" -print0 | sort -z)
((${#templates[@]})) || exit 0
if [[ ! -w "${output_dir}" ]]; then
  say "ERROR: ${template_dir} exists, but ${output_dir} is not writable"
  exit 0
fi
# Only variables that are set get substituted: nginx's own $host, $uri... stay as they are.
mapfile -t names < <(compgen -e | grep -E -- "${filter}" || true)
defined=""
for name in "${names[@]}"; do defined+="\${${name}} "; done
for template in "${templates[@]}"; do
  relative="${template#"${template_dir}/"}"
  output="${output_dir}/${relative%"${suffix}"}"
  mkdir -p "$(dirname "${output}")"
  say "Running envsubst on ${template} to ${output}"
  envsubst "${defined}" <"${template}" >"${output}"
done
