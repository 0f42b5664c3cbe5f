#!/usr/bin/env python3
"""The masscan boefje: a local executable plugin of kat (see boefje.json).

Reads the input IP address from BOEFJE_META (OpenKAT's boefje meta JSON) and
its settings from the environment, runs masscan with JSON output to a file
of its own and writes that JSON to standard output (`[]` when masscan found
nothing: it then writes no file). masscan's messages go to standard error,
the job log. Exit code: masscan's, or 2 when the input or a setting cannot
be used.
"""
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

# Each setting that reaches masscan's command line, with the pattern its value must match
# (the KATalogus checks schema.json too; this keeps a hand-set environment as safe).
OPTIONS = {
    "ADAPTER": ("--adapter", r"[A-Za-z0-9_.:-]{1,64}"),
    "ADAPTER_IP": ("--adapter-ip", r"[0-9A-Fa-f.:]{1,64}"),
    "ADAPTER_MAC": ("--adapter-mac", r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}"),
    "ROUTER_MAC": ("--router-mac", r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}"),
    "WAIT": ("--wait", r"[0-9]{1,3}"),
}


# nmap's 100 most common TCP ports (the quick profile's list). masscan 1.3.2's own --top-ports takes the first N
# of its list by port number, not the most common ones, so it would miss 3306, 5432 or 8080.
DEFAULT_PORTS = "7,9,13,21-23,25-26,37,53,79-81,88,106,110-111,113,119,135,139,143-144,179,199,389,427,443-445,465,513-515,543-544,548,554,587,631,646,873,990,993,995,1025-1029,1110,1433,1720,1723,1755,1900,2000-2001,2049,2121,2717,3000,3128,3306,3389,3986,4899,5000,5009,5051,5060,5101,5190,5357,5432,5631,5666,5800,5900,6000-6001,6646,7070,8000,8008-8009,8080-8081,8443,8888,9100,9999-10000,32768,49152-49157"


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(2)


def setting(name, pattern):
    value = os.environ.get(name, "").strip()
    if value and not re.fullmatch(pattern, value):
        fail(f"setting {name} is not valid: {value!r}")
    return value


def main():
    try:
        meta = json.loads(os.environ["BOEFJE_META"])
        address = str(ipaddress.ip_address(meta["arguments"]["input"]["address"]))
    except (KeyError, TypeError, ValueError) as e:
        fail(f"BOEFJE_META does not hold an IP address input: {e!r}")
    if ipaddress.ip_address(address).is_loopback and not os.environ.get("ADAPTER", "").strip():
        # masscan's raw frames never reach the loopback interface's listeners: it would report nothing open.
        fail(f"masscan cannot scan the loopback address {address} (its raw packets do not reach local listeners); use nmap or port-scan, or set ADAPTER for a setup that routes them")
    ports = setting("PORTS", r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*")
    rate = setting("MAX_RATE", r"[0-9]{1,7}") or "100"
    with tempfile.TemporaryDirectory(prefix="kat-masscan-") as work:
        output = os.path.join(work, "masscan.json")
        args = ["masscan", address, "--rate", rate, "-oJ", output]
        args += ["-p", ports or DEFAULT_PORTS]
        for name, (flag, pattern) in OPTIONS.items():
            value = setting(name, pattern)
            if value:
                args += [flag, value]
        print(f"INFO: running {' '.join(args)}", file=sys.stderr)
        try:
            done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr, check=False, cwd=work)
        except FileNotFoundError:
            fail("masscan is not installed on this host (apt-get install masscan)")
        if done.returncode != 0:
            sys.exit(done.returncode)
        text = open(output, encoding="utf-8").read() if os.path.exists(output) else ""
        sys.stdout.write(text if text.strip() else "[]\n")


if __name__ == "__main__":
    main()
