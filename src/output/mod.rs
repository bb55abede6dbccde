//! Alert formatting (text and JSON), append_output, the outputs queue and the sinks
//! (stdout, file, syslog, program, http). Knows nothing about drivers.
//!
//! The engine hands over an [`Alert`]: the rule's rendered output (`message`, after
//! append_output) and its typed `output_fields`. This module adds what Falco's
//! `falco_formats::format_event` adds around them: the `<time>: <Priority> ` prefix, the
//! `evt.time` prefix field, and the JSON envelope with sorted keys. Internal messages
//! (`Falco internal: ...`) have their own format ([`InternalMsg`]).

pub mod queue;
pub mod sinks;
pub mod stats;
pub mod tls;

use std::collections::BTreeMap;

use chrono::{Local, TimeZone, Utc};
use serde_json::Value;

use crate::config::{Config, Priority};

pub use queue::{Outputs, OutputsHandle};
pub use stats::Stats;

/// Source name of Falco's internal messages.
pub const INTERNAL_SOURCE: &str = "internal";

/// One rule match, as the engine produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Event timestamp, ns since the epoch.
    pub time_ns: u64,
    pub priority: Priority,
    pub rule: String,
    pub source: String,
    /// Rule tags (sorted when emitted).
    pub tags: Vec<String>,
    /// The rendered rule output, without the time/priority prefix.
    pub message: String,
    /// Values of the fields of the rule output (and extra fields), keyed as written.
    pub output_fields: BTreeMap<String, Value>,
}

/// A Falco internal message (drops, hot-restart failure, metrics snapshot, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct InternalMsg {
    pub time_ns: u64,
    pub priority: Priority,
    /// Rule name, e.g. `Falco internal: hot restart failure`.
    pub rule: String,
    pub msg: String,
    pub fields: BTreeMap<String, Value>,
}

/// How alerts are rendered: the formatting keys of falco.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pub json_output: bool,
    pub json_include_output_property: bool,
    pub json_include_tags_property: bool,
    pub json_include_message_property: bool,
    pub json_include_output_fields_property: bool,
    pub time_format_iso_8601: bool,
    pub hostname: String,
}

impl Format {
    pub fn from_config(cfg: &Config, hostname: &str) -> Format {
        Format {
            json_output: cfg.json_output,
            json_include_output_property: cfg.json_include_output_property,
            json_include_tags_property: cfg.json_include_tags_property,
            json_include_message_property: cfg.json_include_message_property,
            json_include_output_fields_property: cfg.json_include_output_fields_property,
            time_format_iso_8601: cfg.time_format_iso_8601,
            hostname: hostname.to_string(),
        }
    }
}

/// `%evt.time`: `HH:MM:SS.nnnnnnnnn` in the local zone (its current UTC offset, as libsinsp's
/// `gmt2local(0)`), no date.
pub fn format_time_local(ts: u64) -> String {
    let offset = i64::from(Local::now().offset().local_minus_utc());
    let secs = (ts / 1_000_000_000) as i64 + offset;
    let s = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        s / 3600,
        (s % 3600) / 60,
        s % 60,
        ts % 1_000_000_000
    )
}

/// `%evt.time.iso8601`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` (UTC).
pub fn format_time_iso8601(ts: u64) -> String {
    let dt = Utc.timestamp_opt((ts / 1_000_000_000) as i64, 0).single();
    match dt {
        Some(dt) => format!(
            "{}.{:09}+0000",
            dt.format("%Y-%m-%dT%H:%M:%S"),
            ts % 1_000_000_000
        ),
        None => "<NA>".to_string(),
    }
}

/// The JSON `time` key: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn format_time_json(ts: u64) -> String {
    let dt = Utc.timestamp_opt((ts / 1_000_000_000) as i64, 0).single();
    match dt {
        Some(dt) => format!(
            "{}.{:09}Z",
            dt.format("%Y-%m-%dT%H:%M:%S"),
            ts % 1_000_000_000
        ),
        None => String::new(),
    }
}

