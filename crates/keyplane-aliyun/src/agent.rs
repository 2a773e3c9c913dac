//! The agent side of SMC activation codes: a migration agent on a source server registers it
//! by presenting an activation code (its `AccessTokenId` and `AccessTokenCode`) to
//! `POST /smc/v1/source-servers`, with the server's name, hostname, operating system and a
//! machine fingerprint as JSON. One use of the code is consumed atomically across every node;
//! the same fingerprint registering again with the same code gets its registration back. Answers
//! and errors are JSON in Alibaba's error shape (`RequestId`, `HostId`, `Code`, `Message`,
//! `Recommend`) with a 4xx status.
//!
//! The endpoint is phases of the request engine ([`keyplane_engine::Dialect`] and
//! [`keyplane_engine::Renderer`]). The activation code is the proof: no caller, no rate limit, no
//! policy. Nothing is refused before the request's context exists (a wrong method included), so
//! every refusal after the failed-authentication throttle is audited, by the engine.

use keyplane_core::authority::RegistrationRequest;
use keyplane_core::model::{Redemption, Secret};
use keyplane_core::{CoreError, RequestContext};
use keyplane_engine::{Authentication, Dialect, Incoming, Outcome, Outgoing, Renderer, Routed};
use serde::Deserialize;
use serde_json::json;

use crate::eas::aliyun_phases;
use crate::errors::AliyunError;
use crate::product::Product;
use crate::render::{self, Format};
use crate::{AliyunDialect, IncomingRequest, OutgoingResponse};

/// The registration endpoint.
pub const REGISTRATION_PATH: &str = "/smc/v1/source-servers";
/// The header carrying the activation code's id (`at-…`).
pub const ACCESS_TOKEN_ID_HEADER: &str = "x-keyplane-access-token-id";
/// The header carrying the activation code itself.
pub const ACCESS_TOKEN_CODE_HEADER: &str = "x-keyplane-access-token-code";
/// The audited action name of a registration.
pub const REGISTRATION_ACTION: &str = "RegisterSourceServer";

/// What the agent sends about its machine.
#[derive(Debug, Deserialize)]
struct RegistrationBody {
    name: String,
    hostname: String,
    os: String,
    fingerprint: String,
}

/// What parsing read of a registration: the activation code's id it claims, if any.
pub struct RegistrationEnvelope {
    activation_code_id: Option<String>,
}

/// The registration endpoint, over the dialect's use cases.
struct RegisterSourceServer<'a> {
    dialect: &'a AliyunDialect,
}

impl Dialect for RegisterSourceServer<'_> {
    type Error = AliyunError;
    type Envelope = RegistrationEnvelope;
    /// The endpoint is the only action: nothing to choose.
    type Action = ();
    type Parameters = RegistrationRequest;
    type Resource = ();
    type Answer = Redemption;

    aliyun_phases!(shared(Product::Smc.name()));

    fn parse(&self, incoming: &Incoming<'_>) -> Result<RegistrationEnvelope, AliyunError> {
        Ok(RegistrationEnvelope {
            activation_code_id: incoming
                .request
                .headers
                .non_empty(ACCESS_TOKEN_ID_HEADER)
                .map(str::to_owned),
        })
    }

    fn route(&self, _envelope: &RegistrationEnvelope) -> Result<(), AliyunError> {
        Ok(())
    }

    fn routed<'e>(&self, envelope: &'e RegistrationEnvelope, _action: ()) -> Routed<'e> {
        Routed {
            product: Product::Smc.name(),
            action: REGISTRATION_ACTION,
            claimed_key_id: envelope.activation_code_id.as_deref(),
        }
    }

    /// The activation code is the proof, checked by the use case: here only `POST` and its
    /// two headers (`UnsupportedHTTPMethod`, `MissingParameter`).
    async fn authenticate(
        &self,
        incoming: &Incoming<'_>,
        envelope: &RegistrationEnvelope,
        _action: (),
    ) -> Result<Authentication, AliyunError> {
        let request = &incoming.request;
        if request.method != "POST" {
            return Err(AliyunError::unsupported_method(request.method));
        }
        if envelope.activation_code_id.is_none() {
            return Err(AliyunError::missing_parameter(ACCESS_TOKEN_ID_HEADER));
        }
        if request
            .headers
            .non_empty(ACCESS_TOKEN_CODE_HEADER)
            .is_none()
        {
            return Err(AliyunError::missing_parameter(ACCESS_TOKEN_CODE_HEADER));
        }
        Ok(Authentication::Presented)
    }

    fn parameters(
        &self,
        incoming: &Incoming<'_>,
        envelope: &RegistrationEnvelope,
        _action: (),
    ) -> Result<RegistrationRequest, AliyunError> {
        let body: RegistrationBody =
            serde_json::from_slice(incoming.request.body).map_err(|_| {
                AliyunError::unreadable_body(
                    "expected a JSON object with the strings name, hostname, os and fingerprint.",
                )
            })?;
        let code = incoming
            .request
            .headers
            .non_empty(ACCESS_TOKEN_CODE_HEADER)
            .unwrap_or_default();
        Ok(RegistrationRequest {
            activation_code_id: envelope.activation_code_id.clone().unwrap_or_default(),
            code: Secret::new(code.to_owned()),
            name: body.name,
            hostname: body.hostname,
            operating_system: body.os,
            fingerprint: body.fingerprint,
        })
    }

    /// Never asked (the activation code is the proof).
    fn permission(&self, _action: ()) -> &'static str {
        REGISTRATION_ACTION
    }

    aliyun_phases!(no_resource((), RegistrationRequest));

    async fn act(
        &self,
        context: &RequestContext,
        _envelope: &RegistrationEnvelope,
        _action: (),
        parameters: RegistrationRequest,
        _resource: (),
    ) -> Result<Redemption, AliyunError> {
        self.dialect
            .authority
            .redeem_activation_code(context, parameters)
            .await
            .map_err(|error| AliyunError::from_core(&error))
    }

    fn core_error(&self, _action: Option<()>, error: &CoreError) -> AliyunError {
        AliyunError::from_core(error)
    }
}

impl Renderer for RegisterSourceServer<'_> {
    /// 201 with the new source server, 200 with the existing one for a fingerprint already
    /// registered with the code, or the refusal.
    fn render(&self, _incoming: &Incoming<'_>, outcome: Outcome<Self>) -> Outgoing {
        let request_id = outcome.request_id;
        let redemption = match outcome.result {
            Ok(redemption) => redemption,
            Err(error) => {
                return render::endpoint_error(
                    &error,
                    Product::Smc.host(),
                    Product::Smc.troubleshoot_name(),
                    request_id,
                )
            }
        };
        let (status, already) = match &redemption {
            Redemption::Registered(_) => (201, false),
            Redemption::AlreadyRegistered(_) => (200, true),
        };
        let server = redemption.source_server();
        let body = json!({
            "RequestId": request_id,
            "SourceId": server.id,
            "AccessTokenId": server.activation_code_id,
            "Name": server.name,
            "Hostname": server.hostname,
            "Os": server.operating_system,
            "RegisteredAt": crate::time_format::iso8601(server.registered_at),
            "AlreadyRegistered": already,
        });
        Outgoing {
            status,
            content_type: Format::Json.content_type(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
            request_id,
            error_code: None,
        }
    }
}

impl AliyunDialect {
    /// Serves `POST /smc/v1/source-servers` (see the module documentation).
    pub async fn register_source_server(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        keyplane_engine::serve(&RegisterSourceServer { dialect: self }, &request.incoming()).await
    }
}
