"""What every suite shares: case results, the known-failures list, the report (tables, final
line, JSON) and the few helpers that read data files.

Knows nothing about how a suite runs its cases; suites hand back `CaseResult`s.
"""
import dataclasses
import json
import os
import re

try:  # PyYAML is optional: the goldens and falco-testing ship cases.json for YAML-less use.
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None

# The environment PATH every golden was recorded with (goldens/README.md).
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SUITES = ("falco-testing", "replay", "live", "cli")
SUITE_LETTERS = {"a": "falco-testing", "b": "replay", "c": "live", "d": "cli"}

PASS, FAIL, SKIP, XFAIL = "pass", "fail", "skip", "xfail"
UNEXPECTED_PASS = "unexpectedly passed: remove it from known-failures.txt"


class ParityError(Exception):
    """Bad input to the runner itself (a malformed known-failures line, a missing directory)."""


@dataclasses.dataclass
class CaseResult:
    suite: str
    case: str
    status: str  # PASS, FAIL or SKIP as run; XFAIL only after known failures are applied
    reason: str = ""
    seconds: float = 0.0
    # A failure that known-failures.txt cannot excuse (live cases under CI=true without BPF).
    hard: bool = False

    @property
    def id(self):
        return "%s/%s" % (self.suite, self.case)


def passed(suite, case, seconds=0.0):
    return CaseResult(suite, case, PASS, "", seconds)


def failed(suite, case, reason, seconds=0.0):
    return CaseResult(suite, case, FAIL, reason, seconds)


def skipped(suite, case, reason, seconds=0.0):
    return CaseResult(suite, case, SKIP, reason, seconds)


def load_yaml(path):
    """Parses a YAML file with PyYAML; returns None when PyYAML is not installed."""
    if yaml is None:
        return None
    with open(path, "rb") as fh:
        try:
            return yaml.safe_load(fh)
        except yaml.YAMLError as e:
            raise ValueError("%s is not valid YAML: %s" % (path, e)) from e


def load_known_failures(path):
    """Reads `suite/case-id  reason` lines (`#` comments and blank lines ignored).

    Returns {id: reason}. A line without a reason or with an unknown suite is an error: the list
    is only useful when every entry says why it is there.
    """
    known = {}
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise ParityError("%s:%d: expected `suite/case-id  reason`, got %r" % (path, n, line))
            case_id, reason = parts
            if case_id.split("/", 1)[0] not in SUITES or "/" not in case_id:
                raise ParityError("%s:%d: %r does not start with one of the suites %s"
                                  % (path, n, case_id, ", ".join(SUITES)))
            if case_id in known:
                raise ParityError("%s:%d: %s is listed twice" % (path, n, case_id))
            known[case_id] = reason.strip()
    return known


def apply_known_failures(results, known):
    """A listed case that fails becomes XFAIL (unless the failure is hard); a listed case that
    passes becomes a failure."""
    for r in results:
        reason = known.get(r.id)
        if reason is None:
            continue
        if r.status == FAIL and not r.hard:
            r.status, r.reason = XFAIL, "%s (known: %s)" % (r.reason, reason)
        elif r.status == PASS:
            r.status = FAIL
            r.reason = UNEXPECTED_PASS
    return results


def prune_known_failures(path, ids):
    """Rewrites the known-failures file without the lines of `ids`, keeping every other line."""
    if not ids:
        return
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    kept = [line for line in lines if not (line.strip() and not line.startswith("#") and line.split()[0] in ids)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(kept)


def case_selected(pattern, suite, case):
    return pattern is None or pattern.search("%s/%s" % (suite, case)) is not None


def print_table(suite, results, out):
    """One table per suite: status, case and reason, then the suite's counts."""
    width = max([len(r.case) for r in results] + [4])
    width = min(width, 90)
    out.write("\n== suite %s ==\n" % suite)
    out.write("%-6s  %-*s  %s\n" % ("status", width, "case", "reason"))
    for r in results:
        reason = r.reason.replace("\n", " ")
        if len(reason) > 300:
            reason = reason[:297] + "..."
        out.write("%-6s  %-*s  %s\n" % (r.status.upper(), width, r.case, reason))
    counts = count(results)
    out.write("-- %s: %d passed, %d failed, %d xfail, %d skipped\n"
              % (suite, counts[PASS], counts[FAIL], counts[XFAIL], counts[SKIP]))


def count(results):
    c = {PASS: 0, FAIL: 0, SKIP: 0, XFAIL: 0}
    for r in results:
        c[r.status] += 1
    return c


def write_json_report(path, meta, results):
    by_suite = {}
    for r in results:
        by_suite.setdefault(r.suite, []).append(r)
    doc = {
        "format": "falco-rs conformance report v1",
        "meta": meta,
        "totals": count(results),
        "suites": {s: count(rs) for s, rs in by_suite.items()},
        "cases": [dataclasses.asdict(r) | {"id": r.id} for r in results],
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write("\n")


def final_line(results):
    """`N passed, M failed, K skipped`: xfail cases are counted with the skipped ones."""
    c = count(results)
    return "%d passed, %d failed, %d skipped" % (c[PASS], c[FAIL], c[SKIP] + c[XFAIL])


def compile_case_regex(text):
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as e:
        raise ParityError("--case %r is not a valid regular expression: %s" % (text, e)) from e
