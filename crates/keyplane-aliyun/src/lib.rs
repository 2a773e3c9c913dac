//! The Alibaba Cloud OpenAPI dialect: recognises a request, reads its RPC envelope (query and
//! form parameters, `x-acs-*` headers), authenticates it (ACS3-HMAC-SHA256 or RPC v1
//! HMAC-SHA1, the 15-minute window, and nonces refused on reuse through the store's shared
//! replay table, so on every node), routes it by (Version, Action) to IMS or SMC, applies rate
//! limits, calls the core use cases and answers in Alibaba's JSON or XML envelope with the
//! right HTTP status. It also serves the ROA operation of PAI-EAS, recognised by its path and
//! signed ACS3 or ROA v1, and the redemption of the instance tokens it issues (`eas`), and the
//! SMC agent's registration endpoint (`agent`). This crate owns the dialect's wire format and
//! its error-code table.

pub mod agent;
pub mod eas;
pub mod envelope;
pub mod errors;
pub mod ims;
pub mod permissions;
pub mod product;
pub mod ram;
pub mod render;
pub mod smc;
mod time_format;

use std::sync::Arc;

use keyplane_core::audit::truncated;

use keyplane_core::authority::SigningKey;
use keyplane_core::model::{KeyFamily, KeyUsage};
use keyplane_core::{Authority, Caller, KeyLookup, RequestContext};
use keyplane_crypto::aliyun::{
    verify_acs3, verify_rpc_v1, AliyunRequest, ALIYUN_SIGNATURE_WINDOW_SECONDS,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use envelope::{Envelope, Params, RawRequest, Scheme};
pub use errors::{AliyunCode, AliyunError};
pub use product::Product;
use render::Format;

/// The RPC API versions served, and the product each one is.
pub const VERSIONS: &[(&str, Product)] = &[
    ("2019-08-15", Product::Ims),
    ("2019-06-01", Product::Smc),
    ("2015-05-01", Product::Ram),
];

/// Every action of every product this dialect dispatches: the dispatch tables.
pub fn actions(product: Product) -> &'static [&'static str] {
    match product {
        Product::Ims => ims::ACTIONS,
        Product::Smc => smc::ACTIONS,
        Product::Ram => ram::ACTIONS,
    }
}

/// How long a nonce is remembered: the signature window on both sides of the request time, so
/// a request cannot be replayed for as long as its timestamp is acceptable.
const NONCE_MEMORY: time::Duration = time::Duration::seconds(2 * ALIYUN_SIGNATURE_WINDOW_SECONDS);
/// The longest nonce accepted.
const MAX_NONCE_CHARACTERS: usize = 128;

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

impl<'a> IncomingRequest<'a> {
    fn raw(&self) -> RawRequest<'a> {
        RawRequest {
            method: self.method,
            path: self.path,
            raw_query: self.raw_query,
            headers: self.headers,
            body: self.body,
        }
    }

    /// The request as the request engine takes it.
    fn incoming(&self) -> keyplane_engine::Incoming<'a> {
        keyplane_engine::Incoming {
            request: keyplane_engine::RequestView {
                method: self.method,
                path: self.path,
                raw_query: self.raw_query,
                headers: keyplane_engine::Headers::new(self.headers),
                body: self.body,
            },
            source_address: self.source_address,
            now: self.now,
        }
    }
}

/// The answer: status, content type and body.
pub use keyplane_engine::Outgoing as OutgoingResponse;

/// Whether a request belongs to this dialect (see [`envelope::recognizes`]).
pub fn recognizes(request: &IncomingRequest<'_>) -> bool {
    envelope::recognizes(&request.raw())
}

/// A failure on the way to an action, with the context known at that point for the audit.
struct Refusal {
    error: AliyunError,
    context: Option<RequestContext>,
}

impl From<AliyunError> for Refusal {
    fn from(error: AliyunError) -> Self {
        Refusal {
            error,
            context: None,
        }
    }
}

