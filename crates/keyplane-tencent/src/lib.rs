//! The Tencent Cloud API 3.0 dialect: recognises a request, reads its envelope, authenticates
//! it (TC3-HMAC-SHA256 or legacy v1), routes it by (Version, Action) to CAM or API Gateway,
//! applies rate limits, authorizes it against the caller's policies (`permissions` names
//! every action's permission and resource), calls the core use cases and writes the answer in Tencent's envelope.
//! This crate owns the dialect's wire format and its error-code table; it does no I/O of its
//! own beyond what the core's `Authority` does through its ports.

pub mod apigateway;
pub mod cam;
pub mod envelope;
pub mod errors;
pub mod params;
pub mod permissions;

use std::sync::Arc;

use keyplane_core::audit::truncated;

use keyplane_core::model::{KeyFamily, KeyUsage};
use keyplane_core::{Authority, RequestContext};
use keyplane_crypto::tencent::{
    tc3_signing_key, verify_tc3_with_signing_key, verify_v1, Tc3Request,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub use envelope::RESPONSE_CONTENT_TYPE;
use envelope::{Credentials, Envelope, RawRequest};
pub use errors::{Product, TencentError};

/// The API versions served, and the product each one is.
pub const VERSIONS: &[(&str, Product)] = &[
    ("2019-01-16", Product::Cam),
    ("2018-08-08", Product::ApiGateway),
];

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
    pub fn new(authority: Arc<Authority>) -> Self {
        Self {
            authority,
            derived_keys: moka::sync::Cache::new(DERIVED_KEY_CACHE_CAPACITY),
        }
    }

    /// The TC3 signing key of `key_id` for the authorization's date and service.
    fn derived_key(
        &self,
        key_id: &str,
        secret: &[u8],
        authorization: &keyplane_crypto::tencent::Tc3Authorization,
    ) -> Arc<DerivedKey> {
        if let Some(derived) = self.derived_keys.get(key_id) {
            if derived.credential_date == authorization.credential_date
                && derived.credential_service == authorization.credential_service
            {
                return derived;
            }
        }
        let derived = Arc::new(DerivedKey {
            credential_date: authorization.credential_date.clone(),
            credential_service: authorization.credential_service.clone(),
            key: tc3_signing_key(
                secret,
                &authorization.credential_date,
                &authorization.credential_service,
            ),
        });
        self.derived_keys.insert(key_id.to_owned(), derived.clone());
        derived
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

    /// Serves one request. Never fails: every outcome is a Tencent-shaped answer.
    pub async fn handle(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
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
            .find(|(version, _)| *version == envelope.version)
            .map(|(_, product)| *product)
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
        let params = envelope
            .params
            .as_ref()
            .map_err(|error| refuse(error.clone(), &context))?;
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

    /// Checks the signature and returns the caller. Records the key's use on success.
    async fn authenticate(
        &self,
        request: &IncomingRequest<'_>,
        raw: &RawRequest<'_>,
        envelope: &Envelope,
        product: Product,
    ) -> Result<keyplane_core::Caller, TencentError> {
        let secret_id = envelope.credentials.secret_id();
        let well_formed = secret_id.len() >= 8
            && secret_id.len() <= 128
            && secret_id.starts_with("AKID")
            && secret_id.bytes().all(|byte| byte.is_ascii_alphanumeric());
        if !well_formed {
            return Err(TencentError::invalid_secret_id());
        }
        let signing_key = self
            .authority
            .signing_key(secret_id, KeyFamily::Tencent)
            .await
            .map_err(|error| TencentError::from_core(&error, product))?
            .ok_or_else(TencentError::secret_id_not_found)?;
        let secret = signing_key.secret.expose().as_bytes();
        let now = request.now.unix_timestamp();
        let host = raw.header("host").unwrap_or("");
        match &envelope.credentials {
            Credentials::Tc3 {
                authorization,
                timestamp,
            } => {
                let tc3_request = Tc3Request {
                    method: request.method,
                    path: request.path,
                    raw_query: request.raw_query,
                    headers: request.headers,
                    body: request.body,
                    timestamp,
                };
                let derived = self.derived_key(secret_id, secret, authorization);
                verify_tc3_with_signing_key(&tc3_request, authorization, &derived.key, now)
            }
            Credentials::V1 { all_parameters, .. } => verify_v1(
                request.method,
                host,
                request.path,
                all_parameters,
                secret,
                now,
            ),
        }
        .map_err(|error| TencentError::from_signature(&error))?;
        if envelope.token.is_some() {
            return Err(TencentError::token_failure());
        }
        self.authority
            .record_use(&signing_key.caller.key_id, request.now, || KeyUsage {
                key_id: signing_key.caller.key_id.clone(),
                used_at: request.now,
                product: product.name().to_owned(),
                action: envelope.action.clone(),
                source_address: request.source_address.to_owned(),
            });
        Ok(signing_key.caller)
    }
}
