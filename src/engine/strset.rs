//! Membership sets of byte strings (`in`, `intersects` on string fields): a hash set behind
//! two pre-checks, the lengths and the last bytes of its members, which reject most values
//! (a process name, a path) with two bit tests instead of a hash and a probe.

/// Lengths from this one up share the last bit of [`StrSet::lens`].
const LONG: usize = 63;

/// A set of byte strings.
#[derive(Debug, Clone, Default)]
pub struct StrSet {
    set: foldhash::HashSet<Vec<u8>>,
    /// Bit `n` (n < 63): a member is `n` bytes long; bit 63: one is 63 bytes or longer.
    lens: u64,
    /// Bit `b`: a member ends with byte `b`.
    last: [u64; 4],
}

impl StrSet {
    /// Whether `s` is a member.
    #[inline]
    pub fn contains(&self, s: &[u8]) -> bool {
        if self.lens & (1 << s.len().min(LONG)) == 0 {
            return false;
        }
        if let Some(&b) = s.last()
            && self.last[usize::from(b >> 6)] & (1 << (b & 63)) == 0
        {
            return false;
        }
        self.set.contains(s)
    }
}

impl FromIterator<Vec<u8>> for StrSet {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(members: I) -> StrSet {
        let mut s = StrSet::default();
        for m in members {
            s.lens |= 1 << m.len().min(LONG);
            if let Some(&b) = m.last() {
                s.last[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            s.set.insert(m);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_the_hash_set_s() {
        let members: Vec<Vec<u8>> = [
            "",
            "sh",
            "bash",
            "/etc/shadow",
            "/etc/pam.d",
            "runc:[1:CHILD]",
            &"x".repeat(63),
            &"y".repeat(200),
        ]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .chain([vec![0xff], b"a\0b".to_vec()])
        .collect();
        let set: StrSet = members.iter().cloned().collect();
        let plain: std::collections::HashSet<Vec<u8>> = members.iter().cloned().collect();
        assert_eq!(set.set.len(), plain.len());
        let mut probes: Vec<Vec<u8>> = members.clone();
        for m in &members {
            // same length, other last byte; same last byte, other length; prefixes
            let mut other_last = m.clone();
            if let Some(b) = other_last.last_mut() {
                *b = b.wrapping_add(1);
            }
            probes.push(other_last);
            probes.push([b"a".as_slice(), m].concat());
            probes.push(m[..m.len() / 2].to_vec());
        }
        probes.extend(
            [
                "z",
                "bas",
                "bashh",
                "/etc/hostname",
                &"x".repeat(64),
                &"y".repeat(199),
            ]
            .iter()
            .map(|p| p.as_bytes().to_vec()),
        );
        for p in &probes {
            assert_eq!(set.contains(p), plain.contains(p), "{p:?}");
        }
        assert!(set.contains(b"") && set.contains(&[0xff]));
        assert!(!StrSet::default().contains(b""));
    }
}
