#!/bin/bash
# Live scenario: A shell spawned by a program that is not a known shell spawner (python3 named httpd).
# Run by conformance/run (suite live) with FALCO_TRIGGER=run_shell_untrusted, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Run shell untrusted
#@ priority: Notice
#@ output: Shell spawned by untrusted binary | parent_exe=%proc.pexe parent_exepath=%proc.pexepath pcmdline=%proc.pcmdline gparent=%proc.aname[2] ggparent=%proc.aname[3] aname[4]=%proc.aname[4] aname[5]=%proc.aname[5] aname[6]=%proc.aname[6] aname[7]=%proc.aname[7] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=sh
#@ expect: proc.pname=httpd
#@ expect: proc.cmdline=sh -c ls /tmp
#@ expect: evt.type=execve
#@ expect: proc.pexe=$W/httpd
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: shell_from_httpd
set -u
ln -s "$PY" "$W/httpd"
"$W/httpd" -c 'import subprocess; subprocess.run(["sh", "-c", "ls /tmp"], stdout=subprocess.DEVNULL)'
