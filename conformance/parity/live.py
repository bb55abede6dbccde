"""Suite `live`: the daemon running live under each BPF backend.

Two kinds of cases, both per backend (`-o engine.kind=<backend>`):

* scenarios (conformance/scenarios/*.sh): one script per upstream rule that can fire on a bare
  Linux host. Its `#@` header names the rule, priority and output template (checked against the
  upstream rule files: case `static/<scenario>`) and field values the alert must carry. The
  daemon runs with all three rule files, `rule_matching=all` and JSON output to a file; each
  script runs with `FALCO_TRIGGER=<scenario>` in its environment, and the alert is found through
  `-o append_output[1].extra_fields[0]=proc.env[FALCO_TRIGGER]`.
* the live-reference goldens (goldens/live-reference, compare mode live-rules), run with the
  recorder's protocol (goldens/README.md) and compared per action.

Needs root and a kernel with BPF; when CI=true and either is missing, every case fails.
"""
import ctypes
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import common, goldens, outputs

SUITE = "live"
TRIGGER_FIELD = "proc.env[FALCO_TRIGGER]"
EXTRA_FIELD_ARG = "append_output[1].extra_fields[0]=%s" % TRIGGER_FIELD
REFERENCE_RUN_DIR = "/tmp/falco-live-run"  # the recorder ran triggers.sh here (proc.cwd is in outputs)
SCENARIO_ROOT = "/tmp/falco-rs-scenarios"
# triggers.sh's ssh action connects to 198.51.100.7:443. It runs in a network namespace of its own
# whose only device is lo, with a default route over lo from this "host" address (the recording
# machine's, too): the SYN is dropped inside the namespace and never leaves the machine, and
# connect() still returns EINPROGRESS as on the recording host.
NETNS_HOST_IP = "192.0.2.2"
NETNS_SETUP = ("ip link set lo up && ip addr add {ip}/32 dev lo && ip route add default dev lo src {ip}"
               .format(ip=NETNS_HOST_IP))
HEADER_RE = re.compile(r"^#@\s*([a-z_]+)\s*:\s*(.*?)\s*$")
LIVE_TIMEOUT_S = 120.0  # start-up: from exec to the canary alert
END_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def bpf_available():
    """(True, "") when we are root and the kernel lets us create a BPF map, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return False, "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as e:
        return False, "cannot load libc: %s" % e
    # union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries (+ zeros).
    attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY
    nr_bpf = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
    if nr_bpf is None:
        return False, "unknown bpf(2) syscall number on %s" % os.uname().machine
    fd = libc.syscall(nr_bpf, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return False, "bpf(BPF_MAP_CREATE) failed: %s" % os.strerror(ctypes.get_errno())
    os.close(fd)
    return True, ""


# ---------------------------------------------------------------- scenarios

def load_scenarios(directory):
    """Scenario scripts and their `#@ key: value` headers, sorted by id (the file stem)."""
    found = []
    if not os.path.isdir(directory):
        return found
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".sh"):
            continue
        path = os.path.join(directory, name)
        sc = {"id": name[:-3], "path": path, "expect": [], "errors": []}
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = HEADER_RE.match(line)
                if not m:
                    continue
                key, value = m.group(1), m.group(2)
                if key == "expect":
                    field, sep, want = value.partition("=")
                    if not sep:
                        sc["errors"].append("line %d: expect needs field=value" % n)
                    sc["expect"].append((field.strip(), want))
                elif key in ("rule", "priority", "output", "timeout", "requires", "reference"):
                    sc[key] = value
                else:
                    sc["errors"].append("line %d: unknown header key %r" % (n, key))
        for key in ("rule", "priority", "output"):
            if key not in sc:
                sc["errors"].append("missing `#@ %s:` header" % key)
        found.append(sc)
    return found


def check_scenario_static(sc, catalog):
    """The scenario's header against the upstream rule: returns a list of problems."""
    problems = list(sc["errors"])
    if problems:
        return problems
    rule = catalog.get(sc["rule"])
    if rule is None:
        return ["rule %r is not in the upstream rule files" % sc["rule"]]
    if sc["priority"] != rule["priority"]:
        problems.append("priority %r, the rule says %r" % (sc["priority"], rule["priority"]))
    if " ".join(sc["output"].split()) != " ".join(rule["output"].split()):
        problems.append("output template differs from the rule's: %r" % rule["output"])
    fields = {p[1] for p in outputs.tokens(rule["output"]) if isinstance(p, tuple)}
    for field, _ in sc["expect"]:
        if field not in fields and field not in (TRIGGER_FIELD,):
            problems.append("expect on %s, which the rule's output does not carry" % field)
    return problems


