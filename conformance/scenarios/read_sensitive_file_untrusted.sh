#!/bin/bash
# Live scenario: cat, a program not trusted to read sensitive files, reads /etc/shadow.
# Run by conformance/run (suite live) with FALCO_TRIGGER=read_sensitive_file_untrusted, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Read sensitive file untrusted
#@ priority: Warning
#@ output: Sensitive file opened for reading by non-trusted program | file=%fd.name gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: fd.name=/etc/shadow
#@ expect: evt.type=openat
#@ expect: proc.name=cat
#@ expect: proc.cmdline=cat /etc/shadow
#@ expect: proc.pname=bash
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: cat_shadow
set -u
cat /etc/shadow >/dev/null
