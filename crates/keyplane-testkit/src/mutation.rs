//! One-byte mutations of signed requests, for the tests that prove every signed byte counts.

/// `text` with its byte at `index` changed to another printable byte (`None` when the result
/// is not UTF-8): the one-byte mutations of the signature tests.
pub fn mutate_byte(text: &str, index: usize) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let original = bytes[index];
    bytes[index] = if original == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).ok()
}

/// Every one-byte mutation of `text` that is still UTF-8.
pub fn byte_mutants(text: &str) -> impl Iterator<Item = String> + '_ {
    (0..text.len()).filter_map(|index| mutate_byte(text, index))
}

/// Every header list that differs from `headers` by one byte of one signed header's value (a
/// header named in `signed_headers`, whatever its case, or `Authorization`).
pub fn signed_header_mutants(
    headers: &[(String, String)],
    signed_headers: &[String],
) -> Vec<Vec<(String, String)>> {
    let mut mutants = Vec::new();
    for (position, (name, value)) in headers.iter().enumerate() {
        let signed = signed_headers
            .iter()
            .any(|signed| signed.eq_ignore_ascii_case(name))
            || name.eq_ignore_ascii_case("authorization");
        if !signed {
            continue;
        }
        for changed in byte_mutants(value) {
            let mut mutated = headers.to_vec();
            mutated[position].1 = changed;
            mutants.push(mutated);
        }
    }
    mutants
}
