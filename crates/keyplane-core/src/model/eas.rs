//! The EAS entities: the services and instances an operator registers, and the single-use
//! instance tokens that open one of their workers, with the session a redeemed token gives.

use std::fmt;

use time::OffsetDateTime;

use super::Secret;

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

debug_without_secrets!(InstanceToken {
    grant_id,
    purpose,
    account_id,
    principal_uin,
    cluster,
    service,
    instance,
    worker,
    expires_at,
    used_at,
});

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