def check_scenario_alerts(sc, alerts, catalog, workdir):
    """None when one of the scenario's alerts is its rule's, right in every respect; else why."""
    mine = [a for a in alerts if (a.get("output_fields") or {}).get(TRIGGER_FIELD) == sc["id"]]
    ours = [a for a in mine if a.get("rule") == sc["rule"]]
    if not ours:
        return "no alert of rule %r (alerts of this scenario: %s)" % (
            sc["rule"], sorted({a.get("rule") for a in mine}) or "none")
    reasons = []
    for alert in ours:
        problems = []
        if alert.get("priority") != sc["priority"]:
            problems.append("priority %r, expected %r" % (alert.get("priority"), sc["priority"]))
        if catalog is not None:
            problems += outputs.check_alert_text(alert, catalog)
        fields = alert.get("output_fields") or {}
        for field, want in sc["expect"]:
            want = want.replace("$W", workdir)
            if field not in fields:
                problems.append("output_fields lacks %s" % field)
            elif outputs.text_value(fields[field]) != want:
                problems.append("%s=%r, expected %r" % (field, outputs.text_value(fields[field]), want))
        if not problems:
            return None
        reasons.append("; ".join(problems))
    return reasons[0] + ("" if len(reasons) == 1 else " (and %d more alerts of the rule)" % (len(reasons) - 1))


# ---------------------------------------------------------------- the daemon

