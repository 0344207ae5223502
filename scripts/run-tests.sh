#!/usr/bin/env bash
# Run every test. PostgreSQL and Redis on this machine are used when they answer (in CI they must);
# otherwise the suite runs on SQLite and the tests that need Redis skip, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

answers() { $PY -c "import socket,sys; socket.create_connection(('$1', $2), 1)" 2>/dev/null; }

if [ -z "${DATABASE_URL:-}" ] && answers 127.0.0.1 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/helpdesk"
fi
if [ -z "${REDIS_URL:-}" ] && answers 127.0.0.1 6379; then
  export REDIS_URL="redis://127.0.0.1:6379/0"
fi
echo "database: ${DATABASE_URL:-SQLite (embedded default)}; redis: ${REDIS_URL:-none}"

.venv/bin/ruff check --quiet . || { echo "ruff found the problems above" >&2; exit 1; }

# The client cursor (static/chat/core/cursor.js) has unit tests for Node's built-in runner.
if command -v node >/dev/null 2>&1; then
  node --test static/chat/core/ || { echo "node --test static/chat/core/ failed" >&2; exit 1; }
elif [ "${CI:-}" = "true" ]; then
  echo "node is not installed: CI runs the client cursor tests (node --test static/chat/core/), install Node 20" >&2
  exit 1
else
  echo "node is not installed: skipping the client cursor tests (node --test static/chat/core/)" >&2
fi

set +e
$PY -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure here." >&2
  exit 1
fi
exit "$status"
