//! The final statistics Falco prints on stdout at teardown (`stats_manager::format`):
//! total, non-zero severities in severity order, non-zero rules in rule load order.

use crate::config::Priority;

/// Match counters of one run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    total: u64,
    by_priority: [u64; 8],
    /// (rule, count) in rule load order.
    by_rule: Vec<(String, u64)>,
}

impl Stats {
    /// Counters for rules known in load order (rules first seen later are appended).
    pub fn new(rules_in_load_order: impl IntoIterator<Item = String>) -> Stats {
        Stats {
            by_rule: rules_in_load_order.into_iter().map(|r| (r, 0)).collect(),
            ..Stats::default()
        }
    }

    /// Counts one match.
    pub fn on_event(&mut self, rule: &str, priority: Priority) {
        self.total += 1;
        self.by_priority[priority.number() as usize] += 1;
        match self.by_rule.iter_mut().find(|(r, _)| r == rule) {
            Some((_, n)) => *n += 1,
            None => self.by_rule.push((rule.to_string(), 1)),
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The block Falco prints.
    pub fn format(&self) -> String {
        let mut out = format!(
            "Events detected: {}\nRule counts by severity:\n",
            self.total
        );
        for p in Priority::ALL {
            let n = self.by_priority[p.number() as usize];
            if n > 0 {
                out.push_str(&format!("   {}: {n}\n", p.stats_word()));
            }
        }
        out.push_str("Triggered rules by rule name:\n");
        for (rule, n) in &self.by_rule {
            if *n > 0 {
                out.push_str(&format!("   {rule}: {n}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_run_matches_the_golden_summary() {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/replay/falco_cat_write.stable-text/stdout");
        let golden = std::fs::read_to_string(p).unwrap();
        assert_eq!(Stats::default().format(), golden);
    }

    /// goldens `replay/falco_cat_write.testing-catchall_order.text`: 1 + 3 informational
    /// matches, listed in rule load order.
    #[test]
    fn counts_in_severity_and_load_order() {
        let p = crate::test_support::shared_dir()
            .join("conformance/goldens/replay/falco_cat_write.testing-catchall_order.text/stdout");
        let golden = std::fs::read_to_string(p).unwrap();
        let summary = &golden[golden.find("Events detected").unwrap()..];
        let mut s = Stats::new(["open_dev_null".to_string(), "dev_null".to_string()]);
        s.on_event("dev_null", Priority::Informational);
        s.on_event("open_dev_null", Priority::Informational);
        s.on_event("dev_null", Priority::Informational);
        s.on_event("dev_null", Priority::Informational);
        assert_eq!(s.format(), summary);
        s.on_event("late", Priority::Warning);
        assert!(s.format().contains("   WARNING: 1\n   INFO: 4\n"));
    }
}
