"""Suite `falco-testing`: Falco's own regression cases (shared/conformance/falco-testing).

The cases are run by shared/conformance/run-falco-testing.py, which is data of the shared
directory and is invoked from there, never copied. This module only selects the cases, runs that
script and turns its `PASS id` / `FAIL id: reason` / `ERROR id: reason` / `SKIP id: reason` lines
into results.
"""
import os
import re
import subprocess
import sys
import time

from . import common

SUITE = "falco-testing"
LINE_RE = re.compile(r"^(PASS|FAIL|ERROR|SKIP) (\S+)(?:: (.*))?$")
SUMMARY_RE = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped$")


def paths(shared):
    return {
        "script": os.path.join(shared, "conformance", "run-falco-testing.py"),
        "cases": os.path.join(shared, "conformance", "falco-testing"),
        "traces": os.path.join(shared, "upstream", "traces", "falco"),
    }


def parse_output(text):
    """Returns ([(status, id, reason)], summary line or None) from the script's stdout."""
    rows, summary = [], None
    for line in text.splitlines():
        m = LINE_RE.match(line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3) or ""))
        elif SUMMARY_RE.match(line):
            summary = line
    return rows, summary


def run(falco, shared, case_re, timeout_s):
    p = paths(shared)
    for what in ("script", "cases", "traces"):
        if not os.path.exists(p[what]):
            return [common.failed(SUITE, "(suite)", "%s not found: %s" % (what, p[what]))]
    base = [sys.executable, p["script"], "--falco", falco, "--cases", p["cases"], "--traces", p["traces"]]
    listing = subprocess.run(base + ["--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if listing.returncode != 0:
        return [common.failed(SUITE, "(suite)", "run-falco-testing.py --list failed: %s"
                              % listing.stderr.strip()[-300:])]
    ids = [line.split("\t", 1)[0] for line in listing.stdout.splitlines() if line.strip()]
    selected = [i for i in ids if common.case_selected(case_re, SUITE, i)]
    if not selected:
        return []
    argv = base + ["--timeout", str(timeout_s), "--jobs", "1"]
    if len(selected) != len(ids):
        argv += ["--filter", "^(%s)$" % "|".join(re.escape(i) for i in selected)]
    t0 = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - t0
    rows, summary = parse_output(proc.stdout)
    results = []
    seen = set()
    for status, case_id, reason in rows:
        seen.add(case_id)
        if status == "PASS":
            results.append(common.passed(SUITE, case_id))
        elif status == "SKIP":
            results.append(common.skipped(SUITE, case_id, reason))
        else:
            results.append(common.failed(SUITE, case_id, ("error: " if status == "ERROR" else "") + reason))
    for case_id in selected:
        if case_id not in seen:
            results.append(common.failed(SUITE, case_id, "no result line from run-falco-testing.py"))
    if summary is None:
        results.append(common.failed(SUITE, "(suite)", "run-falco-testing.py printed no summary (exit %d): %s"
                                     % (proc.returncode, proc.stderr.strip()[-300:]), elapsed))
    return results
