#!/usr/bin/env bash
# `make run`: worker + beat (the sweeper) + Flower on the embedded defaults, under honcho.
# When no Redis answers at SCRIPTCACHE_BROKER_URL and that URL names this machine, a private
# redis-server is started for the session (data in ./var/redis) and stopped with the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p var
if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
  if [ ! -s var/flower-auth ]; then
    printf 'admin:%s\n' "$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')" > var/flower-auth
    chmod 600 var/flower-auth
  fi
  FLOWER_BASIC_AUTH="$(cat var/flower-auth)"
  export FLOWER_BASIC_AUTH
  echo "Flower login is in var/flower-auth (set FLOWER_BASIC_AUTH=user:password to choose one)"
fi

# Prints "up", or "start PORT" when a private redis-server may serve the broker URL.
broker="$(.venv/bin/python - <<'PY'
import sys
from urllib.parse import urlsplit

import redis

from config.settings import Settings

url = Settings.from_env().broker_url
try:
    redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    print("up")
except redis.exceptions.RedisError as exc:
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "redis" and local and not parts.password:
        print(f"start {parts.port or 6379}")
    else:
        sys.exit(f"the broker (SCRIPTCACHE_BROKER_URL) is not reachable ({exc}); start it")
PY
)"

REDIS_PID=
stop_redis() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    echo "stopping the private redis-server (pid $REDIS_PID)"
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
}

if [ "${broker%% *}" = start ]; then
  port="${broker#start }"
  command -v redis-server >/dev/null 2>&1 || {
    echo "no Redis answers on port $port and redis-server is not installed:" \
         "apt-get install redis-server (or set SCRIPTCACHE_BROKER_URL)" >&2
    exit 1
  }
  mkdir -p var/redis
  echo "no Redis on port $port: starting a private redis-server (data in var/redis," \
       "log in var/redis/redis.log), stopped when this stops"
  # Durable like production (AOF, everysec, no eviction), on loopback only. In its own
  # session, so Ctrl-C stops the worker first and Redis only after it (its acks, its restores).
  detach=(); command -v setsid >/dev/null 2>&1 && detach=(setsid)
  "${detach[@]}" redis-server --port "$port" --bind 127.0.0.1 -::1 --dir "$PWD/var/redis" \
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction \
    --logfile "$PWD/var/redis/redis.log" &
  REDIS_PID=$!
  trap stop_redis EXIT
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    kill -0 "$REDIS_PID" 2>/dev/null || { echo "redis-server exited: see var/redis/redis.log" >&2; exit 1; }
    sleep 0.1
  done
fi

echo "Flower: http://127.0.0.1:${FLOWER_PORT:-5555}/  — in another shell: .venv/bin/scriptcache demo"
# Not exec: this shell stays to stop the private redis-server once honcho has stopped.
.venv/bin/honcho start -f Procfile
