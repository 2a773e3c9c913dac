//! AES-256-GCM sealing: round trips, associated-data binding, wrong keys, key rotation, tampering,
//! the master-key text form and check value, and `Debug` output that never shows key material.

use base64::Engine as _;
use keyplane_crypto::seal::{Keyring, MasterKey, SealError, SealedSecret};

fn counting_key(version: u32) -> MasterKey {
    let bytes: Vec<u8> = (0..32).collect();
    MasterKey::from_bytes(version, &bytes).expect("32 bytes")
}

#[test]
fn seal_and_open_round_trip() {
    let keyring = Keyring::new(MasterKey::generate(1));
    for plaintext in [
        &b""[..],
        b"x",
        b"FakeSecretKey000000000000000EXMP",
        &[0_u8; 4096][..],
    ] {
        let sealed = keyring.seal(b"access-key:AKID123", plaintext);
        assert_eq!(sealed.key_version, 1);
        assert_eq!(sealed.ciphertext.len(), 12 + plaintext.len() + 16);
        let opened = keyring.open(&sealed, b"access-key:AKID123").expect("open");
        assert_eq!(opened.as_slice(), plaintext);
    }
}

#[test]
fn every_seal_uses_a_fresh_nonce() {
    let keyring = Keyring::new(MasterKey::generate(1));
    let first = keyring.seal(b"", b"same plaintext");
    let second = keyring.seal(b"", b"same plaintext");
    assert_ne!(first.ciphertext[..12], second.ciphertext[..12]);
    assert_ne!(first, second);
}

#[test]
fn wrong_associated_data_fails() {
    let keyring = Keyring::new(MasterKey::generate(1));
    let sealed = keyring.seal(b"row 1", b"secret");
    for associated_data in [&b"row 2"[..], b"", b"row 1 ", b"Row 1"] {
        assert_eq!(
            keyring.open(&sealed, associated_data),
            Err(SealError::OpenFailed)
        );
    }
}

#[test]
fn wrong_key_fails() {
    let sealed = Keyring::new(MasterKey::generate(1)).seal(b"ad", b"secret");
    let other = Keyring::new(MasterKey::generate(1));
    assert_eq!(other.open(&sealed, b"ad"), Err(SealError::OpenFailed));
    let unknown = Keyring::new(MasterKey::generate(2));
    assert_eq!(
        unknown.open(&sealed, b"ad"),
        Err(SealError::UnknownKeyVersion(1))
    );
}

#[test]
fn rotated_keyring_opens_old_versions_and_seals_with_the_new_one() {
    let old_key = MasterKey::generate(1);
    let old_keyring = Keyring::new(old_key.clone());
    let sealed_before = old_keyring.seal(b"ad", b"old secret");

    let new_keyring = Keyring::new(MasterKey::generate(2)).with_previous(old_key);
    assert_eq!(new_keyring.current_version(), 2);
    assert_eq!(
        new_keyring
            .open(&sealed_before, b"ad")
            .expect("old version")
            .as_slice(),
        b"old secret"
    );
    let sealed_after = new_keyring.seal(b"ad", b"new secret");
    assert_eq!(sealed_after.key_version, 2);
    assert_eq!(
        new_keyring
            .open(&sealed_after, b"ad")
            .expect("new version")
            .as_slice(),
        b"new secret"
    );
    assert_eq!(
        old_keyring.open(&sealed_after, b"ad"),
        Err(SealError::UnknownKeyVersion(2))
    );
    // Relabelling the version does not help.
    let relabelled = SealedSecret {
        key_version: 2,
        ..sealed_before
    };
    assert_eq!(
        new_keyring.open(&relabelled, b"ad"),
        Err(SealError::OpenFailed)
    );
}

#[test]
fn tampering_and_truncation_fail() {
    let keyring = Keyring::new(MasterKey::generate(7));
    let sealed = keyring.seal(b"ad", b"secret value");
    for index in 0..sealed.ciphertext.len() {
        let mut tampered = sealed.clone();
        tampered.ciphertext[index] ^= 0x80;
        assert_eq!(
            keyring.open(&tampered, b"ad"),
            Err(SealError::OpenFailed),
            "byte {index}"
        );
    }
    for length in 0..28 {
        let truncated = SealedSecret {
            key_version: 7,
            ciphertext: sealed.ciphertext[..length.min(sealed.ciphertext.len())].to_vec(),
        };
        assert_eq!(
            keyring.open(&truncated, b"ad"),
            Err(SealError::Malformed),
            "length {length}"
        );
    }
    let shortened = SealedSecret {
        key_version: 7,
        ciphertext: sealed.ciphertext[..sealed.ciphertext.len() - 1].to_vec(),
    };
    assert_eq!(keyring.open(&shortened, b"ad"), Err(SealError::OpenFailed));
}

