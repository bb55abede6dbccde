//! falco.yaml: the raw model, the load pipeline (config_files, config.d, `${VAR}`, `-o`),
//! schema warnings, and the resolved configuration `app` wires. Knows nothing of rules or drivers.
