//! The Tencent Cloud API 3.0 dialect: an implementation of `keyplane_engine::Dialect` (see
//! `pipeline`) that reads a request's envelope, routes it by (Version, Action) to a row of the
//! CAM or API Gateway action table (`actions`, `cam::ACTIONS`, `apigateway::ACTIONS`),
//! authenticates it (TC3-HMAC-SHA256 or legacy v1), names the resource the row declares
//! (`permissions`), runs the row's handler over its typed parameters (`decode`) and writes the
//! answer in Tencent's envelope. The engine throttles, rate-limits, authorizes and audits.
//! This crate owns the dialect's wire format and its closed code table (`codes`); it does no
//! I/O of its own beyond what the core's `Authority` does through its ports.

pub mod actions;
pub mod apigateway;
mod authentication;
pub mod cam;
pub mod codes;
pub mod decode;
pub mod envelope;
pub mod errors;
pub mod params;
pub mod permissions;
mod pipeline;
pub mod product;

use std::sync::Arc;

use keyplane_core::Authority;
pub use keyplane_engine::{Incoming, Outgoing};

pub use actions::default_rate_limits;
pub use codes::TencentCode;
pub use envelope::RESPONSE_CONTENT_TYPE;
pub use errors::TencentError;
pub use product::Product;

/// One API version served: the product it is, and the service a TC3 credential scope must
/// name to act on it (`Credential=AKID…/2026-01-01/cam/tc3_request`).
#[derive(Debug, Clone, Copy)]
pub struct ProductVersion {
    pub version: &'static str,
    pub product: Product,
    pub credential_service: &'static str,
}

/// The API versions served, the product each one is and its TC3 service. A later product adds
/// its line here (and its action table to [`actions::table`]).
pub const VERSIONS: &[ProductVersion] = &[
    ProductVersion {
        version: "2019-01-16",
        product: Product::Cam,
        credential_service: "cam",
    },
    ProductVersion {
        version: "2018-08-08",
        product: Product::ApiGateway,
        credential_service: "apigateway",
    },
];

/// The service a TC3 credential scope names for `product`.
pub fn credential_service(product: Product) -> &'static str {
    VERSIONS
        .iter()
        .find(|entry| entry.product == product)
        .map(|entry| entry.credential_service)
        .unwrap_or_default()
}

/// What the operator chose about the signatures this dialect accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TencentSettings {
    /// Accept TC3 requests sent with `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`, whose body the
    /// signature does not cover. Off by default: such a request's headers are a bearer token
    /// for any body for five minutes.
    pub allow_unsigned_payload: bool,
    /// Refuse TC3 requests that do not sign `x-tc-action` (the official SDKs sign only
    /// `content-type` and `host`, so a captured request's action can be swapped).
    pub require_signed_action: bool,
    /// Accept only the product's own service in a TC3 credential scope, not the signed host's
    /// first label (which the Node SDK signs): then no signature can act on another product,
    /// but Node clients must address Keyplane by a host named after the product
    /// (`cam.…`, `apigateway.…`).
    pub strict_credential_scope: bool,
}

/// The names of every action of `product`, from its action table.
pub fn actions(product: Product) -> Vec<&'static str> {
    actions::table(product).iter().map(|row| row.name).collect()
}

/// A TC3 signing key derived from a secret for one credential date and service.
struct DerivedKey {
    credential_date: String,
    credential_service: String,
    key: zeroize::Zeroizing<[u8; 32]>,
}

/// How many derived TC3 signing keys are kept (one per access key in use).
const DERIVED_KEY_CACHE_CAPACITY: u64 = 100_000;

/// The dialect, over the core use cases.
#[derive(Clone)]
pub struct TencentDialect {
    authority: Arc<Authority>,
    settings: TencentSettings,
    /// Derived TC3 signing keys by SecretId: the key chain depends only on the (immutable)
    /// secret, the date and the service, so it is computed once a day per key and service
    /// instead of on every request. Consulted only after the key was found active.
    derived_keys: moka::sync::Cache<String, Arc<DerivedKey>>,
}

impl std::fmt::Debug for TencentDialect {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TencentDialect")
            .finish_non_exhaustive()
    }
}

impl TencentDialect {
    /// The dialect with the default settings (every signature protection on).
    pub fn new(authority: Arc<Authority>) -> Self {
        Self::with_settings(authority, TencentSettings::default())
    }

    /// The dialect with the operator's settings.
    pub fn with_settings(authority: Arc<Authority>, settings: TencentSettings) -> Self {
        Self {
            authority,
            settings,
            derived_keys: moka::sync::Cache::new(DERIVED_KEY_CACHE_CAPACITY),
        }
    }

    /// The answer to a request that failed before the dialect could read it (for example a
    /// body over the size limit).
    pub fn error_response(&self, error: TencentError) -> Outgoing {
        pipeline::rendered_error(&error, uuid::Uuid::new_v4().to_string())
    }

    /// Serves one request. Never fails: every outcome is a Tencent-shaped answer.
    pub async fn handle(&self, incoming: &Incoming<'_>) -> Outgoing {
        keyplane_engine::serve(self, incoming).await
    }
}
