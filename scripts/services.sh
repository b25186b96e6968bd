#!/usr/bin/env bash
# Starts the local services the tests use when they are not already answering:
# PostgreSQL on 127.0.0.1:5432 (trust auth, database "test") and NATS with JetStream on 127.0.0.1:4222.
# Installs them from Debian's packages when missing (needs root, as on CI).
set -euo pipefail

log() { echo "services: $*" >&2; }

apt_updated=0
need_apt() {
    if [ "$apt_updated" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 60); do
        if port_open "$1"; then return 0; fi
        sleep 0.5
    done
    log "nothing answers on 127.0.0.1:$1"
    return 1
}

# PostgreSQL
if ! port_open 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        log "installing postgresql"
        need_apt postgresql
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    conf=/etc/postgresql/$version/main
    if ! grep -q "keepclear-trust" "$conf/pg_hba.conf"; then
        sed -i '1i host all all 127.0.0.1/32 trust # keepclear-trust\nlocal all all trust # keepclear-trust' "$conf/pg_hba.conf"
    fi
    log "starting postgresql $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432
fi
if command -v psql >/dev/null 2>&1; then
    if ! psql -h 127.0.0.1 -U postgres -d test -c "select 1" >/dev/null 2>&1; then
        psql -h 127.0.0.1 -U postgres -d postgres -c "create database test" >/dev/null 2>&1 || true
    fi
fi

# PostGIS in PostgreSQL (OpenTAKServer's database needs it; the TAK server integration test)
if command -v psql >/dev/null 2>&1 \
    && ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_available_extensions where name = 'postgis'" \
        2>/dev/null | grep -q 1; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ]; then
        log "installing postgis for postgresql $version"
        need_apt "postgresql-$version-postgis-3" || log "postgis could not be installed: the TAK server test will skip"
    fi
fi

# RabbitMQ (guest/guest on 127.0.0.1:5672; OpenTAKServer routes CoT through it)
if ! port_open 5672; then
    if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
        log "installing rabbitmq-server"
        need_apt rabbitmq-server || log "rabbitmq-server could not be installed: the TAK server test will skip"
    fi
    if command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ]; then
        log "starting rabbitmq-server"
        (rabbitmq-server -detached >/dev/null 2>&1 || service rabbitmq-server start >/dev/null 2>&1) || true
        wait_port 5672 || log "rabbitmq does not answer: the TAK server test will skip"
    fi
fi

# NATS with JetStream
if ! port_open 4222; then
    if [ ! -x /usr/sbin/nats-server ] && ! command -v nats-server >/dev/null 2>&1; then
        log "installing nats-server"
        need_apt nats-server
    fi
    nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
    mkdir -p /var/lib/nats-server /var/log
    log "starting nats-server"
    start-stop-daemon --start --oknodo --background --exec "$nats_bin" -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_port 4222
fi
log "postgresql and nats answer on 127.0.0.1"
