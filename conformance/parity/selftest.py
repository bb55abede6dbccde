"""Tests of the runner itself (`conformance/selftest`, `conformance/run --selftest`).

Each check builds what it needs in a temporary directory: a synthetic golden case picked up from
the directory tree alone, fake `falco` programs that print what a golden recorded (or something
else), and the live harness driven by a fake daemon. The live-rules checks use the recorded
live-reference data of the shared directory. Prints `PASS name` / `FAIL name: reason`, then
`N passed, M failed`.
"""
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import traceback

from . import common, falco_testing, goldens, live, outputs
from . import main as runner

FAKE_FALCO = r'''#!/usr/bin/env python3
# Fake falco for the selftest: prints the file named after --emit to stdout, and the file after
# --emit-stderr to stderr, then exits with the code after --exit.
import sys
args = sys.argv[1:]
def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default
if opt("--emit"):
    sys.stdout.write(open(opt("--emit")).read().replace("@CWD@", __import__("os").getcwd()))
if opt("--emit-stderr"):
    sys.stderr.write(open(opt("--emit-stderr")).read())
sys.exit(int(opt("--exit", "0")))
'''

FAKE_DAEMON = r'''#!/usr/bin/env python3
# Fake live daemon for the selftest: writes the alerts of $FAKE_ALERTS (JSON lines) to the file
# given by -o file_output.filename=..., then waits for SIGINT and exits 0.
import os, signal, sys, time
args = sys.argv[1:]
path = [a.split("=", 1)[1] for a in args if a.startswith("file_output.filename=")][0]
with open(path, "w") as fh:
    fh.write(open(os.environ["FAKE_ALERTS"]).read())
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
'''

FAKE_REPLAY_DAEMON = r'''#!/usr/bin/env python3
# Fake live daemon for the selftest: prints the alerts of $FAKE_ALERTS (a recorded alerts.jsonl)
# to stdout, then waits for SIGINT and exits 0.
import os, signal, sys, time
sys.stdout.write(open(os.environ["FAKE_ALERTS"]).read())
sys.stdout.flush()
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
'''

FAKE_FALCO_TESTING = r'''#!/usr/bin/env python3
# Fake run-falco-testing.py for the selftest: four cases, one of each status.
import re, sys
args = sys.argv[1:]
ids = ["T_a", "T_b/sub_1", "T_c", "T_d"]
if "--list" in args:
    print("\n".join("%s\ttheme\tsrc" % i for i in ids))
    sys.exit(0)
rx = re.compile(args[args.index("--filter") + 1]) if "--filter" in args else None
lines = {"T_a": "PASS T_a", "T_b/sub_1": "FAIL T_b/sub_1: exit code 0, want 1",
         "T_c": "ERROR T_c: cannot start: nope", "T_d": "SKIP T_d: retired: gone"}
for i in ids:
    if rx is None or rx.search(i):
        print(lines[i])
print("1 passed, 2 failed, 1 skipped")
sys.exit(1)
'''

ALERT = {"hostname": "golden", "output": "00:00:01.000000000: Warning synthetic | file={case}/x",
         "output_fields": {"evt.time": 1000000000, "fd.name": "{case}/x"}, "priority": "Warning",
         "rule": "synthetic", "source": "syscall", "tags": [], "time": "1970-01-01T00:00:01.000000000Z"}
SUMMARY = "Events detected: 2\nRule counts by severity:\n   WARNING: 2\nTriggered rules by rule name:\n   synthetic: 2\n"


class Check:
    def __init__(self, out):
        self.out, self.passed, self.failed = out, 0, 0

    def __call__(self, name, fn):
        try:
            problem = fn()
        except Exception as e:  # noqa: BLE001 - a crashing check is a failed check
            problem = "exception: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=3))
        if problem:
            self.failed += 1
            self.out.write("FAIL %s: %s\n" % (name, problem))
        else:
            self.passed += 1
            self.out.write("PASS %s\n" % name)


def _write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    if mode:
        os.chmod(path, mode)


