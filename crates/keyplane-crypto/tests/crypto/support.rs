//! What the vector and round-trip tests of both clouds share: the vector files, the parts of a
//! recorded request every case carries, header lookups, a request view over owned parts, byte
//! mutations, and the check of a signature window.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use keyplane_request::{Headers, RequestView};
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Deserialize;

const VECTOR_DIRECTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors");

/// Every `vectors/*.json` file, sorted.
pub fn vector_files() -> Vec<PathBuf> {
    let directory = Path::new(VECTOR_DIRECTORY);
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    files
}

/// The request a vector recorded, with its name and the reference values it carries.
pub struct Recorded {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub signature_check: serde_json::Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    pub fn header_position(&self, name: &str) -> usize {
        self.headers
            .iter()
            .position(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{}: no {name} header", self.name))
    }

    pub fn check(&self, key: &str) -> &str {
        self.signature_check[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: signature_check.{key} missing", self.name))
    }
}

pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

pub fn header_pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// The request view of owned parts (`pairs` from [`header_pairs`]).
pub fn view<'a>(
    method: &'a str,
    path: &'a str,
    raw_query: &'a str,
    pairs: &'a [(&'a str, &'a str)],
    body: &'a [u8],
) -> RequestView<'a> {
    RequestView {
        method,
        path,
        raw_query,
        headers: Headers::new(pairs),
        body,
    }
}

pub fn mutate(byte: u8) -> u8 {
    byte ^ 0x01
}

pub fn mutate_at(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = mutate(bytes[index]);
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// Checks that `verify_at(clock)` accepts the clock `now`, `now - window` and `now + window`,
/// and refuses `now ± (window + 1)` with `expired(skew_seconds)`.
pub fn assert_signature_window<E: PartialEq + std::fmt::Debug>(
    name: &str,
    now: i64,
    window: i64,
    verify_at: impl Fn(i64) -> Result<(), E>,
    expired: impl Fn(i64) -> E,
) {
    for skew in [0, -window, window] {
        assert_eq!(
            verify_at(now + skew),
            Ok(()),
            "{name}: clock skew {skew} s is allowed"
        );
    }
    for (clock, skew_seconds) in [
        (now + window + 1, -window - 1),
        (now - window - 1, window + 1),
    ] {
        assert_eq!(verify_at(clock), Err(expired(skew_seconds)), "{name}");
    }
}

/// Runs `check` over every truncation of each sample (prefix and suffix at each character
/// boundary) and over each sample with one character replaced by each of `replacements`.
pub fn for_each_edit(samples: &[String], replacements: &[&str], check: impl Fn(&str)) {
    for sample in samples {
        let boundaries: Vec<usize> = (0..=sample.len())
            .filter(|index| sample.is_char_boundary(*index))
            .collect();
        for &index in &boundaries {
            check(&sample[..index]);
            check(&sample[index..]);
        }
        for window in boundaries.windows(2) {
            for replacement in replacements {
                let replaced = format!(
                    "{}{replacement}{}",
                    &sample[..window[0]],
                    &sample[window[1]..]
                );
                check(&replaced);
            }
        }
    }
}

/// Runs `check` over 20,000 random strings of up to 23 `pieces` and 2,000 random byte strings
/// of up to 199 bytes (lossily decoded).
pub fn for_each_garbage(pieces: &[&str], check: impl Fn(&str)) {
    let mut rng = OsRng;
    for _ in 0..20_000 {
        let length = rng.gen_range(0..24);
        let value: String = (0..length)
            .map(|_| *pieces.choose(&mut rng).expect("non-empty"))
            .collect();
        check(&value);
    }
    for _ in 0..2_000 {
        let length = rng.gen_range(0..200);
        let bytes: Vec<u8> = (0..length).map(|_| rng.gen()).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}

/// Each copy of `bytes` with one byte changed by [`mutate`], with the index of that byte.
pub fn byte_mutations(bytes: &[u8]) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    (0..bytes.len()).map(|index| {
        let mut changed = bytes.to_vec();
        changed[index] = mutate(changed[index]);
        (index, changed)
    })
}

/// Each copy of `text` with one byte changed by [`mutate_at`], with the index of that byte.
pub fn text_mutations(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    (0..text.len()).map(|index| (index, mutate_at(text, index)))
}

/// Each copy of `headers` with one byte of the value at `position` changed, with its index.
pub fn header_value_mutations(
    headers: &[(String, String)],
    position: usize,
) -> impl Iterator<Item = (usize, Vec<(String, String)>)> + '_ {
    header_part_mutations(headers, position, |header| &mut header.1)
}

/// Each copy of `headers` with one byte of the name at `position` changed, with its index.
pub fn header_name_mutations(
    headers: &[(String, String)],
    position: usize,
) -> impl Iterator<Item = (usize, Vec<(String, String)>)> + '_ {
    header_part_mutations(headers, position, |header| &mut header.0)
}

fn header_part_mutations(
    headers: &[(String, String)],
    position: usize,
    part: fn(&mut (String, String)) -> &mut String,
) -> impl Iterator<Item = (usize, Vec<(String, String)>)> + '_ {
    let mut original = headers[position].clone();
    let text = part(&mut original).clone();
    (0..text.len()).map(move |index| {
        let mut changed = headers.to_vec();
        *part(&mut changed[position]) = mutate_at(&text, index);
        (index, changed)
    })
}

/// Checks that `parse` refuses each value of `cases` with its error.
pub fn assert_parse_errors<T: PartialEq + std::fmt::Debug, E: PartialEq + std::fmt::Debug>(
    cases: &[(&str, E)],
    parse: impl Fn(&str) -> Result<T, E>,
) {
    for (value, expected) in cases {
        assert_eq!(parse(value).as_ref(), Err(expected), "{value:?}");
    }
}

/// One `vectors/*.json` file, with the cloud's credentials `C`.
#[derive(Debug, Deserialize)]
pub struct Vector<C> {
    pub name: String,
    pub auth_scheme: Option<String>,
    pub credentials: Option<C>,
    pub request: Option<RecordedRequest>,
    #[serde(default)]
    pub signature_check: serde_json::Value,
}

/// The request a vector recorded, as written in the file.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target (path and query); only the Alibaba vectors record it.
    #[serde(default)]
    pub target: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
}

impl RecordedRequest {
    /// The body, decoded from `body_base64`.
    pub fn body(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .expect("body_base64")
    }
}
