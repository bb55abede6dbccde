//! Integration tests: one binary, one module per surface.

mod daemon;
mod inspect_sysdig;
mod live;
mod live_capture;
mod outputs;
mod pipeline;
mod upstream_rules;
mod util;