def _alert_line(alert, case_dir, hostname):
    a = json.loads(json.dumps(alert).replace("{case}", case_dir))
    a["hostname"] = hostname
    return json.dumps(a)


def _fixture(root):
    """A shared dir with one synthetic replay golden (not in any cases.json) and fake binaries."""
    shared = os.path.join(root, "shared")
    gdir = os.path.join(shared, "conformance", "goldens")
    os.makedirs(os.path.join(shared, "upstream"))
    case = os.path.join(gdir, "replay", "synthetic-alerts")
    spec = {"description": "synthetic", "compare": "alerts-json", "timeout_s": 20, "env": {"TZ": "UTC"},
            "args": ["-c", "{upstream}/falco.yaml", "--emit", "{case}/answer", "--exit", "0"]}
    # JSON is YAML: the case.yaml is written without a YAML library.
    _write(os.path.join(case, "case.yaml"), json.dumps(spec, indent=1) + "\n")
    _write(os.path.join(case, "stdout"), "\n".join([_alert_line(ALERT, "{case}", "golden")] * 2) + "\n" + SUMMARY)
    _write(os.path.join(case, "stderr"), "")
    _write(os.path.join(case, "exit_code"), "0\n")
    # What the fake prints: the same alerts with our absolute case path and another hostname.
    _write(os.path.join(case, "answer"), "\n".join([_alert_line(ALERT, case, "elsewhere")] * 2) + "\n" + SUMMARY)
    if common.yaml is None:  # without PyYAML the tree walk needs the index
        _write(os.path.join(gdir, "cases.json"), json.dumps(
            {"cases": [dict(spec, suite="replay", case="synthetic-alerts")]}))
    fake = os.path.join(root, "bin", "falco")
    _write(fake, FAKE_FALCO, stat.S_IRWXU)
    return shared, case, fake


def _run_runner(args):
    buf = io.StringIO()
    code = runner.run(args, out=buf)
    return code, buf.getvalue()


def check_synthetic_golden(root):
    shared, case, fake = _fixture(root)
    kf = os.path.join(root, "known-failures.txt")
    _write(kf, "")
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf])
    last = text.strip().splitlines()[-1]
    if code != 0 or last != "1 passed, 0 failed, 0 skipped" or "synthetic-alerts" not in text:
        return "the synthetic golden was not picked up and passed: exit %d, output:\n%s" % (code, text)
    # A mismatch: one alert's output changed.
    with open(os.path.join(case, "answer"), encoding="utf-8") as fh:
        answer = fh.read()
    _write(os.path.join(case, "answer"), answer.replace("synthetic | file", "synthetic | fil", 1))
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf])
    last = text.strip().splitlines()[-1]
    if code == 0 or last != "0 passed, 1 failed, 0 skipped" or "alert multiset differs" not in text:
        return "a changed alert was not detected: exit %d, output:\n%s" % (code, text)
    # Listed as a known failure: xfail, exit 0; then fixed: "unexpectedly passed", exit 1.
    _write(kf, "replay/synthetic-alerts  selftest\n")
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf])
    if code != 0 or "XFAIL" not in text or text.strip().splitlines()[-1] != "0 passed, 0 failed, 1 skipped":
        return "a listed failing case is not xfail: exit %d, output:\n%s" % (code, text)
    _write(os.path.join(case, "answer"), answer)
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf])
    if code == 0 or "unexpectedly passed: remove it from known-failures.txt" not in text:
        return "a listed case that passes is not a failure: exit %d, output:\n%s" % (code, text)
    # --prune-known-failures drops the line of a listed case that passed, and keeps the others.
    _write(kf, "# comment\nreplay/synthetic-alerts  selftest\nreplay/other  stays\n")
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf,
                              "--prune-known-failures"])
    with open(kf, encoding="utf-8") as fh:
        left = fh.read()
    if code != 0 or left != "# comment\nreplay/other  stays\n":
        return "--prune-known-failures: exit %d, file now %r" % (code, left)
    # JSON report and --case filter.
    report = os.path.join(root, "report.json")
    _write(kf, "")
    code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "b", "--case", "nomatch",
                              "--known-failures", kf, "--json-report", report])
    with open(report, encoding="utf-8") as fh:
        doc = json.load(fh)
    if doc["cases"] or text.strip().splitlines()[-1] != "0 passed, 0 failed, 0 skipped":
        return "--case did not filter the synthetic golden out: %s" % text
    return None


