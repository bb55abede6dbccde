#!/bin/bash
# Live scenario: ln -s makes a symlink to /etc/shadow.
# Run by conformance/run (suite live) with FALCO_TRIGGER=create_symlink_over_sensitive_files, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Create Symlink Over Sensitive Files
#@ priority: Warning
#@ output: Symlinks created over sensitive files | target=%evt.arg.target linkpath=%evt.arg.linkpath evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: evt.arg.target=/etc/shadow
#@ expect: evt.arg.linkpath=$W/shadow-symlink
#@ expect: proc.name=ln
#@ expect: evt.type=symlinkat
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: symlink_shadow
set -u
ln -s /etc/shadow "$W/shadow-symlink"
