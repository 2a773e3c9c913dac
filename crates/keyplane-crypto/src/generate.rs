//! Random identifiers, secrets and bearer tokens, all drawn from the operating system's CSPRNG
//! ([`rand::rngs::OsRng`]), with uniform (unbiased) choice of every character. A string of
//! characters is drawn from a ChaCha CSPRNG ([`rand::rngs::StdRng`]) seeded for that string
//! alone with 256 bits from the operating system: one system call per string instead of one
//! per character (which was a third of a node's CPU time when minting keys).
//!
//! The formats follow the real services: Tencent CAM SecretId `AKID` + 32 alphanumerics and a
//! 32-character SecretKey; Tencent API Gateway auto keys of 40 + 40 characters; Alibaba
//! AccessKeyId `LTAI` + 20 alphanumerics and a 30-character AccessKeySecret.
//!
//! Like [`OsRng`] itself, these functions panic only if the operating system cannot provide
//! random bytes at all.

use base64::Engine as _;
use rand::distributions::{Alphanumeric, Distribution, Slice};
use rand::rngs::{OsRng, StdRng};
use rand::{Rng, RngCore, SeedableRng};

const LOWERCASE_ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";
const NONZERO_DIGITS: &[u8] = b"123456789";

/// A CSPRNG for one value, seeded from the operating system.
fn seeded_from_the_os() -> StdRng {
    StdRng::from_rng(OsRng)
        .unwrap_or_else(|error| panic!("the operating system cannot provide random bytes: {error}"))
}

/// Draws `length` characters uniformly from a non-empty ASCII alphabet.
fn random_from_alphabet(alphabet: &'static [u8], length: usize) -> String {
    match Slice::new(alphabet) {
        Ok(distribution) => distribution
            .sample_iter(seeded_from_the_os())
            .take(length)
            .map(|byte| char::from(*byte))
            .collect(),
        Err(_) => String::new(),
    }
}

/// `length` characters from `[A-Za-z0-9]`.
pub fn random_alphanumeric(length: usize) -> String {
    seeded_from_the_os()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

/// `length` characters from `[a-z0-9]`.
pub fn random_lowercase_alphanumeric(length: usize) -> String {
    random_from_alphabet(LOWERCASE_ALPHANUMERIC, length)
}

/// `length` decimal digits, the first one non-zero (empty when `length` is 0).
pub fn random_digits(length: usize) -> String {
    if length == 0 {
        return String::new();
    }
    let mut digits = random_from_alphabet(NONZERO_DIGITS, 1);
    digits.push_str(&random_from_alphabet(DIGITS, length - 1));
    digits
}

/// A uniformly random integer in the inclusive range. A reversed range (`start > end`) is
/// treated as `end..=start` rather than panicking.
pub fn random_u64_in(range: std::ops::RangeInclusive<u64>) -> u64 {
    let (start, end) = range.into_inner();
    let (low, high) = if start <= end {
        (start, end)
    } else {
        (end, start)
    };
    OsRng.gen_range(low..=high)
}

/// A Tencent CAM SecretId: `AKID` + 32 alphanumerics.
pub fn tencent_secret_id() -> String {
    format!("AKID{}", random_alphanumeric(32))
}

/// A Tencent CAM SecretKey: 32 alphanumerics.
pub fn tencent_secret_key() -> String {
    random_alphanumeric(32)
}

/// An Alibaba AccessKeyId: `LTAI` + 20 alphanumerics.
pub fn aliyun_access_key_id() -> String {
    format!("LTAI{}", random_alphanumeric(20))
}

/// An Alibaba AccessKeySecret: 30 alphanumerics.
pub fn aliyun_access_key_secret() -> String {
    random_alphanumeric(30)
}

/// A Tencent API Gateway auto key id: `AKID` + 36 alphanumerics (40 characters).
pub fn api_gateway_key_id() -> String {
    format!("AKID{}", random_alphanumeric(36))
}

/// A Tencent API Gateway auto key secret: 40 alphanumerics.
pub fn api_gateway_key_secret() -> String {
    random_alphanumeric(40)
}

/// A bearer token: 32 random bytes, base64url without padding (43 characters).
pub fn bearer_token() -> String {
    let mut bytes = zeroize::Zeroizing::new([0_u8; 32]);
    OsRng.fill_bytes(bytes.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice())
}