#[test]
fn master_key_text_form_round_trip() {
    let key = counting_key(3);
    let text = key.encode();
    assert_eq!(
        text,
        "keyplane-master-key:v3:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    );
    let decoded = MasterKey::decode(&format!("  {text}\n")).expect("decode");
    assert_eq!(decoded.version(), 3);
    assert_eq!(decoded.check_value(), key.check_value());

    let generated = MasterKey::generate(u32::MAX);
    let decoded = MasterKey::decode(&generated.encode()).expect("decode");
    assert_eq!(decoded.version(), u32::MAX);
    assert_eq!(decoded.check_value(), generated.check_value());

    // A decoded key opens what the original sealed.
    let sealed = Keyring::new(generated).seal(b"", b"x");
    assert_eq!(
        Keyring::new(decoded)
            .open(&sealed, b"")
            .expect("open")
            .as_slice(),
        b"x"
    );
}

#[test]
fn master_key_errors() {
    assert_eq!(
        MasterKey::from_bytes(1, &[0; 31]).err(),
        Some(SealError::KeyLength)
    );
    assert_eq!(
        MasterKey::from_bytes(1, &[0; 33]).err(),
        Some(SealError::KeyLength)
    );
    assert_eq!(
        MasterKey::from_bytes(1, &[]).err(),
        Some(SealError::KeyLength)
    );
    let base64_of =
        |length: usize| base64::engine::general_purpose::STANDARD.encode(vec![7_u8; length]);
    let valid_base64 = base64_of(32);
    let cases = [
        (String::new(), SealError::Encoding),
        ("garbage".to_owned(), SealError::Encoding),
        (
            format!("keyplane-master-key:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:v:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:v-1:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:v+1:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:vx:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:v4294967296:{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("keyplane-master-key:v1 :{valid_base64}"),
            SealError::Encoding,
        ),
        (
            format!("KEYPLANE-MASTER-KEY:v1:{valid_base64}"),
            SealError::Encoding,
        ),
        ("keyplane-master-key:v1:".to_owned(), SealError::KeyLength),
        (
            "keyplane-master-key:v1:not base64!".to_owned(),
            SealError::Encoding,
        ),
        ("keyplane-master-key:v1:☃".to_owned(), SealError::Encoding),
        ("keyplane-master-key:v1".to_owned(), SealError::Encoding),
        (
            format!("keyplane-master-key:v1:{}", base64_of(31)),
            SealError::KeyLength,
        ),
        (
            format!("keyplane-master-key:v1:{}", base64_of(33)),
            SealError::KeyLength,
        ),
        (
            format!("keyplane-master-key:v1:{valid_base64}:extra"),
            SealError::Encoding,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(MasterKey::decode(&text).err(), Some(expected), "{text:?}");
    }
}

#[test]
fn check_value_is_the_documented_hmac() {
    let key = counting_key(1);
    assert_eq!(
        key.check_value(),
        "01050c32cc2a8bd4b765f782d1ddb58e1b0c2d608cf2d6a9c81552f6144ae42b"
    );
    // Independent of the version, different for a different key.
    assert_eq!(counting_key(9).check_value(), key.check_value());
    assert_ne!(MasterKey::generate(1).check_value(), key.check_value());
}

#[test]
fn debug_output_does_not_show_key_material() {
    let bytes = [0xAB_u8; 32];
    let key = MasterKey::from_bytes(5, &bytes).expect("key");
    let encoded = key.encode();
    let key_base64 = encoded.rsplit(':').next().expect("base64 part").to_owned();
    let forbidden = [
        key_base64.clone(),
        hex::encode(bytes),
        "171".to_owned(),
        "AB".to_owned(),
        "ab".to_owned(),
    ];

    let key_debug = format!("{key:?}");
    assert_eq!(key_debug, "MasterKey { version: 5, .. }");
    let keyring_debug = format!(
        "{:#?}",
        Keyring::new(key).with_previous(MasterKey::from_bytes(4, &bytes).expect("key"))
    );
    for text in [&key_debug, &keyring_debug] {
        for secret in &forbidden {
            assert!(!text.contains(secret.as_str()), "{text} shows {secret}");
        }
    }

    let sealed = SealedSecret {
        key_version: 5,
        ciphertext: vec![0xAB; 40],
    };
    assert_eq!(
        format!("{sealed:?}"),
        "SealedSecret { key_version: 5, length: 40 }"
    );
}
