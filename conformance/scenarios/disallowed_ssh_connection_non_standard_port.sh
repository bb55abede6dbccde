#!/bin/bash
# Live scenario: ssh connects to port 443. The target address (TEST-NET-2 198.51.100.7) lives on the loopback
# device of a network namespace made for the scenario, so no packet leaves the machine; the
# connection is refused at once.
# Run by conformance/run (suite live) with FALCO_TRIGGER=disallowed_ssh_connection_non_standard_port, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Disallowed SSH Connection Non Standard Port
#@ priority: Notice
#@ output: Disallowed SSH Connection | connection=%fd.name lport=%fd.lport rport=%fd.rport fd_type=%fd.type fd_proto=%fd.l4proto evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty
#@ expect: proc.name=ssh
#@ expect: evt.type=connect
#@ expect: fd.type=ipv4
#@ expect: fd.l4proto=tcp
#@ expect: fd.lport=443
#@ requires: ssh unshare ip
set -u
unshare -n bash -c 'ip link set lo up && ip addr add 198.51.100.7/32 dev lo &&
  ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -p 443 falco@198.51.100.7 true' 2>/dev/null
exit 0
