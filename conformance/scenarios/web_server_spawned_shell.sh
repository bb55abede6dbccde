#!/bin/bash
# Live scenario: A shell spawned by a web server process (python3 named httpd). Sandbox rule.
# Run by conformance/run (suite live) with FALCO_TRIGGER=web_server_spawned_shell, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Web Server Spawned Shell
#@ priority: Critical
#@ output: Web server spawned shell | shell=%proc.name web_server=%proc.pname gparent=%proc.aname[2] ggparent=%proc.aname[3] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid command=%proc.cmdline terminal=%proc.tty exe=%proc.exepath exe_flags=%evt.arg.flags
#@ expect: proc.name=sh
#@ expect: proc.pname=httpd
#@ expect: proc.cmdline=sh -c ls /tmp
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: shell_from_httpd
set -u
ln -s "$PY" "$W/httpd"
"$W/httpd" -c 'import subprocess; subprocess.run(["sh", "-c", "ls /tmp"], stdout=subprocess.DEVNULL)'
