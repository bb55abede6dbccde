//! Command line: the options of Falco 0.44.1 (`userspace/falco/app/options.cpp`) with Falco's
//! spelling, parsed with clap the way Falco's cxxopts parser accepts them. Knows nothing about
//! how anything runs: `app` reads the [`Options`] this produces.
//!
//! cxxopts behaviours kept on purpose:
//! - an unknown option (including every option removed since 0.38, e.g. `-e`, `--nodriver`)
//!   fails with `Option ‘e’ does not exist` (U+2018/U+2019 quotes);
//! - a missing value fails with `Option ‘r’ is missing an argument`;
//! - `--list` takes its source only as `--list=SOURCE`; in `--list syscall` the word is a
//!   stray positional argument and is ignored;
//! - short options take attached values (`-pk` is `-p k`, `-ofoo=bar`);
//! - a single-valued option given twice keeps the last value.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command};

mod help_text;

/// The usage text `-h`/`--help` prints, as cxxopts renders Falco's option table at width 140.
pub use help_text::HELP;

/// Output format of `--list` and `--list-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

/// Parsed command line, one field per Falco option.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub help: bool,
    pub print_config_schema: bool,
    pub print_rule_schema: bool,
    /// `-c`; empty when not given.
    pub conf_filename: String,
    pub disable_sources: Vec<String>,
    pub enable_sources: Vec<String>,
    pub dry_run: bool,
    pub print_ignored_events: bool,
    /// `-L`.
    pub describe_all_rules: bool,
    /// `-l RULE`; empty when not given.
    pub describe_rule: String,
    /// `--list` was given.
    pub list_fields: bool,
    /// The source of `--list=SOURCE` (empty: all sources).
    pub list_source_fields: String,
    pub list_syscall_events: bool,
    pub list_plugins: bool,
    /// `-M`: stop after this many seconds of event time (0: never).
    pub duration_to_tot: i64,
    pub markdown: bool,
    pub output_fmt: OutputFormat,
    /// `-N`.
    pub names_only: bool,
    /// `-o` options in command-line order.
    pub cmdline_config_options: Vec<String>,
    pub print_plugin_info: String,
    /// `-p`: appended to every rule output unless it is one of the no-op container spellings.
    pub print_additional: String,
    /// `-P`; empty when not given.
    pub pidfilename: String,
    /// `-r` files in order.
    pub rules_filenames: Vec<String>,
    pub print_support: bool,
    /// `-U`.
    pub unbuffered_outputs: bool,
    /// `-V` files in order.
    pub validate_rules_filenames: Vec<String>,
    pub verbose: bool,
    pub print_version_info: bool,
    pub print_page_size: bool,
}

/// A command-line error, worded as Falco prints it after `Error: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    #[error("Option ‘{option}’ does not exist")]
    UnknownOption { option: String },
    #[error("Option ‘{option}’ is missing an argument")]
    MissingArgument { option: String },
    #[error("Argument ‘{value}’ failed to parse")]
    InvalidArgument { value: String },
    #[error("Cannot specify both --markdown and --format options together")]
    MarkdownAndFormat,
    #[error("Invalid format '{format}'. Valid values are: text, markdown, json")]
    InvalidFormat { format: String },
    #[error("{message}")]
    Other { message: String },
}

/// What the option definitions need to know about one option.
struct Def {
    id: &'static str,
    short: Option<char>,
    long: Option<&'static str>,
    takes_value: bool,
    repeated: bool,
}

const fn flag(id: &'static str, short: Option<char>, long: Option<&'static str>) -> Def {
    Def {
        id,
        short,
        long,
        takes_value: false,
        repeated: false,
    }
}

const fn value(id: &'static str, short: Option<char>, long: Option<&'static str>) -> Def {
    Def {
        id,
        short,
        long,
        takes_value: true,
        repeated: false,
    }
}

const fn values(id: &'static str, short: Option<char>, long: Option<&'static str>) -> Def {
    Def {
        id,
        short,
        long,
        takes_value: true,
        repeated: true,
    }
}

/// Falco's options, as `options::define` declares them.
const DEFS: &[Def] = &[
    flag("help", Some('h'), Some("help")),
    value("c", Some('c'), None),
    flag("config-schema", None, Some("config-schema")),
    flag("rule-schema", None, Some("rule-schema")),
    values("disable-source", None, Some("disable-source")),
    flag("dry-run", None, Some("dry-run")),
    values("enable-source", None, Some("enable-source")),
    flag("i", Some('i'), None),
    flag("L", Some('L'), None),
    value("l", Some('l'), None),
    // `list` is special-cased below (optional value, only with `=`).
    flag("list-events", None, Some("list-events")),
    flag("list-plugins", None, Some("list-plugins")),
    value("M", Some('M'), None),
    flag("markdown", None, Some("markdown")),
    value("format", None, Some("format")),
    flag("N", Some('N'), None),
    values("option", Some('o'), Some("option")),
    value("plugin-info", None, Some("plugin-info")),
    value("print", Some('p'), Some("print")),
    value("pidfile", Some('P'), Some("pidfile")),
    values("r", Some('r'), None),
    flag("support", None, Some("support")),
    flag("unbuffered", Some('U'), Some("unbuffered")),
    values("validate", Some('V'), Some("validate")),
    flag("v", Some('v'), None),
    flag("version", None, Some("version")),
    flag("page-size", None, Some("page-size")),
];

