//! Sealing secrets at rest with AES-256-GCM under a versioned master key.
//!
//! A [`Keyring`] holds the current [`MasterKey`] (used to seal) and any older keys (still used to
//! open data sealed before a rotation). A [`SealedSecret`] records the version of the key that
//! sealed it and `nonce (12 bytes) || ciphertext || tag (16 bytes)`. Every seal draws a fresh
//! random 96-bit nonce from the OS CSPRNG. Associated data (for example the row's identifier)
//! binds a ciphertext to its context: opening with different associated data fails.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::mac::hmac_sha256;

/// Length of a master key in bytes.
pub const MASTER_KEY_LENGTH: usize = 32;
/// Length of the random nonce that starts every sealed ciphertext.
pub const NONCE_LENGTH: usize = 12;
/// Length of the authentication tag that ends every sealed ciphertext.
pub const TAG_LENGTH: usize = 16;

const ENCODED_PREFIX: &str = "keyplane-master-key:v";
const CHECK_VALUE_MESSAGE: &[u8] = b"keyplane key check v1";

/// Why a key could not be built or a secret could not be sealed or opened.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The key material is not exactly 32 bytes.
    #[error("a master key must be exactly 32 bytes")]
    KeyLength,
    /// No key of this version is in the keyring.
    #[error("no master key with version {0} is available")]
    UnknownKeyVersion(u32),
    /// The sealed data is too short to hold a nonce and a tag.
    #[error("the sealed data is malformed")]
    Malformed,
    /// Authentication failed: wrong key, wrong associated data or tampered data.
    #[error("the sealed data could not be opened")]
    OpenFailed,
    /// The text form of a master key is not `keyplane-master-key:v<version>:<base64>`.
    #[error("the master key text is not keyplane-master-key:v<version>:<base64>")]
    Encoding,
}

/// A 256-bit master key with a version number. The key bytes are zeroed on drop and never shown
/// by `Debug`.
#[derive(Clone)]
pub struct MasterKey {
    version: u32,
    key: Zeroizing<[u8; MASTER_KEY_LENGTH]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MasterKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A new random key from the OS CSPRNG.
    pub fn generate(version: u32) -> Self {
        let mut key = Zeroizing::new([0_u8; MASTER_KEY_LENGTH]);
        OsRng.fill_bytes(key.as_mut_slice());
        Self { version, key }
    }

    /// A key from exactly 32 bytes of key material ([`SealError::KeyLength`] otherwise).
    pub fn from_bytes(version: u32, bytes: &[u8]) -> Result<Self, SealError> {
        let mut key = Zeroizing::new([0_u8; MASTER_KEY_LENGTH]);
        if bytes.len() != MASTER_KEY_LENGTH {
            return Err(SealError::KeyLength);
        }
        key.copy_from_slice(bytes);
        Ok(Self { version, key })
    }

    /// The key's version number.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Text form for a key file or environment variable:
    /// `keyplane-master-key:v<version>:<standard base64 of the 32 bytes>`. The result is secret.
    pub fn encode(&self) -> String {
        format!(
            "{ENCODED_PREFIX}{}:{}",
            self.version,
            base64::engine::general_purpose::STANDARD.encode(self.key.as_slice())
        )
    }

    /// Reads the text form written by [`MasterKey::encode`], ignoring surrounding whitespace.
    /// A malformed text is [`SealError::Encoding`]; valid base64 of the wrong length is
    /// [`SealError::KeyLength`].
    pub fn decode(text: &str) -> Result<Self, SealError> {
        let rest = text
            .trim()
            .strip_prefix(ENCODED_PREFIX)
            .ok_or(SealError::Encoding)?;
        let (version, key_base64) = rest.split_once(':').ok_or(SealError::Encoding)?;
        if version.is_empty() || !version.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(SealError::Encoding);
        }
        let version = version.parse::<u32>().map_err(|_| SealError::Encoding)?;
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(key_base64)
                .map_err(|_| SealError::Encoding)?,
        );
        Self::from_bytes(version, &bytes)
    }

    /// A value safe to store next to sealed data that tells whether a given key is the one the
    /// data was sealed with: lower-case hex of `HMAC-SHA256(key, "keyplane key check v1")`.
    pub fn check_value(&self) -> String {
        hex::encode(hmac_sha256(self.key.as_slice(), CHECK_VALUE_MESSAGE))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.key.as_slice().into())
    }
}

/// The current master key (used to seal) and older keys (used only to open).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    older: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring that seals with `current`.
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            older: Vec::new(),
        }
    }

    /// Adds an older key, still accepted by [`Keyring::open`].
    pub fn with_previous(mut self, older: MasterKey) -> Self {
        self.older.push(older);
        self
    }

    /// The version of the key used by [`Keyring::seal`].
    pub fn current_version(&self) -> u32 {
        self.current.version
    }

    /// Seals `plaintext` with the current key and a fresh random 96-bit nonce.
    ///
    /// # Panics
    ///
    /// Only when `plaintext` or `associated_data` exceeds the AES-GCM limit of 64 GiB (or the
    /// operating system cannot provide random bytes).
    pub fn seal(&self, associated_data: &[u8], plaintext: &[u8]) -> SealedSecret {
        let mut nonce = [0_u8; NONCE_LENGTH];
        OsRng.fill_bytes(&mut nonce);
        let encrypted = self
            .current
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .unwrap_or_else(|_| panic!("AES-256-GCM cannot seal more than 64 GiB"));
        let mut ciphertext = Vec::with_capacity(NONCE_LENGTH + encrypted.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&encrypted);
        SealedSecret {
            key_version: self.current.version,
            ciphertext,
        }
    }

    /// Opens a sealed secret with the key of its version and the same associated data.
    ///
    /// Errors: [`SealError::UnknownKeyVersion`] when no key of that version is held,
    /// [`SealError::Malformed`] when the data is shorter than nonce + tag, and
    /// [`SealError::OpenFailed`] when authentication fails.
    pub fn open(
        &self,
        sealed: &SealedSecret,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let mut keys = std::iter::once(&self.current)
            .chain(&self.older)
            .filter(|key| key.version == sealed.key_version)
            .peekable();
        if keys.peek().is_none() {
            return Err(SealError::UnknownKeyVersion(sealed.key_version));
        }
        if sealed.ciphertext.len() < NONCE_LENGTH + TAG_LENGTH {
            return Err(SealError::Malformed);
        }
        let (nonce, encrypted) = sealed.ciphertext.split_at(NONCE_LENGTH);
        for key in keys {
            let opened = key.cipher().decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: encrypted,
                    aad: associated_data,
                },
            );
            if let Ok(plaintext) = opened {
                return Ok(Zeroizing::new(plaintext));
            }
        }
        Err(SealError::OpenFailed)
    }
}

/// A sealed secret: the version of the key that sealed it and
/// `nonce (12 bytes) || ciphertext || tag (16 bytes)`. `Debug` shows the version and length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Version of the [`MasterKey`] that sealed this secret.
    pub key_version: u32,
    /// `nonce (12) || ciphertext || tag (16)`.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SealedSecret")
            .field("key_version", &self.key_version)
            .field("length", &self.ciphertext.len())
            .finish()
    }
}
