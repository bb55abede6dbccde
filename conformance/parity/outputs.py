"""Alert outputs checked against the upstream rules: the rule catalog (output template, priority,
tags per rule name), rendering a template with an alert's `output_fields`, and the live-rules
normalisation of goldens/README.md (times, pids, ttys, container ids, ancestry, ephemeral ports
and the host IP become placeholders).

Input: the upstream rule files (shared/upstream/rules) and alert JSON objects; nothing here runs
a process.
"""
import datetime
import ipaddress
import os
import re

from . import common

RULE_FILES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")

# Falco's priority keywords (rules files, any case) and how alerts spell them.
PRIORITY_NAMES = {
    "emergency": "Emergency", "alert": "Alert", "critical": "Critical", "error": "Error",
    "warning": "Warning", "notice": "Notice", "informational": "Informational",
    "info": "Informational", "debug": "Debug",
}

# Appended by `append_output: [{suggested_output: true}]` of the default falco.yaml: the fields
# the container plugin suggests, as every alert of goldens/live-reference shows them.
SUGGESTED_OUTPUT = (" container_id=%container.id container_name=%container.name"
                    " container_image_repository=%container.image.repository"
                    " container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name"
                    " k8s_ns_name=%k8s.ns.name")

# `%field`, `%field[arg]` or `%(field)`; field names as Falco spells them.
TOKEN_RE = re.compile(r"%(?:\(([A-Za-z0-9_.]+(?:\[[^\]]*\])?)\)|([A-Za-z0-9_.]+(?:\[[^\]]*\])?))")
TIME_PREFIX_RE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{9}): ")

TIME_FIELDS = {"evt.time", "evt.rawtime", "evt.datetime", "container.start_ts", "proc.exe_ino.ctime",
               "proc.exe_ino.mtime", "proc.exe_ino.ctime_duration_proc_start",
               "proc.exe_ino.ctime_duration_pidns_start"}
PID_FIELDS = {"proc.pid", "proc.ppid", "proc.vpid", "proc.pvpid", "thread.tid", "thread.vtid",
              "proc.sid", "proc.vpgid", "proc.pgid"}
PORT_FIELDS = {"fd.lport", "fd.rport", "fd.cport", "fd.sport"}
ANCESTOR_RE = re.compile(r"^proc\.(aname\[(\d+)\]|aexe\[\d*\]|aexepath\[\d*\]|apid\[\d*\])$")
ADDR_PORT_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*[0-9A-Fa-f]):(\d+)")


class RuleCatalog:
    """Rule name -> {output, priority, tags, source, file}, read from the upstream rule files."""

    def __init__(self, rules):
        self.rules = rules

    @classmethod
    def load(cls, rules_dir):
        """Returns the catalog, or None when PyYAML is not installed; ParityError when a file
        cannot be read or parsed."""
        rules = {}
        for name in RULE_FILES:
            try:
                doc = common.load_yaml(os.path.join(rules_dir, name))
            except (OSError, ValueError) as e:
                raise common.ParityError("cannot read the upstream rules file %s: %s"
                                         % (os.path.join(rules_dir, name), e)) from e
            if doc is None:
                return None
            for item in doc:
                if isinstance(item, dict) and "rule" in item and "output" in item:
                    rules[item["rule"]] = {
                        "output": item["output"].strip(),
                        "priority": PRIORITY_NAMES.get(str(item.get("priority", "")).lower(), item.get("priority")),
                        "tags": sorted(item.get("tags") or []),
                        "source": item.get("source", "syscall"),
                        "file": name,
                    }
        return cls(rules)

    def get(self, name):
        return self.rules.get(name)


def tokens(template):
    """Splits an output template into literal strings and ('field', name) pairs."""
    parts, pos = [], 0
    for m in TOKEN_RE.finditer(template):
        if m.start() > pos:
            parts.append(template[pos:m.start()])
        parts.append(("field", m.group(1) or m.group(2)))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return parts


def full_template(rule_output):
    """The rule's output with the suggested-output suffix Falco appends."""
    have = {p[1] for p in tokens(rule_output) if isinstance(p, tuple)}
    extra = [p for p in tokens(SUGGESTED_OUTPUT) if not (isinstance(p, tuple) and p[1] in have)]
    return rule_output + "".join(p if isinstance(p, str) else "%" + p[1] for p in extra).rstrip()


def text_value(value):
    """How a JSON output field reads in the output text."""
    if value is None:
        return "<NA>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def render(template, fields, normalise=None):
    """The template with each %field replaced by its value from `fields` (output_fields).

    A field missing from `fields` renders as `%field` so that the comparison fails visibly.
    `normalise(field, value)` may map a value to its placeholder text.
    """
    out = []
    for part in tokens(template):
        if isinstance(part, str):
            out.append(part)
            continue
        name = part[1]
        if name not in fields:
            out.append("%" + name)
            continue
        value = fields[name]
        out.append(normalise(name, value) if normalise else text_value(value))
    return "".join(out)


