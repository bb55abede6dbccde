//! Path and string helpers shared by state and fields: libsinsp's path concatenation and
//! normalisation (`concatenate_paths`) and its UTF-8 sanitiser. Pure functions of bytes.

/// `SCAP_MAX_PATH_SIZE`: the longest path libsinsp builds.
pub const MAX_PATH_SIZE: usize = 1024;

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// libsinsp `utf8_seq_len`: 1 for printable ASCII, n > 1 for a valid printable multibyte
/// sequence, -n for an invalid or non-printable sequence whose maximal subpart is n bytes.
#[inline]
pub fn utf8_seq_len(s: &[u8]) -> isize {
    let c = s[0];
    let at = |i: usize| s.get(i).copied();
    if c < 0x80 {
        return if c >= 0x20 && c != 0x7F { 1 } else { -1 };
    }
    if c < 0xC2 {
        return -1;
    }
    if c < 0xE0 {
        let Some(c1) = at(1).filter(|b| b & 0xC0 == 0x80) else {
            return -1;
        };
        let cp = (u32::from(c) & 0x1F) << 6 | (u32::from(c1) & 0x3F);
        return if cp > 0x9F { 2 } else { -2 };
    }
    if c < 0xF0 {
        let lo = if c == 0xE0 { 0xA0 } else { 0x80 };
        let hi = if c == 0xED { 0x9F } else { 0xBF };
        let Some(c1) = at(1).filter(|b| (lo..=hi).contains(b)) else {
            return -1;
        };
        let Some(c2) = at(2).filter(|b| b & 0xC0 == 0x80) else {
            return -2;
        };
        let cp = (u32::from(c) & 0x0F) << 12 | (u32::from(c1) & 0x3F) << 6 | (u32::from(c2) & 0x3F);
        if (0xFDD0..=0xFDEF).contains(&cp) || cp >= 0xFFFE {
            return -3;
        }
        return 3;
    }
    if c <= 0xF4 {
        let lo = if c == 0xF0 { 0x90 } else { 0x80 };
        let hi = if c == 0xF4 { 0x8F } else { 0xBF };
        let Some(c1) = at(1).filter(|b| (lo..=hi).contains(b)) else {
            return -1;
        };
        let Some(c2) = at(2).filter(|b| b & 0xC0 == 0x80) else {
            return -2;
        };
        let Some(c3) = at(3).filter(|b| b & 0xC0 == 0x80) else {
            return -3;
        };
        let cp = (u32::from(c) & 0x07) << 18
            | (u32::from(c1) & 0x3F) << 12
            | (u32::from(c2) & 0x3F) << 6
            | (u32::from(c3) & 0x3F);
        if cp & 0xFFFF >= 0xFFFE {
            return -4;
        }
        return 4;
    }
    -1
}

/// Appends `s` to `out` with every invalid or non-printable UTF-8 sequence replaced by U+FFFD
/// (libsinsp's output sanitiser).
pub fn sanitize_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    while i < s.len() {
        let n = utf8_seq_len(&s[i..]);
        if n > 0 {
            out.extend_from_slice(&s[i..i + n.unsigned_abs()]);
            i += n.unsigned_abs();
        } else {
            out.extend_from_slice(REPLACEMENT);
            i += n.unsigned_abs();
        }
    }
}

/// True when `s` needs no sanitising.
pub fn is_clean(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let n = utf8_seq_len(&s[i..]);
        if n < 0 {
            return false;
        }
        i += n.unsigned_abs();
    }
    true
}

/// libsinsp `concatenate_paths(base, path)`: `path` when absolute (normalised), else `base`
/// (expected to end in `/`, copied as is) joined with `path` and normalised: `//` collapsed,
/// `./` dropped, `..` pops a component (never above `/`), a trailing `/` removed, invalid or
/// non-printable UTF-8 in `path` replaced by U+FFFD. Too long → `/DIR_TOO_LONG/FILENAME_TOO_LONG`.
pub fn concatenate_paths(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    concatenate_paths_into(&mut out, base, path);
    out
}

