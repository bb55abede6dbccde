#!/bin/bash
# Live scenario: find searches for .aws/credentials.
# Run by conformance/run (suite live) with FALCO_TRIGGER=find_aws_credentials, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Find AWS Credentials
#@ priority: Warning
#@ output: Detected AWS credentials search activity | proc_pcmdline=%proc.pcmdline proc_cwd=%proc.cwd group_gid=%group.gid group_name=%group.name user_loginname=%user.loginname evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=find
#@ expect: proc.cmdline=find $W/keys -maxdepth 2 -path */.aws/credentials
#@ expect: evt.type=execve
#@ expect: proc.cwd=$W/
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: find_aws_creds
set -u
mkdir -p "$W/keys/.aws" && echo "[default]" > "$W/keys/.aws/credentials"
find "$W/keys" -maxdepth 2 -path "*/.aws/credentials" >/dev/null
