#!/bin/bash
# Live scenario: python3 opens an AF_PACKET raw socket.
# Run by conformance/run (suite live) with FALCO_TRIGGER=packet_socket_created_in_container, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Packet socket created in container
#@ priority: Notice
#@ output: Packet socket was created in a container | socket_info=%evt.args connection=%fd.name lport=%fd.lport rport=%fd.rport fd_type=%fd.type fd_proto=%fd.l4proto evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=python3
#@ expect: evt.type=socket
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: packet_socket
set -u
"$PY" -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).close()"