/// [`concatenate_paths`] into `out` (cleared first), reusing its allocation.
pub fn concatenate_paths_into(out: &mut Vec<u8>, base: &[u8], path: &[u8]) {
    out.clear();
    let path = match memchr::memchr(0, path) {
        Some(nul) => &path[..nul],
        None => path,
    };
    if MAX_PATH_SIZE < base.len() + path.len() + 1 {
        out.extend_from_slice(b"/DIR_TOO_LONG/FILENAME_TOO_LONG");
        return;
    }
    out.reserve(base.len() + path.len());
    // Fast path: a path with nothing to normalise or sanitise is copied as it is (what
    // `copy_and_sanitize` would produce, without its byte-by-byte walk).
    if base.len() + path.len() < MAX_PATH_SIZE - 2 && is_plain(path) {
        if path[0] == b'/' {
            out.extend_from_slice(path);
            return;
        }
        if path[0] != b'.' && base.last() == Some(&b'/') && memchr::memchr(0, base).is_none() {
            out.extend_from_slice(base);
            out.extend_from_slice(path);
            return;
        }
    }
    if !path.is_empty() && path[0] != b'/' {
        let base = match memchr::memchr(0, base) {
            Some(nul) => &base[..nul],
            None => base,
        };
        out.extend_from_slice(base);
        copy_and_sanitize(out, path, false);
    } else {
        copy_and_sanitize(out, path, true);
    }
}

/// True when `path` is non-empty printable ASCII without `//`, without a component starting
/// with `.` and without a trailing `/`: `copy_and_sanitize` would copy it unchanged.
fn is_plain(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for &c in path {
        if !(0x20..0x7F).contains(&c) || (prev == b'/' && (c == b'/' || c == b'.')) {
            return false;
        }
        prev = c;
    }
    !path.is_empty() && prev != b'/'
}

/// `copy_and_sanitize_path`: appends `path` to `out`, whose existing content is the base.
fn copy_and_sanitize(out: &mut Vec<u8>, path: &[u8], empty_base: bool) {
    // The limit of the C buffer: one byte is kept for the terminator.
    let limit = MAX_PATH_SIZE - 1;
    let mut p = 0;
    let at = |i: usize| path.get(i).copied().unwrap_or(0);
    loop {
        let c = at(p);
        if c == 0 {
            if out.len() > 1 && out.last() == Some(&b'/') {
                out.pop();
            }
            return;
        }
        let n = utf8_seq_len(&path[p..]);
        if n > 1 {
            let n = n.unsigned_abs();
            if out.len() + n >= limit {
                return;
            }
            out.extend_from_slice(&path[p..p + n]);
            p += n;
        } else if n < 0 {
            if out.len() + 3 >= limit {
                return;
            }
            out.extend_from_slice(REPLACEMENT);
            p += n.unsigned_abs();
        } else if c == b'.' && (out.is_empty() || out.last() == Some(&b'/')) {
            if at(p + 1) == b'.' && at(p + 2) == b'/' {
                rewind_to_parent(out);
                p += 3;
            } else if at(p + 1) == b'.' && at(p + 2) == 0 {
                rewind_to_parent(out);
                p += 2;
            } else if at(p + 1) == b'/' {
                p += 2;
            } else if at(p + 1) == 0 {
                p += 1;
            } else {
                if out.len() + 1 >= limit {
                    return;
                }
                out.push(c);
                p += 1;
            }
        } else if c == b'/' {
            if out.last() == Some(&b'/') || (out.is_empty() && !empty_base) {
                p += 1;
            } else {
                if out.len() + 1 >= limit {
                    return;
                }
                out.push(c);
                p += 1;
            }
        } else {
            if out.len() + 1 >= limit {
                return;
            }
            out.push(c);
            p += 1;
        }
    }
}

