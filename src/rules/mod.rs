//! Rules files: YAML loading with positions, lists/macros/rules, append and override,
//! exceptions, load results and the `-V`/`-L`/`-l` renderings. Knows nothing about events or
//! drivers; conditions are compiled by [`crate::engine`].
//!
//! # API
//!
//! ```no_run
//! use falco_rs::rules::{LoadOptions, RulesLoader, PluginVersion};
//!
//! let mut opts = LoadOptions::default();
//! opts.loaded_plugins.push(PluginVersion::container());
//! let mut loader = RulesLoader::new(opts);
//! let content = std::fs::read_to_string("falco_rules.yaml").unwrap();
//! let result = loader.load_file("falco_rules.yaml", &content); // one LoadResult per file
//! if let Err(fatal) = loader.check_plugin_requirements() { eprintln!("Error: {fatal}"); }
//! let ruleset = loader.ruleset();                          // Option<engine::Ruleset>
//! print!("{}", loader.describe_rules_text());               // `-L`
//! ```
//!
//! - [`RulesLoader::load_file`] loads files one at a time into one shared collector, like
//!   Falco: each call recompiles everything loaded so far and returns that file's
//!   [`LoadResult`] (errors/warnings with Falco's codes, messages and positions).
//! - [`LoadResult::set_schema_status`] records the rules-schema validation status the caller
//!   computed (default `ok`); [`render_validate_text`] / [`render_validate_json`] produce `-V`
//!   stdout (text: per file; JSON: `{"falco_load_results":[...]}`), and
//!   [`LoadResult::verbose_text`] is the fatal error text of a failed load.
//! - [`RulesLoader::check_plugin_requirements`] after each file (`loaded_plugins` is an input;
//!   [`PluginVersion::container`] is the built-in container plugin).
//! - [`RulesLoader::describe_rules_text`] / [`RulesLoader::describe_rule_text`] produce `-L` and
//!   `-l RULE` text; [`RulesLoader::describe_rules_json`] / [`RulesLoader::describe_rule_json`]
//!   the JSON (`json_output: true`), one line each.
//! - [`RulesLoader::ruleset`] builds the [`crate::engine::Ruleset`] (priority threshold
//!   and `rules:` selections from [`LoadOptions`]); each rule carries its compiled filter, its
//!   event codes and its compiled output [`Format`](crate::engine::Format).
//! - [`ExtraOutput::container_suggested`] is the `append_output: [suggested_output: true]` entry.
//! - [`validate_files`] is the whole `-V` action (stdout text or JSON, `-L`/`-l` appended,
//!   fatal error text, warnings to log); [`load`] is the one-call form of a normal load.

pub(crate) mod compiler;
pub mod condition;
mod describe;
pub(crate) mod loader;
pub mod result;
mod yaml;

#[cfg(test)]
mod tests;

pub use compiler::ExtraOutput;
pub use loader::{ENGINE_VERSION, PluginRequirement, Priority, Semver};
pub use result::{LoadResult, render_validate_json, render_validate_text};

use crate::engine::filter::{Filter, Lookup};
use crate::engine::format::Format;
use crate::engine::ruleset::{Rule, Ruleset, Selector};
use compiler::{CompileCache, CompileConfig, CompileOutput};
use loader::{Collector, Reader, Sources, Warning};
use result::{Context, Diagnostic, ErrorCode, ItemType};

/// A loaded plugin as the rules see it (for `required_plugin_versions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginVersion {
    pub name: String,
    pub version: String,
}

impl PluginVersion {
    /// falco-rs's built-in container plugin (reports the version Falco 0.44.1 ships).
    pub fn container() -> PluginVersion {
        PluginVersion {
            name: "container".into(),
            version: "0.7.1".into(),
        }
    }
}

