//! Compiles condition ASTs into typed programs, builds the evttype index and the ruleset,
//! and runs the match loop. Knows nothing about YAML.
