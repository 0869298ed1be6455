#!/usr/bin/env bash
# Flower with basic auth and persistent state.
# - Refuses to start without FLOWER_BASIC_AUTH (user:password[,user:password...]) or with a
#   placeholder or short password (CHANGE-ME, admin, ... fewer than 12 characters).
# - The password never appears on the command line (visible in `ps`): Flower reads
#   FLOWER_BASIC_AUTH from the environment itself (its FLOWER_<OPTION> variables).
set -euo pipefail
if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
  echo "FLOWER_BASIC_AUTH is not set (user:password): refusing to start Flower without a login" >&2
  exit 64
fi
IFS=',' read -r -a logins <<< "${FLOWER_BASIC_AUTH}"
for login in "${logins[@]}"; do
  if [[ "$login" != *:* ]]; then
    echo "FLOWER_BASIC_AUTH must be user:password[,user:password...]: refusing to start Flower" >&2
    exit 64
  fi
  user="${login%%:*}"
  password="${login#*:}"
  lowered="$(printf '%s' "$password" | tr '[:upper:]' '[:lower:]')"
  if [ -z "$user" ] || [ "${#password}" -lt 12 ] \
      || [[ "$lowered" == *change*me* ]] || [[ "$lowered" == *placeholder* ]] \
      || [[ "$lowered" =~ ^(password|passw0rd|admin|secret|flower|letmein|123456)+[0-9!]*$ ]] \
      || [ "$lowered" = "$(printf '%s' "$user" | tr '[:upper:]' '[:lower:]')" ]; then
    echo "FLOWER_BASIC_AUTH: the password of '${user}' is a placeholder or shorter than 12" \
         "characters: refusing to start Flower (set a real one)" >&2
    exit 64
  fi
done
export FLOWER_BASIC_AUTH
CELERY="$(command -v celery || echo "$(dirname "$0")/../.venv/bin/celery")"
mkdir -p "${SCRIPTCACHE_VAR_DIR:-./var}"
# Flower 2.0 can miss a SIGTERM that comes while it starts (its handler raises SystemExit
# before its loop runs, and its inspector threads keep the process alive): the signal is
# passed on, and what is still running FLOWER_STOP_GRACE_S (10) seconds later is killed, so
# that a stop always stops.
"$CELERY" -A tasks.app flower \
  --port="${FLOWER_PORT:-5555}" --address="${FLOWER_ADDRESS:-127.0.0.1}" \
  --persistent=True --db="${SCRIPTCACHE_VAR_DIR:-./var}/flower.db" \
  --purge_offline_workers=600 &
flower=$!
grace_s="${FLOWER_STOP_GRACE_S:-10}"
stop() {
  kill -TERM "$flower" 2>/dev/null || true
  for _ in $(seq $((grace_s * 10))); do
    kill -0 "$flower" 2>/dev/null || exit 0
    sleep 0.1
  done
  echo "Flower did not stop within ${grace_s} s of SIGTERM: killed" >&2
  kill -KILL "$flower" 2>/dev/null || true
  exit 0
}
trap stop TERM INT
wait "$flower"