def check_new_suite_dir(root):
    shared, case, fake = _fixture(root)
    other = os.path.join(os.path.dirname(os.path.dirname(case)), "replay-extra", "synthetic-2")
    shutil.copytree(case, other)
    with open(os.path.join(other, "answer"), encoding="utf-8") as fh:
        text = fh.read()
    _write(os.path.join(other, "answer"), text.replace(case, other))
    found = [goldens.case_name(c) for c in goldens.discover(os.path.dirname(os.path.dirname(case)))
             if goldens.runner_suite(c["suite"]) == "replay"]
    if common.yaml is None:
        return None  # without PyYAML only cases.json cases are known
    if sorted(found) != ["replay-extra/synthetic-2", "synthetic-alerts"]:
        return "a new golden suite directory is not discovered: %r" % found
    kf = os.path.join(root, "kf.txt")
    _write(kf, "")
    code, out = _run_runner(["--falco", fake, "--shared", shared, "--suite", "replay", "--known-failures", kf])
    if code != 0 or out.strip().splitlines()[-1] != "2 passed, 0 failed, 0 skipped":
        return "the new golden suite directory did not run: %s" % out
    return None


def check_compare_modes(_root):
    def res(stdout=b"", stderr=b"", code=0):
        return {"stdout": stdout, "stderr": stderr, "exit_code": code}
    a1 = b'{"hostname":"a","rule":"r","output":"x"}'
    a2 = b'{"rule":"r","output":"y","hostname":"b"}'
    cases = [
        ("exit-code-only", res(code=1), res(code=1), True),
        ("exit-code-only", res(code=1), res(code=0), False),
        ("stdout-exact", res(b"a\nb\n"), res(b"a\nb\n"), True),
        ("stdout-exact", res(b"a\nb\n"), res(b"a\nb"), False),
        ("stdout-json", res(b'{"a": [1, 2]}'), res(b'{ "a":[1,2] }\n'), True),
        ("stdout-json", res(b'{"a": [1, 2]}'), res(b'{"a":[2,1]}'), False),
        ("alerts-json", res(a1 + b"\n" + a2 + b"\nEvents detected: 2\n"),
         res(a2.replace(b'"b"', b'"z"') + b"\n" + a1 + b"\nEvents detected: 2\n"), True),
        ("alerts-json", res(a1 + b"\n" + a2 + b"\n"), res(a1 + b"\n" + a1 + b"\n"), False),
        ("alerts-json", res(a1 + b"\nEvents detected: 1\n"), res(a1 + b"\nEvents detected: 2\n"), False),
        ("alerts-text", res(b"x\ny\n"), res(b"y\nx\n"), True),
        ("alerts-text", res(b"x\ny\n"), res(b"y\ny\n"), False),
        ("error-line", res(stderr=b"log\nError: boom\n\n", code=1), res(stderr=b"other\nError: boom\n", code=1), True),
        ("error-line", res(stderr=b"Error: boom\n", code=1), res(stderr=b"Error: bam\n", code=1), False),
        ("no-such-mode", res(), res(), False),
    ]
    for mode, exp, got, ok in cases:
        reason = goldens.compare(mode, exp, got)
        if (reason is None) != ok:
            return "%s: expected %s, got %r" % (mode, "a match" if ok else "a mismatch", reason)
    return None


def check_known_failures_file(_root):
    path = os.path.join(runner.HERE, "known-failures.txt")
    common.load_known_failures(path)  # raises on a malformed line
    return None


