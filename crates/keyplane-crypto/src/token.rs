//! Bearer-token hashing and constant-time comparison.
//!
//! Bearer tokens are stored only as their SHA-256 hash (a token is 256 random bits, so a plain
//! hash is enough: there is nothing to brute-force), and compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of the token's UTF-8 bytes.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether two byte strings are equal, in time independent of their contents (but not of their
/// lengths: strings of different lengths are unequal at once).
pub fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.ct_eq(right).into()
}
