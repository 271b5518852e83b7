//! Messages joined from static pieces, without `core::fmt`: formatting machinery is kilobytes
//! of .wasm that a few string pushes do not need.

/// Joins `parts` into one `String`.
pub(crate) fn cat(parts: &[&str]) -> String {
    parts.concat()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 429, 86_400_000, u64::MAX] {
            assert_eq!(num(n), n.to_string());
        }
    }

    #[test]
    fn pieces_are_joined_in_order() {
        assert_eq!(cat(&["a", "", "bc", "d"]), "abcd");
        assert_eq!(cat(&[]), "");
    }
}
