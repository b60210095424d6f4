#!/usr/bin/env bash
# Installs PostgreSQL 15's server binaries when they are missing (Debian/Ubuntu).
# The tests and the local stack start a throwaway cluster from them as the
# 'postgres' user; nothing is started here.
set -euo pipefail
if [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/postgres ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL 15 is missing and apt-get is not available: install postgresql-15 yourself." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing PostgreSQL 15 (apt-get install postgresql-15)…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >/dev/null
