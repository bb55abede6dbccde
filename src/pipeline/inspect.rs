//! `falco inspect -r FILE [-p FORMAT] [FILTER]`: sysdig's capture reading for rule authors.
//! Replays the capture through the same state as the rules see it and prints one line per
//! event that passes FILTER (a rule condition without macros or lists), formatted with FORMAT
//! (sysdig's `-p`). Without a leading `*`, events for which a field of FORMAT is missing are
//! skipped, as sysdig does; with it they print `<NA>`.
//!
//! Events are the ones rules are evaluated on (state-only and parse-only events are not
//! printed); `evt.num` counts every event the replay converter delivered.

use std::io::Write;
use std::path::PathBuf;

use crate::capture::CaptureError;
use crate::driver::replay::{ReplayDriver, ReplayItem};
use crate::engine::format::{Format, Token};
use crate::engine::{Filter, Scratch};
use crate::fields::extract::Extractor;
use crate::state::State;

/// sysdig's default `-p` format.
pub const DEFAULT_FORMAT: &str =
    "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info";

/// Usage text of `falco inspect`.
pub const USAGE: &str = "Usage: falco inspect -r <file> [-p <format>] [<filter>]\n\n\
  -r <file>, --read=<file>      Read the events from <file> (scap capture, plain or gzip).\n\
  -p <format>, --print=<format> Print events with <format> (sysdig's -p syntax); a leading '*'\n\
                                prints events whose fields are missing as <NA>.\n\
  <filter>                      A rule condition; only matching events are printed.\n";

/// Errors of `falco inspect`.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{0}")]
    Usage(String),
    #[error("invalid output format: {0}")]
    Format(String),
    #[error("invalid filter: {0}")]
    Filter(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("could not write to stdout")]
    Write(#[source] std::io::Error),
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub file: PathBuf,
    pub format: String,
    pub filter: String,
}

/// Parses `-r FILE`, `-p FORMAT` (also `--read=`, `--print=`, `-rFILE`) and the filter words.
pub fn parse_args(args: &[String]) -> Result<Args, InspectError> {
    let mut file = None;
    let mut format = None;
    let mut filter = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| -> Result<String, InspectError> {
            it.next()
                .cloned()
                .ok_or_else(|| InspectError::Usage(format!("Option '{flag}' requires an argument")))
        };
        match a.as_str() {
            "-r" | "--read" => file = Some(value(a)?),
            "-p" | "--print" => format = Some(value(a)?),
            "-h" | "--help" => return Err(InspectError::Usage(USAGE.to_string())),
            _ if a.starts_with("--read=") => file = Some(a["--read=".len()..].to_string()),
            _ if a.starts_with("--print=") => format = Some(a["--print=".len()..].to_string()),
            _ if a.starts_with("-r") && a.len() > 2 => file = Some(a[2..].to_string()),
            _ if a.starts_with("-p") && a.len() > 2 => format = Some(a[2..].to_string()),
            _ if a.starts_with('-') && a.len() > 1 && filter.is_empty() => {
                return Err(InspectError::Usage(format!("Option '{a}' does not exist")));
            }
            _ => filter.push(a.clone()),
        }
    }
    let file = file.ok_or_else(|| InspectError::Usage(format!("missing -r <file>\n{USAGE}")))?;
    Ok(Args {
        file: PathBuf::from(file),
        format: format.unwrap_or_else(|| DEFAULT_FORMAT.to_string()),
        filter: filter.join(" "),
    })
}

/// Compiles a filter as sysdig does (`-` or empty: none).
pub fn compile_filter(text: &str) -> Result<Option<Filter>, InspectError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let ast = crate::rules::condition::parse(text).map_err(|e| InspectError::Filter(e.msg))?;
    let mut warnings = Vec::new();
    crate::engine::filter::compile(&ast, crate::fields::lookup, &mut warnings)
        .map(Some)
        .map_err(|e| InspectError::Filter(e.to_string()))
}

