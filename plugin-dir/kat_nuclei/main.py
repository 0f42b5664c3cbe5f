#!/usr/bin/env python3
"""The nuclei boefje: a local executable plugin of kat (see boefje.json).

Reads the input website from BOEFJE_META (OpenKAT's boefje meta JSON) and
the settings from the environment, runs nuclei on the website's root URL and
writes nuclei's JSON lines to standard output; nuclei's own messages go to
standard error, the job log. Exit code: nuclei's, or 2 when the input or the
binary cannot be used.
"""
import json
import os
import shutil
import subprocess
import sys


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(2)


def website_url(website):
    service = website["ip_service"]["service"]["name"]
    port = website["ip_service"]["ip_port"]["port"]
    hostname = website["hostname"]["name"]
    if service not in ("http", "https"):
        fail(f"not a web service: {service!r}")
    if not hostname or hostname.startswith("-") or "/" in hostname:
        fail(f"not a hostname: {hostname!r}")
    return f"{service}://{hostname}:{int(port)}/"


def nuclei_binary():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nuclei")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("nuclei")
    if not found:
        fail("nuclei is not installed: put the binary in this plugin folder or on the runner's PATH")
    return found


def main():
    try:
        meta = json.loads(os.environ["BOEFJE_META"])
        url = website_url(meta["arguments"]["input"])
    except (KeyError, TypeError, ValueError) as e:
        fail(f"BOEFJE_META does not hold a Website input: {e!r}")
    args = [nuclei_binary(), "-u", url, "-jsonl", "-silent", "-disable-update-check", "-no-color", "-rate-limit", os.environ.get("RATE_LIMIT", "50")]
    for setting, flag in (("TEMPLATES", "-t"), ("TAGS", "-tags"), ("SEVERITY", "-severity")):
        value = os.environ.get(setting, "").strip()
        if value:
            args += [flag, value]
    print(f"INFO: running {' '.join(args)}", file=sys.stderr)
    done = subprocess.run(args, stdout=sys.stdout, stderr=sys.stderr, check=False)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
