//! Load results: Falco's error and warning codes, the location chain of each diagnostic
//! (`context`), snippets, and the text and JSON renderings used by `-V` and the logs.

use serde_json::{Map, Value, json};

/// Falco's load error codes (`falco::load_result::error_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    FileRead,
    YamlParse,
    YamlValidate,
    CompileCondition,
    CompileOutput,
    Validate,
    Extension,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "LOAD_ERR_FILE_READ",
            ErrorCode::YamlParse => "LOAD_ERR_YAML_PARSE",
            ErrorCode::YamlValidate => "LOAD_ERR_YAML_VALIDATE",
            ErrorCode::CompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            ErrorCode::CompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            ErrorCode::Validate => "LOAD_ERR_VALIDATE",
            ErrorCode::Extension => "LOAD_ERR_EXTENSION",
        }
    }

    /// The short text; Falco also uses it as the JSON `codedesc` of errors.
    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "File read error",
            ErrorCode::YamlParse => "YAML parse error",
            ErrorCode::YamlValidate => "Error validating internal structure of YAML file",
            ErrorCode::CompileCondition => "Error compiling condition",
            ErrorCode::CompileOutput => "Error compiling output",
            ErrorCode::Validate => "Error validating rule/macro/list/exception objects",
            ErrorCode::Extension => "Error in extension item",
        }
    }
}

/// Falco's load warning codes (`falco::load_result::warning_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningCode {
    UnknownSource,
    UnsafeNaCheck,
    NoEvttype,
    UnknownFilter,
    UnusedMacro,
    UnusedList,
    UnknownItem,
    DeprecatedItem,
    WarningExtension,
    AppendNoValues,
    ExceptionNameNotUnique,
    InvalidMacroName,
    InvalidListName,
    CompileCondition,
    UnknownKey,
}

impl WarningCode {
    pub fn code(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            WarningCode::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            WarningCode::NoEvttype => "LOAD_NO_EVTTYPE",
            WarningCode::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            WarningCode::UnusedMacro => "LOAD_UNUSED_MACRO",
            WarningCode::UnusedList => "LOAD_UNUSED_LIST",
            WarningCode::UnknownItem => "LOAD_UNKNOWN_ITEM",
            WarningCode::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            WarningCode::WarningExtension => "LOAD_WARNING_EXTENSION",
            WarningCode::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            WarningCode::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            WarningCode::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            WarningCode::InvalidListName => "LOAD_INVALID_LIST_NAME",
            WarningCode::CompileCondition => "LOAD_COMPILE_CONDITION",
            WarningCode::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "Unknown event source",
            WarningCode::UnsafeNaCheck => "Unsafe <NA> comparison in condition",
            WarningCode::NoEvttype => "Condition has no event-type restriction",
            WarningCode::UnknownFilter => "Unknown field or event-type in condition or output",
            WarningCode::UnusedMacro => "Unused macro",
            WarningCode::UnusedList => "Unused list",
            WarningCode::UnknownItem => "Unknown rules file item",
            WarningCode::DeprecatedItem => "Used deprecated item",
            WarningCode::WarningExtension => "Warning in extension item",
            WarningCode::AppendNoValues => "Overriding/appending with no values",
            WarningCode::ExceptionNameNotUnique => "Multiple exceptions defined with the same name",
            WarningCode::InvalidMacroName => "Invalid macro name",
            WarningCode::InvalidListName => "Invalid list name",
            WarningCode::CompileCondition => "Warning in rule condition",
            WarningCode::UnknownKey => "Unknown key in item definition",
        }
    }

    /// The long description (JSON `codedesc` of warnings).
    pub fn desc(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => {
                "A rule has a unknown event source. This can occur when reading rules content without having a corresponding plugin loaded, etc. The rule will be silently ignored."
            }
            WarningCode::UnsafeNaCheck => {
                "Comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of the rule condition. If you need to check for the existence of a field, consider using the 'exists' operator instead."
            }
            WarningCode::NoEvttype => {
                "A rule condition matches too many evt.type values. This has a significant performance penalty. Make the condition more specific by adding an evt.type field or further restricting the number of evt.type values in the condition."
            }
            WarningCode::UnknownFilter => {
                "A rule condition or output refers to a field or evt.type that does not exist. This is normally an error, but if a rule has a skip-if-unknown-filter property, the error is downgraded to a warning."
            }
            WarningCode::UnusedMacro => {
                "A macro is defined in the rules content but is not used by any other macro or rule."
            }
            WarningCode::UnusedList => {
                "A list is defined in the rules content but is not used by any other list, macro, or rule."
            }
            WarningCode::UnknownItem => {
                "An unknown top-level object is in the rules content. It will be ignored."
            }
            WarningCode::DeprecatedItem => {
                "A deprecated item is employed by lists, macros, or rules."
            }
            WarningCode::WarningExtension => "An extension item has a warning",
            WarningCode::AppendNoValues => {
                "A rule exception is overriding/appending with no values"
            }
            WarningCode::ExceptionNameNotUnique => {
                "A rule is defining multiple exceptions with the same name"
            }
            WarningCode::InvalidMacroName => "A macro is defined with an invalid name",
            WarningCode::InvalidListName => "A list is defined with an invalid name",
            WarningCode::CompileCondition => {
                "A rule condition or output have been parsed with a warning"
            }
            WarningCode::UnknownKey => {
                "An item in the rules content contains an unrecognized key. The key will be ignored. This may indicate a typo or a property placed on the wrong item type."
            }
        }
    }
}

