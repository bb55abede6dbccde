#!/bin/bash
# Live scenario: sh -c with a program below /dev/shm (the file need not exist: the args start with -c /dev/shm).
# Run by conformance/run (suite live) with FALCO_TRIGGER=execution_from_dev_shm, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Execution from /dev/shm
#@ priority: Warning
#@ output: File execution detected from /dev/shm | evt_res=%evt.res file=%fd.name proc_cwd=%proc.cwd proc_pcmdline=%proc.pcmdline user_loginname=%user.loginname group_gid=%group.gid group_name=%group.name evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=sh
#@ expect: proc.cmdline=sh -c /dev/shm/falco-golden-missing
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: dev_shm_exec
set -u
sh -c /dev/shm/falco-golden-missing 2>/dev/null || true
