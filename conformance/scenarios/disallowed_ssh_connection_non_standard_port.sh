#!/bin/bash
# Live scenario: ssh connects to port 443 of a TEST-NET-2 address. It runs in a network namespace made
# for the scenario whose only device is lo, with a default route over lo from 192.0.2.2: the SYN
# is dropped inside the namespace (no packet leaves the machine), connect() says EINPROGRESS.
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
#@ expect: proc.cmdline=ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=1 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p 443 golden@198.51.100.7 true
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: ssh_port_443
#@ requires: ssh unshare ip
set -u
unshare -n bash -c 'ip link set lo up && ip addr add 192.0.2.2/32 dev lo &&
  ip route add default dev lo src 192.0.2.2 &&
  ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=1 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -p 443 golden@198.51.100.7 true' 2>/dev/null
exit 0
