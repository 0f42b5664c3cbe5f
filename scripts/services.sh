#!/usr/bin/env bash
# Start the real services the test suite talks to, when they are not running.
# Idempotent: a running service is left alone. Today's tests need none of
# them (the embedded defaults only); PostgreSQL and RabbitMQ are started here
# already for the service tests that follow.
set -uo pipefail
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "services.sh: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || echo "services.sh: could not start PostgreSQL" >&2
fi
if command -v rabbitmq-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    echo "services.sh: starting RabbitMQ"
    rabbitmq-server -detached || echo "services.sh: could not start RabbitMQ" >&2
    for _ in $(seq 1 30); do
        rabbitmqctl await_startup >/dev/null 2>&1 && break
        sleep 1
    done
fi
exit 0
