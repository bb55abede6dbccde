//! Alert formatting (text and JSON), append_output, the outputs queue and the sinks
//! (stdout, file, syslog, program, http). Knows nothing about drivers.
