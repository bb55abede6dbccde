#!/bin/bash
# Live scenario: cat reads /etc/passwd through ../ components; its parent (timeout) is not a shell.
# Run by conformance/run (suite live) with FALCO_TRIGGER=directory_traversal_monitored_file_read, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Directory traversal monitored file read
#@ priority: Warning
#@ output: Read monitored file via directory traversal | file=%fd.name fileraw=%fd.nameraw gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: fd.name=/etc/passwd
#@ expect: fd.nameraw=/etc/../etc/../etc/passwd
#@ expect: proc.name=cat
#@ expect: proc.pname=timeout
#@ expect: evt.type=openat
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: dir_traversal
set -u
timeout 5 cat /etc/../etc/../etc/passwd >/dev/null
