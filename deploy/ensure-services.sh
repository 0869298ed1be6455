#!/usr/bin/env bash
# `make services` (and so `make test`): bring what the test suite needs on this machine.
#
#   - Chromium, installed with apt-get when missing (the browser tests replay scripts in it;
#     Playwright's own download is not used): Debian's headless shell
#     (/usr/bin/chromium-headless-shell, the default browser of a replay) and Debian's full
#     Chromium (/usr/bin/chromium: the browser-use tests, and the replays that check the full
#     browser still works); or only the one SCRIPTCACHE_CHROMIUM_PATH names, when it is set.
#   - redis-server on PATH: installed with apt-get when missing. The tests start private
#     redis-servers on free ports; none needs a Redis on :6379 (`make run` starts its own).
#   - PostgreSQL on localhost:5432 (or $SCRIPTCACHE_TEST_PG_URL, left alone): started when the
#     cluster is installed but down. Installing it is left to the operator, because the tests
#     connect as `postgres` without a password, which needs a pg_hba.conf choice.
#
# Root runs apt-get and pg_ctlcluster directly; anyone else through sudo. Nothing is changed
# when everything is there already. `--dry-run` prints what would run instead of running it.
set -euo pipefail

DRY_RUN=0
[ "${1:-}" = "--dry-run" ] && DRY_RUN=1
# Where Debian's packages put the browsers (a test points this at a folder of its own).
DEBIAN_BIN="${SCRIPTCACHE_SERVICES_DEBIAN_BIN:-/usr/bin}"
PG_HOST=localhost
PG_PORT=5432

say() { echo "services: $*"; }
fail() { echo "services: $*" >&2; exit 1; }

# Run a command as root: directly when root, else through sudo (which may ask a password).
as_root() {
  if [ "$DRY_RUN" = 1 ]; then
    say "would run: $*"
    return 0
  fi
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    return 1
  fi
}

apt_install() {  # apt_install WHAT PACKAGE
  local what="$1" package="$2"
  command -v apt-get >/dev/null 2>&1 \
    || fail "$what is missing and there is no apt-get here: install the '$package' package"
  say "$what is missing: installing the Debian package '$package'"
  as_root apt-get update -q \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" \
    || fail "could not install '$package' (needs root or sudo): run as root
  apt-get update && apt-get install -y $package"
}

# --- Chromium -------------------------------------------------------------------------------
if [ -n "${SCRIPTCACHE_CHROMIUM_PATH:-}" ]; then
  CHROMIUM="$SCRIPTCACHE_CHROMIUM_PATH"
  if [ ! -x "$CHROMIUM" ]; then
    apt_install "Chromium ($CHROMIUM)" chromium
    [ "$DRY_RUN" = 1 ] || [ -x "$CHROMIUM" ] || fail "Chromium is installed at /usr/bin/chromium,
  not at SCRIPTCACHE_CHROMIUM_PATH=$CHROMIUM: unset it or point it there"
  fi
else
  [ -x "$DEBIAN_BIN/chromium-headless-shell" ] \
    || apt_install "Chromium's headless shell ($DEBIAN_BIN/chromium-headless-shell)" \
      chromium-headless-shell
  [ -x "$DEBIAN_BIN/chromium" ] || apt_install "Chromium ($DEBIAN_BIN/chromium)" chromium
fi

# --- redis-server ---------------------------------------------------------------------------
command -v redis-server >/dev/null 2>&1 || apt_install "redis-server" redis-server

# --- PostgreSQL -----------------------------------------------------------------------------
if [ -n "${SCRIPTCACHE_TEST_PG_URL:-}" ]; then
  say "PostgreSQL: using SCRIPTCACHE_TEST_PG_URL as given"
elif command -v pg_isready >/dev/null 2>&1 && pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; then
  :  # up
elif command -v pg_lsclusters >/dev/null 2>&1 \
    && cluster="$(pg_lsclusters -h | awk -v port="$PG_PORT" '$3 == port {print $1, $2; exit}')" \
    && [ -n "$cluster" ]; then
  say "starting PostgreSQL cluster $cluster (port $PG_PORT)"
  # shellcheck disable=SC2086  # "$cluster" is "VERSION NAME": two arguments
  as_root pg_ctlcluster --skip-systemctl-redirect $cluster start \
    || fail "could not start PostgreSQL (needs root or sudo): pg_ctlcluster $cluster start"
  if [ "$DRY_RUN" = 0 ]; then
    for _ in $(seq 1 30); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && break; sleep 1; done
    pg_isready -h "$PG_HOST" -p "$PG_PORT" -q \
      || fail "PostgreSQL cluster $cluster started but does not answer on $PG_HOST:$PG_PORT"
  fi
else
  fail "PostgreSQL is required on $PG_HOST:$PG_PORT and no cluster is installed for that port.
  Install it (apt-get install postgresql) and let the 'postgres' user connect from 127.0.0.1
  without a password (pg_hba.conf: host all all 127.0.0.1/32 trust), or set
  SCRIPTCACHE_TEST_PG_URL to a server where that user may create databases."
fi
