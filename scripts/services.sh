#!/usr/bin/env bash
# Start the real services the test suite talks to, when they are not running.
# Idempotent: a running service is left alone, an installed package is not
# reinstalled. PyNaCl (from PyPI) is the reference implementation the
# settings-encryption interop tests compare against.
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
if ! python3 -c 'import nacl' 2>/dev/null; then
    echo "services.sh: installing PyNaCl from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore pynacl || echo "services.sh: could not install pynacl" >&2
fi
exit 0
