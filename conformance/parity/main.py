"""Command line of conformance/run: option parsing, suite selection, known failures, report.

Usage: conformance/run [--falco BIN] [--shared DIR] [--suite a,b,...] [--case REGEX]
                       [--json-report FILE] [--backends modern_ebpf,aya] [--selftest]

Suites: falco-testing (a), replay (b), live (c), cli (d). Default: a, b and d, plus c when
running as root with BPF or when CI=true (where missing BPF makes every live case fail).
Prints a table per suite and, last, `N passed, M failed, K skipped` (known failures count as
skipped: see known-failures.txt); exits non-zero when any case failed.
"""
import argparse
import os
import re
import sys
import time

from . import common, falco_testing, goldens, live

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conformance/
REPO = os.path.dirname(HERE)


def default_shared():
    env = os.environ.get("FALCO_RS_SHARED")
    if env:
        return env
    candidate = os.path.normpath(os.path.join(REPO, "..", "shared"))
    if os.path.isdir(candidate) or not os.path.isdir("/work/shared"):
        return candidate
    return "/work/shared"


def parse_suites(text):
    chosen = []
    for item in text.split(","):
        item = item.strip()
        name = common.SUITE_LETTERS.get(item, item)
        if name not in common.SUITES:
            raise common.ParityError("unknown suite %r: use %s or the letters a-d"
                                     % (item, ", ".join(common.SUITES)))
        if name not in chosen:
            chosen.append(name)
    return chosen


def default_suites():
    chosen = ["falco-testing", "replay", "cli"]
    if os.environ.get("CI") == "true" or live.bpf_available()[0]:
        chosen.insert(2, "live")
    return chosen


def build_parser():
    ap = argparse.ArgumentParser(prog="conformance/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--falco", default="target/release/falco", help="binary under test (default %(default)s)")
    ap.add_argument("--shared", help="the shared directory (default: ../shared next to the repository)")
    ap.add_argument("--suite", help="comma-separated suites: falco-testing,replay,live,cli or a,b,c,d")
    ap.add_argument("--case", help="regular expression searched in `suite/case`")
    ap.add_argument("--json-report", metavar="FILE", help="write every case's result as JSON")
    ap.add_argument("--backends", default="modern_ebpf,aya", help="live engine kinds (default %(default)s)")
    ap.add_argument("--goldens", help="goldens directory (default <shared>/conformance/goldens)")
    ap.add_argument("--scenarios", default=os.path.join(HERE, "scenarios"), help="live scenario scripts")
    ap.add_argument("--known-failures", default=os.path.join(HERE, "known-failures.txt"))
    ap.add_argument("--jobs", type=int, default=2, help="golden cases run in parallel (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=60.0, help="falco-testing per-case timeout, seconds")
    ap.add_argument("--keep", metavar="DIR", help="keep the live runs' working directories below DIR")
    ap.add_argument("--prune-known-failures", action="store_true",
                    help="remove the listed cases that passed from the known-failures file")
    ap.add_argument("--selftest", action="store_true", help="test the runner itself (see selftest.py)")
    return ap


def retry_live_failures(results, known, falco, shared, backends, opts, golden_dir, out):
    """Runs the live cases that failed (and are not known failures) once more.

    A live case depends on the kernel delivering the trigger's events while the machine is
    busy with other work; one miss is retried, a second miss is a failure. The retry's result
    replaces the first one and says that it is a retry."""
    again = [r for r in results if r.status == common.FAIL and not r.hard and r.id not in known
             and "/static/" not in r.id]
    if not again:
        return results
    out.write("retrying %d failed live case(s) once ...\n" % len(again))
    out.flush()
    pattern = re.compile("|".join("^%s$" % re.escape(r.id) for r in again))
    retried = {r.id: r for r in live.run(falco, shared, backends, pattern, opts.scenarios, golden_dir, opts.keep)}
    merged = []
    for r in results:
        second = retried.get(r.id) if r in again else None
        if second is None:
            merged.append(r)
            continue
        if second.status == common.PASS:
            second.reason = "passed on retry; first run: %s" % r.reason
        else:
            second.reason = "failed twice: %s" % second.reason
        merged.append(second)
    return merged


def resolve_falco(path):
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(REPO, path)


def run(argv, out=sys.stdout):
    opts = build_parser().parse_args(argv)
    if opts.selftest:
        from . import selftest
        return selftest.main(out)
    try:
        return _run(opts, out)
    except common.ParityError as e:
        out.write("Error: %s\n" % e)
        return 2


def _run(opts, out):
    suites = parse_suites(opts.suite) if opts.suite else default_suites()
    case_re = common.compile_case_regex(opts.case)
    shared = os.path.abspath(opts.shared or default_shared())
    if not os.path.isdir(shared):
        raise common.ParityError("shared directory %s does not exist (use --shared)" % shared)
    falco = resolve_falco(opts.falco)
    if not os.access(falco, os.X_OK):
        raise common.ParityError("falco binary %s does not exist or is not executable (use --falco)" % falco)
    golden_dir = os.path.abspath(opts.goldens or os.path.join(shared, "conformance", "goldens"))
    upstream = os.path.join(shared, "upstream")
    backends = [b.strip() for b in opts.backends.split(",") if b.strip()]
    known = common.load_known_failures(opts.known_failures)
    if opts.keep:
        opts.keep = os.path.abspath(opts.keep)
        os.makedirs(opts.keep, exist_ok=True)

    all_results = []
    golden_cases = None
    for suite in common.SUITES:
        if suite not in suites:
            continue
        t0 = time.monotonic()
        out.write("running suite %s ...\n" % suite)
        out.flush()
        if suite == "falco-testing":
            results = falco_testing.run(falco, shared, case_re, opts.timeout)
        elif suite in ("replay", "cli"):
            if golden_cases is None:
                golden_cases = goldens.discover(golden_dir)
            cases = [c for c in golden_cases if goldens.runner_suite(c["suite"]) == suite
                     and common.case_selected(case_re, suite, goldens.case_name(c))]
            results = goldens.run_suite(suite, cases, falco, upstream, opts.jobs)
        else:
            results = live.run(falco, shared, backends, case_re, opts.scenarios, golden_dir, opts.keep)
            results = retry_live_failures(results, known, falco, shared, backends, opts, golden_dir, out)
        common.apply_known_failures(results, known)
        if opts.prune_known_failures:
            pruned = [r for r in results if r.status == common.FAIL and r.reason == common.UNEXPECTED_PASS]
            common.prune_known_failures(opts.known_failures, {r.id for r in pruned})
            for r in pruned:
                r.status, r.reason = common.PASS, "removed from %s" % os.path.basename(opts.known_failures)
        common.print_table(suite, results, out)
        out.write("-- suite %s took %.0fs\n" % (suite, time.monotonic() - t0))
        all_results += results

    c = common.count(all_results)
    if opts.json_report:
        common.write_json_report(opts.json_report, {"falco": falco, "shared": shared, "suites": suites,
                                                    "case_regex": opts.case, "backends": backends}, all_results)
    out.write("\ntotals: pass %d, fail %d, xfail %d (known failures, counted as skipped), skip %d\n"
              % (c[common.PASS], c[common.FAIL], c[common.XFAIL], c[common.SKIP]))
    out.write(common.final_line(all_results) + "\n")
    return 1 if c[common.FAIL] else 0
