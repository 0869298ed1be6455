#!/usr/bin/env bash
# `make run`: worker + beat (the sweeper) + Flower on the embedded defaults, under honcho.
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
if ! .venv/bin/python - <<'PY'
import sys, redis
from config.settings import Settings
try:
    redis.Redis.from_url(Settings.from_env().broker_url, socket_connect_timeout=2).ping()
except Exception as exc:
    sys.exit(f"the broker is not reachable ({exc}); start Redis, e.g.: redis-server --daemonize yes")
PY
then exit 1; fi
echo "Flower: http://127.0.0.1:${FLOWER_PORT:-5555}/  — in another shell: .venv/bin/scriptcache demo"
exec .venv/bin/honcho start -f Procfile
