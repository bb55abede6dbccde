#!/bin/bash
# Live scenario: The shell writes a file named release_agent (a plain file below $W, not a cgroup).
# Run by conformance/run (suite live) with FALCO_TRIGGER=detect_release_agent_file_container_escapes, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Detect release_agent File Container Escapes
#@ priority: Critical
#@ output: Detect an attempt to exploit a container escape using release_agent file | file=%fd.name cap_effective=%thread.cap_effective evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: fd.name=$W/cg/release_agent
#@ expect: proc.name=bash
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: release_agent
set -u
mkdir -p "$W/cg"
echo 1 > "$W/cg/release_agent"
