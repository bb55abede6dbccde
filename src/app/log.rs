//! Falco's own log lines (`falco_logger`): a level filter, stderr lines prefixed by a wall-clock
//! stamp and no level tag, and syslog. Until the config is applied the defaults hold (stderr and
//! syslog on, level info, non-ISO stamp).

use std::io::Write;

use chrono::{Local, Utc};

/// Log levels, most severe first (the syslog numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Level {
    /// Parses `log_level` (exact lowercase names; `informational` is not one).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "emergency" => Level::Emergency,
            "alert" => Level::Alert,
            "critical" => Level::Critical,
            "error" => Level::Error,
            "warning" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }
}

/// Where log lines go and how they look.
#[derive(Debug, Clone)]
pub struct Logger {
    pub level: Level,
    pub stderr: bool,
    pub syslog: bool,
    pub iso8601: bool,
}

impl Default for Logger {
    fn default() -> Self {
        Logger {
            level: Level::Info,
            stderr: true,
            syslog: true,
            iso8601: false,
        }
    }
}

impl Logger {
    /// The stamp that opens a stderr line: `Sat Nov 28 00:58:38 2026` (local time) or
    /// `2026-11-28T00:58:38+0000` (UTC) with `time_format_iso_8601`.
    pub fn stamp(&self) -> String {
        if self.iso8601 {
            Utc::now().format("%Y-%m-%dT%H:%M:%S%z").to_string()
        } else {
            Local::now().format("%a %b %d %H:%M:%S %Y").to_string()
        }
    }

    /// Logs one message. Messages with embedded newlines are written as they are.
    pub fn log(&self, level: Level, msg: &str) {
        if level > self.level {
            return;
        }
        if self.syslog {
            let text = msg.strip_suffix('\n').unwrap_or(msg);
            if let Ok(c) = std::ffi::CString::new(text.replace('\0', "")) {
                // SAFETY: both pointers are valid NUL-terminated strings for the call.
                unsafe { libc::syslog(level as libc::c_int, c"%s".as_ptr(), c.as_ptr()) };
            }
        }
        if self.stderr {
            let mut line = format!("{}: {msg}", self.stamp());
            if !line.ends_with('\n') {
                line.push('\n');
            }
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg);
    }

    pub fn warning(&self, msg: &str) {
        self.log(Level::Warning, msg);
    }

    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg);
    }

    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        let l = Logger::default();
        let re = regex::Regex::new(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}$")
            .unwrap();
        assert!(re.is_match(&l.stamp()), "{}", l.stamp());
        let iso = Logger {
            iso8601: true,
            ..Logger::default()
        };
        let re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$").unwrap();
        assert!(re.is_match(&iso.stamp()), "{}", iso.stamp());
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("info"), Some(Level::Info));
        assert_eq!(Level::parse("informational"), None);
        assert!(Level::Debug > Level::Info);
    }
}
