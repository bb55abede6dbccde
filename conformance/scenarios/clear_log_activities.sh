#!/bin/bash
# Live scenario: The shell truncates a file named syslog (open with O_TRUNC).
# Run by conformance/run (suite live) with FALCO_TRIGGER=clear_log_activities, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Clear Log Activities
#@ priority: Warning
#@ output: Log files were tampered | file=%fd.name evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: fd.name=$W/syslog
#@ expect: proc.name=bash
#@ expect: evt.type=openat
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: clear_log
set -u
: > "$W/syslog"
