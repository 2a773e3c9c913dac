//! The entities Keyplane manages and the value types they are made of. Plain data: the rules
//! that govern them live in `rules` and `authority`, persistence behind `store::Store`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

/// `Debug` for a record that holds a bearer secret's hash: the named fields, then `..`, so the
/// hash never reaches a log.
macro_rules! debug_without_secrets {
    ($type:ident { $($field:ident),* $(,)? }) => {
        impl fmt::Debug for $type {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter
                    .debug_struct(stringify!($type))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

mod eas;

pub use eas::{
    EasInstance, EasService, InstanceSession, InstanceToken, InstanceTokenPurpose,
    IssuedInstanceTokens,
};

/// A tenant. Its id doubles as the Tencent `OwnerUin` (the root's uin) and the Alibaba account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: u64,
    pub created_at: OffsetDateTime,
}

/// A principal inside an account. The root principal is a user whose uin equals the account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub account_id: u64,
    pub uin: u64,
    pub name: String,
    pub profile: UserProfile,
    pub created_at: OffsetDateTime,
}

/// What a user's creator said about it, in the union of both clouds' fields (CAM `Remark`,
/// `Email`, `PhoneNum`, `CountryCode`, `ConsoleLogin`; IMS `DisplayName`, `Comments`,
/// `Email`, `MobilePhone` as `<country code>-<number>`). Empty text means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    pub display_name: String,
    pub comments: String,
    pub email: String,
    pub phone_country_code: String,
    pub phone_number: String,
    pub console_login: bool,
}

/// Whether a policy is one of Keyplane's built-in system policies or one an account wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    System,
    Custom,
}

impl PolicyType {
    /// The RAM spelling, also what the store keeps: `System` / `Custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }

    /// Parses `System` / `Custom` exactly.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "System" => Some(PolicyType::System),
            "Custom" => Some(PolicyType::Custom),
            _ => None,
        }
    }
}

/// The policy document syntax a custom policy was written in (both are stored in one common
/// form; this is kept to tell where it came from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySyntax {
    /// Alibaba RAM: `{"Version":"1","Statement":[...]}`.
    Ram,
    /// Tencent CAM: `{"version":"2.0","statement":[...]}`.
    Cam,
}

impl PolicySyntax {
    /// The name the store keeps: `ram` / `cam`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySyntax::Ram => "ram",
            PolicySyntax::Cam => "cam",
        }
    }

    /// Parses `ram` / `cam`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ram" => Some(PolicySyntax::Ram),
            "cam" => Some(PolicySyntax::Cam),
            _ => None,
        }
    }
}

/// A custom policy as stored: its document in the common form (`keyplane-policy`'s stored
/// JSON), whatever syntax it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPolicy {
    pub account_id: u64,
    /// The CAM `PolicyId`; unique in the installation.
    pub id: u64,
    /// Unique within the account; the RAM `PolicyName`.
    pub name: String,
    pub description: String,
    pub syntax: PolicySyntax,
    /// The document in the common form.
    pub document: String,
    pub created_at: OffsetDateTime,
}

/// A policy attached to a user: which one (system policies by name, custom ones by name in
/// the account) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAttachment {
    pub policy_type: PolicyType,
    pub policy_name: String,
    pub attached_at: OffsetDateTime,
    /// The custom policy itself (`None` for a system policy).
    pub custom: Option<CustomPolicy>,
}

impl User {
    /// Whether this user is the account's root principal.
    pub fn is_root(&self) -> bool {
        self.uin == self.account_id
    }

    /// The Alibaba `UserPrincipalName`: `name@<account-id>.onaliyun.com`.
    pub fn user_principal_name(&self) -> String {
        format!("{}@{}.onaliyun.com", self.name, self.account_id)
    }
}

/// Which cloud's protocols an access key authenticates in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// `AKID` + 32 alphanumerics, 32-character secret; Tencent Cloud API 3.0.
    Tencent,
    /// `LTAI` + 20 alphanumerics, 30-character secret; Alibaba Cloud OpenAPI.
    Aliyun,
}

impl KeyFamily {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFamily::Tencent => "tencent",
            KeyFamily::Aliyun => "aliyun",
        }
    }

    /// Parses a stored family name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "tencent" => Some(KeyFamily::Tencent),
            "aliyun" => Some(KeyFamily::Aliyun),
            _ => None,
        }
    }
}

/// Whether an access key may authenticate requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    /// The spelling both clouds use: `Active` / `Inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    /// Parses `Active` / `Inactive` exactly.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

/// A secret sealed at rest: AES-256-GCM ciphertext and the version of the master key that sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBlob {
    pub key_version: u32,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedBlob {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SealedBlob")
            .field("key_version", &self.key_version)
            .field("ciphertext_length", &self.ciphertext.len())
            .finish()
    }
}

