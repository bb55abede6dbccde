//! The versions falco-rs reports as the Falco it replaces (`--version`, `/versions`, metrics).

/// Falco release whose behaviour falco-rs reproduces.
pub const FALCO_VERSION: &str = "0.44.1";
/// falcosecurity/libs release of that Falco.
pub const LIBS_VERSION: &str = "0.25.4";
/// Plugin API version of that Falco.
pub const PLUGIN_API_VERSION: &str = "3.12.0";
/// Rules engine version (`required_engine_version` is checked against it).
pub const ENGINE_VERSION: &str = "0.62.0";
/// Driver API version.
pub const DRIVER_API_VERSION: &str = "10.0.0";
/// Driver schema version.
pub const DRIVER_SCHEMA_VERSION: &str = "4.3.0";
/// Default driver version string.
pub const DRIVER_VERSION: &str = "10.2.0+driver";

/// Engine minor version as the legacy `engine_version` string (`"62"`).
pub const ENGINE_VERSION_MINOR: &str = "62";

/// The `--version` text.
pub fn version_text() -> String {
    format!(
        "Falco version: {FALCO_VERSION}\nLibs version:  {LIBS_VERSION}\nPlugin API:    {PLUGIN_API_VERSION}\nEngine:        {ENGINE_VERSION}\nDriver:\n  API version:    {DRIVER_API_VERSION}\n  Schema version: {DRIVER_SCHEMA_VERSION}\n  Default driver: {DRIVER_VERSION}\n"
    )
}

/// The `/versions` object (and `--version` with json_output): compact JSON, sorted keys;
/// `plugin_versions` (name → version) only when plugins are loaded.
pub fn versions_json(plugins: &[(&str, &str)]) -> String {
    let mut doc = std::collections::BTreeMap::new();
    doc.insert("default_driver_version", serde_json::json!(DRIVER_VERSION));
    doc.insert("driver_api_version", serde_json::json!(DRIVER_API_VERSION));
    doc.insert(
        "driver_schema_version",
        serde_json::json!(DRIVER_SCHEMA_VERSION),
    );
    doc.insert("engine_version", serde_json::json!(ENGINE_VERSION_MINOR));
    doc.insert("engine_version_semver", serde_json::json!(ENGINE_VERSION));
    doc.insert("falco_version", serde_json::json!(FALCO_VERSION));
    doc.insert("libs_version", serde_json::json!(LIBS_VERSION));
    doc.insert("plugin_api_version", serde_json::json!(PLUGIN_API_VERSION));
    if !plugins.is_empty() {
        let map: std::collections::BTreeMap<&str, &str> = plugins.iter().copied().collect();
        doc.insert("plugin_versions", serde_json::json!(map));
    }
    serde_json::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(case: &str) -> String {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/cli")
            .join(case)
            .join("stdout");
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn version_outputs_match_goldens() {
        assert_eq!(version_text(), golden("version-text"));
        // --version prints the /versions object of the offline inspector: no plugins.
        assert_eq!(format!("{}\n", versions_json(&[])), golden("version-json"));
        let with = versions_json(&[("container", "0.7.1")]);
        assert!(with.ends_with(
            r#""plugin_api_version":"3.12.0","plugin_versions":{"container":"0.7.1"}}"#
        ));
    }
}
