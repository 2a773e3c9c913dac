//! PAI-EAS (2021-07-01), the ROA side of the Alibaba dialect: `CreateServiceInstanceToken`,
//! `GET /api/v2/services/{ClusterId}/{ServiceName}/instances/{InstanceName}/token` with the
//! query parameters `WorkerName` (optional: the instance's first worker) and `ActionType`
//! (optional; only `WorkBench`), and the entry point a terminal gateway calls to redeem the
//! tokens it issues.
//!
//! Requests are recognised by their path (legacy ROA clients send no `x-acs-action`), signed
//! with ACS3-HMAC-SHA256 or ROA v1 (`Authorization: acs AccessKeyId:Signature`, protocols.md
//! B.5), within 15 minutes. The signature covers the raw path; the path's segments are
//! percent-decoded only to look the names up. ACS3 requires `x-acs-signature-nonce`; a ROA v1
//! request uses its nonce when it sends one (Python tea, Node tea, pop-core) and otherwise (the
//! legacy Python core sends none) its signature as the replay key, so an identical request is
//! refused within the window either way. The caller needs `eas:CreateServiceInstanceToken` on
//! the service (`Forbidden.RAM` otherwise); unknown names answer 404 `InvalidService.NotFound`,
//! `InvalidInstance.NotFound` or `InvalidWorker.NotFound`, another `ActionType` 400
//! `InvalidParameter`.
//!
//! One call issues three single-use tokens, one per URL, so that each URL is single-use on
//! its own and none grants more than its own purpose: `WorkbenchUrl`
//! (`<public>/eas/workbench?token=…`, the browser terminal), `Url`
//! (`ws(s)://<public>/eas/v1/terminal?token=…`, the terminal WebSocket) and `StreamlogUrl`
//! (`ws(s)://<public>/eas/v1/streamlog?token=…`, the log stream). `Token` is the token of
//! `Url`, for clients that connect to the terminal themselves. The public base URL is
//! configuration ([`PublicUrls`]), never taken from the request's `Host` (pop-core sends it
//! without the port).
//!
//! The ROA operation ([`roa`]) and the redemption ([`redemption`]) are implementations of the
//! request engine's [`keyplane_engine::Dialect`]; [`urls`] makes the URLs the tokens travel in.

pub mod redemption;
pub mod roa;
pub mod urls;

/// The phases that the engine dialects over [`crate::AliyunDialect`] (the ROA operation, the
/// redemption, the agent's registration; each a struct with a `dialect` field) write the same
/// way: `shared(entry)` gives the use cases, the throttle's audit entry and the request id;
/// `no_resource(Action, Parameters)` says that the action is asked on nothing a policy names
/// (its proof is checked by the action itself).
macro_rules! aliyun_phases {
    (shared($entry:expr)) => {
        fn authority(&self) -> &keyplane_core::Authority {
            &self.dialect.authority
        }

        fn entry(&self) -> &'static str {
            $entry
        }

        fn new_request_id(&self) -> String {
            crate::new_request_id()
        }
    };
    (no_resource($action:ty, $parameters:ty)) => {
        async fn name_resource(
            &self,
            _context: &keyplane_core::RequestContext,
            _action: $action,
            _parameters: &$parameters,
        ) -> Result<(), crate::errors::AliyunError> {
            Ok(())
        }

        fn resource_names(
            &self,
            _resource: &(),
            _principal: keyplane_core::authorization::Principal<'_>,
        ) -> Vec<String> {
            Vec::new()
        }
    };
}
pub(crate) use aliyun_phases;

use keyplane_core::instance_access::InstancePermission;
use keyplane_core::model::InstanceTokenPurpose;
use keyplane_core::CoreError;

use crate::errors::{AliyunCode, AliyunError};
use crate::permissions;

pub use redemption::{RedemptionRefusal, TokenPresentation};
pub use roa::{parse_token_path, TokenPath};
pub use urls::{token_from_query, PublicUrlError, PublicUrls};

/// The API version of PAI-EAS.
pub const VERSION: &str = "2021-07-01";
/// The one action served.
pub const ACTION: &str = "CreateServiceInstanceToken";
/// The product's name in rate-limit names, audit records and last-use records.
pub const PRODUCT: &str = "eas";
/// The host the real service answers on (regional there), echoed as `HostId`.
pub const HOST: &str = "pai-eas.aliyuncs.com";
/// The product code in the `Recommend` troubleshooting link.
const TROUBLESHOOT_PRODUCT: &str = "eas";
/// Every path under this prefix is EAS's (ROA): it is answered here, in Alibaba's shape.
pub const PATH_PREFIX: &str = "/api/v2/services/";
/// The only `ActionType` accepted.
pub const WORKBENCH_ACTION_TYPE: &str = "WorkBench";
/// The browser terminal page (`WorkbenchUrl`).
pub const WORKBENCH_PATH: &str = "/eas/workbench";
/// The terminal WebSocket (`Url`).
pub const TERMINAL_PATH: &str = "/eas/v1/terminal";
/// The log-stream WebSocket (`StreamlogUrl`).
pub const STREAMLOG_PATH: &str = "/eas/v1/streamlog";
/// The query parameter that carries the token in those URLs.
pub const TOKEN_PARAMETER: &str = "token";
/// The longest token a redemption looks up (issued tokens are 43 characters).
const MAX_TOKEN_CHARACTERS: usize = 128;
/// What a principal must still hold for its instance tokens and the sessions they opened to
/// stay valid: the permission that issues them, on the service.
pub const INSTANCE_PERMISSION: InstancePermission = InstancePermission {
    action: permissions::EAS_CREATE_SERVICE_INSTANCE_TOKEN,
    resource: permissions::eas_service_resource,
};
/// The code of EAS's authorization refusals, the operation's and a redemption's whose
/// principal lost the permission (as products other than RAM answer).
pub const DENIAL_CODE: AliyunCode = AliyunCode::ForbiddenRam;

/// Whether a path is EAS's, and so answered by [`crate::AliyunDialect::handle_eas`].
pub fn is_eas_path(path: &str) -> bool {
    path.starts_with(PATH_PREFIX)
}

/// The path a token of `purpose` is redeemed at.
pub fn redemption_path(purpose: InstanceTokenPurpose) -> &'static str {
    match purpose {
        InstanceTokenPurpose::Workbench => WORKBENCH_PATH,
        InstanceTokenPurpose::Terminal => TERMINAL_PATH,
        InstanceTokenPurpose::Streamlog => STREAMLOG_PATH,
    }
}

/// EAS's mapping of a core failure: a denial is [`DENIAL_CODE`]; every other failure is the
/// dialect's.
fn core_error(error: &CoreError) -> AliyunError {
    crate::errors::denial(error, DENIAL_CODE)
}
