"""The cli and replay goldens (shared/conformance/goldens): discovery, running, compare modes.

A case is a directory `<goldens>/<suite>/<case>/` with `case.yaml`, `stdout`, `stderr` and
`exit_code`. Cases are found by walking the tree, so a new directory is a new case with no code
change; `case.yaml` is read with PyYAML, or taken from `cases.json` when PyYAML is missing.
The golden suite `cli` feeds our suite `cli`, `live-reference` belongs to the live suite, and
every other golden suite directory (today only `replay`) feeds our suite `replay`.

Running follows goldens/README.md: args with `{upstream}`/`{case}` filled in, the environment of
the case plus the recorder's PATH, an empty working directory, stdin /dev/null; our paths in the
output are turned back into the placeholders before comparing.
"""
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import tempfile
import time

from . import common

LIVE_GOLDEN_SUITE = "live-reference"
PLUGIN_DIR_RE = re.compile(rb"Loaded plugin '[^']*' from file (\S+)/[^/\s]+\.so")
COMPARE_MODES = ("stdout-exact", "stdout-json", "alerts-json", "alerts-text", "error-line", "exit-code-only")


def runner_suite(golden_suite):
    """Which of our suites a golden suite directory belongs to."""
    if golden_suite == "cli":
        return "cli"
    if golden_suite == LIVE_GOLDEN_SUITE:
        return "live"
    return "replay"