/// The dialect, over the core use cases.
#[derive(Clone)]
pub struct AliyunDialect {
    authority: Arc<Authority>,
    /// Where the EAS instance-token URLs point.
    public_urls: eas::PublicUrls,
}

impl std::fmt::Debug for AliyunDialect {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AliyunDialect")
            .finish_non_exhaustive()
    }
}

impl AliyunDialect {
    /// The dialect over `authority`; EAS answers point at `public_urls`.
    pub fn new(authority: Arc<Authority>, public_urls: eas::PublicUrls) -> Self {
        Self {
            authority,
            public_urls,
        }
    }

    /// The answer to a request that failed before the dialect could read it (for example a
    /// body over the size limit), in JSON.
    pub fn error_response(&self, error: AliyunError) -> OutgoingResponse {
        let request_id = new_request_id();
        OutgoingResponse {
            status: error.status(),
            content_type: Format::Json.content_type(),
            body: render::error_body(Format::Json, &error, "keyplane", "keyplane", &request_id),
            error_code: Some(error.code.code()),
            request_id,
        }
    }

    /// The refusal of a request from a source address that failed authentication too often
    /// (`Throttling`), recorded in the aggregated audit under `entry` (the route: the request
    /// was not read); `None` when the address is not throttled. Checked before anything of the
    /// request is read, on every route.
    pub(crate) fn throttled(
        &self,
        source_address: &str,
        now: time::OffsetDateTime,
        request_id: &str,
        entry: &str,
    ) -> Option<AliyunError> {
        if !self.authority.authentication_throttled(source_address, now) {
            return None;
        }
        let error = AliyunError::from_core(&keyplane_core::CoreError::AuthenticationThrottled);
        self.authority.record_throttled_refusal(
            source_address,
            now,
            request_id,
            entry,
            error.code.code(),
        );
        Some(error)
    }

    /// The answer to a throttled request (see [`AliyunDialect::throttled`]), in JSON.
    pub(crate) fn throttled_response(
        &self,
        request: &IncomingRequest<'_>,
        entry: &str,
    ) -> Option<OutgoingResponse> {
        let request_id = new_request_id();
        let error = self.throttled(request.source_address, request.now, &request_id, entry)?;
        Some(OutgoingResponse {
            status: error.status(),
            content_type: Format::Json.content_type(),
            body: render::error_body(Format::Json, &error, "keyplane", "keyplane", &request_id),
            error_code: Some(error.code.code()),
            request_id,
        })
    }

    /// Serves one RPC request. Never fails: every outcome is an Alibaba-shaped answer.
    pub async fn handle(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        if let Some(response) = self.throttled_response(&request, "aliyun") {
            return response;
        }
        let request_id = new_request_id();
        let raw = request.raw();
        let params = match envelope::parameters(&raw) {
            Ok(params) => params,
            Err(error) => return self.error_response(error),
        };
        let format = envelope::answer_format(&raw, &params);
        let mut product = None;
        let result = self
            .process(&request, &raw, params, &request_id, &mut product)
            .await;
        match result {
            Ok((action, fields)) => OutgoingResponse {
                status: 200,
                content_type: format.content_type(),
                body: render::success_body(format, &action, fields, &request_id),
                error_code: None,
                request_id,
            },
            Err(refusal) => {
                if let Some(context) = &refusal.context {
                    self.authority
                        .record_refusal(context.audit_event(None, refusal.error.code.code()));
                }
                let (host, product_name) = match product {
                    Some(product) => (product.host(), product.troubleshoot_name()),
                    None => ("keyplane", "keyplane"),
                };
                OutgoingResponse {
                    status: refusal.error.status(),
                    content_type: format.content_type(),
                    body: render::error_body(
                        format,
                        &refusal.error,
                        host,
                        product_name,
                        &request_id,
                    ),
                    error_code: Some(refusal.error.code.code()),
                    request_id,
                }
            }
        }
    }

