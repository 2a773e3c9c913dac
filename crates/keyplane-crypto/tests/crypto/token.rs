//! Token hashing and constant-time comparison.

use keyplane_crypto::token::{constant_time_equal, hash_token};

#[test]
fn hash_token_is_sha256() {
    assert_eq!(
        hex::encode(hash_token("abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex::encode(hash_token("")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(hash_token("token-a"), hash_token("token-b"));
}

#[test]
fn constant_time_equality() {
    assert!(constant_time_equal(b"", b""));
    assert!(constant_time_equal(b"same", b"same"));
    assert!(!constant_time_equal(b"same", b"Same"));
    assert!(!constant_time_equal(b"same", b"sam"));
    assert!(!constant_time_equal(b"", b"x"));
    let left = hash_token("t");
    assert!(constant_time_equal(&left, &hash_token("t")));
    assert!(!constant_time_equal(&left, &hash_token("u")));
}