/// The kind of item a location points at (`rule_loader::context::item_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    ValueFor,
    Exceptions,
    Exception,
    ExceptionValues,
    ExceptionValue,
    RulesContent,
    RulesContentItem,
    RequiredEngineVersion,
    RequiredPluginVersions,
    RequiredPluginVersionsEntry,
    RequiredPluginVersionsAlternative,
    List,
    ListItem,
    Macro,
    MacroCondition,
    Rule,
    RuleCondition,
    ConditionExpression,
    RuleOutput,
    RuleOutputExpression,
    RulePriority,
    Overrides,
    ExtensionItem,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::ValueFor => "value for",
            ItemType::Exceptions => "exceptions",
            ItemType::Exception => "exception",
            ItemType::ExceptionValues => "exception values",
            ItemType::ExceptionValue => "exception value",
            ItemType::RulesContent => "rules content",
            ItemType::RulesContentItem => "rules content item",
            ItemType::RequiredEngineVersion => "required_engine_version",
            ItemType::RequiredPluginVersions => "required plugin versions",
            ItemType::RequiredPluginVersionsEntry => "required plugin versions entry",
            ItemType::RequiredPluginVersionsAlternative => "required plugin versions alternative",
            ItemType::List => "list",
            ItemType::ListItem => "list item",
            ItemType::Macro => "macro",
            ItemType::MacroCondition => "macro condition",
            ItemType::Rule => "rule",
            ItemType::RuleCondition => "rule condition",
            ItemType::ConditionExpression => "condition expression",
            ItemType::RuleOutput => "rule output",
            ItemType::RuleOutputExpression => "rule output expression",
            ItemType::RulePriority => "rule priority",
            ItemType::Overrides => "overrides",
            ItemType::ExtensionItem => "extension item",
        }
    }
}

/// A position: YAML marks are 0-based; condition positions add the parser's 1-based ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub offset: u64,
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name, or a quoted condition prefix for condition expressions.
    pub name: String,
    pub mark: Mark,
    pub item_type: ItemType,
    pub item_name: String,
}

/// The location chain of a diagnostic, outermost first (`rule_loader::context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub locs: Vec<Location>,
    /// For condition contexts: the condition text the snippet is taken from.
    pub alt_content: Option<String>,
}

