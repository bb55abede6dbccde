//! Integration tests: one binary, one module per surface.

mod daemon;
mod goldens;
mod live;
mod outputs;
mod util;
