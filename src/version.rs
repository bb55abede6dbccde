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