def _cases_json_index(goldens):
    path = os.path.join(goldens, "cases.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return {(c["suite"], c["case"]): c for c in doc.get("cases", [])}


def discover(goldens):
    """Every case directory below `goldens`, as dicts with suite, case, dir and the case.yaml
    keys; a case whose description cannot be read carries `error` instead."""
    if not os.path.isdir(goldens):
        raise common.ParityError("goldens directory %s does not exist" % goldens)
    index = _cases_json_index(goldens)
    found = []
    for suite in sorted(os.listdir(goldens)):
        sdir = os.path.join(goldens, suite)
        if not os.path.isdir(sdir):
            continue
        for case in sorted(os.listdir(sdir)):
            cdir = os.path.join(sdir, case)
            spec_path = os.path.join(cdir, "case.yaml")
            if not os.path.isfile(spec_path):
                continue
            entry = {"suite": suite, "case": case, "dir": cdir}
            try:
                spec = common.load_yaml(spec_path)
            except Exception as e:  # noqa: BLE001 - a broken case.yaml fails that case only
                entry["error"] = "cannot parse case.yaml: %s" % e
                found.append(entry)
                continue
            if spec is None:
                spec = index.get((suite, case))
                if spec is None:
                    entry["error"] = "PyYAML is not installed and cases.json does not index this case"
                    found.append(entry)
                    continue
            if not isinstance(spec, dict):
                entry["error"] = "case.yaml is not a mapping"
            else:
                entry.update({k: v for k, v in spec.items() if k not in ("suite", "case", "dir")})
            found.append(entry)
    return found


def _read_expected(cdir):
    def rb(name):
        with open(os.path.join(cdir, name), "rb") as fh:
            return fh.read()
    return {"stdout": rb("stdout"), "stderr": rb("stderr"), "exit_code": int(rb("exit_code").strip())}


def to_placeholders(data, case_dir, upstream, plugins):
    """Our absolute paths back to `{case}`, `{upstream}`, `{plugins}`, in the recorder's order."""
    pairs = [(case_dir, "{case}"), (upstream, "{upstream}")]
    if plugins:
        pairs.append((plugins, "{plugins}"))
    for real, placeholder in pairs:
        data = data.replace(real.encode(), placeholder.encode())
    return data


def _lines(data):
    return data.decode("utf-8", "replace").splitlines()


def _first_difference(expected, got):
    el, gl = _lines(expected), _lines(got)
    for i, (a, b) in enumerate(zip(el, gl)):
        if a != b:
            return "stdout line %d: expected %r, got %r" % (i + 1, a[:160], b[:160])
    return "stdout has %d lines, expected %d" % (len(gl), len(el))


def _split_alerts(stdout):
    """alerts-json: the `{` lines as a multiset of JSON values without `hostname`, and the rest."""
    alerts, other = collections.Counter(), []
    for line in _lines(stdout):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                other.append(line)
                continue
            if isinstance(value, dict):
                value.pop("hostname", None)
            alerts[json.dumps(value, sort_keys=True)] += 1
        else:
            other.append(line)
    return alerts, other


def _multiset_difference(expected, got, what):
    missing, unexpected = expected - got, got - expected
    detail = ""
    if missing:
        detail += "; first missing: %s" % next(iter(missing))[:200]
    if unexpected:
        detail += "; first unexpected: %s" % next(iter(unexpected))[:200]
    return "%s differs: %d missing, %d unexpected%s" % (
        what, sum(missing.values()), sum(unexpected.values()), detail)


def compare(mode, expected, got):
    """Returns None when `got` matches `expected` under `mode`, else the reason it does not.

    Both are dicts with stdout, stderr (bytes, placeholders applied) and exit_code (int).
    """
    if mode not in COMPARE_MODES:
        return "unknown compare mode %r" % mode
    if expected["exit_code"] != got["exit_code"]:
        return "exit code %d, expected %d" % (got["exit_code"], expected["exit_code"])
    if mode == "exit-code-only":
        return None
    if mode == "stdout-exact":
        return None if expected["stdout"] == got["stdout"] else _first_difference(expected["stdout"], got["stdout"])
    if mode == "stdout-json":
        try:
            value = json.loads(got["stdout"])
        except ValueError as e:
            return "stdout is not one JSON document: %s" % e
        return None if value == json.loads(expected["stdout"]) else "stdout JSON document differs"
    if mode == "alerts-json":
        ea, eo = _split_alerts(expected["stdout"])
        ga, go = _split_alerts(got["stdout"])
        if ea != ga:
            return _multiset_difference(ea, ga, "alert multiset")
        if eo != go:
            return "non-alert stdout lines differ: expected %r, got %r" % (eo[:6], go[:6])
        return None
    if mode == "alerts-text":
        e, g = collections.Counter(_lines(expected["stdout"])), collections.Counter(_lines(got["stdout"]))
        return None if e == g else _multiset_difference(e, g, "stdout line multiset")
    # error-line
    el = [line for line in _lines(expected["stderr"]) if line.strip()]
    gl = [line for line in _lines(got["stderr"]) if line.strip()]
    if not gl or gl[-1] != el[-1]:
        return "last stderr line %r, expected %r" % (gl[-1] if gl else "", el[-1])
    return None


def run_case(case, falco, upstream):
    """Runs one golden case; returns None on a match, else the reason."""
    if "error" in case:
        return case["error"]
    cdir = case["dir"]
    try:
        expected = _read_expected(cdir)
    except (OSError, ValueError) as e:
        return "cannot read the recorded output: %s" % e
    args = case.get("args")
    if not isinstance(args, list):
        return "case.yaml has no args list"
    argv = [falco] + [str(a).replace("{upstream}", upstream).replace("{case}", cdir) for a in args]
    env = {str(k): str(v) for k, v in (case.get("env") or {}).items()}
    env["PATH"] = common.STD_PATH
    timeout = float(case.get("timeout_s", 120))
    with tempfile.TemporaryDirectory(prefix="falco-rs-golden-") as cwd:
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timed out after %gs" % timeout
        except OSError as e:
            return "cannot run %s: %s" % (falco, e)
    match = PLUGIN_DIR_RE.search(proc.stderr)
    plugins = match.group(1).decode("utf-8", "replace") if match else None
    got = {"stdout": to_placeholders(proc.stdout, cdir, upstream, plugins),
           "stderr": to_placeholders(proc.stderr, cdir, upstream, plugins),
           "exit_code": proc.returncode}
    return compare(case.get("compare", ""), expected, got)


def run_suite(suite, cases, falco, upstream, jobs):
    """Runs the given golden cases (all of our `suite`) in parallel; results in case order."""
    def one(case):
        t0 = time.monotonic()
        try:
            reason = run_case(case, falco, upstream)
        except Exception as e:  # noqa: BLE001 - one broken case must not stop the suite
            reason = "runner error: %s: %s" % (type(e).__name__, e)
        name = case_name(case)
        dt = time.monotonic() - t0
        return common.failed(suite, name, reason, dt) if reason else common.passed(suite, name, dt)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        return list(ex.map(one, cases))


def case_name(case):
    """Our case id inside the suite: the golden case name, prefixed by its golden suite
    directory when that is not the one the suite is named after."""
    if case["suite"] in ("cli", "replay"):
        return case["case"]
    return "%s/%s" % (case["suite"], case["case"])
