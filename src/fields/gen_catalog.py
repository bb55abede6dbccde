#!/usr/bin/env python3
"""Generates src/fields/catalog.rs (the FIELDS table re-exported by registry.rs).

Usage: python3 src/fields/gen_catalog.py SHARED_DIR LIBS_GIT_DIR src/fields/catalog.rs && cargo fmt


Visible fields (names, order, types, descriptions, tags) come from Falco 0.44.1's recorded
`--list --format json` / `--list` goldens; hidden fields (EPF_TABLE_ONLY, EPF_DEPRECATED,
EPF_PRINT_ONLY: resolvable but never listed) from the libs 0.25.4 field tables."""
import json, re, subprocess, sys

SHARED = sys.argv[1]
LIBS = sys.argv[2]
OUT = sys.argv[3]

golden = json.load(open(f"{SHARED}/conformance/goldens/cli/list-json/stdout"))
text = open(f"{SHARED}/conformance/goldens/cli/list-text/stdout").read()

# tags from the text listing: "name   (TAG,TAG) desc"
tags = {}
for line in text.split("\n"):
    m = re.match(r"^(\S+)\s+\(([A-Z_,]+)\) ", line)
    if m and "." in m.group(1):
        tags[m.group(1)] = m.group(2).split(",")

def cstr_concat(s):
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', s)
    out = "".join(parts)
    return out.encode().decode("unicode_escape") if "\\" in out else out

def parse_libs(fname, arrname):
    src = subprocess.check_output(["git", "-C", LIBS, "show", f"0.25.4:userspace/libsinsp/{fname}"]).decode()
    i = src.index(arrname + "[] = {")
    j = src.index("\n};", i)
    body = src[i + len(arrname) + 6 : j]
    # split top-level {...}
    entries, depth, cur, instr = [], 0, "", False
    k = 0
    while k < len(body):
        c = body[k]
        if instr:
            cur += c
            if c == "\\":
                cur += body[k + 1]; k += 1
            elif c == '"':
                instr = False
        elif c == '"':
            instr = True; cur += c
        elif c == "{":
            depth += 1
            if depth == 1: cur = ""
            else: cur += c
        elif c == "}":
            depth -= 1
            if depth == 0: entries.append(cur)
            else: cur += c
        elif depth >= 1:
            cur += c
        k += 1
    res = []
    for e in entries:
        m = re.match(r'\s*(PT_\w+)\s*,\s*([^,]+?)\s*,\s*(PF_\w+)\s*,(.*)$', e, re.S)
        assert m, e
        strs = re.findall(r'"((?:[^"\\]|\\.)*)"((?:\s*"(?:[^"\\]|\\.)*")*)', m.group(4))
        # name, display, desc (desc may be concatenation)
        rest = m.group(4)
        tokens = []
        for part in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', rest):
            if part.strip(): tokens.append(part.strip())
        name = cstr_concat(tokens[0]); desc = cstr_concat(tokens[2]) if len(tokens) > 2 else ""
        flags = set(re.findall(r'EPF_\w+', m.group(2)))
        res.append(dict(name=name, ptype=m.group(1)[3:], flags=flags, desc=desc, extra=tokens[3:], fmt=m.group(3)))
    return res

libs_classes = [
    ("sinsp_filtercheck_gen_event.cpp", "sinsp_filter_check_gen_event_fields"),
    ("sinsp_filtercheck_event.cpp", "sinsp_filter_check_event_fields"),
    ("sinsp_filtercheck_thread.cpp", "sinsp_filter_check_thread_fields"),
    ("sinsp_filtercheck_user.cpp", "sinsp_filter_check_user_fields"),
    ("sinsp_filtercheck_group.cpp", "sinsp_filter_check_group_fields"),
    ("sinsp_filtercheck_fd.cpp", "sinsp_filter_check_fd_fields"),
    ("sinsp_filtercheck_fspath.cpp", "sinsp_filter_check_fspath_fields"),
    ("sinsp_filtercheck_fdlist.cpp", "sinsp_filter_check_fdlist_fields"),
]

