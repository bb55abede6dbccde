#!/usr/bin/env python3
"""Generates src/event/table_data.rs, the libs 0.25.4 event table as Rust data.

Run once (output is committed):

    python3 src/event/gen/gen_table.py <libs-0.25.4>/driver <shared>

Inputs (facts only):
  * <driver>: libs 0.25.4 `driver/` (event_table.c, flags_table.c, dynamic_params_table.c,
    ppm_events_public.h). dump_libs_table.c is compiled against it and prints the table.
  * <shared>/spec/scap-format.md Appendix A: every code's PPME_ enum name; cross-checked
    against the dumped names, flags and parameters (the script fails on any difference).
  * <shared>/conformance/goldens/cli/list-events-json/stdout: the order in which Falco 0.44.1
    lists the generic syscall names, and the schema version it prints.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "table_data.rs")

PT = {0: "None", 1: "Int8", 2: "Int16", 3: "Int32", 4: "Int64", 5: "Uint8", 6: "Uint16",
      7: "Uint32", 8: "Uint64", 9: "Charbuf", 10: "Bytebuf", 11: "Errno", 12: "Sockaddr",
      13: "Socktuple", 14: "Fd", 15: "Pid", 16: "Fdlist", 17: "Fspath", 18: "SyscallId",
      19: "Sigtype", 20: "Reltime", 21: "Abstime", 22: "Port", 23: "L4Proto", 24: "SockFamily",
      25: "Bool", 26: "Ipv4Addr", 27: "Dyn", 28: "Flags8", 29: "Flags16", 30: "Flags32",
      31: "Uid", 32: "Gid", 33: "Double", 34: "Sigset", 35: "CharbufArray",
      36: "CharbufPairArray", 37: "Ipv4Net", 38: "Ipv6Addr", 39: "Ipv6Net", 40: "IpAddr",
      41: "IpNet", 42: "Mode", 43: "FsRelPath", 44: "EnumFlags8", 45: "EnumFlags16",
      46: "EnumFlags32", 47: "Fd32", 48: "Pid32"}
PT_SPEC = {0: "NONE", 1: "INT8", 2: "INT16", 3: "INT32", 4: "INT64", 5: "UINT8", 6: "UINT16",
           7: "UINT32", 8: "UINT64", 9: "CHARBUF", 10: "BYTEBUF", 11: "ERRNO", 12: "SOCKADDR",
           13: "SOCKTUPLE", 14: "FD", 15: "PID", 16: "FDLIST", 17: "FSPATH", 18: "SYSCALLID",
           19: "SIGTYPE", 20: "RELTIME", 21: "ABSTIME", 22: "PORT", 23: "L4PROTO",
           24: "SOCKFAMILY", 25: "BOOL", 26: "IPV4ADDR", 27: "DYN", 28: "FLAGS8", 29: "FLAGS16",
           30: "FLAGS32", 31: "UID", 32: "GID", 33: "DOUBLE", 34: "SIGSET", 35: "CHARBUFARRAY",
           36: "CHARBUF_PAIR_ARRAY", 37: "IPV4NET", 38: "IPV6ADDR", 39: "IPV6NET", 40: "IPADDR",
           41: "IPNET", 42: "MODE", 43: "FSRELPATH", 44: "ENUMFLAGS8", 45: "ENUMFLAGS16",
           46: "ENUMFLAGS32", 47: "FD32", 48: "PID32"}
PF = {0: "Na", 1: "Dec", 2: "Hex", 3: "PaddedDec10", 4: "Id", 5: "Dir", 6: "Oct"}
EF_SPEC = [(1 << 0, "CFD"), (1 << 1, "DFD"), (1 << 2, "UFD"), (1 << 3, "RFD"), (1 << 4, "WFD"),
           (1 << 5, "STATE"), (1 << 6, "UNUSED"), (1 << 7, "WAITS"), (1 << 8, "SKIPRESET"),
           (1 << 9, "OLD"), (1 << 11, "LARGE"), (1 << 12, "CONV")]
SPEC_ORDER = ["OLD", "UNUSED", "CFD", "DFD", "UFD", "RFD", "WFD", "WAITS", "SKIPRESET", "STATE",
              "LARGE", "CONV"]


def dump(driver):
    with tempfile.TemporaryDirectory() as tmp:
        tables = re.findall(r"const struct ppm_name_value (\w+)\[\]",
                            open(os.path.join(driver, "flags_table.c")).read())
        with open(os.path.join(tmp, "tables.inc"), "w") as f:
            for t in tables:
                f.write('{"%s", %s},\n' % (t, t))
            for t in ("sockopt", "ptrace", "bpf", "keyctl"):
                f.write('{"%s_dynamic_param", %s_dynamic_param},\n' % (t, t))
        open(os.path.join(tmp, "driver_config.h"), "w").close()
        exe = os.path.join(tmp, "dump")
        subprocess.check_call(["cc", "-w", "-I", tmp, "-I", driver, "-o", exe,
                               os.path.join(HERE, "dump_libs_table.c")])
        out = subprocess.check_output([exe], text=True)
    events, flags, dyns = [], {}, {}
    for line in out.splitlines():
        kind, payload = line.split(" ", 1)
        obj = json.loads(payload)
        if kind == "EVENT":
            events.append(obj)
        elif kind == "FLAGS":
            flags[obj["table"]] = obj["values"]
        else:
            dyns[obj["table"]] = obj["params"]
    return events, flags, dyns


def spec_appendix_a(shared):
    text = open(os.path.join(shared, "spec", "scap-format.md")).read()
    text = text.split("## Appendix A")[1].split("## Appendix B")[0]
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| (\d+) \| (\w+) \| (\S+) \| (\S+) \| (\d+) \|(.*)\|$", line)
        if m:
            code = int(m.group(1))
            params = [p.strip() for p in m.group(6).split(",") if p.strip()]
            rows[code] = (m.group(2), m.group(3), m.group(4), int(m.group(5)), params)
    return rows


def ppm_sc(driver):
    text = open(os.path.join(driver, "ppm_events_public.h")).read()
    return [(int(v), n.lower()) for n, v in re.findall(r"PPM_SC_X\((\w+), (\d+)\)", text)]


def rust_str(s):
    return json.dumps(s)


def main():
    driver, shared = sys.argv[1], sys.argv[2]
    events, flags, dyns = dump(driver)
    spec = spec_appendix_a(shared)
    assert len(events) == 454 and len(spec) == 454, (len(events), len(spec))
    for ev in events:
        ppme, name, sflags, n, sparams = spec[ev["code"]]
        assert name == ev["name"], (ev["code"], name, ev["name"])
        got = set(s for b, s in EF_SPEC if ev["flags"] & b)
        want = set() if sflags == "-" else set(sflags.split(","))
        assert got == want, (ev["code"], got, want)
        # Unused exits may keep parameters in libs but the spec lists what the table holds.
        params = ["%s:%s" % (p["name"], PT_SPEC[p["type"]]) for p in ev["params"]]
        assert params == sparams, (ev["code"], params, sparams)
        ev["ppme"] = ppme

    golden = json.load(open(os.path.join(shared, "conformance", "goldens", "cli",
                                         "list-events-json", "stdout")))
    names = set(e["name"] for e in events)
    generic = []
    for e in golden["Syscall events"]:
        if e["dir"] == ">" and e["name"] not in names:
            generic.append(e["name"])
    sc = ppm_sc(driver)

    o = []
    w = o.append
    w("// @generated by src/event/gen/gen_table.py from libs 0.25.4 `driver/` (event_table.c,")
    w("// flags_table.c, dynamic_params_table.c, ppm_events_public.h), checked against")
    w("// spec/scap-format.md Appendix A and the list-events-json golden. Do not edit by hand.")
    w("")
    w("use super::table::{EventInfo, ParamExtra, ParamInfo, ParamType, PrintFormat};")
    w("")
    w("/// Schema version printed by `--list-events` (Falco 0.44.1 golden).")
    w('pub const LIST_EVENTS_SCHEMA_VERSION: &str = "%s";' % golden["schema_version"])
    w("")
    for t, vals in flags.items():
        w("pub static %s: &[(&str, u32)] = &[" % t.upper())
        for n, v in vals:
            w("    (%s, %d)," % (rust_str(n), v))
        w("];")
    w("")
    for t, ps in dyns.items():
        w("pub static %s: &[ParamInfo] = &[" % t.upper())
        for p in ps:
            w("    ParamInfo { name: \"\", ptype: ParamType::%s, fmt: PrintFormat::%s, extra: ParamExtra::None }," % (PT[p["type"]], PF[p["fmt"]]))
        w("];")
    w("")
    w("/// Every event code, indexed by code (PPM_EVENT_MAX = 454).")
    w("pub static EVENTS: [EventInfo; 454] = [")
    for ev in events:
        ps = []
        for p in ev["params"]:
            if "info" in p:
                t = p["info"]
                extra = ("ParamExtra::Dyn(%s)" if "dynamic_param" in t else "ParamExtra::Flags(%s)") % t.upper()
            elif "info_int" in p:
                extra = "ParamExtra::DirFd(%d)" % p["info_int"]
            else:
                extra = "ParamExtra::None"
            ps.append("ParamInfo { name: %s, ptype: ParamType::%s, fmt: PrintFormat::%s, extra: %s }"
                      % (rust_str(p["name"]), PT[p["type"]], PF[p["fmt"]], extra))
        w("    EventInfo {")
        w("        code: %d," % ev["code"])
        w("        ppme: %s," % rust_str(ev["ppme"]))
        w("        name: %s," % rust_str(ev["name"]))
        w("        category: %d," % ev["category"])
        w("        flags: %d," % ev["flags"])
        if ps:
            w("        params: &[")
            for p in ps:
                w("            %s," % p)
            w("        ],")
        else:
            w("        params: &[],")
        w("    },")
    w("];")
    w("")
    w("/// Syscalls without a dedicated event (carried by the generic `syscall` events), in the")
    w("/// order Falco 0.44.1 lists them in `--list-events`.")
    w("pub static GENERIC_SYSCALL_NAMES: &[&str] = &[")
    for n in generic:
        w("    %s," % rust_str(n))
    w("];")
    w("")
    w("/// `ppm_sc` codes (PT_SYSCALLID values) and their lower-case syscall names.")
    w("pub static PPM_SC_NAMES: &[(u16, &str)] = &[")
    for v, n in sc:
        w("    (%d, %s)," % (v, rust_str(n)))
    w("];")
    open(OUT, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
