#!/bin/bash
# Live scenario: python3 PTRACE_ATTACHes to its own sleep child, then detaches and kills it.
# Run by conformance/run (suite live) with FALCO_TRIGGER=ptrace_attached_to_process, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: PTRACE attached to process
#@ priority: Warning
#@ output: Detected ptrace PTRACE_ATTACH attempt | proc_pcmdline=%proc.pcmdline evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=python3
#@ expect: evt.type=ptrace
#@ expect: proc.cmdline=python3 $W/ptrace_attach.py
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: ptrace_attach
set -u
cat > "$W/ptrace_attach.py" <<'EOF'
import ctypes, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
p = subprocess.Popen(["sleep", "5"])
time.sleep(0.1)
libc.ptrace(16, p.pid, 0, 0)
time.sleep(0.1)
libc.ptrace(17, p.pid, 0, 0)
p.kill(); p.wait()
EOF
"$PY" "$W/ptrace_attach.py"
