#!/usr/bin/env bash
# Start the real services the test suite talks to, when they are not running.
# Idempotent: a running service is left alone, an installed package is not
# reinstalled. PyNaCl (from PyPI) is the reference implementation the
# settings-encryption interop tests compare against; moto is the S3 server
# the Bytes storage tests use (127.0.0.1:5000); schemathesis generates API
# requests from each service's OpenAPI document (scripts/schemathesis.sh).
# The Bolt graph server is kglite-bolt-server (crates.io, installed once into
# $KAT_TOOLS, default ~/.cache/kat-tools) on 127.0.0.1:7688, behind
# scripts/bolt44_adapter.py on 127.0.0.1:7687 so that neo4rs (Bolt 4.4) can
# talk to it.
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
if ! python3 -c 'import moto.server' 2>/dev/null; then
    echo "services.sh: installing moto[server] (a local S3 server) from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "moto[server]" || echo "services.sh: could not install moto" >&2
fi
if ! command -v schemathesis >/dev/null; then
    echo "services.sh: installing schemathesis (property-based API tests) from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "schemathesis>=4,<5" || echo "services.sh: could not install schemathesis" >&2
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then
    echo "services.sh: starting moto (S3) on 127.0.0.1:5000"
    nohup python3 -m moto.server -H 127.0.0.1 -p 5000 >"${TMPDIR:-/tmp}/kat-moto.log" 2>&1 &
    for _ in $(seq 1 50); do
        (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null && break
        sleep 0.2
    done
fi
# The real tools the plugin folders of plugin-dir/ wrap, from Debian.
if ! command -v nmap >/dev/null || ! command -v masscan >/dev/null || ! command -v testssl >/dev/null; then
    echo "services.sh: installing nmap, masscan and testssl.sh from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nmap masscan testssl.sh >/dev/null || echo "services.sh: could not install nmap, masscan or testssl.sh (apt-get update first?)" >&2
fi
KAT_TOOLS="${KAT_TOOLS:-$HOME/.cache/kat-tools}"
BOLT_SERVER="$KAT_TOOLS/bin/kglite-bolt-server"
if [ ! -x "$BOLT_SERVER" ]; then
    echo "services.sh: installing kglite-bolt-server 0.21.5 (the test Bolt graph server) with cargo; takes a few minutes once"
    cargo install --quiet --locked --version =0.21.5 --root "$KAT_TOOLS" kglite-bolt-server || echo "services.sh: could not install kglite-bolt-server" >&2
fi
if [ -x "$BOLT_SERVER" ] && ! (exec 3<>/dev/tcp/127.0.0.1/7688) 2>/dev/null; then
    echo "services.sh: starting kglite-bolt-server (Bolt 5) on 127.0.0.1:7688, on an empty in-memory graph"
    graph_dir="$(mktemp -d "${TMPDIR:-/tmp}/kat-bolt-graph.XXXXXX")"
    nohup "$BOLT_SERVER" --graph "$graph_dir/test.kgl" --storage memory --port 7688 >"${TMPDIR:-/tmp}/kat-bolt-server.log" 2>&1 &
    for _ in $(seq 1 50); do
        (exec 3<>/dev/tcp/127.0.0.1/7688) 2>/dev/null && break
        sleep 0.2
    done
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/7687) 2>/dev/null; then
    echo "services.sh: starting the Bolt 4.4 adapter on 127.0.0.1:7687 (to kglite-bolt-server on 7688)"
    nohup python3 "$(dirname "$0")/bolt44_adapter.py" 7687 7688 >"${TMPDIR:-/tmp}/kat-bolt-adapter.log" 2>&1 &
    for _ in $(seq 1 50); do
        (exec 3<>/dev/tcp/127.0.0.1/7687) 2>/dev/null && break
        sleep 0.2
    done
fi
exit 0
