#!/bin/bash
# Live scenario: script(1), named exe like a container entrypoint, starts sh on a pseudo-terminal. The host's
# processes sit in a /process_api/<hex> memory cgroup, so the container plugin gives them a container id.
# Run by conformance/run (suite live) with FALCO_TRIGGER=terminal_shell_in_container, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Terminal shell in container
#@ priority: Notice
#@ output: A shell was spawned in a container with an attached terminal | evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=sh
#@ expect: proc.pname=exe
#@ expect: proc.cmdline=sh -c echo golden
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ reference: tty_shell_under_exe
#@ requires: script
set -u
ln -s /usr/bin/script "$W/exe"
SHELL=/bin/sh "$W/exe" -qc "echo golden" /dev/null >/dev/null
