//! The RPC phases of the Alibaba dialect, run by [`keyplane_engine::serve`]: read the
//! parameters and the answer format, then the envelope; route by (Version, Action) to a row
//! of the product's table; authenticate (the claimed key, the ACS3 or RPC v1 signature, no
//! security token, the nonce); name the resource (looking up a user selected by `UserId` or
//! `UserAccessKeyId`, which travels on to the action); refuse a denied user selected by id
//! "as given" (see [`Dialect::denied`]); call the row's handler; render in JSON or XML.

use std::sync::Arc;

use keyplane_core::authorization::Principal;
use keyplane_core::{Authority, CoreError, RequestContext};
use keyplane_crypto::aliyun::{verify_acs3, verify_rpc_v1};
use keyplane_engine::{Authentication, Dialect, Incoming, Outcome, Outgoing, Renderer, Routed};

use crate::actions::{Answer, Call, Row};
use crate::envelope::{self, Envelope, Params, Scheme};
use crate::errors::{self, AliyunError};
use crate::permissions::{self, RequestResource};
use crate::product::Product;
use crate::render::{self, Format};
use crate::{new_request_id, product_at, AliyunDialect};

/// The name throttled RPC refusals are aggregated under in the audit.
const ENTRY: &str = "aliyun";

/// The RPC side of the dialect.
pub(crate) struct Rpc<'d> {
    dialect: &'d AliyunDialect,
}

impl<'d> Rpc<'d> {
    pub(crate) fn new(dialect: &'d AliyunDialect) -> Self {
        Self { dialect }
    }
}

/// What parsing read: the envelope and the format every answer takes.
pub(crate) struct RpcRequest {
    format: Format,
    envelope: Envelope,
}

/// The format of the answer to `request` when its envelope could not be read: the one its
/// parameters ask for, or JSON when not even they could be read. Only refusals pay for
/// reading the parameters again.
fn unread_format(request: &keyplane_engine::RequestView<'_>) -> Format {
    envelope::parameters(request)
        .map(|params| envelope::answer_format(request, &params))
        .unwrap_or(Format::Json)
}

/// A routed action: its product and its row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RpcAction {
    product: Product,
    row: &'static Row,
}