    async fn process(
        &self,
        request: &IncomingRequest<'_>,
        raw: &RawRequest<'_>,
        params: Params,
        request_id: &str,
        product_found: &mut Option<Product>,
    ) -> Result<(String, Map<String, Value>), Refusal> {
        let envelope = envelope::parse(raw, params)?;
        // Routing failures are not audited: nothing is known yet of who asked.
        let product = VERSIONS
            .iter()
            .find(|(version, _)| *version == envelope.version)
            .map(|(_, product)| *product)
            .ok_or_else(AliyunError::invalid_version)?;
        *product_found = Some(product);
        if !actions(product).contains(&envelope.action.as_str()) {
            return Err(AliyunError::action_not_found().into());
        }
        let mut context = RequestContext {
            caller: None,
            claimed_key_id: Some(truncated(&envelope.access_key_id, 128)),
            now: request.now,
            request_id: request_id.to_owned(),
            source_address: request.source_address.to_owned(),
            user_agent: truncated(raw.header("user-agent").unwrap_or(""), 256),
            product: product.name().to_owned(),
            action: envelope.action.clone(),
            authorization: None,
        };
        let refuse = |error: AliyunError, context: &RequestContext| Refusal {
            error,
            context: Some(context.clone()),
        };
        let caller = self
            .authenticate(request, &envelope, product)
            .await
            .map_err(|error| refuse(error, &context))?;
        context.caller = Some(caller);
        self.authority
            .admit(&context)
            .map_err(|error| refuse(AliyunError::from_core(&error), &context))?;
        self.authorize_rpc(&mut context, product, &envelope.params)
            .await
            .map_err(|error| refuse(error, &context))?;
        let result = match product {
            Product::Ims => ims::dispatch(&self.authority, &context, &envelope.params).await,
            Product::Smc => smc::dispatch(&self.authority, &context, &envelope.params).await,
            Product::Ram => ram::dispatch(&self.authority, &context, &envelope.params).await,
        };
        result
            .map(|fields| (envelope.action.clone(), fields))
            .map_err(|error| refuse(error, &context))
    }

    /// Authorizes an RPC request from the product's permission table (an action missing from
    /// it is refused: nothing runs unchecked).
    async fn authorize_rpc(
        &self,
        context: &mut RequestContext,
        product: Product,
        params: &Params,
    ) -> Result<(), AliyunError> {
        let Some(entry) = permissions::permission(product, &context.action) else {
            tracing::error!(action = %context.action, "an action has no declared permission");
            return Err(AliyunError::internal());
        };
        let resource =
            permissions::RequestResource::read(entry, params, &self.authority, context).await?;
        let denial_code = permissions::denial_code(product);
        let outcome = self
            .authorize(context, entry.permission, denial_code, |principal| {
                resource.names(principal)
            })
            .await;
        match (outcome, resource.as_given()) {
            // A user selected by id or access key the caller may not act on: answered as if
            // the id selected nobody, so that the answer tells nothing about whom it selects.
            // The audit keeps the real decision.
            (Err(_), Some(as_given))
                if context
                    .authorization
                    .as_ref()
                    .is_some_and(|authorization| !authorization.allowed()) =>
            {
                let decided = context.authorization.take();
                let answer = self
                    .authorize(context, entry.permission, denial_code, |principal| {
                        as_given.names(principal)
                    })
                    .await
                    .and(Err(AliyunError::from_core(
                        &keyplane_core::CoreError::UserNotFound,
                    )));
                context.authorization = decided;
                answer
            }
            (outcome, _) => outcome,
        }
    }