impl Context {
    /// The root context of a file.
    pub fn file(name: &str) -> Context {
        Context {
            locs: vec![Location {
                name: name.to_string(),
                mark: Mark::default(),
                item_type: ItemType::RulesContent,
                item_name: String::new(),
            }],
            alt_content: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.locs[0].name
    }

    /// A child location in the same file.
    pub fn child(&self, mark: Mark, item_type: ItemType, item_name: &str) -> Context {
        let mut locs = self.locs.clone();
        locs.push(Location {
            name: self.name().to_string(),
            mark,
            item_type,
            item_name: item_name.to_string(),
        });
        Context {
            locs,
            alt_content: None,
        }
    }

    /// A condition-expression location: the parser position is added to the parent's last mark.
    pub fn condition(&self, pos: crate::rules::condition::Pos, condition: &str) -> Context {
        let mut name = String::from("\"");
        if condition.len() > 20 {
            name.push_str(&String::from_utf8_lossy(&condition.as_bytes()[..17]));
            name.push_str("...\"");
        } else {
            name.push_str(condition);
            name.push('"');
        }
        let name = name.replace(['\n', '\r'], " ");
        let last = self.locs.last().map(|l| l.mark).unwrap_or_default();
        let mark = Mark {
            offset: u64::from(pos.idx) + last.offset,
            line: u64::from(pos.line) + last.line,
            column: u64::from(pos.col) + last.column,
        };
        let mut locs = self.locs.clone();
        locs.push(Location {
            name,
            mark,
            item_type: ItemType::ConditionExpression,
            item_name: String::new(),
        });
        Context {
            locs,
            alt_content: Some(condition.to_string()),
        }
    }

    fn as_text(&self) -> String {
        let mut os = String::new();
        for (i, loc) in self.locs.iter().enumerate() {
            os.push_str(if i == 0 { "In " } else { "    " });
            os.push_str(loc.item_type.as_str());
            if !loc.item_name.is_empty() {
                os.push_str(&format!(" '{}'", loc.item_name));
            }
            os.push_str(&format!(
                ": ({}:{}:{})\n",
                loc.name, loc.mark.line, loc.mark.column
            ));
        }
        os
    }

    fn as_json(&self, snippet: &str) -> Value {
        let locs: Vec<Value> = self
            .locs
            .iter()
            .map(|l| {
                json!({
                    "item_name": l.item_name,
                    "item_type": l.item_type.as_str(),
                    "position": {
                        "column": l.mark.column,
                        "line": l.mark.line,
                        "name": l.name,
                        "offset": l.mark.offset,
                    },
                })
            })
            .collect();
        json!({ "locations": locs, "snippet": snippet })
    }

    /// Falco's snippet: the line holding the position (≤160 chars) and a caret line.
    pub fn snippet(&self, contents: &[(String, String)]) -> String {
        const WIDTH: usize = 160;
        let Some(loc) = self.locs.last() else {
            return String::new();
        };
        let content: &[u8] = match &self.alt_content {
            Some(c) => c.as_bytes(),
            None => match contents.iter().find(|(n, _)| *n == loc.name) {
                Some((_, c)) => c.as_bytes(),
                None => return format!("<No context for file + {}>\n", loc.name),
            },
        };
        if content.is_empty() {
            return "<No context available>\n".into();
        }
        let mut pos = loc.mark.offset as usize;
        while pos > 0 && (pos >= content.len() || content[pos] == b'\n') {
            pos -= 1;
        }
        let mut from = pos;
        while from > 0 && content[from] != b'\n' && (pos - from) < WIDTH / 2 {
            from -= 1;
        }
        let mut to = pos;
        while to < content.len() - 1 && content[to] != b'\n' && (to - pos) < WIDTH / 2 {
            to += 1;
        }
        if from < content.len() && content[from] == b'\n' {
            from += 1;
        }
        if to < content.len() && content[to] == b'\n' {
            to = to.wrapping_sub(1);
        }
        if to.wrapping_add(1) <= from {
            return "<No context available>\n".into();
        }
        let mut ret = content[from..=to].to_vec();
        if ret.is_empty() {
            return "<No context available>\n".into();
        }
        if pos.wrapping_sub(from) >= WIDTH / 2 && ret.len() >= 3 {
            ret[..3].copy_from_slice(b"...");
        }
        if to.wrapping_sub(pos) >= WIDTH / 2 && ret.len() >= 3 {
            let n = ret.len();
            ret[n - 3..].copy_from_slice(b"...");
        }
        let mut out = String::from_utf8_lossy(&ret).into_owned();
        out.push('\n');
        let off = pos.wrapping_sub(from);
        if off < ret.len() {
            out.push_str(&" ".repeat(off));
            out.push_str("^\n");
        }
        out
    }
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic<C> {
    pub code: C,
    pub msg: String,
    pub ctx: Context,
    /// Snippet computed when the diagnostic was raised.
    pub snippet: String,
    /// For deprecated-field warnings: the field.
    pub deprecated_field: Option<&'static str>,
}

/// The result of loading one rules file (`falco::load_result`).
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub name: String,
    pub errors: Vec<Diagnostic<ErrorCode>>,
    pub warnings: Vec<Diagnostic<WarningCode>>,
    /// Schema validation statuses (`ok`, `none`, `failed for ...`), empty when validation
    /// was not requested (Falco's `schema_validation_status`).
    pub schema_status: Vec<String>,
    /// The file's first YAML document as `config::Node::parse` gives it, when the loader
    /// parsed the text as written (for the schema check, without a second parse).
    pub schema_doc: Option<crate::config::Node>,
}

impl LoadResult {
    pub fn new(name: &str) -> LoadResult {
        LoadResult {
            name: name.to_string(),
            schema_status: vec!["ok".into()],
            ..LoadResult::default()
        }
    }