/// Options of a load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Plugins the caller has loaded.
    pub loaded_plugins: Vec<PluginVersion>,
    /// Known event sources (`syscall`, plus plugin sources).
    pub sources: Vec<String>,
    /// `append_output` entries, in config order (suggested output first when enabled).
    pub extra_outputs: Vec<ExtraOutput>,
    /// Config `priority`: rules less severe are never added to the ruleset.
    pub min_priority: Priority,
    /// Config `rules:` selections, applied in order after loading.
    pub selection: Vec<Selector>,
    /// Field catalog lookup.
    pub lookup: Lookup,
    /// Config `static_fields`: `static.<key>` fields (class [`STATIC_CLASS`], the value in
    /// `desc`) looked up after the catalog.
    ///
    /// [`STATIC_CLASS`]: crate::engine::filter::STATIC_CLASS
    pub static_fields: Vec<&'static crate::fields::FieldInfo>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            loaded_plugins: Vec::new(),
            sources: vec!["syscall".into()],
            extra_outputs: Vec::new(),
            min_priority: Priority::Debug,
            selection: Vec::new(),
            lookup: crate::fields::lookup,
            static_fields: Vec::new(),
        }
    }
}

impl ExtraOutput {
    /// The `suggested_output: true` entry with the container plugin's suggested fields.
    pub fn container_suggested() -> ExtraOutput {
        let fields = [
            "container.id",
            "container.name",
            "container.image.repository",
            "container.image.tag",
            "k8s.pod.name",
            "k8s.ns.name",
        ];
        let format = fields
            .iter()
            .map(|f| format!("{}=%{f}", f.replace('.', "_")))
            .collect::<Vec<_>>()
            .join(" ");
        ExtraOutput {
            format,
            ..ExtraOutput::default()
        }
    }
}

/// Loads rules files into one collector, Falco style.
#[derive(Debug)]
pub struct RulesLoader {
    opts: LoadOptions,
    collector: Collector,
    contents: Vec<(String, String)>,
    last: Option<CompileOutput>,
    cache: CompileCache,
}

impl RulesLoader {
    pub fn new(opts: LoadOptions) -> RulesLoader {
        RulesLoader {
            opts,
            collector: Collector::default(),
            contents: Vec::new(),
            last: None,
            cache: CompileCache::default(),
        }
    }

    /// Loads one file (its name is used in results and positions) and recompiles everything.
    pub fn load_file(&mut self, name: &str, content: &str) -> LoadResult {
        self.contents.retain(|(n, _)| n != name);
        self.contents.push((name.to_string(), content.to_string()));
        let mut res = LoadResult::new(name);
        let root = Context::file(name);
        let mut warnings: Vec<Warning> = Vec::new();
        // parse once; only a text with yaml-cpp-tolerated flow indentation is reparsed: with
        // every line-leading closing bracket padded, else one bracket at a time
        let padded: (String, Vec<usize>);
        let fixed: (String, Vec<usize>);
        let (parsed, inserted) = match yaml::load_all(content) {
            Err(e) if e.info() == "invalid indentation" => {
                padded = yaml::pad_flow_closers(content);
                match yaml::load_all(&padded.0) {
                    Ok(docs) if !yaml::pads_in_block_scalar(&docs, &padded.1) => {
                        (Ok(docs), padded.1.clone())
                    }
                    _ => {
                        fixed = yaml::tolerate_flow_indentation(content);
                        (yaml::load_all(&fixed.0), fixed.1.clone())
                    }
                }
            }
            r => (r, Vec::new()),
        };
        let docs = match parsed {
            Ok(d) => d,
            Err(e) => {
                let marks = yaml::Marks::new(content, inserted);
                let mark = marks.of(e.marker());
                let msg = format!(
                    "yaml-cpp: error at line {}, column {}: {}",
                    mark.line + 1,
                    mark.column + 1,
                    yaml::yaml_cpp_message(e.info())
                );
                let ctx = root.child(mark, ItemType::ValueFor, "");
                self.push_error(&mut res, ErrorCode::YamlParse, msg, ctx);
                return res;
            }
        };
        if inserted.is_empty() {
            res.schema_doc = Some(yaml::config_node(&docs));
        }
        let (catalog, statics) = (self.opts.lookup, &self.opts.static_fields);
        let lookup =
            |name: &str| catalog(name).or_else(|| statics.iter().copied().find(|f| f.name == name));
        let is_valid_field = move |f: &str| {
            crate::engine::filter::resolve_field(f, None, lookup).is_ok() || {
                // a field with an argument (`proc.aname[2]`)
                match f.find('[') {
                    Some(i) if f.ends_with(']') => crate::engine::filter::resolve_field(
                        &f[..i],
                        Some(&f[i + 1..f.len() - 1]),
                        lookup,
                    )
                    .is_ok(),
                    _ => false,
                }
            }
        };
        let sources = Sources {
            known: &self.opts.sources,
            is_valid_field: &is_valid_field,
        };
        let read = {
            let mut reader = Reader {
                marks: yaml::Marks::new(content, inserted),
                collector: &mut self.collector,
                warnings: &mut warnings,
                sources: &sources,
            };
            reader.read(&docs, &root)
        };
        if let Err(e) = read {
            self.push_warnings(&mut res, warnings);
            self.push_error(&mut res, e.code, e.msg, e.ctx);
            return res;
        }
        let cfg = CompileConfig {
            extra_outputs: &self.opts.extra_outputs,
            lookup: &lookup,
        };
        let compiled = compiler::compile(&cfg, &self.collector, &mut self.cache, &mut warnings);
        self.push_warnings(&mut res, warnings);
        match compiled {
            Ok(out) => self.last = Some(out),
            Err(e) => self.push_error(&mut res, e.code, e.msg, e.ctx),
        }
        res
    }