def _reference_cases(shared):
    gdir = os.path.join(shared, "conformance", "goldens")
    return [c for c in goldens.discover(gdir) if c["suite"] == goldens.LIVE_GOLDEN_SUITE]


def _recorded_alerts(case):
    with open(os.path.join(case["dir"], "alerts.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.startswith("{")]


def _recorder_host_ips(alerts):
    """The recording machine's address: the client side of its outbound connects."""
    ips = set()
    for a in alerts:
        f = a.get("output_fields") or {}
        if f.get("evt.type") == "connect" and isinstance(f.get("fd.name"), str) and "->" in f["fd.name"]:
            ip = f["fd.name"].split("->")[0].rsplit(":", 1)[0].strip("[]")
            if not (ip.startswith("127.") or ip == "::1"):
                ips.add(ip)
    return ips


def check_live_rules_normaliser(shared):
    """Normalising the recorded alerts.jsonl must give back each expected.yaml, action by action."""
    catalog = outputs.RuleCatalog.load(os.path.join(shared, "upstream", "rules"))
    if catalog is None:
        return None
    cases = _reference_cases(shared)
    if not cases:
        return "no live-reference cases found"
    for case in cases:
        alerts = _recorded_alerts(case)
        normalise = outputs.Normaliser(32768, _recorder_host_ips(alerts))
        expected = common.load_yaml(os.path.join(case["dir"], "expected.yaml"))
        by = {}
        for a in alerts:
            by.setdefault(a["output_fields"].get(live.TRIGGER_FIELD), []).append(a)
        for action in expected["actions"]:
            got = {outputs.normalised_output(a, catalog, normalise) for a in by.get(action["id"], [])}
            if got != set(action["outputs"] or []):
                return "%s/%s: %r != %r" % (case["case"], action["id"], sorted(map(str, got))[:1],
                                            sorted(action["outputs"] or [])[:1])
        for a in alerts:
            problems = outputs.check_alert_text(a, catalog)
            if problems:
                return "%s: a recorded alert fails the template check: %s" % (case["case"], problems)
        bad = dict(alerts[0])
        bad["output"] = bad["output"].replace("file=", "fiel=", 1)
        if not outputs.check_alert_text(bad, catalog):
            return "a tampered output text passes the template check"
    return None


def check_scenarios_static(shared):
    catalog = outputs.RuleCatalog.load(os.path.join(shared, "upstream", "rules"))
    if catalog is None:
        return None
    scenarios = live.load_scenarios(os.path.join(runner.HERE, "scenarios"))
    if len(scenarios) < 15:
        return "only %d scenarios" % len(scenarios)
    problems = {sc["id"]: live.check_scenario_static(sc, catalog) for sc in scenarios}
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        return "scenario headers disagree with the upstream rules: %r" % problems
    broken = dict(scenarios[0], priority="Emergency")
    if not live.check_scenario_static(broken, catalog):
        return "a wrong priority passes the static check"
    return None


def check_scenarios_against_reference(shared):
    """Each scenario names the triggers.sh action it follows (`#@ reference:`). In the recorded
    all-matchall live run, that action must have raised the scenario's rule with its priority,
    and every expected value that does not depend on $W must be the recorded one."""
    cases = [c for c in _reference_cases(shared) if c["case"] == "all-matchall"]
    if common.yaml is None or not cases:
        return None
    alerts = _recorded_alerts(cases[0])
    problems = []
    for sc in live.load_scenarios(os.path.join(runner.HERE, "scenarios")):
        ref = sc.get("reference")
        if not ref:
            problems.append("%s: no `#@ reference:` header" % sc["id"])
            continue
        recorded = [a for a in alerts if a["output_fields"].get(live.TRIGGER_FIELD) == ref
                    and a["rule"] == sc["rule"]]
        if not recorded:
            problems.append("%s: the recorded action %s raised no %r" % (sc["id"], ref, sc["rule"]))
            continue
        if all(a["priority"] != sc["priority"] for a in recorded):
            problems.append("%s: recorded priority %s" % (sc["id"], recorded[0]["priority"]))
        for field, want in sc["expect"]:
            if "$W" in want:
                continue
            values = {outputs.text_value(a["output_fields"].get(field, "%MISSING%")) for a in recorded}
            if want not in values:
                problems.append("%s: %s=%r, recorded %r" % (sc["id"], field, want, sorted(values)))
    return "; ".join(problems) or None


def check_live_harness(shared, root):
    """The live harness end to end with a fake daemon: canary, a scenario, end marker, SIGINT."""
    catalog = outputs.RuleCatalog.load(os.path.join(shared, "upstream", "rules"))
    cases = [c for c in _reference_cases(shared) if c["case"] == "stable"]
    if catalog is None or not cases:
        return None
    recorded = _recorded_alerts(cases[0])
    by = {a["output_fields"].get(live.TRIGGER_FIELD): a for a in recorded}
    lines = []
    for trigger, source in (("canary", "canary"), ("end", "cat_shadow"),
                            ("read_sensitive_file_untrusted", "cat_shadow")):
        a = json.loads(json.dumps(by[source]))
        a["output_fields"][live.TRIGGER_FIELD] = trigger
        lines.append(json.dumps(a))
    alerts_path = os.path.join(root, "alerts.jsonl")
    _write(alerts_path, "\n".join(lines) + "\n")
    fake = os.path.join(root, "fake-daemon")
    _write(fake, FAKE_DAEMON, stat.S_IRWXU)
    scenarios = [sc for sc in live.load_scenarios(os.path.join(runner.HERE, "scenarios"))
                 if sc["id"] in ("read_sensitive_file_untrusted", "clear_log_activities")]
    saved = live.daemon_env
    live.daemon_env = lambda: dict(saved(), FAKE_ALERTS=alerts_path)
    try:
        results = live.run_scenarios(fake, os.path.join(shared, "upstream"), "fake", scenarios, catalog, None)
    finally:
        live.daemon_env = saved
    got = {r.case: (r.status, r.reason) for r in results}
    want_pass = ["fake/read_sensitive_file_untrusted", "fake/scenarios-daemon"]
    for name in want_pass:
        if got.get(name, ("missing",))[0] != common.PASS:
            return "%s: %r" % (name, got.get(name))
    status, reason = got.get("fake/clear_log_activities", ("missing", ""))
    if status != common.FAIL or "no alert of rule" not in reason:
        return "a scenario without its alert did not fail: %r" % ((status, reason),)
    return None


def check_reference_harness(shared, root):
    """run_reference end to end with a fake daemon that prints a recorded live run: every action
    matches; with one recorded alert removed, that action fails."""
    catalog = outputs.RuleCatalog.load(os.path.join(shared, "upstream", "rules"))
    if catalog is None:
        return None
    fake = os.path.join(root, "fake-daemon")
    _write(fake, FAKE_REPLAY_DAEMON, stat.S_IRWXU)
    saved = live.daemon_env
    try:
        for case in _reference_cases(shared):
            path = os.path.join(case["dir"], "alerts.jsonl")
            normalise = outputs.Normaliser(32768, [live.NETNS_HOST_IP])
            live.daemon_env = lambda: dict(saved(), FAKE_ALERTS=path)
            results = live.run_reference(fake, os.path.join(shared, "upstream"), "fake", case, catalog, normalise,
                                         None, run_script=lambda: None)
            bad = [(r.case, r.reason) for r in results if r.status != common.PASS]
            if bad or len(results) < 2:
                return "%s: %r" % (case["case"], bad[:2])
            if case["case"] != "stable":
                continue
            with open(path, encoding="utf-8") as fh:
                lines = [x for x in fh if 'FALCO_TRIGGER]":"cat_shadow"' not in x]
            tampered = os.path.join(root, "tampered.jsonl")
            _write(tampered, "".join(lines))
            live.daemon_env = lambda: dict(saved(), FAKE_ALERTS=tampered)
            results = live.run_reference(fake, os.path.join(shared, "upstream"), "fake", case, catalog, normalise,
                                         None, run_script=lambda: None)
            bad = sorted(r.case for r in results if r.status == common.FAIL)
            if bad != ["fake/reference-stable/cat_shadow"]:
                return "a missing alert was not detected as exactly one failing action: %r" % bad
    finally:
        live.daemon_env = saved
    return None


def check_falco_testing_lines(root):
    """Suite a turns the script's lines into results and passes --case on as --filter."""
    shared = os.path.join(root, "shared")
    _write(os.path.join(shared, "conformance", "run-falco-testing.py"), FAKE_FALCO_TESTING, stat.S_IRWXU)
    os.makedirs(os.path.join(shared, "conformance", "falco-testing"))
    os.makedirs(os.path.join(shared, "upstream", "traces", "falco"))
    got = {r.case: (r.status, r.reason) for r in falco_testing.run("/bin/true", shared, None, 5)}
    want = {"T_a": (common.PASS, ""), "T_b/sub_1": (common.FAIL, "exit code 0, want 1"),
            "T_c": (common.FAIL, "error: cannot start: nope"), "T_d": (common.SKIP, "retired: gone")}
    if got != want:
        return "results %r, expected %r" % (got, want)
    got = [r.case for r in falco_testing.run("/bin/true", shared, common.compile_case_regex("T_b/sub"), 5)]
    if got != ["T_b/sub_1"]:
        return "--case selected %r" % got
    return None


def check_ci_without_bpf(root):
    """Under CI=true without BPF every live case fails, and known-failures.txt cannot excuse it."""
    shared, _, fake = _fixture(root)
    kf = os.path.join(root, "kf.txt")
    _write(kf, "live/modern_ebpf/scenarios-daemon  selftest\n")
    saved_bpf, saved_ci = live.bpf_available, os.environ.get("CI")
    live.bpf_available = lambda: (False, "simulated")
    os.environ["CI"] = "true"
    try:
        code, text = _run_runner(["--falco", fake, "--shared", shared, "--suite", "live", "--backends", "modern_ebpf",
                                  "--known-failures", kf])
    finally:
        live.bpf_available = saved_bpf
        if saved_ci is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = saved_ci
    if code == 0 or "XFAIL" in text or "BPF is required under CI=true: simulated" not in text:
        return "missing BPF under CI=true did not fail the run: exit %d, output:\n%s" % (code, text)
    return None


def main(out):
    check = Check(out)
    shared = os.path.abspath(runner.default_shared())
    with tempfile.TemporaryDirectory(prefix="falco-rs-selftest-") as root:
        def sub(name):
            d = os.path.join(root, name)
            os.makedirs(d)
            return d
        check("synthetic golden picked up, mismatch detected, known failures",
              lambda: check_synthetic_golden(sub("a")))
        check("new golden suite directory picked up", lambda: check_new_suite_dir(sub("b")))
        check("compare modes", lambda: check_compare_modes(None))
        check("falco-testing lines and --case", lambda: check_falco_testing_lines(sub("f")))
        check("CI=true without BPF fails the live suite", lambda: check_ci_without_bpf(sub("d")))
        check("known-failures.txt parses", lambda: check_known_failures_file(None))
        if os.path.isdir(shared):
            check("live-rules normaliser reproduces live-reference expected.yaml",
                  lambda: check_live_rules_normaliser(shared))
            check("scenario headers match the upstream rules", lambda: check_scenarios_static(shared))
            check("scenario expectations hold in the recorded live run",
                  lambda: check_scenarios_against_reference(shared))
            check("live harness with a fake daemon", lambda: check_live_harness(shared, sub("c")))
            check("live-reference harness with a fake daemon replaying a recorded run",
                  lambda: check_reference_harness(shared, sub("e")))
        else:
            out.write("note: shared directory %s not found: live-rules checks not run\n" % shared)
    out.write("%d passed, %d failed\n" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.stdout))
