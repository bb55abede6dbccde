#!/bin/bash
# Live scenario: A python3 named httpd (a trusted server program) reads /etc/shadow more than 5 s after it started.
# Run by conformance/run (suite live) with FALCO_TRIGGER=read_sensitive_file_trusted_after_startup, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Read sensitive file trusted after startup
#@ priority: Warning
#@ output: Sensitive file opened for reading by trusted program after startup | file=%fd.name pcmdline=%proc.pcmdline gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: fd.name=/etc/shadow
#@ expect: evt.type=openat
#@ expect: proc.name=httpd
#@ expect: proc.pname=bash
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: trusted_after_startup
#@ timeout: 30
set -u
ln -s "$PY" "$W/httpd"
"$W/httpd" -c 'import time; time.sleep(5.5); open("/etc/shadow").read()'
