#!/usr/bin/env bash
# Installs what the tests and the local stack need from Debian when any part is missing:
# PostgreSQL 15's server binaries (initdb, postgres, pg_ctl), the 'postgres' OS user
# (PostgreSQL refuses to run as root, so the throwaway clusters run as that user),
# runuser (util-linux) to switch to it, and Chromium for the console's browser tests.
# Nothing is started here. Exits non-zero, naming what is missing, if it cannot install.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin

missing() {
  local parts=()
  for tool in initdb postgres pg_ctl; do
    [ -x "$BIN/$tool" ] || parts+=("postgresql-15 ($tool)")
  done
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null 2>&1 || parts+=("the postgres OS user")
    command -v runuser >/dev/null 2>&1 || parts+=("util-linux (runuser)")
  fi
  [ -x /usr/bin/chromium ] || parts+=("chromium")
  printf '%s\n' "${parts[@]:-}" | sed '/^$/d'
}

need="$(missing)"
[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing and apt-get is not available, install them yourself:" >&2
  echo "$need" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing: $(echo "$need" | paste -sd, -)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 util-linux chromium >/dev/null
# postgresql-common creates the postgres user; a partial install may have skipped it.
if [ "$(id -u)" -eq 0 ] && ! getent passwd postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

still="$(missing)"
if [ -n "$still" ]; then
  echo "Still missing after the install:" >&2
  echo "$still" >&2
  exit 1
fi