    /// Replaces the schema validation statuses (the caller validates against the rules schema).
    pub fn set_schema_status(&mut self, status: Vec<String>) {
        self.schema_status = status;
    }

    /// `Some(valid)` when schema validation was requested.
    pub fn schema_valid(&self) -> Option<bool> {
        self.schema_status.first().map(|s| s == "ok")
    }

    pub fn successful(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn has_warnings(&self) -> bool {
        !self.warnings.is_empty()
    }

    fn head(&self) -> String {
        let mut os = String::new();
        if !self.name.is_empty() {
            os.push_str(&self.name);
            os.push_str(": ");
        }
        if self.successful() {
            os.push_str("Ok");
            if self.has_warnings() {
                os.push_str(", with warnings");
            }
        } else {
            os.push_str("Invalid");
        }
        os
    }

    fn warning_text(w: &Diagnostic<WarningCode>) -> String {
        match w.deprecated_field {
            Some(f) => format!("{}: field '{f}'", w.code.text()),
            None => w.code.text().to_string(),
        }
    }

    /// The one-paragraph summary (`as_summary_string`).
    pub fn summary_text(&self) -> String {
        let mut os = self.head();
        if self.schema_valid() == Some(false) {
            os.push_str(&format!(
                "\n {} schema warnings: [{}]",
                self.schema_status.len(),
                self.schema_status.join(" ")
            ));
        }
        if !self.errors.is_empty() {
            let items: Vec<String> = self
                .errors
                .iter()
                .map(|e| format!("{} ({})", e.code.code(), e.code.text()))
                .collect();
            os.push_str(&format!(
                "\n {} errors: [{}]",
                self.errors.len(),
                items.join(" ")
            ));
        }
        if !self.warnings.is_empty() {
            let items: Vec<String> = self
                .warnings
                .iter()
                .map(|w| format!("{} ({})", w.code.code(), Self::warning_text(w)))
                .collect();
            os.push_str(&format!(
                "\n {} warnings: [{}]",
                self.warnings.len(),
                items.join(" ")
            ));
        }
        os
    }

    /// The verbose text (`as_verbose_string`): the fatal error text and the `-V` output.
    pub fn verbose_text(&self) -> String {
        let mut os = self.head();
        if self.schema_valid() == Some(false) {
            os.push_str(&format!(
                "\n{} Schema warnings:\n",
                self.schema_status.len()
            ));
            for s in &self.schema_status {
                os.push_str(&format!("------\n{s}\n"));
            }
            os.push_str("------\n");
        }
        if !self.errors.is_empty() {
            os.push_str(&format!("\n{} Errors:\n", self.errors.len()));
            for e in &self.errors {
                os.push_str(&e.ctx.as_text());
                os.push_str("------\n");
                os.push_str(&e.snippet);
                os.push_str("------\n");
                os.push_str(&format!(
                    "{} ({}): {}\n",
                    e.code.code(),
                    e.code.text(),
                    e.msg
                ));
            }
        }
        if !self.warnings.is_empty() {
            os.push_str(&format!("\n{} Warnings:\n", self.warnings.len()));
            for w in &self.warnings {
                os.push_str(&w.ctx.as_text());
                os.push_str("------\n");
                os.push_str(&w.snippet);
                os.push_str("------\n");
                os.push_str(&format!(
                    "{} ({}): {}\n",
                    w.code.code(),
                    Self::warning_text(w),
                    w.msg
                ));
            }
        }
        os
    }

    /// The JSON object of one file (keys in nlohmann's sorted order).
    pub fn to_json(&self) -> Value {
        let mut j = Map::new();
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                json!({
                    "code": e.code.code(),
                    "codedesc": e.code.text(),
                    "context": e.ctx.as_json(&e.snippet),
                    "message": e.msg,
                })
            })
            .collect();
        j.insert("errors".into(), Value::Array(errors));
        j.insert("name".into(), Value::String(self.name.clone()));
        if let Some(valid) = self.schema_valid() {
            j.insert("schema_valid".into(), Value::Bool(valid));
            let warnings = if valid {
                Vec::new()
            } else {
                self.schema_status
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect()
            };
            j.insert("schema_warnings".into(), Value::Array(warnings));
        }
        j.insert("successful".into(), Value::Bool(self.successful()));
        let warnings: Vec<Value> = self
            .warnings
            .iter()
            .map(|w| {
                let mut m = Map::new();
                m.insert("code".into(), Value::String(w.code.code().into()));
                m.insert("codedesc".into(), Value::String(w.code.desc().into()));
                m.insert("context".into(), w.ctx.as_json(&w.snippet));
                if let Some(f) = w.deprecated_field {
                    m.insert("deprecated_field".into(), Value::String(f.into()));
                }
                m.insert("message".into(), Value::String(w.msg.clone()));
                Value::Object(m)
            })
            .collect();
        j.insert("warnings".into(), Value::Array(warnings));
        Value::Object(j)
    }
}

/// `-V` text stdout for a sequence of per-file results (each followed by a newline).
pub fn render_validate_text(results: &[LoadResult]) -> String {
    let mut summary = String::new();
    for r in results {
        if !summary.is_empty() {
            summary.push('\n');
        }
        if !r.successful() || !r.has_warnings() {
            summary.push_str(&r.verbose_text());
        } else {
            summary.push_str(&format!("{}: Ok, with warnings", r.name));
        }
    }
    summary.push('\n');
    summary
}

/// `-V` JSON stdout (`{"falco_load_results":[...]}` and a newline).
pub fn render_validate_json(results: &[LoadResult]) -> String {
    let arr: Vec<Value> = results.iter().map(LoadResult::to_json).collect();
    let mut m = Map::new();
    m.insert("falco_load_results".into(), Value::Array(arr));
    format!("{}\n", Value::Object(m))
}