impl Format {
    /// The text line of an alert (no trailing newline): `<time>: <Priority> <message>`.
    pub fn text(&self, alert: &Alert) -> String {
        let time = if self.time_format_iso_8601 {
            format_time_iso8601(alert.time_ns)
        } else {
            format_time_local(alert.time_ns)
        };
        format!("{time}: {} {}", alert.priority.name(), alert.message)
    }

    /// The message a sink receives for an alert: the text line or the JSON document.
    pub fn alert(&self, alert: &Alert) -> String {
        if !self.json_output {
            return self.text(alert);
        }
        let mut doc: BTreeMap<&str, Value> = BTreeMap::new();
        doc.insert("hostname", Value::from(self.hostname.clone()));
        if self.json_include_message_property {
            doc.insert("message", Value::from(alert.message.clone()));
        }
        if self.json_include_output_property {
            doc.insert("output", Value::from(self.text(alert)));
        }
        if self.json_include_output_fields_property {
            let mut fields: BTreeMap<String, Value> = alert.output_fields.clone();
            let key = if self.time_format_iso_8601 {
                "evt.time.iso8601"
            } else {
                "evt.time"
            };
            fields.insert(key.to_string(), Value::from(alert.time_ns));
            doc.insert(
                "output_fields",
                serde_json::to_value(fields).unwrap_or_default(),
            );
        }
        doc.insert("priority", Value::from(alert.priority.name()));
        doc.insert("rule", Value::from(alert.rule.clone()));
        doc.insert("source", Value::from(alert.source.clone()));
        if self.json_include_tags_property {
            let mut tags = alert.tags.clone();
            tags.sort();
            tags.dedup();
            doc.insert("tags", Value::from(tags));
        }
        doc.insert("time", Value::from(format_time_json(alert.time_ns)));
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// The message of an internal event. Text: `<HH:MM:SS.nnnnnnnnn>: <Priority> <msg> (k=v ...)`
    /// with JSON-encoded values, whatever time_format_iso_8601 says; JSON: no prefix in
    /// `output`, no tags, json_include_* ignored.
    pub fn internal(&self, m: &InternalMsg) -> String {
        if self.json_output {
            let mut doc: BTreeMap<&str, Value> = BTreeMap::new();
            doc.insert("hostname", Value::from(self.hostname.clone()));
            doc.insert("output", Value::from(m.msg.clone()));
            doc.insert(
                "output_fields",
                serde_json::to_value(&m.fields).unwrap_or_default(),
            );
            doc.insert("priority", Value::from(m.priority.name()));
            doc.insert("rule", Value::from(m.rule.clone()));
            doc.insert("source", Value::from(INTERNAL_SOURCE));
            doc.insert("time", Value::from(format_time_json(m.time_ns)));
            return serde_json::to_string(&doc).unwrap_or_default();
        }
        let fields = m
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{}: {} {} ({fields})",
            format_time_local(m.time_ns),
            m.priority.name(),
            m.msg
        )
    }
}

/// The text of `Falco internal: hot restart failure` for a failed reload.
pub fn hot_restart_failure(time_ns: u64, err: &str) -> InternalMsg {
    let rule = "Falco internal: hot restart failure".to_string();
    InternalMsg {
        time_ns,
        priority: Priority::Critical,
        msg: format!("{rule}: {err}"),
        rule,
        fields: BTreeMap::new(),
    }
}

