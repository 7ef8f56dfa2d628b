#!/usr/bin/env bash
# Start the local PostgreSQL the tests use when it is installed but not running.
set -u
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || echo "services: PostgreSQL not reachable; postgres tests will be skipped" >&2
exit 0