class Daemon:
    """One live run of the binary: started, awaited until live (canary), stopped with SIGINT."""

    def __init__(self, falco, args, env, workdir, alerts_path=None):
        self.argv = [falco] + args
        self.env = env
        self.workdir = workdir
        self.stdout_path = os.path.join(workdir, "stdout")
        self.stderr_path = os.path.join(workdir, "stderr")
        self.alerts_path = alerts_path or self.stdout_path
        self.proc = None
        self.start_error = None
        self.exit_code = None

    def start(self):
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            try:
                self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=err, start_new_session=True)
            except OSError as e:
                self.start_error = "cannot start %s: %s" % (self.argv[0], e)

    def alerts(self):
        found = []
        try:
            with open(self.alerts_path, "rb") as fh:
                data = fh.read()
        except OSError:
            return found
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    found.append(value)
        return found

    def _seen(self, trigger):
        return any((a.get("output_fields") or {}).get(TRIGGER_FIELD) == trigger for a in self.alerts())

    def stderr_tail(self):
        try:
            with open(self.stderr_path, "rb") as fh:
                lines = [x for x in fh.read().decode("utf-8", "replace").splitlines() if x.strip()]
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    def trigger_until_seen(self, trigger, timeout):
        """Runs `cat /etc/shadow` tagged `trigger` every 0.5 s until its alert appears.
        Returns None when seen, else the reason."""
        if self.start_error:
            return self.start_error
        deadline = time.monotonic() + timeout
        env = {"PATH": common.STD_PATH, "FALCO_TRIGGER": trigger}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                return "the daemon exited with %d before the %s alert (stderr: %s)" % (
                    self.exit_code, trigger, self.stderr_tail())
            subprocess.run(["cat", "/etc/shadow"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            if self._seen(trigger):
                return None
        return "no %s alert within %gs" % (trigger, timeout)

    def stop(self):
        """SIGINT, then SIGKILL after STOP_TIMEOUT_S; returns the exit code (again on a second call)."""
        if self.proc is None:
            return self.start_error
        if self.exit_code is not None and self.proc.poll() is not None:
            return self.exit_code
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.exit_code = "killed (no exit %gs after SIGINT)" % STOP_TIMEOUT_S
                return self.exit_code
        self.exit_code = self.proc.returncode
        return self.exit_code


def with_engine(args, backend):
    """The argument list with every `-o engine.kind=...` set to `backend` (appended if absent)."""
    out, replaced = [], False
    for i, a in enumerate(args):
        if a.startswith("engine.kind=") and i > 0 and args[i - 1] == "-o":
            out.append("engine.kind=%s" % backend)
            replaced = True
        else:
            out.append(a)
    return out if replaced else out + ["-o", "engine.kind=%s" % backend]


def daemon_env():
    return {"PATH": common.STD_PATH, "TZ": "UTC", "FALCO_HOSTNAME": "golden"}


def _python():
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else (shutil.which("python3") or "python3")


def run_scenarios(falco, upstream, backend, scenarios, catalog, keep_dir):
    """One daemon run with every scenario; returns results named `<backend>/<scenario>`."""
    workdir = tempfile.mkdtemp(prefix="falco-rs-live-", dir=keep_dir)
    try:
        return _run_scenarios_in(workdir, falco, upstream, backend, scenarios, catalog)
    finally:
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_scenarios_in(workdir, falco, upstream, backend, scenarios, catalog):
    t0 = time.monotonic()
    rules = os.path.join(upstream, "rules")
    alerts_file = os.path.join(workdir, "alerts.json")
    args = ["-c", os.path.join(upstream, "falco-0.44.1", "falco.yaml"), "-o", "load_plugins[]=container",
            "-o", "engine.kind=%s" % backend]
    for f in outputs.RULE_FILES:
        args += ["-r", os.path.join(rules, f)]
    args += ["-o", "json_output=true", "-o", "rule_matching=all", "-o", "webserver.enabled=false",
             "-o", EXTRA_FIELD_ARG, "-o", "stdout_output.enabled=false",
             "-o", "file_output.enabled=true", "-o", "file_output.keep_alive=true",
             "-o", "file_output.filename=%s" % alerts_file]
    daemon = Daemon(falco, args, daemon_env(), workdir, alerts_file)
    daemon.start()
    try:
        names = ["%s/%s" % (backend, sc["id"]) for sc in scenarios]
        not_live = daemon.trigger_until_seen("canary", LIVE_TIMEOUT_S)
        if not_live:
            daemon.stop()
            return [common.failed(SUITE, n, "daemon not live: %s" % not_live)
                    for n in names + ["%s/scenarios-daemon" % backend]]
        ran = {}
        for sc in scenarios:
            missing = [c for c in sc.get("requires", "").split() if shutil.which(c, path=common.STD_PATH) is None]
            if missing:
                ran[sc["id"]] = (None, "missing", "needs %s" % ", ".join(missing))
                continue
            w = os.path.join(SCENARIO_ROOT, sc["id"])
            shutil.rmtree(w, ignore_errors=True)
            os.makedirs(os.path.join(w, "home"))
            env = {"PATH": common.STD_PATH, "HOME": os.path.join(w, "home"), "LANG": "C", "TZ": "UTC",
                   "SHELL": "/bin/bash", "FALCO_TRIGGER": sc["id"], "W": w, "PY": _python()}
            timeout = float(sc.get("timeout", 30))
            try:
                # A session of its own: no controlling terminal (proc.tty=0), as on the recording host.
                p = subprocess.run(["bash", sc["path"]], cwd=w, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                   start_new_session=True)
                ran[sc["id"]] = (w, p.returncode, p.stdout.decode("utf-8", "replace")[-200:])
            except subprocess.TimeoutExpired:
                ran[sc["id"]] = (w, "timeout", "")
        end = daemon.trigger_until_seen("end", END_TIMEOUT_S)
        code = daemon.stop()
        alerts = daemon.alerts()
        results = []
        for sc, name in zip(scenarios, names):
            w, rc, tail = ran[sc["id"]]
            if rc == "missing":
                results.append(common.skipped(SUITE, name, tail))
                continue
            reason = check_scenario_alerts(sc, alerts, catalog, w)
            if reason and rc not in (0,) and rc != "timeout":
                reason += " (scenario exit %s: %s)" % (rc, tail.strip().replace("\n", " | "))
            if reason and rc == "timeout":
                reason += " (scenario timed out)"
            if reason and end:
                reason += " (and the end marker: %s)" % end
            results.append(common.failed(SUITE, name, reason) if reason else common.passed(SUITE, name))
            shutil.rmtree(w, ignore_errors=True)
        try:
            os.rmdir(SCENARIO_ROOT)
        except OSError:
            pass
        results.append(_daemon_result("%s/scenarios-daemon" % backend, end, code, 0, time.monotonic() - t0))
        return results
    finally:
        daemon.stop()  # no-op when it already stopped


def _daemon_result(name, end, code, want_code, seconds):
    if end:
        return common.failed(SUITE, name, "end marker: %s" % end, seconds)
    if code != want_code:
        return common.failed(SUITE, name, "exit code after SIGINT %s, expected %s" % (code, want_code), seconds)
    return common.passed(SUITE, name, seconds)


def run_triggers():
    """Runs the copied triggers.sh as the recorder did, in its own network namespace; returns
    None, or what went wrong."""
    env = {"PATH": common.STD_PATH, "HOME": os.path.join(REFERENCE_RUN_DIR, "home"), "LANG": "C",
           "TZ": "UTC", "SHELL": "/bin/bash"}
    try:
        p = subprocess.run(["unshare", "-n", "bash", "-c", NETNS_SETUP + " && exec bash triggers.sh"],
                           cwd=REFERENCE_RUN_DIR, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180,
                           start_new_session=True)
    except subprocess.TimeoutExpired:
        return "triggers.sh timed out"
    return "triggers.sh exited with %d" % p.returncode if p.returncode != 0 else None


def run_reference(falco, upstream, backend, case, catalog, normalise, keep_dir, run_script=run_triggers):
    """One live-reference golden (goldens/README.md protocol); results per action."""
    t0 = time.monotonic()
    prefix = "%s/reference-%s" % (backend, case["case"])
    if "error" in case:
        return [common.failed(SUITE, prefix, case["error"])]
    expected = common.load_yaml(os.path.join(case["dir"], "expected.yaml"))
    if expected is None:
        return [common.skipped(SUITE, prefix, "PyYAML is not installed (expected.yaml needs it)")]
    if catalog is None:
        return [common.skipped(SUITE, prefix, "PyYAML is not installed (the rule catalog needs it)")]
    actions = expected.get("actions") or []
    names = ["%s/%s" % (prefix, a["id"]) for a in actions]
    args = with_engine([str(a).replace("{upstream}", upstream).replace("{case}", case["dir"])
                        for a in case.get("args", [])], backend)
    workdir = tempfile.mkdtemp(prefix="falco-rs-live-ref-", dir=keep_dir)
    try:
        return _run_reference_in(workdir, falco, args, case, actions, names, prefix, catalog, normalise,
                                 run_script, t0)
    finally:
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_reference_in(workdir, falco, args, case, actions, names, prefix, catalog, normalise, run_script, t0):
    script = os.path.normpath(os.path.join(case["dir"], case.get("script", "../triggers.sh")))
    env = daemon_env()
    env.update({str(k): str(v) for k, v in (case.get("env") or {}).items()})
    env["PATH"] = common.STD_PATH
    daemon = Daemon(falco, args, env, workdir)
    daemon.start()
    try:
        not_live = daemon.trigger_until_seen("canary", LIVE_TIMEOUT_S)
        if not_live:
            daemon.stop()
            return [common.failed(SUITE, n, "daemon not live: %s" % not_live) for n in names + [prefix + "/daemon"]]
        missing = [c for c in ("unshare", "ip") if shutil.which(c, path=common.STD_PATH) is None]
        if missing:
            daemon.stop()
            why = "needs %s to run triggers.sh in its own network namespace" % " and ".join(missing)
            return [common.failed(SUITE, n, why) for n in names + [prefix + "/daemon"]]
        shutil.rmtree(REFERENCE_RUN_DIR, ignore_errors=True)
        os.makedirs(REFERENCE_RUN_DIR)
        shutil.copyfile(script, os.path.join(REFERENCE_RUN_DIR, "triggers.sh"))
        script_problem = run_script()
        end = daemon.trigger_until_seen("end", END_TIMEOUT_S)
        code = daemon.stop()
        alerts = daemon.alerts()
        by_action = {}
        for alert in alerts:
            by_action.setdefault((alert.get("output_fields") or {}).get(TRIGGER_FIELD), []).append(alert)
        results = []
        for action, name in zip(actions, names):
            mine = by_action.get(action["id"], [])
            got_rules = {(a.get("rule"), a.get("priority")) for a in mine}
            want_rules = {(r["rule"], r["priority"]) for r in action.get("rules") or []}
            got_out = {outputs.normalised_output(a, catalog, normalise) for a in mine}
            want_out = set(action.get("outputs") or [])
            reason = None
            if got_rules != want_rules:
                reason = "rules differ: missing %s, unexpected %s" % (
                    sorted(want_rules - got_rules), sorted(got_rules - want_rules))
            elif got_out != want_out:
                missing, unexpected = sorted(want_out - got_out), sorted(str(x) for x in got_out - want_out)
                reason = "normalised outputs differ: missing %r, unexpected %r" % (
                    missing[0][:300] if missing else None, unexpected[0][:300] if unexpected else None)
            if reason and script_problem:
                reason += " (%s)" % script_problem
            results.append(common.failed(SUITE, name, reason) if reason else common.passed(SUITE, name))
        want_code = _recorded_exit_code(case["dir"])
        results.append(_daemon_result(prefix + "/daemon", end, code, want_code, time.monotonic() - t0))
        shutil.rmtree(REFERENCE_RUN_DIR, ignore_errors=True)
        return results
    finally:
        daemon.stop()  # no-op when it already stopped


def _recorded_exit_code(case_dir):
    try:
        with open(os.path.join(case_dir, "exit_code"), encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return 0


def planned_names(backends, scenarios, reference_cases):
    """Every case the live suite would report, for the not-runnable paths (skip / CI failure)."""
    names = []
    for backend in backends:
        names += ["%s/%s" % (backend, sc["id"]) for sc in scenarios] + ["%s/scenarios-daemon" % backend]
        for case in reference_cases:
            prefix = "%s/reference-%s" % (backend, case["case"])
            expected = None
            if "error" not in case:
                try:
                    expected = common.load_yaml(os.path.join(case["dir"], "expected.yaml"))
                except Exception:  # noqa: BLE001 - reported when the case runs
                    expected = None
            actions = (expected or {}).get("actions") or []
            names += ["%s/%s" % (prefix, a["id"]) for a in actions] + [prefix + "/daemon"]
    return names


def run(falco, shared, backends, case_re, scenarios_dir, goldens_dir, keep_dir=None):
    upstream = os.path.join(shared, "upstream")
    catalog_error = None
    try:
        catalog = outputs.RuleCatalog.load(os.path.join(upstream, "rules"))
    except common.ParityError as e:
        catalog, catalog_error = None, str(e)
    scenarios = load_scenarios(scenarios_dir)
    results = []
    for sc in scenarios:
        name = "static/%s" % sc["id"]
        if not common.case_selected(case_re, SUITE, name):
            continue
        if catalog_error:
            results.append(common.failed(SUITE, name, catalog_error))
            continue
        if catalog is None:
            results.append(common.skipped(SUITE, name, "PyYAML is not installed (the rule catalog needs it)"))
            continue
        problems = check_scenario_static(sc, catalog)
        results.append(common.failed(SUITE, name, "; ".join(problems)) if problems else common.passed(SUITE, name))
    reference = [c for c in goldens.discover(goldens_dir) if c["suite"] == goldens.LIVE_GOLDEN_SUITE] \
        if os.path.isdir(goldens_dir) else []

    ok, why = bpf_available()
    if not ok:
        names = [n for n in planned_names(backends, scenarios, reference) if common.case_selected(case_re, SUITE, n)]
        if os.environ.get("CI") == "true":
            return results + [dataclasses.replace(common.failed(SUITE, n, "BPF is required under CI=true: %s" % why),
                                                  hard=True) for n in names]
        return results + [common.skipped(SUITE, n, "needs root and BPF: %s" % why) for n in names]

    normalise = outputs.Normaliser(outputs.ephemeral_min(), outputs.host_ips() + [NETNS_HOST_IP])
    for backend in backends:
        # A daemon that never goes live costs LIVE_TIMEOUT_S per run: after one such run the
        # backend's other runs are reported without being started.
        hung = None
        chosen = [sc for sc in scenarios if common.case_selected(case_re, SUITE, "%s/%s" % (backend, sc["id"]))]
        if chosen:
            got = run_scenarios(falco, upstream, backend, chosen, catalog, keep_dir)
            hung = _hung(got)
            results += got
        for case in reference:
            names = [n for n in planned_names([backend], [], [case]) if common.case_selected(case_re, SUITE, n)]
            if not names:
                continue
            if hung:
                results += [common.failed(SUITE, n, "not run: %s" % hung) for n in names]
                continue
            got = [r for r in run_reference(falco, upstream, backend, case, catalog, normalise, keep_dir)
                   if common.case_selected(case_re, SUITE, r.case)]
            hung = _hung(got)
            results += got
    return results


def _hung(results):
    """The reason of a run whose daemon never went live (but did not exit), else None."""
    for r in results:
        if r.reason.startswith("daemon not live: no canary alert within"):
            return "an earlier run of this backend never went live (%s)" % r.reason
    return None
