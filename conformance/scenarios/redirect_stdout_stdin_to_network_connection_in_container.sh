#!/bin/bash
# Live scenario: python3 dup2()s a connected TCP socket onto its stdin (the reverse-shell pattern), on loopback.
# Run by conformance/run (suite live) with FALCO_TRIGGER=redirect_stdout_stdin_to_network_connection_in_container, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Redirect STDOUT/STDIN to Network Connection in Container
#@ priority: Notice
#@ output: Redirect stdout/stdin to network connection | gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] fd.sip=%fd.sip connection=%fd.name lport=%fd.lport rport=%fd.rport fd_type=%fd.type fd_proto=%fd.l4proto evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=python3
#@ expect: proc.cmdline=python3 $W/dup_socket.py
#@ expect: evt.type=dup2
#@ expect: fd.type=ipv4
#@ expect: fd.l4proto=tcp
#@ expect: fd.sip=127.0.0.1
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: dup_socket_stdin
set -u
cat > "$W/dup_socket.py" <<'EOF'
import os, socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
os.dup2(cli.fileno(), 0)
EOF
"$PY" "$W/dup_socket.py"