/// `rewind_to_parent_path`: drops the last component, keeping the leading byte.
fn rewind_to_parent(out: &mut Vec<u8>) {
    if out.len() <= 1 {
        return;
    }
    out.pop();
    while !out.is_empty() && out[out.len() - 1] != b'/' {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(base: &str, path: &str) -> String {
        String::from_utf8(concatenate_paths(base.as_bytes(), path.as_bytes())).unwrap()
    }

    #[test]
    fn relative_paths_join_and_normalise() {
        assert_eq!(cat("/home/user/", "file"), "/home/user/file");
        assert_eq!(cat("/home/user/", "./file"), "/home/user/file");
        assert_eq!(cat("/home/user/", "../file"), "/home/file");
        assert_eq!(cat("/home/user/", "../../../../etc//passwd"), "/etc/passwd");
        assert_eq!(cat("/home/user/", "dir/"), "/home/user/dir");
        assert_eq!(cat("/home/user/", ".."), "/home");
        assert_eq!(cat("/", "."), "/");
    }

    #[test]
    fn absolute_paths_are_normalised_alone() {
        assert_eq!(cat("/home/user/", "/etc/../etc/./shadow"), "/etc/shadow");
        assert_eq!(cat("/x/", "/"), "/");
        assert_eq!(cat("/x/", "//tmp//a"), "/tmp/a");
        assert_eq!(cat("/x/", ""), "");
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        let out = concatenate_paths(b"/", b"/tmp/\x01\xffa");
        assert_eq!(String::from_utf8(out).unwrap(), "/tmp/\u{FFFD}\u{FFFD}a");
    }

    /// `concatenate_paths` without its fast path.
    fn walked(base: &[u8], path: &[u8]) -> Vec<u8> {
        if MAX_PATH_SIZE < base.len() + path.len() + 1 {
            return b"/DIR_TOO_LONG/FILENAME_TOO_LONG".to_vec();
        }
        let absolute = path.first() == Some(&b'/');
        let mut out = if absolute { Vec::new() } else { base.to_vec() };
        copy_and_sanitize(&mut out, path, absolute);
        out
    }

    #[test]
    fn plain_paths_take_the_fast_path_unchanged() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"/home/user/", b"/etc/hostname"),
            (b"/home/user/", b"file"),
            (b"/home/user/", b"dir/sub/file.txt"),
            (b"/home/user/", b"a.b/c..d/e."),
            (b"/", b"/"),
            (b"/x/", b"/a/.hidden"),
            (b"/x/", b".hidden"),
            (b"/x/", b"a//b"),
            (b"/x/", b"a/"),
            (b"/x/", b"a b/\x7f"),
            (b"/x/", "caf\u{e9}".as_bytes()),
            (b"./", b"rel"),
        ];
        for (base, path) in cases {
            assert!(base.last() == Some(&b'/'));
            assert_eq!(
                concatenate_paths(base, path),
                walked(base, path),
                "{:?} + {:?}",
                String::from_utf8_lossy(base),
                String::from_utf8_lossy(path)
            );
        }
        for n in 1015..1025 {
            let long = format!("/{}", "a".repeat(n));
            assert_eq!(
                concatenate_paths(b"/x/", long.as_bytes()),
                walked(b"/x/", long.as_bytes())
            );
            let rel = "a".repeat(n);
            assert_eq!(
                concatenate_paths(b"/x/", rel.as_bytes()),
                walked(b"/x/", rel.as_bytes())
            );
        }
    }

    #[test]
    fn too_long_paths() {
        let long = "a".repeat(1100);
        assert_eq!(cat("/", &long), "/DIR_TOO_LONG/FILENAME_TOO_LONG");
    }

    #[test]
    fn sanitiser_replaces_controls_and_c1() {
        let mut out = Vec::new();
        sanitize_into(&mut out, "a\tb\u{85}cé".as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), "a\u{FFFD}b\u{FFFD}cé");
        assert!(is_clean("héllo".as_bytes()));
        assert!(!is_clean(b"a\nb"));
    }
}
