"""falco-rs parity suite: measures how closely our `falco` binary matches Falco 0.44.1.

The suites and what each compares against:

* `falco-testing` (a): Falco's own regression cases, run by shared/conformance/run-falco-testing.py.
* `replay` (b): the replay goldens (and any other golden suite directory but cli/live-reference).
* `live` (c): our scenarios in conformance/scenarios/ and the live-reference goldens, run live
  under each BPF backend.
* `cli` (d): the cli goldens (listings, versions, errors).

Nothing here knows how falco-rs works inside: every suite runs the binary as a user would and
compares what it prints with what a real Falco printed (shared/conformance) or with the upstream
rule files (shared/upstream/rules).
"""
