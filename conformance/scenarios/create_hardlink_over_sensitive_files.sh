#!/bin/bash
# Live scenario: ln tries to hard-link /etc/shadow into /dev/shm (another file system: EXDEV, nothing is
# created; the rule fires on the attempt).
# Run by conformance/run (suite live) with FALCO_TRIGGER=create_hardlink_over_sensitive_files, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Create Hardlink Over Sensitive Files
#@ priority: Warning
#@ output: Hardlinks created over sensitive files | target=%evt.arg.oldpath linkpath=%evt.arg.newpath evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: evt.arg.oldpath=/etc/shadow
#@ expect: proc.name=ln
#@ expect: evt.type=linkat
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: hardlink_shadow
set -u
ln /etc/shadow "/dev/shm/falco-rs-hardlink-$$" 2>/dev/null
rm -f "/dev/shm/falco-rs-hardlink-$$"