    fn push_error(&self, res: &mut LoadResult, code: ErrorCode, msg: String, ctx: Context) {
        let snippet = ctx.snippet(&self.contents);
        res.errors.push(Diagnostic {
            code,
            msg,
            ctx,
            snippet,
            deprecated_field: None,
        });
    }

    fn push_warnings(&self, res: &mut LoadResult, warnings: Vec<Warning>) {
        for w in warnings {
            let snippet = w.ctx.snippet(&self.contents);
            res.warnings.push(Diagnostic {
                code: w.code,
                msg: w.msg,
                ctx: w.ctx,
                snippet,
                deprecated_field: w.deprecated_field,
            });
        }
    }

    /// Checks `required_plugin_versions` against the loaded plugins; the error is Falco's text.
    pub fn check_plugin_requirements(&self) -> Result<(), String> {
        for alternatives in &self.collector.required_plugin_versions {
            let mut ok = false;
            for req in alternatives {
                if let Some(p) = self.opts.loaded_plugins.iter().find(|p| p.name == req.name) {
                    let (Some(have), Some(want)) =
                        (Semver::parse(&p.version), Semver::parse(&req.version))
                    else {
                        return Err(format!(
                            "Plugin '{}' version '{}' is not compatible with required plugin version '{}'",
                            p.name, p.version, req.version
                        ));
                    };
                    if !have.compatible_with(&want) {
                        return Err(format!(
                            "Plugin '{}' version '{}' is not compatible with required plugin version '{}'",
                            p.name, p.version, req.version
                        ));
                    }
                    ok = true;
                    break;
                }
            }
            if !ok {
                let list: Vec<String> = alternatives
                    .iter()
                    .map(|r| format!("{} (>= {})", r.name, r.version))
                    .collect();
                return Err(format!(
                    "Plugin requirement not satisfied, must load one of: {}",
                    list.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A compiled rule's condition after list and macro expansion, as libsinsp prints it
    /// (`condition_compiled` of `-L` JSON).
    pub fn compiled_condition(&self, rule: &str) -> Option<String> {
        let out = self.last.as_ref()?;
        out.rules
            .iter()
            .find(|r| r.name == rule)
            .map(|r| r.condition.to_string())
    }

    /// The highest `required_engine_version` seen.
    pub fn required_engine_version(&self) -> Option<Semver> {
        self.collector.required_engine_version
    }

    /// Compiled rule names in evaluation order.
    pub fn rule_names(&self) -> Vec<&str> {
        self.last
            .as_ref()
            .map(|o| o.rules.iter().map(|r| r.name.as_str()).collect())
            .unwrap_or_default()
    }

    /// The ruleset of the last successful compile, with priority and selections applied.
    pub fn ruleset(&self) -> Option<Ruleset> {
        let mut rs = Ruleset::new(self.rules()?, self.opts.min_priority);
        rs.select(&self.opts.selection);
        Some(rs)
    }

    /// [`RulesLoader::ruleset`] with every `and`/`or` evaluated in written order (tests compare
    /// both orders).
    #[cfg(test)]
    pub(crate) fn ruleset_in_written_order(&self) -> Option<Ruleset> {
        let mut rs = Ruleset::in_written_order(self.rules()?, self.opts.min_priority);
        rs.select(&self.opts.selection);
        Some(rs)
    }

    /// Copies of the rules of the last successful compile.
    fn rules(&self) -> Option<Vec<Rule>> {
        let out = self.last.as_ref()?;
        Some(
            out.rules
                .iter()
                .filter_map(|c| {
                    let info = self.collector.rules.get(&c.name)?;
                    Some(Rule {
                        name: c.name.clone(),
                        source: info.source.clone(),
                        description: info.desc.clone(),
                        priority: info.priority,
                        tags: info.tags.iter().cloned().collect(),
                        output: c.output.clone(),
                        format: Format::clone(&c.format),
                        filter: Filter::clone(&c.filter),
                        codes: c.codes.clone(),
                        enabled: info.enabled,
                        capture: info.capture,
                        capture_duration_ns: u64::from(info.capture_duration) * 1_000_000,
                        exception_fields: c.exception_fields.iter().cloned().collect(),
                    })
                })
                .collect(),
        )
    }

    /// [`RulesLoader::ruleset`] for a loader that is done: filters and formats are moved
    /// into the ruleset, not copied.
    pub fn into_ruleset(mut self) -> Option<Ruleset> {
        let out = self.last.take()?;
        // the cache holds the other reference to each filter and format
        drop(std::mem::take(&mut self.cache));
        let rules: Vec<Rule> = out
            .rules
            .into_iter()
            .filter_map(|c| {
                let info = self.collector.rules.get(&c.name)?;
                Some(Rule {
                    source: info.source.clone(),
                    description: info.desc.clone(),
                    priority: info.priority,
                    tags: info.tags.iter().cloned().collect(),
                    output: c.output,
                    format: std::sync::Arc::unwrap_or_clone(c.format),
                    filter: std::sync::Arc::unwrap_or_clone(c.filter),
                    codes: c.codes,
                    enabled: info.enabled,
                    capture: info.capture,
                    capture_duration_ns: u64::from(info.capture_duration) * 1_000_000,
                    exception_fields: c.exception_fields.into_iter().collect(),
                    name: c.name,
                })
            })
            .collect();
        let mut rs = Ruleset::new(rules, self.opts.min_priority);
        rs.select(&self.opts.selection);
        Some(rs)
    }

    fn describe_line(name: &str, desc: &str) -> String {
        two_columns(name, &(wrap_text(desc, 51, 110) + "\n"))
    }

    /// `-L` text: every compiled rule with its wrapped description.
    pub fn describe_rules_text(&self) -> String {
        let mut os = format!(
            "{:<50} {}\n{:<50} {}\n",
            "Rule", "Description", "----", "-----------"
        );
        if let Some(out) = &self.last {
            for r in &out.rules {
                if let Some(info) = self.collector.rules.get(&r.name) {
                    os.push_str(&Self::describe_line(&r.name, &info.desc));
                }
            }
        }
        os
    }

    /// `-l RULE` text; the error is Falco's `Rule "X" is not loaded`.
    pub fn describe_rule_text(&self, name: &str) -> Result<String, String> {
        let info = self.collector.rules.get(name).filter(|r| !r.unknown_source);
        let compiled = self
            .last
            .as_ref()
            .and_then(|o| o.rules.iter().find(|r| r.name == name));
        match (info, compiled) {
            (Some(info), Some(_)) => Ok(two_columns("Rule", "Description")
                + &two_columns("----", "-----------")
                + &Self::describe_line(name, &info.desc)),
            _ => Err(format!("Rule \"{name}\" is not loaded")),
        }
    }
}

/// Falco's `format_two_columns`: `snprintf("%-50s %s")` into a 4096-byte buffer (at most 4094
/// bytes kept), then a newline.
fn two_columns(l: &str, r: &str) -> String {
    let mut line = l.as_bytes().to_vec();
    line.resize(line.len().max(50), b' ');
    line.push(b' ');
    line.extend_from_slice(r.as_bytes());
    line.truncate(4094);
    let mut s = String::from_utf8_lossy(&line).into_owned();
    s.push('\n');
    s
}

/// Falco's `wrap_text`: words (split on whitespace) joined by spaces, new lines indented.
pub(crate) fn wrap_text(input: &str, indent: usize, line_len: usize) -> String {
    let mut os = String::new();
    let mut len = 0usize;
    for word in input
        .split(|c: char| c.is_ascii_whitespace() || c == '\u{b}')
        .filter(|w| !w.is_empty())
    {
        if len + word.len() < line_len - indent {
            len += word.len() + 1;
        } else {
            os.push('\n');
            os.push_str(&" ".repeat(indent));
            len = word.len() + 1;
        }
        os.push_str(word);
        os.push(' ');
    }
    os
}

/// What `-L` / `-l RULE` asks to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Describe {
    None,
    All,
    Rule(String),
}

/// What `-V` produces (Falco's `validate_rules_files` action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateOutcome {
    /// What to print on stdout.
    pub stdout: String,
    /// Every file valid.
    pub successful: bool,
    /// The fatal error (exit 1): a plugin requirement error (stdout then stays empty), the
    /// invalid files' summary, or a `-l` rule that is not loaded.
    pub fatal: Option<String>,
    /// Verbose results of files that were valid with warnings, to log at warning level.
    pub warnings: Vec<String>,
}

/// `-V file...`: loads the files one by one into one engine, checks plugin requirements after
/// each, and renders the results (and `-L`/`-l` when every file is valid) as text or JSON.
pub fn validate_files(
    files: &[(String, String)],
    opts: &LoadOptions,
    json: bool,
    describe: &Describe,
) -> ValidateOutcome {
    let mut loader = RulesLoader::new(opts.clone());
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    for (name, content) in files {
        let r = loader.load_file(name, content);
        if let Err(e) = loader.check_plugin_requirements() {
            return ValidateOutcome {
                stdout: String::new(),
                successful: false,
                fatal: Some(e),
                warnings,
            };
        }
        if r.successful() && r.has_warnings() {
            warnings.push(r.verbose_text());
        }
        results.push(r);
    }
    let successful = results.iter().all(LoadResult::successful);
    let described = match (successful, describe) {
        (true, Describe::All) => Some(Ok((
            loader.describe_rules_value(),
            loader.describe_rules_text(),
        ))),
        (true, Describe::Rule(n)) => Some(
            loader
                .describe_rule_value(n)
                .and_then(|v| loader.describe_rule_text(n).map(|t| (v, t))),
        ),
        _ => None,
    };
    let (described, describe_err) = match described {
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let stdout = if json {
        let arr: Vec<serde_json::Value> = results.iter().map(LoadResult::to_json).collect();
        // keys in nlohmann's sorted order
        let mut m = serde_json::Map::new();
        if let Some((v, _)) = &described {
            m.insert("falco_describe_results".into(), v.clone());
        }
        m.insert("falco_load_results".into(), serde_json::Value::Array(arr));
        format!("{}\n", serde_json::Value::Object(m))
    } else {
        let mut out = render_validate_text(&results);
        if let Some((_, t)) = &described {
            out.push('\n');
            out.push_str(t);
        }
        out
    };
    if let Some(e) = describe_err {
        return ValidateOutcome {
            stdout: String::new(),
            successful,
            fatal: Some(e),
            warnings,
        };
    }
    let fatal = if successful {
        None
    } else {
        let text = render_validate_text(&results);
        Some(text.strip_suffix('\n').unwrap_or(&text).to_string())
    };
    ValidateOutcome {
        stdout,
        successful,
        fatal,
        warnings,
    }
}

/// Loads `files` (name, content) in order; returns the ruleset (None if any file failed or a
/// plugin requirement is not met), each file's result and the fatal error text if any.
pub fn load(
    files: &[(String, String)],
    opts: &LoadOptions,
) -> (Option<Ruleset>, Vec<LoadResult>, Option<String>) {
    let mut loader = RulesLoader::new(opts.clone());
    let mut results = Vec::new();
    for (name, content) in files {
        let r = loader.load_file(name, content);
        let ok = r.successful();
        let fatal = (!ok).then(|| r.verbose_text());
        results.push(r);
        if let Some(f) = fatal {
            return (None, results, Some(f));
        }
    }
    if let Err(e) = loader.check_plugin_requirements() {
        return (None, results, Some(e));
    }
    (loader.ruleset(), results, None)
}
