#!/bin/bash
# Live scenario: A forked python3 child calls PTRACE_TRACEME.
# Run by conformance/run (suite live) with FALCO_TRIGGER=ptrace_anti_debug_attempt, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: PTRACE anti-debug attempt
#@ priority: Notice
#@ output: Detected potential PTRACE_TRACEME anti-debug attempt | proc_pcmdline=%proc.pcmdline evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=python3
#@ expect: evt.type=ptrace
#@ expect: proc.pname=python3
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: ptrace_traceme
set -u
cat > "$W/ptrace_traceme.py" <<'EOF'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0)
    os._exit(0)
os.waitpid(pid, 0)
EOF
"$PY" "$W/ptrace_traceme.py"
