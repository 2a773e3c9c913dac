//! The production credential factory: identifiers and secrets from the OS CSPRNG, sealing with
//! AES-256-GCM under the master keyring, the credential id bound as associated data.

use keyplane_core::model::{KeyFamily, SealedBlob, Secret};
use keyplane_core::{CoreError, CredentialFactory};
use keyplane_crypto::seal::{Keyring, SealedSecret};
use keyplane_crypto::{generate, token};

/// Uins and account ids are 12-digit numbers, as Tencent's are.
const UIN_RANGE: std::ops::RangeInclusive<u64> = 100_000_000_000..=999_999_999_999;
/// Custom policy ids: eight or nine digits, like CAM's, clear of the system policies' small ids.
const POLICY_ID_RANGE: std::ops::RangeInclusive<u64> = 10_000_000..=999_999_999;

/// Mints and seals with the OS CSPRNG and the master keyring.
#[derive(Debug)]
pub struct SealingFactory {
    keyring: Keyring,
}

impl SealingFactory {
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }
}

impl CredentialFactory for SealingFactory {
    fn new_account_id(&self) -> u64 {
        generate::random_u64_in(UIN_RANGE)
    }

    fn new_user_uin(&self) -> u64 {
        generate::random_u64_in(UIN_RANGE)
    }

    fn new_policy_id(&self) -> u64 {
        generate::random_u64_in(POLICY_ID_RANGE)
    }

    fn new_access_key_id(&self, family: KeyFamily) -> String {
        match family {
            KeyFamily::Tencent => generate::tencent_secret_id(),
            KeyFamily::Aliyun => generate::aliyun_access_key_id(),
        }
    }

    fn new_access_key_secret(&self, family: KeyFamily) -> Secret {
        Secret::new(match family {
            KeyFamily::Tencent => generate::tencent_secret_key(),
            KeyFamily::Aliyun => generate::aliyun_access_key_secret(),
        })
    }

    fn new_api_key_id(&self) -> String {
        generate::api_gateway_key_id()
    }

    fn new_api_key_secret(&self) -> Secret {
        Secret::new(generate::api_gateway_key_secret())
    }

    fn new_activation_code_id(&self) -> String {
        format!("at-{}", generate::random_lowercase_alphanumeric(20))
    }

    fn new_activation_code(&self) -> Secret {
        // 32 alphanumerics, as SMC's codes look: about 190 bits from the CSPRNG.
        Secret::new(generate::random_alphanumeric(32))
    }

    fn new_source_server_id(&self) -> String {
        format!("s-{}", generate::random_lowercase_alphanumeric(20))
    }

    fn new_instance_token_grant_id(&self) -> String {
        format!("eit-{}", generate::random_lowercase_alphanumeric(20))
    }

    fn new_instance_token(&self) -> Secret {
        // 256 bits from the CSPRNG, base64url without padding: URL-safe as it is.
        Secret::new(generate::bearer_token())
    }

    fn hash_bearer(&self, secret: &str) -> Vec<u8> {
        token::hash_token(secret).to_vec()
    }

    fn bearer_matches(&self, secret: &str, hash: &[u8]) -> bool {
        token::constant_time_equal(&token::hash_token(secret), hash)
    }

    fn seal(&self, credential_id: &str, secret: &Secret) -> SealedBlob {
        let sealed = self
            .keyring
            .seal(credential_id.as_bytes(), secret.expose().as_bytes());
        SealedBlob {
            key_version: sealed.key_version,
            ciphertext: sealed.ciphertext,
        }
    }

    fn open(&self, credential_id: &str, sealed: &SealedBlob) -> Result<Secret, CoreError> {
        let sealed = SealedSecret {
            key_version: sealed.key_version,
            ciphertext: sealed.ciphertext.clone(),
        };
        let opened = self
            .keyring
            .open(&sealed, credential_id.as_bytes())
            .map_err(|error| {
                tracing::error!(credential_id, %error, "a stored secret could not be opened with the master key");
                CoreError::Internal
            })?;
        let text = String::from_utf8(opened.to_vec()).map_err(|_| CoreError::Internal)?;
        Ok(Secret::new(text))
    }
}
