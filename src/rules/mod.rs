//! Rules files: YAML loading with positions, lists/macros/rules, append and override,
//! exceptions, load results. Knows nothing about events or drivers.

pub mod condition;
