#!/usr/bin/env bash
# Flower with basic auth and persistent state. Refuses to start without FLOWER_BASIC_AUTH.
set -euo pipefail
if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
  echo "FLOWER_BASIC_AUTH is not set (user:password): refusing to start Flower without a login" >&2
  exit 64
fi
CELERY="$(command -v celery || echo "$(dirname "$0")/../.venv/bin/celery")"
mkdir -p "${SCRIPTCACHE_VAR_DIR:-./var}"
exec "$CELERY" -A tasks.app flower \
  --port="${FLOWER_PORT:-5555}" --address="${FLOWER_ADDRESS:-127.0.0.1}" \
  --basic-auth="${FLOWER_BASIC_AUTH}" \
  --persistent=True --db="${SCRIPTCACHE_VAR_DIR:-./var}/flower.db" \
  --purge_offline_workers=600