/// A secret in clear, held in memory only as long as needed; `Debug` prints `[REDACTED]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }

    /// The secret's text. Call only where the secret is used (signing, the one response that shows it).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([REDACTED])")
    }
}

/// An access key as stored: everything but the secret in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub account_id: u64,
    pub owner_uin: u64,
    pub family: KeyFamily,
    pub status: KeyStatus,
    pub description: Option<String>,
    pub sealed_secret: SealedBlob,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The last recorded use of an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: String,
    pub used_at: OffsetDateTime,
    pub product: String,
    pub action: String,
    pub source_address: String,
}

/// How an API Gateway key came to be: generated by Keyplane or chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyType {
    Auto,
    Manual,
}

impl ApiKeyType {
    /// The API Gateway spelling: `auto` / `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyType::Auto => "auto",
            ApiKeyType::Manual => "manual",
        }
    }

    /// Parses `auto` / `manual`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(ApiKeyType::Auto),
            "manual" => Some(ApiKeyType::Manual),
            _ => None,
        }
    }
}

/// A key/value tag on an API Gateway key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An API Gateway key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub account_id: u64,
    pub key_type: ApiKeyType,
    pub secret_name: String,
    pub enabled: bool,
    pub tags: Vec<Tag>,
    pub sealed_secret: SealedBlob,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An API Gateway key with its secret opened, for the responses that show it.
#[derive(Debug, Clone)]
pub struct ApiKeyWithSecret {
    pub key: ApiKey,
    pub secret: Secret,
}

/// A freshly minted access key: the stored record and the secret, shown once.
#[derive(Debug, Clone)]
pub struct IssuedAccessKey {
    pub key: AccessKey,
    pub secret: Secret,
}

/// Where an SMC activation code (`AccessToken`) stands, as `ListAccessTokens` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationCodeStatus {
    /// No source server has registered with it yet.
    Unactivated,
    /// At least one source server has registered with it.
    Activated,
    /// Its time to live has passed, or it was disabled.
    Expired,
}

impl ActivationCodeStatus {
    /// The SMC spelling: `unactivated` / `activated` / `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivationCodeStatus::Unactivated => "unactivated",
            ActivationCodeStatus::Activated => "activated",
            ActivationCodeStatus::Expired => "expired",
        }
    }

    /// Parses the SMC spelling exactly.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "unactivated" => Some(ActivationCodeStatus::Unactivated),
            "activated" => Some(ActivationCodeStatus::Activated),
            "expired" => Some(ActivationCodeStatus::Expired),
            _ => None,
        }
    }
}

/// An SMC activation code (`AccessToken`): a bearer code, stored only as its hash, that lets
/// up to `count` migration sources register themselves until it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode {
    /// `at-` + lowercase alphanumerics.
    pub id: String,
    pub account_id: u64,
    pub name: String,
    pub description: String,
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    pub count: u32,
    pub registered_count: u32,
    pub time_to_live_days: u32,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl ActivationCode {
    /// Whether it can no longer be redeemed because of its age or a `DisableAccessToken`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.disabled || now >= self.expires_at
    }

    /// The status `ListAccessTokens` reports at `now`.
    pub fn status(&self, now: OffsetDateTime) -> ActivationCodeStatus {
        if self.is_expired(now) {
            ActivationCodeStatus::Expired
        } else if self.registered_count > 0 {
            ActivationCodeStatus::Activated
        } else {
            ActivationCodeStatus::Unactivated
        }
    }
}

debug_without_secrets!(ActivationCode {
    id,
    account_id,
    name,
    count,
    registered_count,
    disabled,
    expires_at,
});

/// A freshly minted activation code with the code itself, shown once.
#[derive(Debug, Clone)]
pub struct IssuedActivationCode {
    pub activation_code: ActivationCode,
    pub code: Secret,
}

/// A migration source that registered itself by redeeming an activation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceServer {
    /// `s-` + lowercase alphanumerics.
    pub id: String,
    pub account_id: u64,
    pub activation_code_id: String,
    pub name: String,
    pub hostname: String,
    pub operating_system: String,
    /// The machine fingerprint the agent sent; one registration per fingerprint and code.
    pub fingerprint: String,
    pub source_address: String,
    pub registered_at: OffsetDateTime,
}

/// What redeeming an activation code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// A new source server was registered, consuming one use.
    Registered(SourceServer),
    /// This fingerprint had already registered with this code: its registration, no use consumed.
    AlreadyRegistered(SourceServer),
}

impl Redemption {
    /// The source server either way.
    pub fn source_server(&self) -> &SourceServer {
        match self {
            Redemption::Registered(server) | Redemption::AlreadyRegistered(server) => server,
        }
    }
}