/// Runs `falco inspect` with `args` (after the `inspect` word), writing lines to `out`.
pub fn run(args: &[String], out: &mut impl Write) -> Result<(), InspectError> {
    let args = parse_args(args)?;
    let format = Format::compile(&args.format, crate::fields::lookup)
        .map_err(|e| InspectError::Format(e.msg))?;
    let filter = compile_filter(&args.filter)?;
    let mut driver = ReplayDriver::open(&args.file)?;
    let mut state = State::new(262_144);
    state.seed_capture(driver.metadata());
    let mut scratch = Scratch::new();
    let mut line = Vec::with_capacity(256);
    loop {
        let rev = match driver.next()? {
            None => break,
            Some(ReplayItem::NewSection) => {
                let meta = driver.metadata().clone();
                state = State::new(262_144);
                state.seed_capture(&meta);
                continue;
            }
            Some(ReplayItem::Event(rev)) => rev,
        };
        let mut ctx = state.process(&rev.event);
        ctx.cpu = rev.cpuid;
        if !super::rules_see(&rev.event, &ctx, rev.state_only()) {
            continue;
        }
        let mut ex = Extractor::new(&state, &rev.event, &ctx, "");
        if let Some(f) = &filter
            && !f.matches(&mut ex, &mut scratch)
        {
            continue;
        }
        line.clear();
        if render(&format, &mut ex, rev.event.ts(), &mut line) {
            line.push(b'\n');
            out.write_all(&line).map_err(InspectError::Write)?;
        }
    }
    out.flush().map_err(InspectError::Write)
}

/// Renders `format` for the current event into `line`; false when a field is missing and the
/// format requires all values.
pub fn render(format: &Format, ex: &mut Extractor<'_, '_>, ts: u64, line: &mut Vec<u8>) -> bool {
    for token in &format.tokens {
        match token {
            Token::Literal(s) => line.extend_from_slice(s.as_bytes()),
            Token::Field { operand, width, .. } => {
                let (text, _) = super::alert::field(operand, ex, ts);
                let text = match text {
                    Some(t) => t,
                    None if format.require_all_values => return false,
                    None => b"<NA>".to_vec(),
                };
                if *width > 0 {
                    let s = String::from_utf8_lossy(&text);
                    let mut n = 0;
                    for c in s.chars().take(*width) {
                        let mut buf = [0u8; 4];
                        line.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        n += 1;
                    }
                    line.extend(std::iter::repeat_n(b' ', width - n));
                } else {
                    line.extend_from_slice(&text);
                }
            }
        }
    }
    true
}

/// The `falco inspect` command: prints to stdout, errors to stderr; returns the exit code.
pub fn main(args: &[String]) -> std::process::ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match run(args, &mut out) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(InspectError::Usage(msg)) if msg == USAGE => {
            print!("{USAGE}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("Error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn args_follow_sysdig() {
        let a = parse_args(&s(&[
            "-r",
            "f.scap",
            "-p",
            "%proc.name",
            "evt.type",
            "=",
            "open",
        ]))
        .unwrap();
        assert_eq!(a.file, PathBuf::from("f.scap"));
        assert_eq!(a.format, "%proc.name");
        assert_eq!(a.filter, "evt.type = open");
        let a = parse_args(&s(&["--read=f.scap"])).unwrap();
        assert_eq!(a.format, DEFAULT_FORMAT);
        assert!(a.filter.is_empty());
        assert!(matches!(
            parse_args(&s(&["-p", "x"])),
            Err(InspectError::Usage(_))
        ));
        assert!(matches!(
            parse_args(&s(&["-r"])),
            Err(InspectError::Usage(_))
        ));
    }

    #[test]
    fn bad_filters_are_errors() {
        assert!(compile_filter("").unwrap().is_none());
        assert!(matches!(
            compile_filter("proc.nope = 1"),
            Err(InspectError::Filter(_))
        ));
        assert!(matches!(
            compile_filter("evt.type = "),
            Err(InspectError::Filter(_))
        ));
    }
}
