//! Generators: lengths, prefixes, alphabets and (probabilistically) uniqueness and coverage.

use std::collections::HashSet;

use base64::Engine as _;
use keyplane_crypto::generate::{
    aliyun_access_key_id, aliyun_access_key_secret, api_gateway_key_id, api_gateway_key_secret,
    bearer_token, random_alphanumeric, random_digits, random_lowercase_alphanumeric, random_u64_in,
    tencent_secret_id, tencent_secret_key,
};

fn assert_alphanumeric(text: &str) {
    assert!(
        text.bytes().all(|byte| byte.is_ascii_alphanumeric()),
        "{text}"
    );
}

#[test]
fn credential_formats() {
    for _ in 0..200 {
        // (value, length, prefix)
        let formats = [
            (tencent_secret_id(), 36, Some("AKID")),
            (tencent_secret_key(), 32, None),
            (aliyun_access_key_id(), 24, Some("LTAI")),
            (aliyun_access_key_secret(), 30, None),
            (api_gateway_key_id(), 40, Some("AKID")),
            (api_gateway_key_secret(), 40, None),
        ];
        for (value, length, prefix) in formats {
            assert_eq!(value.len(), length, "{value}");
            if let Some(prefix) = prefix {
                assert!(value.starts_with(prefix), "{value}");
            }
            assert_alphanumeric(&value);
        }
    }
}

#[test]
fn values_are_unique() {
    let secret_ids: HashSet<String> = (0..1000).map(|_| tencent_secret_id()).collect();
    assert_eq!(secret_ids.len(), 1000);
    let tokens: HashSet<String> = (0..1000).map(|_| bearer_token()).collect();
    assert_eq!(tokens.len(), 1000);
}

#[test]
fn bearer_tokens_are_32_bytes_of_base64url() {
    for _ in 0..200 {
        let token = bearer_token();
        assert_eq!(token.len(), 43);
        assert!(token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .expect("base64url");
        assert_eq!(bytes.len(), 32);
    }
}

#[test]
fn alphabets_are_respected_and_covered() {
    for length in [0, 1, 7, 64] {
        assert_eq!(random_alphanumeric(length).len(), length);
        assert_eq!(random_lowercase_alphanumeric(length).len(), length);
        assert_eq!(random_digits(length).len(), length);
    }

    let mixed = random_alphanumeric(20_000);
    assert_alphanumeric(&mixed);
    let seen: HashSet<u8> = mixed.bytes().collect();
    assert_eq!(seen.len(), 62);

    let lower = random_lowercase_alphanumeric(20_000);
    assert!(lower
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit()));
    let seen: HashSet<u8> = lower.bytes().collect();
    assert_eq!(seen.len(), 36);

    let digits = random_digits(20_000);
    assert!(digits.bytes().all(|byte| byte.is_ascii_digit()));
    let seen: HashSet<u8> = digits.bytes().collect();
    assert_eq!(seen.len(), 10);
}

#[test]
fn digits_never_start_with_zero() {
    let mut first_digits = HashSet::new();
    for _ in 0..2_000 {
        let digits = random_digits(1);
        assert_ne!(digits, "0");
        first_digits.insert(digits);
        assert!(!random_digits(12).starts_with('0'));
    }
    assert_eq!(first_digits.len(), 9);
}

#[test]
fn integers_stay_in_range() {
    for _ in 0..2_000 {
        let value = random_u64_in(10..=20);
        assert!((10..=20).contains(&value));
        let value = random_u64_in(1..=65_535);
        assert!((1..=65_535).contains(&value));
    }
    assert_eq!(random_u64_in(5..=5), 5);
    let _ = random_u64_in(0..=u64::MAX);
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = random_u64_in(20..=10);
    assert!((10..=20).contains(&reversed));
    let seen: HashSet<u64> = (0..500).map(|_| random_u64_in(1..=3)).collect();
    assert_eq!(seen.len(), 3);
}