    /// Decides whether the caller may perform `permission` on the resources `resources`
    /// names, records the decision in the context (for the audit record, whatever the
    /// outcome), and refuses with `denial_code` (403, with `AccessDeniedDetail`) when it is
    /// not an allow.
    pub(crate) async fn authorize(
        &self,
        context: &mut RequestContext,
        permission: &'static str,
        denial_code: AliyunCode,
        resources: impl FnOnce(keyplane_core::authorization::Principal<'_>) -> Vec<String>,
    ) -> Result<(), AliyunError> {
        let authorization = self
            .authority
            .authorize(context, permission, resources)
            .await
            .map_err(|error| AliyunError::from_core(&error))?;
        let denial = authorization.denial();
        context.authorization = Some(authorization);
        match denial {
            Some(keyplane_core::CoreError::AccessDenied(denied)) => {
                Err(AliyunError::access_denied(&denied, denial_code))
            }
            Some(other) => Err(AliyunError::from_core(&other)),
            None => Ok(()),
        }
    }

    /// Checks the signature, then the nonce, and returns the caller. Records the key's use.
    async fn authenticate(
        &self,
        request: &IncomingRequest<'_>,
        envelope: &Envelope,
        product: Product,
    ) -> Result<Caller, AliyunError> {
        let key_id = &envelope.access_key_id;
        let signing_key = self.signing_key(key_id).await?;
        let secret = signing_key.secret.expose().as_bytes();
        let now = request.now.unix_timestamp();
        match &envelope.scheme {
            Scheme::Acs3(authorization) => {
                let signed = AliyunRequest {
                    method: request.method,
                    raw_path: request.path,
                    raw_query: request.raw_query,
                    headers: request.headers,
                    body: request.body,
                };
                verify_acs3(&signed, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "x-acs-date"))?;
            }
            Scheme::RpcV1 => {
                verify_rpc_v1(request.method, envelope.params.all(), secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "Timestamp"))?;
            }
        }
        if envelope.security_token.is_some() {
            return Err(AliyunError::security_token_mismatch());
        }
        let nonce = envelope
            .nonce
            .as_deref()
            .filter(|nonce| !nonce.is_empty())
            .ok_or_else(|| AliyunError::missing_parameter("SignatureNonce"))?;
        self.accept_nonce(key_id, nonce, request.now).await?;
        self.record_use(
            &signing_key.caller,
            request.source_address,
            request.now,
            product.name(),
            &envelope.action,
        );
        Ok(signing_key.caller)
    }

    /// The active Alibaba access key a request claims to be signed with:
    /// `InvalidAccessKeyId.NotFound` for a malformed, unknown or foreign-family id,
    /// `InvalidAccessKeyId.Inactive` for a deactivated one.
    async fn signing_key(&self, key_id: &str) -> Result<SigningKey, AliyunError> {
        let well_formed = !key_id.is_empty()
            && key_id.len() <= 128
            && key_id.bytes().all(|byte| byte.is_ascii_alphanumeric());
        if !well_formed {
            return Err(AliyunError::access_key_not_found());
        }
        match self
            .authority
            .lookup_signing_key(key_id, KeyFamily::Aliyun)
            .await
            .map_err(|error| AliyunError::from_core(&error))?
        {
            KeyLookup::Active(key) => Ok(key),
            KeyLookup::Inactive => Err(AliyunError::access_key_inactive()),
            KeyLookup::NotFound => Err(AliyunError::access_key_not_found()),
        }
    }

    /// Replay protection: refuses (`SignatureNonceUsed`) a nonce already used with `key_id`
    /// within the window, on every node sharing the store.
    async fn accept_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<(), AliyunError> {
        if nonce.chars().count() > MAX_NONCE_CHARACTERS {
            return Err(AliyunError::invalid_parameter(
                "SignatureNonce",
                &format!("it must be at most {MAX_NONCE_CHARACTERS} characters."),
            ));
        }
        let fresh = self
            .authority
            .accept_nonce(key_id, nonce, NONCE_MEMORY, now)
            .await
            .map_err(|error| AliyunError::from_core(&error))?;
        if !fresh {
            return Err(AliyunError::nonce_used());
        }
        Ok(())
    }

    /// Records, in memory, that `caller`'s key authenticated a request from `source_address`
    /// at `now` for `product:action`.
    fn record_use(
        &self,
        caller: &Caller,
        source_address: &str,
        now: OffsetDateTime,
        product: &str,
        action: &str,
    ) {
        self.authority.record_use(&caller.key_id, now, || KeyUsage {
            key_id: caller.key_id.clone(),
            used_at: now,
            product: product.to_owned(),
            action: action.to_owned(),
            source_address: source_address.to_owned(),
        });
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}