impl Dialect for Rpc<'_> {
    type Error = AliyunError;
    type Envelope = RpcRequest;
    type Action = RpcAction;
    type Parameters = Arc<Params>;
    type Resource = RequestResource;
    type Answer = Answer;

    fn authority(&self) -> &Authority {
        &self.dialect.authority
    }

    fn entry(&self) -> &'static str {
        ENTRY
    }

    fn new_request_id(&self) -> String {
        new_request_id()
    }

    fn parse(&self, incoming: &Incoming<'_>) -> Result<RpcRequest, AliyunError> {
        let params = envelope::parameters(&incoming.request)?;
        let format = envelope::answer_format(&incoming.request, &params);
        Ok(RpcRequest {
            format,
            envelope: envelope::parse(&incoming.request, params)?,
        })
    }

    fn route(&self, request: &RpcRequest) -> Result<RpcAction, AliyunError> {
        // Routing failures are not audited: nothing is known yet of who asked.
        let envelope = &request.envelope;
        let product = product_at(&envelope.version).ok_or_else(AliyunError::invalid_version)?;
        let row = crate::actions::find(product, &envelope.action)
            .ok_or_else(AliyunError::action_not_found)?;
        Ok(RpcAction { product, row })
    }

    fn routed<'e>(&self, request: &'e RpcRequest, action: RpcAction) -> Routed<'e> {
        Routed {
            product: action.product.name(),
            action: action.row.name,
            claimed_key_id: Some(request.envelope.access_key_id.as_str()),
        }
    }

    async fn authenticate(
        &self,
        incoming: &Incoming<'_>,
        request: &RpcRequest,
        action: RpcAction,
    ) -> Result<Authentication, AliyunError> {
        let envelope = &request.envelope;
        let dialect = self.dialect;
        let key_id = &envelope.access_key_id;
        let signing_key = dialect.signing_key(key_id).await?;
        let secret = signing_key.secret.expose().as_bytes();
        let now = incoming.now.unix_timestamp();
        match &envelope.scheme {
            Scheme::Acs3(authorization) => {
                verify_acs3(&incoming.request, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "x-acs-date"))?;
            }
            Scheme::RpcV1 => {
                verify_rpc_v1(incoming.request.method, envelope.params.all(), secret, now)
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
        dialect.accept_nonce(key_id, nonce, incoming.now).await?;
        dialect.record_use(
            &signing_key.caller,
            incoming.now,
            incoming.source_address,
            action.product.name(),
            action.row.name,
        );
        Ok(Authentication::Caller(signing_key.caller))
    }

    fn parameters(
        &self,
        _incoming: &Incoming<'_>,
        request: &RpcRequest,
        _action: RpcAction,
    ) -> Result<Arc<Params>, AliyunError> {
        Ok(Arc::clone(&request.envelope.params))
    }

    fn permission(&self, action: RpcAction) -> &'static str {
        action.row.permission
    }

    async fn name_resource(
        &self,
        context: &RequestContext,
        action: RpcAction,
        parameters: &Arc<Params>,
    ) -> Result<RequestResource, AliyunError> {
        RequestResource::read(action.row.resource, parameters, self.authority(), context).await
    }

    fn resource_names(&self, resource: &RequestResource, principal: Principal<'_>) -> Vec<String> {
        resource.names(principal)
    }

    /// A user selected by id or access key the caller may not act on is answered as if the
    /// id selected nobody, so that the answer tells nothing about whom it selects: refused
    /// naming the request's own text, or, when that would be allowed, `EntityNotExist.User`.
    /// The audit keeps the real decision (the engine recorded it in the context).
    async fn denied(
        &self,
        context: &RequestContext,
        action: RpcAction,
        resource: &RequestResource,
        denial: CoreError,
    ) -> AliyunError {
        let code = permissions::denial_code(action.product);
        let Some(as_given) = resource.as_given() else {
            return errors::denial(&denial, code);
        };
        match self
            .authority()
            .authorize(context, action.row.permission, |principal| {
                as_given.names(principal)
            })
            .await
        {
            Err(error) => AliyunError::from_core(&error),
            Ok(authorization) => match authorization.denial() {
                Some(denial) => errors::denial(&denial, code),
                None => AliyunError::from_core(&CoreError::UserNotFound),
            },
        }
    }

    async fn act(
        &self,
        context: &RequestContext,
        _request: &RpcRequest,
        action: RpcAction,
        parameters: Arc<Params>,
        resource: RequestResource,
    ) -> Result<Answer, AliyunError> {
        let call = Call {
            authority: self.authority(),
            context,
            params: &parameters,
            resource,
        };
        (action.row.handler)(call).await
    }

    fn core_error(&self, action: Option<RpcAction>, error: &CoreError) -> AliyunError {
        match action {
            Some(action) => errors::denial(error, permissions::denial_code(action.product)),
            None => AliyunError::from_core(error),
        }
    }
}

impl Renderer for Rpc<'_> {
    fn render(&self, incoming: &Incoming<'_>, outcome: Outcome<Self>) -> Outgoing {
        let request = outcome.envelope.as_ref();
        let format = request.map_or_else(
            || unread_format(&incoming.request),
            |request| request.format,
        );
        match (outcome.result, outcome.action) {
            (Ok(fields), Some(action)) => {
                render::success_answer(format, action.row.name, fields, outcome.request_id)
            }
            (Ok(_), None) => {
                render::unrouted_error(format, &AliyunError::internal(), outcome.request_id)
            }
            (Err(error), action) => {
                let product = action
                    .map(|action| action.product)
                    .or_else(|| request.and_then(|request| product_at(&request.envelope.version)));
                match product {
                    Some(product) => render::error_answer(
                        format,
                        &error,
                        product.host(),
                        product.troubleshoot_name(),
                        outcome.request_id,
                    ),
                    None => render::unrouted_error(format, &error, outcome.request_id),
                }
            }
        }
    }
}
