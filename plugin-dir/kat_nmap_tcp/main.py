#!/usr/bin/env python3
"""The nmap boefjes: a local executable plugin of kat (see boefje.json).

Runs for `nmap` (TCP) and, from the `kat_nmap_udp` folder, for `nmap-udp`
(UDP, as OpenKAT's one program serves both): reads the boefje id and the
input IP address from BOEFJE_META (OpenKAT's boefje meta JSON) and the
settings from the environment, runs nmap and writes nmap's XML to standard
output; nmap's own messages go to standard error, the job log. Exit code:
nmap's, or 2 when the input or a setting cannot be used.
"""
import json
import os
import re
import subprocess
import sys


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    try:
        meta = json.loads(os.environ["BOEFJE_META"])
        address = meta["arguments"]["input"]["address"]
        udp = meta.get("boefje", {}).get("id") == "nmap-udp"
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        fail(f"BOEFJE_META does not hold an IP address input: {e!r}")
    if not isinstance(address, str) or not address or address.startswith("-"):
        fail(f"not an IP address: {address!r}")
    if udp and os.geteuid() != 0:
        fail("nmap's UDP scan needs root (raw sockets)")
    scan = "-sU" if udp else ("-sS" if os.geteuid() == 0 else "-sT")
    args = ["nmap", "-T4", "-Pn", "-r", "-sV", scan, "-oX", "-"]
    if ":" in address:
        args.append("-6")
    ports = os.environ.get("PORTS", "").strip()
    top_ports = os.environ.get("TOP_PORTS_UDP" if udp else "TOP_PORTS", "").strip() or "250"
    if ports and not re.fullmatch(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*", ports):
        fail(f"setting PORTS is not a list of ports and ranges: {ports!r}")
    if not top_ports.isdigit():
        fail(f"setting {'TOP_PORTS_UDP' if udp else 'TOP_PORTS'} is not a number: {top_ports!r}")
    if ports:
        args += ["-p", ports]
    else:
        args += ["--top-ports", top_ports]
    min_rate = os.environ.get("MIN_RATE", "").strip()
    if min_rate:
        if not min_rate.isdigit():
            fail(f"setting MIN_RATE is not a number: {min_rate!r}")
        args += ["--min-rate", min_rate]
    args.append(address)
    print(f"INFO: running {' '.join(args)}", file=sys.stderr)
    try:
        done = subprocess.run(args, stdout=sys.stdout, stderr=sys.stderr, check=False)
    except FileNotFoundError:
        fail("nmap is not installed on this host (apt-get install nmap)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
