//! The Tencent Cloud API 3.0 dialect: recognises a request, reads its envelope, authenticates
//! it (TC3-HMAC-SHA256 or legacy v1), routes it by (Version, Action) to CAM or API Gateway,
//! applies rate limits, authorizes it against the caller's policies (`permissions` names
//! every action's permission and resource), calls the core use cases and writes the answer in Tencent's envelope.
//! This crate owns the dialect's wire format and its error-code table; it does no I/O of its
//! own beyond what the core's `Authority` does through its ports.

pub mod apigateway;
mod authentication;
pub mod cam;
pub mod envelope;
pub mod errors;
pub mod params;
pub mod permissions;

use std::sync::Arc;

use keyplane_core::audit::truncated;

use keyplane_core::{Authority, RequestContext};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use envelope::RawRequest;
pub use envelope::RESPONSE_CONTENT_TYPE;
pub use errors::{Product, TencentError};
pub use permissions::default_rate_limits;

/// One API version served: the product it is, and the service a TC3 credential scope must
/// name to act on it (`Credential=AKID…/2026-01-01/cam/tc3_request`).
#[derive(Debug, Clone, Copy)]
pub struct ProductVersion {
    pub version: &'static str,
    pub product: Product,
    pub credential_service: &'static str,
}

/// The API versions served, the product each one is and its TC3 service. A later product adds
/// its line here (and its action table to [`actions`]).
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

/// Every action of every product this dialect dispatches: the dispatch tables.
pub fn actions(product: Product) -> &'static [&'static str] {
    match product {
        Product::Cam => cam::ACTIONS,
        Product::ApiGateway => apigateway::ACTIONS,
    }
}

/// One HTTP request, as the server hands it over.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    /// Every header with a UTF-8 value, in wire order.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub source_address: &'a str,
    pub now: OffsetDateTime,
}

/// The answer: always HTTP 200 with [`RESPONSE_CONTENT_TYPE`].
#[derive(Debug, Clone)]
pub struct OutgoingResponse {
    pub request_id: String,
    /// The error code when the request failed, for logs and metrics.
    pub error_code: Option<&'static str>,
    pub body: Vec<u8>,
}

/// A failure on the way to an action, with the context known at that point for the audit.
struct Refusal {
    error: TencentError,
    context: Option<RequestContext>,
}

impl From<TencentError> for Refusal {
    fn from(error: TencentError) -> Self {
        Refusal {
            error,
            context: None,
        }
    }
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
    pub fn error_response(&self, error: TencentError) -> OutgoingResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        OutgoingResponse {
            body: envelope::error_body(&error, &request_id),
            error_code: Some(error.code),
            request_id,
        }
    }

    /// The answer to a request from a source address that failed authentication too often
    /// (`RequestLimitExceeded.IPLimitExceeded`), recorded in the aggregated audit; `None` when
    /// the address is not throttled. Checked before anything of the request is read.
    fn throttled(&self, request: &IncomingRequest<'_>) -> Option<OutgoingResponse> {
        if !self
            .authority
            .authentication_throttled(request.source_address, request.now)
        {
            return None;
        }
        let error = TencentError::from_core(
            &keyplane_core::CoreError::AuthenticationThrottled,
            Product::Cam,
        );
        let response = self.error_response(error);
        self.authority.record_throttled_refusal(
            request.source_address,
            request.now,
            &response.request_id,
            "tencent",
            response.error_code.unwrap_or_default(),
        );
        Some(response)
    }

    /// Serves one request. Never fails: every outcome is a Tencent-shaped answer.
    pub async fn handle(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        if let Some(response) = self.throttled(&request) {
            return response;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        match self.process(&request, &request_id).await {
            Ok(fields) => OutgoingResponse {
                body: envelope::success_body(fields, &request_id),
                error_code: None,
                request_id,
            },
            Err(refusal) => {
                if let Some(context) = &refusal.context {
                    self.authority
                        .record_refusal(context.audit_event(None, refusal.error.code));
                }
                OutgoingResponse {
                    body: envelope::error_body(&refusal.error, &request_id),
                    error_code: Some(refusal.error.code),
                    request_id,
                }
            }
        }
    }

    async fn process(
        &self,
        request: &IncomingRequest<'_>,
        request_id: &str,
    ) -> Result<Map<String, Value>, Refusal> {
        let raw = RawRequest {
            method: request.method,
            raw_query: request.raw_query,
            headers: request.headers,
            body: request.body,
        };
        let envelope = envelope::parse(&raw)?;
        // Routing failures are not audited: nothing is known yet of who asked.
        let product = VERSIONS
            .iter()
            .find(|entry| entry.version == envelope.version)
            .map(|entry| entry.product)
            .ok_or_else(|| TencentError::no_such_version(&truncated(&envelope.version, 32)))?;
        if !actions(product).contains(&envelope.action.as_str()) {
            return Err(TencentError::invalid_action(&truncated(&envelope.action, 64)).into());
        }
        let mut context = RequestContext {
            caller: None,
            claimed_key_id: Some(truncated(envelope.credentials.secret_id(), 128)),
            now: request.now,
            request_id: request_id.to_owned(),
            source_address: request.source_address.to_owned(),
            user_agent: truncated(raw.header("user-agent").unwrap_or(""), 256),
            product: product.name().to_owned(),
            action: envelope.action.clone(),
            authorization: None,
        };
        let refuse = |error: TencentError, context: &RequestContext| Refusal {
            error,
            context: Some(context.clone()),
        };
        let caller = self
            .authenticate(request, &raw, &envelope, product)
            .await
            .map_err(|error| refuse(error, &context))?;
        context.caller = Some(caller);
        self.authority
            .admit(&context)
            .map_err(|error| refuse(TencentError::from_core(&error, product), &context))?;
        if product == Product::ApiGateway && envelope.region.is_none() {
            return Err(refuse(TencentError::missing_parameter("Region"), &context));
        }
        // Only now, with the signature verified, are the business parameters read.
        let params = envelope::business_parameters(&raw, &envelope)
            .map_err(|error| refuse(error, &context))?;
        let params = &params;
        self.authorize(&mut context, product, params)
            .await
            .map_err(|error| refuse(error, &context))?;
        let result = match product {
            Product::Cam => cam::dispatch(&self.authority, &context, params).await,
            Product::ApiGateway => apigateway::dispatch(&self.authority, &context, params).await,
        };
        result.map_err(|error| refuse(error, &context))
    }

    /// Authorizes the request against the caller's policies, recording the decision in the
    /// context (for the audit record, whatever the outcome); a refusal is
    /// `AuthFailure.UnauthorizedOperation`. An action without a declared permission is
    /// refused: nothing runs unchecked.
    async fn authorize(
        &self,
        context: &mut RequestContext,
        product: Product,
        params: &params::Params,
    ) -> Result<(), TencentError> {
        let Some(entry) = permissions::permission(product, &context.action) else {
            tracing::error!(action = %context.action, "an action has no declared permission");
            return Err(TencentError::internal());
        };
        let resource = permissions::RequestResource::read(entry, params)?;
        let authorization = self
            .authority
            .authorize(context, entry.permission, |principal| {
                resource.names(principal)
            })
            .await
            .map_err(|error| TencentError::from_core(&error, product))?;
        let denial = authorization.denial();
        context.authorization = Some(authorization);
        match denial {
            Some(error) => Err(TencentError::from_core(&error, product)),
            None => Ok(()),
        }
    }
}