fn command() -> Command {
    let mut cmd = Command::new("falco")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .args_override_self(true)
        .arg(
            Arg::new("list")
                .long("list")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("")
                .action(ArgAction::Set),
        )
        .arg(
            Arg::new("positional")
                .num_args(0..)
                .action(ArgAction::Append)
                .allow_hyphen_values(false),
        );
    for def in DEFS {
        let mut arg = Arg::new(def.id);
        if let Some(s) = def.short {
            arg = arg.short(s);
        }
        if let Some(l) = def.long {
            arg = arg.long(l);
        }
        arg = if !def.takes_value {
            arg.action(ArgAction::SetTrue)
        } else if def.repeated {
            arg.action(ArgAction::Append)
                .num_args(1)
                .allow_hyphen_values(true)
        } else {
            arg.action(ArgAction::Set)
                .num_args(1)
                .allow_hyphen_values(true)
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// The option name as cxxopts quotes it: `-e` → `e`, `--nodriver=x` → `nodriver`.
fn option_name(raw: &str) -> String {
    let name = raw.split([' ', '=']).next().unwrap_or(raw);
    name.trim_start_matches('-').to_string()
}

fn context_str(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// The name cxxopts reports for an option missing its value: the last argument, `--name` or
/// the last letter of a `-xyz` group.
fn last_option_name(argv: &[std::ffi::OsString]) -> String {
    let last = argv
        .last()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    match last.strip_prefix("--") {
        Some(long) => long.to_string(),
        None => last.chars().last().map(String::from).unwrap_or_default(),
    }
}

fn map_clap_error(err: clap::Error, argv: &[std::ffi::OsString]) -> CliError {
    match err.kind() {
        ErrorKind::UnknownArgument => CliError::UnknownOption {
            option: option_name(&context_str(&err, ContextKind::InvalidArg).unwrap_or_default()),
        },
        ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues => {
            CliError::MissingArgument {
                option: last_option_name(argv),
            }
        }
        _ => CliError::Other {
            message: err
                .kind()
                .as_str()
                .unwrap_or("invalid command line")
                .to_string(),
        },
    }
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn string(m: &ArgMatches, id: &str) -> String {
    m.get_one::<String>(id).cloned().unwrap_or_default()
}

/// Parses Falco's command line (`args` excludes the program name).
pub fn parse<I, S>(args: I) -> Result<Options, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("falco"))
        .chain(args.into_iter().map(Into::into))
        .collect::<Vec<_>>();
    let m = command()
        .try_get_matches_from(&argv)
        .map_err(|e| map_clap_error(e, &argv))?;

    let duration = string(&m, "M");
    let duration_to_tot = if duration.is_empty() {
        0
    } else {
        duration
            .trim()
            .parse::<i64>()
            .map_err(|_| CliError::InvalidArgument { value: duration })?
    };

    let mut opts = Options {
        help: m.get_flag("help"),
        print_config_schema: m.get_flag("config-schema"),
        print_rule_schema: m.get_flag("rule-schema"),
        conf_filename: string(&m, "c"),
        disable_sources: strings(&m, "disable-source"),
        enable_sources: strings(&m, "enable-source"),
        dry_run: m.get_flag("dry-run"),
        print_ignored_events: m.get_flag("i"),
        describe_all_rules: m.get_flag("L"),
        describe_rule: string(&m, "l"),
        list_fields: m.contains_id("list") && m.value_source("list").is_some(),
        list_source_fields: string(&m, "list"),
        list_syscall_events: m.get_flag("list-events"),
        list_plugins: m.get_flag("list-plugins"),
        duration_to_tot,
        markdown: m.get_flag("markdown"),
        output_fmt: OutputFormat::Text,
        names_only: m.get_flag("N"),
        cmdline_config_options: strings(&m, "option"),
        print_plugin_info: string(&m, "plugin-info"),
        print_additional: string(&m, "print"),
        pidfilename: string(&m, "pidfile"),
        rules_filenames: strings(&m, "r"),
        print_support: m.get_flag("support"),
        unbuffered_outputs: m.get_flag("unbuffered"),
        validate_rules_filenames: strings(&m, "validate"),
        verbose: m.get_flag("v"),
        print_version_info: m.get_flag("version"),
        print_page_size: m.get_flag("page-size"),
    };

    let format = string(&m, "format");
    let format_given = m.value_source("format").is_some();
    if opts.markdown && format_given {
        return Err(CliError::MarkdownAndFormat);
    }
    if !format.is_empty() {
        opts.output_fmt = match format.to_ascii_lowercase().as_str() {
            "text" => OutputFormat::Text,
            "markdown" => OutputFormat::Markdown,
            "json" => OutputFormat::Json,
            _ => return Err(CliError::InvalidFormat { format }),
        };
    } else if opts.markdown {
        eprintln!("WARNING: --markdown is deprecated, use --format markdown instead.");
        opts.output_fmt = OutputFormat::Markdown;
    }
    Ok(opts)
}

impl Options {
    /// `-p` values that Falco accepts as no-ops (`-pc`, `-pk` and their long spellings).
    pub fn print_additional_is_noop(&self) -> bool {
        matches!(
            self.print_additional.as_str(),
            "c" | "container" | "k" | "kubernetes"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Options {
        parse(args.iter().copied()).unwrap()
    }

    fn e(args: &[&str]) -> String {
        parse(args.iter().copied()).unwrap_err().to_string()
    }

    #[test]
    fn removed_options_do_not_exist() {
        assert_eq!(e(&["-e", "x.scap"]), "Option ‘e’ does not exist");
        assert_eq!(e(&["--nodriver"]), "Option ‘nodriver’ does not exist");
        assert_eq!(e(&["-A"]), "Option ‘A’ does not exist");
        assert_eq!(
            e(&["--gvisor-generate-config=/x"]),
            "Option ‘gvisor-generate-config’ does not exist"
        );
        assert_eq!(
            e(&["--markdown", "--format", "json"]),
            "Cannot specify both --markdown and --format options together"
        );
    }

    #[test]
    fn missing_argument() {
        assert_eq!(e(&["-r"]), "Option ‘r’ is missing an argument");
        assert_eq!(e(&["-o"]), "Option ‘o’ is missing an argument");
        assert_eq!(e(&["--option"]), "Option ‘option’ is missing an argument");
    }

    #[test]
    fn repeated_and_attached_values() {
        let o = p(&[
            "-r",
            "a.yaml",
            "-r",
            "b.yaml",
            "-ojson_output=true",
            "-o",
            "x=a,b",
        ]);
        assert_eq!(o.rules_filenames, ["a.yaml", "b.yaml"]);
        assert_eq!(o.cmdline_config_options, ["json_output=true", "x=a,b"]);
        let o = p(&["-pk"]);
        assert_eq!(o.print_additional, "k");
        assert!(o.print_additional_is_noop());
        let o = p(&["-pc", "-V", "a", "--validate", "b", "-c", "x", "-c", "y"]);
        assert!(o.print_additional_is_noop());
        assert_eq!(o.validate_rules_filenames, ["a", "b"]);
        assert_eq!(o.conf_filename, "y");
    }

    #[test]
    fn list_takes_its_source_only_with_equals() {
        let o = p(&["--list", "syscall"]);
        assert!(o.list_fields);
        assert_eq!(o.list_source_fields, "");
        let o = p(&["--list=syscall"]);
        assert!(o.list_fields);
        assert_eq!(o.list_source_fields, "syscall");
        assert!(!p(&[]).list_fields);
    }

    #[test]
    fn format_spellings() {
        assert_eq!(p(&["--format", "JSON"]).output_fmt, OutputFormat::Json);
        assert_eq!(p(&["--format=markdown"]).output_fmt, OutputFormat::Markdown);
        assert_eq!(p(&["--markdown"]).output_fmt, OutputFormat::Markdown);
        assert_eq!(
            e(&["--format", "yaml"]),
            "Invalid format 'yaml'. Valid values are: text, markdown, json"
        );
    }

    #[test]
    fn flags() {
        let o = p(&[
            "-h",
            "-i",
            "-L",
            "-N",
            "-U",
            "-v",
            "--dry-run",
            "--version",
            "--list-events",
            "--list-plugins",
            "--config-schema",
            "--rule-schema",
            "--support",
            "--page-size",
            "-M",
            "12",
            "-P",
            "/run/falco.pid",
            "-l",
            "Some rule",
        ]);
        assert!(o.help && o.print_ignored_events && o.describe_all_rules && o.names_only);
        assert!(o.unbuffered_outputs && o.verbose && o.dry_run && o.print_version_info);
        assert!(o.list_syscall_events && o.list_plugins && o.print_config_schema);
        assert!(o.print_rule_schema && o.print_support && o.print_page_size);
        assert_eq!(o.duration_to_tot, 12);
        assert_eq!(o.pidfilename, "/run/falco.pid");
        assert_eq!(o.describe_rule, "Some rule");
        assert_eq!(e(&["-M", "abc"]), "Argument ‘abc’ failed to parse");
        let o = p(&[
            "--enable-source",
            "syscall",
            "--disable-source",
            "k8s_audit",
        ]);
        assert_eq!(o.enable_sources, ["syscall"]);
        assert_eq!(o.disable_sources, ["k8s_audit"]);
    }
}
