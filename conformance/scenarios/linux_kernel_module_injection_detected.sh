#!/bin/bash
# Live scenario: python3 calls finit_module(-1, "", 0): fails (EBADF or ENOSYS), loads nothing; the rule fires
# on the attempt.
# Run by conformance/run (suite live) with FALCO_TRIGGER=linux_kernel_module_injection_detected, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Linux Kernel Module Injection Detected
#@ priority: Warning
#@ output: Linux Kernel Module injection from container | parent_exepath=%proc.pexepath gparent=%proc.aname[2] gexepath=%proc.aexepath[2] module=%proc.args res=%evt.res evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=python3
#@ expect: evt.type=finit_module
#@ expect: proc.cmdline=python3 $W/finit_module.py
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: finit_module
set -u
cat > "$W/finit_module.py" <<'EOF'
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(313, -1, b"", 0)
EOF
"$PY" "$W/finit_module.py"
