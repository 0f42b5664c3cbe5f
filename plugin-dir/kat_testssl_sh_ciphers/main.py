#!/usr/bin/env python3
"""The testssl.sh cipher boefje: a local executable plugin of kat (see boefje.json).

Reads the input IPService from BOEFJE_META (OpenKAT's boefje meta JSON),
runs testssl.sh on its address and port (with --starttls for services that
upgrade) and writes testssl.sh's flat JSON to standard output; testssl.sh's
own report goes to standard error, the job log. A service that is not TLS
gives `[]`. Exit code: 0 when testssl.sh wrote its JSON (testssl.sh exits
non-zero when it finds problems, which is no failure of the scan), 2 when
the input or a setting cannot be used or testssl.sh wrote nothing.
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

TLS_SERVICES = {"https", "ftps", "smtps", "submissions", "imaps", "pop3s", "pops", "ldaps", "nntps", "ircs", "xmpps", "ssl", "tls"}
STARTTLS_SERVICES = {"ftp", "smtp", "submission", "lmtp", "pop3", "imap", "xmpp", "xmpp-server", "telnet", "ldap", "nntp", "sieve", "irc", "postgres", "postgresql", "mysql"}


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    try:
        service = json.loads(os.environ["BOEFJE_META"])["arguments"]["input"]
        address = str(ipaddress.ip_address(service["ip_port"]["address"]["address"]))
        port = int(service["ip_port"]["port"])
        name = str(service["service"]["name"]).lower()
    except (KeyError, TypeError, ValueError) as e:
        fail(f"BOEFJE_META does not hold an IPService input: {e!r}")
    if not 0 < port < 65536:
        fail(f"not a port: {port}")
    timeout = os.environ.get("TIMEOUT", "30").strip() or "30"
    if not timeout.isdigit() or not 0 < int(timeout) <= 600:
        fail(f"setting TIMEOUT is not a number of seconds from 1 to 600: {timeout!r}")
    if name not in TLS_SERVICES and name not in STARTTLS_SERVICES:
        print(f"INFO: {name} is not a TLS or STARTTLS service: nothing to scan", file=sys.stderr)
        sys.stdout.write("[]\n")
        return
    binary = shutil.which("testssl.sh") or shutil.which("testssl")
    if binary is None:
        fail("testssl.sh is not installed on this host (apt-get install testssl.sh)")
    with tempfile.TemporaryDirectory(prefix="kat-testssl-") as work:
        output = os.path.join(work, "testssl.json")
        args = [binary, "--jsonfile", output, "-E", "--nodns", "none", "--quiet", "--color", "0", "--warnings", "off"]
        if name in STARTTLS_SERVICES:
            args += ["--starttls", {"postgresql": "postgres", "submission": "smtp"}.get(name, name)]
        target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        if ":" in address:
            args.append("-6")
        args.append(target)
        env = {**os.environ, "CONNECT_TIMEOUT": timeout, "OPENSSL_TIMEOUT": timeout, "TMPDIR": work}
        print(f"INFO: running {' '.join(args)}", file=sys.stderr)
        done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr, env=env, cwd=work, check=False)
        text = open(output, encoding="utf-8").read() if os.path.exists(output) else ""
        if not text.strip():
            fail(f"testssl.sh wrote no JSON output (exit code {done.returncode})")
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
