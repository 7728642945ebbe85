#!/bin/sh
# Test image only: `serve` talks to a database that does not exist, so the
# release never turns ready; every other command (migrate, create-admin) works.
if [ "${1:-serve}" = "serve" ]; then
  export DATABASE_URL="postgresql+psycopg://nobody:nothing@127.0.0.1:1/none"
fi
exec vmstack-app "$@"
