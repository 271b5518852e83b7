//! Messages joined from static pieces, without `core::fmt`: formatting machinery is kilobytes
//! of .wasm that a few string pushes do not need.

/// Joins `parts` into one `String`.
pub(crate) fn cat(parts: &[&str]) -> String {
    parts.concat()
}

/// The value of one ASCII hex digit.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `n` in decimal.
pub(crate) fn num(n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| d as char).collect()
}

/// The byte offset of the first `needle` in `hay`. A plain window scan: `str::find` with a
/// `&str` pattern brings the two-way searcher and its panic formatting into the .wasm.
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    (0..h.len().checked_sub(n.len())? + 1).find(|&i| h.get(i..i + n.len()) == Some(n))
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// `hay` split around the first `needle`.
pub(crate) fn split_once<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find(hay, needle)?;
    Some((hay.get(..i)?, hay.get(i + needle.len()..)?))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 429, 86_400_000, u64::MAX] {
            assert_eq!(num(n), n.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn search_agrees_with_std(hay in "[ab:/<é]{0,12}", needle in "[ab:/<é]{0,3}") {
            proptest::prop_assert_eq!(find(&hay, &needle), hay.find(needle.as_str()));
            proptest::prop_assert_eq!(split_once(&hay, &needle), hay.split_once(needle.as_str()));
        }
    }

    #[test]
    fn pieces_are_joined_in_order() {
        assert_eq!(cat(&["a", "", "bc", "d"]), "abcd");
        assert_eq!(cat(&[]), "");
    }
}
