//! The entities Keyplane manages and the value types they are made of. Plain data: the rules
//! that govern them live in `rules` and `authority`, persistence behind `store::Store`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

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

impl fmt::Debug for ActivationCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ActivationCode")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("count", &self.count)
            .field("registered_count", &self.registered_count)
            .field("disabled", &self.disabled)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

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

/// A PAI-EAS service an operator registered: a named service in a cluster (region) of an
/// account, and the commands (operator configuration, never client input) that reach a shell
/// inside one of its workers and stream an instance's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EasService {
    pub account_id: u64,
    /// The cluster (region) id, e.g. `cn-hangzhou`.
    pub cluster: String,
    pub name: String,
    /// The command that opens a shell in a worker.
    pub exec_template: crate::template::CommandTemplate,
    /// The command that streams an instance's log.
    pub log_template: crate::template::CommandTemplate,
    pub created_at: OffsetDateTime,
}

/// A running instance of an EAS service and the workers (containers) inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EasInstance {
    pub account_id: u64,
    pub cluster: String,
    pub service: String,
    pub name: String,
    /// At least one worker, in the order the operator gave them; the first is the default
    /// when a request names none.
    pub workers: Vec<String>,
    pub created_at: OffsetDateTime,
}

impl EasInstance {
    /// Whether `worker` is one of the instance's workers.
    pub fn has_worker(&self, worker: &str) -> bool {
        self.workers.iter().any(|candidate| candidate == worker)
    }
}

/// What an instance token opens. `CreateServiceInstanceToken` issues one token per purpose, so
/// each of the three URLs it answers is single-use on its own and none grants more than its
/// own URL does (the log stream's token cannot open a shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceTokenPurpose {
    /// `WorkbenchUrl`: the browser terminal page.
    Workbench,
    /// `Url`: the terminal WebSocket for non-browser clients.
    Terminal,
    /// `StreamlogUrl`: the WebSocket streaming the instance's log.
    Streamlog,
}

impl InstanceTokenPurpose {
    /// Every purpose, in the order tokens are issued.
    pub const ALL: [InstanceTokenPurpose; 3] = [
        InstanceTokenPurpose::Workbench,
        InstanceTokenPurpose::Terminal,
        InstanceTokenPurpose::Streamlog,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceTokenPurpose::Workbench => "workbench",
            InstanceTokenPurpose::Terminal => "terminal",
            InstanceTokenPurpose::Streamlog => "streamlog",
        }
    }

    /// Parses a stored purpose name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "workbench" => Some(InstanceTokenPurpose::Workbench),
            "terminal" => Some(InstanceTokenPurpose::Terminal),
            "streamlog" => Some(InstanceTokenPurpose::Streamlog),
            _ => None,
        }
    }

    /// The action name audited when a token of this purpose is redeemed.
    pub fn redemption_action(self) -> &'static str {
        match self {
            InstanceTokenPurpose::Workbench => "OpenWorkbench",
            InstanceTokenPurpose::Terminal => "OpenTerminal",
            InstanceTokenPurpose::Streamlog => "OpenStreamlog",
        }
    }
}

/// A single-use, short-lived bearer token bound to one worker of one instance, stored only as
/// its hash. The principal and key that asked for it are kept so that what the token opens is
/// attributed to them.
#[derive(Clone, PartialEq, Eq)]
pub struct InstanceToken {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// `eit-` + lowercase alphanumerics, shared by the tokens one request issued; not secret.
    pub grant_id: String,
    pub purpose: InstanceTokenPurpose,
    pub account_id: u64,
    /// The principal that asked for the token.
    pub principal_uin: u64,
    /// The access key its request was signed with.
    pub key_id: String,
    pub cluster: String,
    pub service: String,
    pub instance: String,
    pub worker: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When it was redeemed; a token is redeemed at most once.
    pub used_at: Option<OffsetDateTime>,
}

impl InstanceToken {
    /// Whether it can no longer be redeemed because of its age.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// `cluster/service/instance/worker/grant`, the audit target of its issue and redemption.
    pub fn audit_target(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.cluster, self.service, self.instance, self.worker, self.grant_id
        )
    }
}

impl fmt::Debug for InstanceToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("InstanceToken")
            .field("grant_id", &self.grant_id)
            .field("purpose", &self.purpose)
            .field("account_id", &self.account_id)
            .field("principal_uin", &self.principal_uin)
            .field("cluster", &self.cluster)
            .field("service", &self.service)
            .field("instance", &self.instance)
            .field("worker", &self.worker)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// The tokens one `CreateServiceInstanceToken` issued, each shown only in that answer.
#[derive(Debug, Clone)]
pub struct IssuedInstanceTokens {
    pub grant_id: String,
    pub cluster: String,
    pub service: String,
    pub instance: String,
    /// The worker the tokens open (the instance's first when the request named none).
    pub worker: String,
    pub expires_at: OffsetDateTime,
    pub workbench: Secret,
    pub terminal: Secret,
    pub streamlog: Secret,
}

impl IssuedInstanceTokens {
    /// The token of one purpose.
    pub fn token(&self, purpose: InstanceTokenPurpose) -> &Secret {
        match purpose {
            InstanceTokenPurpose::Workbench => &self.workbench,
            InstanceTokenPurpose::Terminal => &self.terminal,
            InstanceTokenPurpose::Streamlog => &self.streamlog,
        }
    }
}

/// What redeeming an instance token gives a terminal gateway: whose it is, which worker it
/// opens, and the program to run there (already expanded; run it directly, never through a
/// shell that did not come from the operator's own template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSession {
    pub grant_id: String,
    pub purpose: InstanceTokenPurpose,
    pub account_id: u64,
    /// The principal that asked for the token, and the key its request was signed with.
    pub principal_uin: u64,
    pub key_id: String,
    pub cluster: String,
    pub service: String,
    pub instance: String,
    pub worker: String,
    /// The argument vector to execute: the service's exec template for `Workbench` and
    /// `Terminal`, its log template for `Streamlog`, with the placeholders substituted.
    pub command: Vec<String>,
    /// When the redeemed token would have expired (a gateway may bound its session by it or
    /// by its own limits).
    pub token_expires_at: OffsetDateTime,
}
