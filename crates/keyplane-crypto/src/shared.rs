//! What the Alibaba and Tencent signature schemes share: reading an `Authorization` header of the
//! form `ALGORITHM Credential=…, SignedHeaders=…, Signature=…`, decoding a hex signature, reading
//! a parameter that may be given only once, and comparing in constant time.

/// The algorithm word and the rest of a trimmed `Authorization` value (split at the first ASCII
/// whitespace), or `None` when the value is empty or only whitespace.
pub(crate) fn split_algorithm(value: &str) -> Option<(&str, &str)> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return None;
    }
    Some(
        match value.find(|character: char| character.is_ascii_whitespace()) {
            Some(index) => value.split_at(index),
            None => (value, ""),
        },
    )
}

/// The errors a scheme answers when the `Credential`, `SignedHeaders` and `Signature` parts of
/// its `Authorization` value cannot be read.
pub(crate) struct PartErrors<E> {
    /// A comma-separated part is not `Name=value`.
    pub(crate) malformed: E,
    /// A part name other than the three.
    pub(crate) unknown: E,
    /// The same part twice (its name is given).
    pub(crate) duplicate: fn(&'static str) -> E,
    /// No `Credential=`, no `SignedHeaders=`, no `Signature=`.
    pub(crate) missing: [E; 3],
}

/// The values of `Credential`, `SignedHeaders` and `Signature` in `parts` (the text after the
/// algorithm): split on `,`, each part trimmed; each must appear exactly once and nothing else
/// may appear.
pub(crate) fn credential_parts<E: Clone>(
    parts: &str,
    errors: PartErrors<E>,
) -> Result<[&str; 3], E> {
    const NAMES: [&str; 3] = ["Credential", "SignedHeaders", "Signature"];
    let mut values: [Option<&str>; 3] = [None; 3];
    let parts = parts.trim_ascii();
    if !parts.is_empty() {
        for part in parts.split(',') {
            let (name, part_value) = part
                .trim_ascii()
                .split_once('=')
                .ok_or_else(|| errors.malformed.clone())?;
            let index = NAMES
                .iter()
                .position(|known| *known == name)
                .ok_or_else(|| errors.unknown.clone())?;
            if values[index].replace(part_value).is_some() {
                return Err((errors.duplicate)(NAMES[index]));
            }
        }
    }
    let [credential_missing, signed_headers_missing, signature_missing] = errors.missing;
    Ok([
        values[0].ok_or(credential_missing)?,
        values[1].ok_or(signed_headers_missing)?,
        values[2].ok_or(signature_missing)?,
    ])
}

/// The names of a `SignedHeaders` value split on `;`, each passed through `name`; `empty` when
/// a name is empty.
pub(crate) fn signed_header_names<E>(
    raw: &str,
    name: fn(&str) -> String,
    empty: fn() -> E,
) -> Result<Vec<String>, E> {
    raw.split(';')
        .map(|part| {
            if part.is_empty() {
                Err(empty())
            } else {
                Ok(name(part))
            }
        })
        .collect()
}

/// A signature of 64 lower-case hex digits, decoded; anything else (which cannot match) is
/// `None`.
pub(crate) fn lower_case_hex_signature(signature: &str) -> Option<[u8; 32]> {
    let lower_case_hex = signature
        .bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    let mut decoded = [0_u8; 32];
    (lower_case_hex && hex::decode_to_slice(signature, &mut decoded).is_ok()).then_some(decoded)
}

/// The single value of a parameter: `Ok(None)` when absent, `Err(())` when repeated.
pub(crate) fn single_parameter<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, ()> {
    let mut values = params
        .iter()
        .filter(|(parameter_name, _)| parameter_name == name)
        .map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

/// The path of a canonical request: `/` when the request's is empty.
pub(crate) fn canonical_path(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// Constant-time equality of two byte strings (lengths are not hidden).
pub(crate) fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(left, right).into()
}