def time_prefix(evt_time_ns):
    """`HH:MM:SS.nnnnnnnnn` of an event time in UTC (the goldens run with TZ=UTC)."""
    secs, nanos = divmod(int(evt_time_ns), 1_000_000_000)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return "%02d:%02d:%02d.%09d" % (t.hour, t.minute, t.second, nanos)


def iso_time(evt_time_ns):
    """The alert `time` key: RFC 3339 with nanoseconds, UTC."""
    secs, nanos = divmod(int(evt_time_ns), 1_000_000_000)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % nanos


class Normaliser:
    """The live-rules normalisation of goldens/README.md, for one machine.

    `ephemeral_min`: the lowest ephemeral port (ip_local_port_range); `host_ips`: the machine's
    own non-loopback addresses.
    """

    def __init__(self, ephemeral_min, host_ips):
        self.ephemeral_min = ephemeral_min
        self.host_ips = {ipaddress.ip_address(a) for a in host_ips}

    def _address(self, text):
        try:
            ip = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            return text
        return "<HOSTIP>" if ip in self.host_ips else text

    def _sockets(self, text):
        def sub(m):
            port = int(m.group(2))
            return "%s:%s" % (self._address(m.group(1)),
                              "<EPH>" if port >= self.ephemeral_min else m.group(2))
        return ADDR_PORT_RE.sub(sub, text)

    def __call__(self, field, value):
        if field in TIME_FIELDS or field in PID_FIELDS or field == "container.id":
            return "<%s>" % field
        if field == "proc.tty" and value not in (0, None):
            return "<%s>" % field
        m = ANCESTOR_RE.match(field)
        if m and (m.group(2) is None or int(m.group(2)) >= 2):
            return "<%s>" % field
        if field in PORT_FIELDS and isinstance(value, int) and value >= self.ephemeral_min:
            return "<EPH>"
        text = text_value(value)
        if isinstance(value, str) and (field.startswith("fd.") or field.startswith("evt.arg")):
            text = self._sockets(text)
        return text


def normalised_output(alert, catalog, normalise):
    """`rule | priority | text` with volatile values replaced, for one alert, or None when the
    rule is not in the catalog."""
    rule = catalog.get(alert.get("rule"))
    if rule is None:
        return None
    fields = alert.get("output_fields") or {}
    text = render(full_template(rule["output"]), fields, normalise)
    return "%s | %s | <TIME>: %s %s" % (alert["rule"], alert["priority"], alert["priority"], text)


def check_alert_text(alert, catalog):
    """Checks an alert against its rule: priority, tags, time and that its output text is the
    rule's template rendered with its own output_fields. Returns a list of problems."""
    problems = []
    rule = catalog.get(alert.get("rule"))
    if rule is None:
        return ["rule %r is not in the upstream rule files" % alert.get("rule")]
    if alert.get("priority") != rule["priority"]:
        problems.append("priority %r, the rule says %r" % (alert.get("priority"), rule["priority"]))
    if alert.get("tags") != rule["tags"]:  # Falco prints them sorted (a std::set)
        problems.append("tags %r, expected the rule's sorted: %r" % (alert.get("tags"), rule["tags"]))
    if alert.get("source") != rule["source"]:
        problems.append("source %r, the rule says %r" % (alert.get("source"), rule["source"]))
    fields = alert.get("output_fields") or {}
    output = alert.get("output", "")
    m = TIME_PREFIX_RE.match(output)
    if not m:
        problems.append("output does not start with HH:MM:SS.nnnnnnnnn: %r" % output[:40])
        return problems
    evt_time = fields.get("evt.time")
    if isinstance(evt_time, int):
        if m.group(1) != time_prefix(evt_time):
            problems.append("output time %s, evt.time says %s" % (m.group(1), time_prefix(evt_time)))
        if alert.get("time") != iso_time(evt_time):
            problems.append("time %r, evt.time says %r" % (alert.get("time"), iso_time(evt_time)))
    want = "%s %s" % (rule["priority"], render(full_template(rule["output"]), fields))
    got = output[m.end():]
    if got != want:
        problems.append("output text is not the rule's template rendered with output_fields: "
                        "got %r, expected %r" % (got[:300], want[:300]))
    return problems


def host_ips():
    """This machine's non-loopback addresses (IPv4 from /proc/net/fib_trie, IPv6 from
    /proc/net/if_inet6)."""
    ips = set()
    try:
        with open("/proc/net/fib_trie", encoding="ascii") as fh:
            last = None
            for line in fh:
                m = re.search(r"\|-- (\d+\.\d+\.\d+\.\d+)", line)
                if m:
                    last = m.group(1)
                elif "/32 host LOCAL" in line and last:
                    ips.add(last)
    except OSError:
        pass
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as fh:
            for line in fh:
                hexaddr = line.split()[0]
                ips.add(str(ipaddress.ip_address(bytes.fromhex(hexaddr))))
    except (OSError, ValueError, IndexError):
        pass
    return sorted(a for a in ips if not ipaddress.ip_address(a).is_loopback)


def ephemeral_min():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
