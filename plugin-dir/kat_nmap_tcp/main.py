#!/usr/bin/env python3
"""The nmap TCP boefje: a local executable plugin of kat (see boefje.json).

Reads the input IP address from BOEFJE_META (OpenKAT's boefje meta JSON) and
its settings from the environment, runs nmap and writes nmap's XML to
standard output; nmap's own messages go to standard error, the job log.
Exit code: nmap's, or 2 when the input or a setting cannot be used.
"""
import json
import os
import subprocess
import sys


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    try:
        meta = json.loads(os.environ["BOEFJE_META"])
        address = meta["arguments"]["input"]["address"]
    except (KeyError, TypeError, ValueError) as e:
        fail(f"BOEFJE_META does not hold an IP address input: {e!r}")
    if not isinstance(address, str) or not address or address.startswith("-"):
        fail(f"not an IP address: {address!r}")
    args = ["nmap", "-T4", "-Pn", "-r", "-sV", "-sS" if os.geteuid() == 0 else "-sT", "-oX", "-"]
    if ":" in address:
        args.append("-6")
    ports = os.environ.get("PORTS", "").strip()
    if ports:
        args += ["-p", ports]
    else:
        args += ["--top-ports", os.environ.get("TOP_PORTS", "250")]
    if os.environ.get("MIN_RATE"):
        args += ["--min-rate", os.environ["MIN_RATE"]]
    args.append(address)
    print(f"INFO: running {' '.join(args)}", file=sys.stderr)
    try:
        done = subprocess.run(args, stdout=sys.stdout, stderr=sys.stderr, check=False)
    except FileNotFoundError:
        fail("nmap is not installed on this host (apt-get install nmap)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
