#!/usr/bin/env bash
# Start the local PostgreSQL and Redis servers that the test suite talks to, if they are down,
# and wait until each answers (up to 30 s). Harmless when both already run.
# Used by `make services` and by .ci/run. Starting them needs root (or the postgres/redis user);
# on Debian they come from the packages `postgresql` and `redis-server`.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_S=30

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

# wait_until NAME CHECK_FUNCTION: poll every 0.5 s for up to $WAIT_S seconds.
wait_until() {
    local name=$1 check=$2 i
    for ((i = 0; i < WAIT_S * 2; i++)); do
        if "$check"; then
            echo "services: $name is up"
            return 0
        fi
        sleep 0.5
    done
    echo "services: $name did not answer within ${WAIT_S}s" >&2
    return 1
}

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "services: '$1' not found; install it (Debian: apt-get install -y $2)" >&2
        exit 1
    fi
}

# --- PostgreSQL -----------------------------------------------------------------------------
need pg_isready postgresql-client
if pg_up; then
    echo "services: PostgreSQL already running on $PG_HOST:$PG_PORT"
else
    need pg_ctlcluster postgresql
    # Newest installed cluster version (normally there is exactly one).
    pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$pg_version" ]; then
        echo "services: no cluster under /etc/postgresql; install PostgreSQL (apt-get install -y postgresql)" >&2
        exit 1
    fi
    echo "services: starting PostgreSQL $pg_version"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
    wait_until PostgreSQL pg_up
fi

# --- Redis ----------------------------------------------------------------------------------
need redis-cli redis-tools
if redis_up; then
    echo "services: Redis already running on $REDIS_HOST:$REDIS_PORT"
else
    need redis-server redis-server
    mkdir -p /var/lib/redis /var/log/redis
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_until Redis redis_up
fi
