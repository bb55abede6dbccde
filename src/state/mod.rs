//! Process state: thread table, fd table, users and groups, containers; updated from events
//! before rules run, as libsinsp does. Knows nothing about rules.
