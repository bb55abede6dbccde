#!/bin/bash
# Live scenario: python3 copies /bin/true into a memfd and executes it.
# Run by conformance/run (suite live) with FALCO_TRIGGER=fileless_execution_via_memfd_create, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Fileless execution via memfd_create
#@ priority: Critical
#@ output: Fileless execution via memfd_create | container_start_ts=%container.start_ts proc_cwd=%proc.cwd evt_res=%evt.res proc_sname=%proc.sname gparent=%proc.aname[2] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.exepath=memfd:golden
#@ expect: evt.type=execve
#@ expect: evt.res=SUCCESS
#@ expect: proc.cwd=$W/
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: memfd_exec
set -u
cat > "$W/memfd_exec.py" <<'EOF'
import os
fd = os.memfd_create("golden", 0)
os.write(fd, open("/bin/true", "rb").read())
os.execv("/proc/self/fd/%d" % fd, ["falco-rs-memfd"])
EOF
"$PY" "$W/memfd_exec.py"
