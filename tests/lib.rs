//! Integration tests: one binary, one module per surface.

mod goldens;
mod inspect_sysdig;
mod pipeline;
mod util;
