#!/bin/bash
# Live scenario: shred -u overwrites and removes a file.
# Run by conformance/run (suite live) with FALCO_TRIGGER=remove_bulk_data_from_disk, W=<an empty scratch dir, the cwd>
# and PY=<python3>; see conformance/README.md.
#@ rule: Remove Bulk Data from Disk
#@ priority: Warning
#@ output: Bulk data has been removed from disk | file=%fd.name evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty exe_flags=%evt.arg.flags
#@ expect: proc.name=shred
#@ expect: proc.cmdline=shred -u $W/junk.bin
#@ expect: evt.type=execve
#@ expect: user.name=root
#@ expect: user.uid=0
#@ expect: proc.tty=0
#@ reference: shred_file
#@ requires: shred
set -u
head -c 65536 /dev/zero > "$W/junk.bin"
shred -u "$W/junk.bin"
