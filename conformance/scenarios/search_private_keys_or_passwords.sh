#!/bin/bash
# Live scenario: find searches for id_rsa.
# Run by conformance/run (suite live) with FALCO_TRIGGER=search_private_keys_or_passwords, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Search Private Keys or Passwords
#@ priority: Warning
#@ output: Grep private keys or passwords activities found | evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=find
#@ expect: proc.cmdline=find $W/keys -maxdepth 1 -name id_rsa
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: find_id_rsa
set -u
mkdir -p "$W/keys"
find "$W/keys" -maxdepth 1 -name id_rsa