TYPES = {"INT8":"Int8","INT16":"Int16","INT32":"Int32","INT64":"Int64","UINT8":"Uint8","UINT16":"Uint16",
 "UINT32":"Uint32","UINT64":"Uint64","BOOL":"Bool","DOUBLE":"Double","CHARBUF":"Charbuf","BYTEBUF":"Bytebuf",
 "FSPATH":"Fspath","FSRELPATH":"Fsrelpath","ERRNO":"Errno","FD":"Fd","PID":"Pid","PORT":"Port",
 "L4PROTO":"L4Proto","SOCKFAMILY":"SockFamily","MODE":"Mode","FLAGS8":"Flags8","FLAGS16":"Flags16",
 "FLAGS32":"Flags32","RELTIME":"RelTime","ABSTIME":"AbsTime","IPV4ADDR":"Ipv4Addr","IPV4NET":"Ipv4Net",
 "IPV6ADDR":"Ipv6Addr","IPV6NET":"Ipv6Net","IPADDR":"IpAddr","IPNET":"IpNet","SYSCALLID":"SyscallId",
 "SIGTYPE":"Sigtype","DYN":"Dynamic","DYNAMIC":"Dynamic"}

def rs(s):
    return json.dumps(s, ensure_ascii=False)

rows = []  # (class_idx, name, type, argkind, argtype, is_list, hidden, desc, flags)
gclasses = golden["fieldclasses"]
for ci, gc in enumerate(gclasses):
    gfields = gc["fields"]
    if ci < len(libs_classes):
        lf = parse_libs(*libs_classes[ci])
        visible = [f for f in lf if not (f["flags"] & {"EPF_TABLE_ONLY", "EPF_DEPRECATED", "EPF_PRINT_ONLY"})]
        assert [f["name"] for f in visible] == [f["name"] for f in gfields], (gc["name"], [f["name"] for f in visible], [f["name"] for f in gfields])
        gi = {f["name"]: f for f in gfields}
        for f in lf:
            g = gi.get(f["name"])
            fl = f["flags"]
            if g:
                ftype, desc, is_list = g["type"], g["desc"], g["is_list"]
                assert TYPES[ftype] == TYPES[f["ptype"]], (f["name"], ftype, f["ptype"])
            else:
                ftype, desc, is_list = f["ptype"], f["desc"], "EPF_IS_LIST" in fl
            argkind = "Required" if "EPF_ARG_REQUIRED" in fl else ("Allowed" if "EPF_ARG_ALLOWED" in fl else "None")
            rows.append(dict(cls=ci, name=f["name"], type=TYPES[ftype], arg=argkind, is_list=is_list,
                             hidden=g is None, desc=desc, flags=fl, plugin=False, fmt=f["fmt"]))
    else:
        for g in gfields:
            a = g["argument"]
            argkind = "None" if a is None else ("Required" if a["required"] else "Allowed")
            t = [] if a is None else a["type"]
            fl = set()
            if "INDEX" in t: fl.add("EPF_ARG_INDEX")
            if "KEY" in t: fl.add("EPF_ARG_KEY")
            rows.append(dict(cls=ci, name=g["name"], type=TYPES[g["type"]], arg=argkind, is_list=g["is_list"],
                             hidden=False, desc=g["desc"], flags=fl, plugin=True, fmt="PF_DEC"))

# check golden text tags agree with our flags for visible fields
def tagset(r):
    fl = r["flags"]; t = set()
    if "EPF_FILTER_ONLY" in fl: t.add("FILTER_ONLY")
    if "EPF_NO_RHS" in fl: t.add("EPF_NO_RHS")
    if "EPF_NO_TRANSFORMER" in fl: t.add("EPF_NO_TRANSFORMER")
    if r["arg"] != "None":
        t.add("ARG_REQUIRED" if r["arg"] == "Required" else "ARG_ALLOWED")
        if "EPF_ARG_INDEX" in fl: t.add("ARG_INDEX")
        if "EPF_ARG_KEY" in fl: t.add("ARG_KEY")
    if r["is_list"]: t.add("EPF_IS_LIST")
    return t
