//! Integration tests: one binary, one module per surface.

mod daemon;
mod goldens;
mod inspect_sysdig;
mod pipeline;
mod util;