/// Wall-clock now in ns since the epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The first alert of goldens `replay/triggers-stable-json` (hostname golden, TZ=UTC).
    fn shadow_alert() -> Alert {
        let fields = json!({"container.id":"0123456789ab","container.image.repository":null,"container.image.tag":null,"container.name":null,"evt.type":"openat","fd.name":"/etc/shadow","k8s.ns.name":null,"k8s.pod.name":null,"proc.aname[2]":"bash","proc.aname[3]":null,"proc.aname[4]":null,"proc.cmdline":"cat /etc/shadow","proc.exepath":"/usr/bin/cat","proc.name":"cat","proc.pname":"bash","proc.tty":0,"user.loginuid":-1,"user.name":"root","user.uid":0});
        Alert {
            time_ns: 1_795_830_598_079_526_822,
            priority: Priority::Warning,
            rule: "Read sensitive file untrusted".into(),
            source: "syscall".into(),
            tags: ["mitre_credential_access", "T1555", "container", "filesystem", "host", "maturity_stable"].map(String::from).to_vec(),
            message: "Sensitive file opened for reading by non-trusted program | file=/etc/shadow gparent=bash ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=0 container_id=0123456789ab container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>".into(),
            output_fields: serde_json::from_value(fields).unwrap(),
        }
    }

    fn golden_lines(case: &str) -> Vec<String> {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/replay")
            .join(case)
            .join("stdout");
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn fmt(json: bool) -> Format {
        Format {
            json_output: json,
            json_include_output_property: true,
            json_include_tags_property: true,
            json_include_message_property: false,
            json_include_output_fields_property: true,
            time_format_iso_8601: false,
            hostname: "golden".into(),
        }
    }

    #[test]
    fn json_alert_is_falcos_bytes() {
        // SAFETY-free: TZ only affects the text prefix, which this golden recorded in UTC.
        if Local::now().offset().local_minus_utc() != 0 {
            return;
        }
        let golden = golden_lines("triggers-stable-json");
        assert_eq!(fmt(true).alert(&shadow_alert()), golden[0]);
        let golden = golden_lines("triggers-stable-text");
        assert_eq!(fmt(false).alert(&shadow_alert()), golden[0]);
    }

    #[test]
    fn json_include_properties() {
        let mut f = fmt(true);
        f.json_include_output_property = false;
        f.json_include_tags_property = false;
        f.json_include_output_fields_property = false;
        f.json_include_message_property = true;
        let v: Value = serde_json::from_str(&f.alert(&shadow_alert())).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["hostname", "message", "priority", "rule", "source", "time"]
        );
        f.time_format_iso_8601 = true;
        f.json_include_output_fields_property = true;
        f.json_include_output_property = true;
        let v: Value = serde_json::from_str(&f.alert(&shadow_alert())).unwrap();
        assert_eq!(
            v["output_fields"]["evt.time.iso8601"],
            json!(1_795_830_598_079_526_822u64)
        );
        assert!(
            v["output"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-28T01:49:58.079526822+0000: Warning Sensitive")
        );
    }

    #[test]
    fn internal_messages() {
        let m = hot_restart_failure(1_795_830_598_000_000_001, "boom");
        let text = fmt(false).internal(&m);
        assert!(
            text.ends_with(": Critical Falco internal: hot restart failure: boom ()"),
            "{text}"
        );
        let json = fmt(true).internal(&m);
        assert!(json.starts_with(r#"{"hostname":"golden","output":"Falco internal: hot restart failure: boom","output_fields":{},"priority":"Critical","rule":"Falco internal: hot restart failure","source":"internal","time":"2026-11-28T01:49:58.000000001Z"}"#), "{json}");
        let mut fields = BTreeMap::new();
        fields.insert("n_drops".to_string(), json!("12"));
        fields.insert("a".to_string(), json!(1.5));
        let m = InternalMsg { fields, ..m };
        assert!(
            fmt(false)
                .internal(&m)
                .ends_with(r#"boom (a=1.5 n_drops="12")"#)
        );
    }

    #[test]
    fn times() {
        assert_eq!(
            format_time_json(1_795_830_598_079_526_822),
            "2026-11-28T01:49:58.079526822Z"
        );
        assert_eq!(
            format_time_iso8601(1_795_830_598_079_526_822),
            "2026-11-28T01:49:58.079526822+0000"
        );
    }
}