for r in rows:
    if not r["hidden"]:
        assert tagset(r) == set(tags.get(r["name"], [])), (r["name"], tagset(r), tags.get(r["name"]))

def argtype(r):
    fl = r["flags"]
    if "EPF_ARG_INDEX" in fl and "EPF_ARG_KEY" in fl: return "IndexOrKey"
    if "EPF_ARG_KEY" in fl: return "Key"
    if "EPF_ARG_INDEX" in fl: return "Index"
    # sinsp fields that take an argument without declaring its kind (rules-language.md §12.3)
    n = r["name"]
    if n in ("evt.arg", "evt.rawarg", "proc.aenv"):
        return "IndexOrKey"
    if n in ("evt.type.is", "evt.abspath", "proc.env", "thread.cgroup"):
        return "Key"
    return "Index"


PF = {'PF_NA': 'Na', 'PF_DEC': 'Dec', 'PF_HEX': 'Hex', 'PF_10_PADDED_DEC': 'PaddedDec10', 'PF_ID': 'Id', 'PF_DIR': 'Dir', 'PF_OCT': 'Oct'}

with open(OUT, "w") as o:
    o.write("//! @generated by `src/fields/gen_catalog.py` from Falco 0.44.1's `--list`\n")
    o.write("//! output and the libs 0.25.4 field tables (hidden fields). Do not edit by hand.\n\nuse super::registry::{FieldClass, FieldFlags, FieldMeta, PrintFormat};\nuse super::{ArgKind, ArgType, FieldInfo, FieldType};\n\n")
    o.write("pub(super) static CLASSES: &[FieldClass] = &[\n")
    for ci, gc in enumerate(gclasses):
        name = gc["name"]; short = ""
        hdr = re.findall(r"^Field Class:\s+(.*)$", text, re.M)[ci]
        short = hdr[len(name) + 2 : -1] if hdr != name else ""
        o.write(f"    FieldClass {{ name: {rs(name)}, shortdesc: {rs(short)}, desc: {rs(gc.get('desc',''))}, plugin: {str(ci >= len(libs_classes)).lower()} }},\n")
    o.write("];\n\n")
    o.write("pub static FIELDS: &[FieldInfo] = &[\n")
    for r in rows:
        cls = "container" if r["plugin"] else gclasses[r["cls"]]["name"]
        o.write(f"    FieldInfo {{ name: {rs(r['name'])}, class: {rs(cls)}, ftype: FieldType::{r['type']}, arg: ArgKind::{r['arg']}, arg_type: ArgType::{argtype(r)}, is_list: {str(r['is_list']).lower()}, hidden: {str(r['hidden']).lower()}, desc: {rs(r['desc'])} }},\n")
    o.write("];\n\n")
    o.write("pub(super) static META: &[FieldMeta] = &[\n")
    bits = {"EPF_FILTER_ONLY":1,"EPF_PRINT_ONLY":2,"EPF_TABLE_ONLY":8,"EPF_DEPRECATED":1024,"EPF_NO_TRANSFORMER":2048,"EPF_NO_RHS":4096,"EPF_ARG_INDEX":256,"EPF_ARG_KEY":512,"EPF_IS_LIST":64}
    for r in rows:
        v = sum(bits[f] for f in r["flags"] if f in bits)
        o.write(f"    FieldMeta {{ class: {r['cls']}, flags: FieldFlags({v:#06x}), fmt: PrintFormat::{PF[r['fmt']]} }}, // {r['name']}\n")
    o.write("];\n")
print(len(rows), "fields;", sum(r["hidden"] for r in rows), "hidden", file=sys.stderr)
for r in rows:
    if r["hidden"]: print("hidden:", r["name"], r["type"], sorted(r["flags"]), file=sys.stderr)
