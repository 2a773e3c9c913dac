//! The Tencent dialect as phases of the one request pipeline (`keyplane_engine`), which runs
//! them in this order: the envelope ([`envelope::parse`]: TC3 headers or v1 parameters), the
//! routing by (Version, Action) to a row of the product's action table, the authentication
//! (TC3 or v1, see `authentication`), the caller's rate limit, API Gateway's `Region`, the
//! business parameters, the resource the row names, the authorization of the row's
//! permission on it, and the row's handler. Every answer is HTTP 200 in Tencent's envelope.

use keyplane_core::authorization::Principal;
use keyplane_core::{Authority, CoreError, RequestContext};
use keyplane_engine::{
    Authentication, Dialect, Incoming, Outcome, Outgoing, Renderer, Routed as EngineRouted,
    WireError,
};
use serde_json::{Map, Value};

use crate::actions::{self, Routed};
use crate::envelope::{self, Envelope};
use crate::errors::{ActionError, Product, TencentError};
use crate::params::Params;
use crate::permissions::Resource;
use crate::{TencentDialect, RESPONSE_CONTENT_TYPE, VERSIONS};

/// The longest version named back in `NoSuchVersion`.
const VERSION_ECHO_MAX_CHARACTERS: usize = 32;
/// The longest action named back in `InvalidAction`.
const ACTION_ECHO_MAX_CHARACTERS: usize = 64;

impl Dialect for TencentDialect {
    type Error = TencentError;
    type Envelope = Envelope;
    type Action = Routed;
    type Parameters = Params;
    type Resource = Resource;
    type Answer = Map<String, Value>;

    fn authority(&self) -> &Authority {
        &self.authority
    }

    fn entry(&self) -> &'static str {
        "tencent"
    }

    fn new_request_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn parse(&self, incoming: &Incoming<'_>) -> Result<Envelope, TencentError> {
        envelope::parse(&incoming.request)
    }

    fn route(&self, envelope: &Envelope) -> Result<Routed, TencentError> {
        let product = VERSIONS
            .iter()
            .find(|entry| entry.version == envelope.version)
            .map(|entry| entry.product)
            .ok_or_else(|| {
                TencentError::no_such_version(&truncated(
                    &envelope.version,
                    VERSION_ECHO_MAX_CHARACTERS,
                ))
            })?;
        actions::find(product, &envelope.action).ok_or_else(|| {
            TencentError::invalid_action(&truncated(&envelope.action, ACTION_ECHO_MAX_CHARACTERS))
        })
    }

    fn routed<'e>(&self, envelope: &'e Envelope, action: Routed) -> EngineRouted<'e> {
        EngineRouted {
            product: action.product.name(),
            action: action.row.name,
            claimed_key_id: Some(envelope.credentials.secret_id()),
        }
    }

    async fn authenticate(
        &self,
        incoming: &Incoming<'_>,
        envelope: &Envelope,
        action: Routed,
    ) -> Result<Authentication, TencentError> {
        self.verify_caller(incoming, envelope, action.product)
            .await
            .map(Authentication::Caller)
    }

    fn parameters(
        &self,
        incoming: &Incoming<'_>,
        envelope: &Envelope,
        action: Routed,
    ) -> Result<Params, TencentError> {
        if action.product == Product::ApiGateway && envelope.region.is_none() {
            return Err(TencentError::missing_parameter("Region"));
        }
        // Only now, with the signature verified, are the business parameters read.
        envelope::business_parameters(&incoming.request, envelope)
    }

    fn permission(&self, action: Routed) -> &'static str {
        action.row.permission
    }

    async fn name_resource(
        &self,
        context: &RequestContext,
        action: Routed,
        parameters: &Params,
    ) -> Result<Resource, TencentError> {
        Resource::name(action.row.resource, &self.authority, context, parameters).await
    }

    fn resource_names(&self, resource: &Resource, principal: Principal<'_>) -> Vec<String> {
        resource.names(principal)
    }

    async fn act(
        &self,
        context: &RequestContext,
        _envelope: &Envelope,
        action: Routed,
        parameters: Params,
        resource: Resource,
    ) -> Result<Map<String, Value>, TencentError> {
        (action.row.handler)(&self.authority, context, &parameters, resource)
            .await
            .map_err(|error| match error {
                ActionError::Core(error) => TencentError::from_core(&error, action),
                ActionError::Refused(error) => error,
            })
    }

    fn core_error(&self, action: Option<Routed>, error: &CoreError) -> TencentError {
        match action {
            Some(action) => TencentError::from_core(error, action),
            None => TencentError::from_core(error, Product::Cam),
        }
    }
}

impl Renderer for TencentDialect {
    fn render(&self, _incoming: &Incoming<'_>, outcome: Outcome<Self>) -> Outgoing {
        match outcome.result {
            Ok(fields) => Outgoing {
                status: 200,
                content_type: RESPONSE_CONTENT_TYPE,
                body: envelope::success_body(fields, &outcome.request_id),
                request_id: outcome.request_id,
                error_code: None,
            },
            Err(error) => rendered_error(&error, outcome.request_id),
        }
    }
}

/// The answer carrying `error`.
pub(crate) fn rendered_error(error: &TencentError, request_id: String) -> Outgoing {
    Outgoing {
        status: error.code.status(),
        content_type: RESPONSE_CONTENT_TYPE,
        body: envelope::error_body(error, &request_id),
        request_id,
        error_code: Some(error.code()),
    }
}

fn truncated(text: &str, max_characters: usize) -> String {
    keyplane_core::audit::truncated(text, max_characters)
}
