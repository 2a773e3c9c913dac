//! The agent side of SMC activation codes: a migration agent on a source server registers it
//! by presenting an activation code (its `AccessTokenId` and `AccessTokenCode`) to
//! `POST /smc/v1/source-servers`, with the server's name, hostname, operating system and a
//! machine fingerprint as JSON. One use of the code is consumed atomically across every node;
//! the same fingerprint registering again with the same code gets its registration back. Answers
//! and errors are JSON in Alibaba's error shape (`RequestId`, `HostId`, `Code`, `Message`,
//! `Recommend`) with a 4xx status.

use keyplane_core::authority::RegistrationRequest;
use keyplane_core::model::{Redemption, Secret};
use keyplane_core::RequestContext;
use serde::Deserialize;
use serde_json::json;

use crate::errors::AliyunError;
use crate::product::Product;
use crate::render::{self, Format};
use keyplane_core::audit::truncated;

use crate::{new_request_id, AliyunDialect, IncomingRequest, OutgoingResponse};

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

fn header<'a>(request: &IncomingRequest<'a>, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

impl AliyunDialect {
    /// Serves `POST /smc/v1/source-servers`: 201 with the new source server, 200 with the
    /// existing one for a fingerprint already registered with the code, or an error.
    pub async fn register_source_server(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        if let Some(response) = self.throttled_response(&request, Product::Smc.name()) {
            return response;
        }
        let request_id = new_request_id();
        let context = RequestContext {
            caller: None,
            claimed_key_id: header(&request, ACCESS_TOKEN_ID_HEADER)
                .map(|value| truncated(value, 128)),
            now: request.now,
            request_id: request_id.clone(),
            source_address: request.source_address.to_owned(),
            user_agent: truncated(header(&request, "user-agent").unwrap_or(""), 256),
            product: Product::Smc.name().to_owned(),
            action: REGISTRATION_ACTION.to_owned(),
            authorization: None,
        };
        let outcome = self.registration(&request, &context).await;
        match outcome {
            Ok(redemption) => {
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
                OutgoingResponse {
                    status,
                    content_type: Format::Json.content_type(),
                    body: serde_json::to_vec(&body).unwrap_or_default(),
                    request_id,
                    error_code: None,
                }
            }
            Err(error) => {
                let event = context.audit_event(None, error.code.code());
                if error.after_proof() {
                    self.authority.record_refusal_after_proof(event);
                } else {
                    self.authority.record_refusal(event);
                }
                OutgoingResponse {
                    status: error.status(),
                    content_type: Format::Json.content_type(),
                    body: render::error_body(
                        Format::Json,
                        &error,
                        Product::Smc.host(),
                        Product::Smc.troubleshoot_name(),
                        &request_id,
                    ),
                    error_code: Some(error.code.code()),
                    request_id,
                }
            }
        }
    }

    async fn registration(
        &self,
        request: &IncomingRequest<'_>,
        context: &RequestContext,
    ) -> Result<Redemption, AliyunError> {
        if request.method != "POST" {
            return Err(AliyunError::unsupported_method(request.method));
        }
        let code_id = header(request, ACCESS_TOKEN_ID_HEADER)
            .ok_or_else(|| AliyunError::missing_parameter(ACCESS_TOKEN_ID_HEADER))?;
        let code = header(request, ACCESS_TOKEN_CODE_HEADER)
            .ok_or_else(|| AliyunError::missing_parameter(ACCESS_TOKEN_CODE_HEADER))?;
        let body: RegistrationBody = serde_json::from_slice(request.body).map_err(|_| {
            AliyunError::unreadable_body(
                "expected a JSON object with the strings name, hostname, os and fingerprint.",
            )
        })?;
        self.authority
            .redeem_activation_code(
                context,
                RegistrationRequest {
                    activation_code_id: code_id.to_owned(),
                    code: Secret::new(code.to_owned()),
                    name: body.name,
                    hostname: body.hostname,
                    operating_system: body.os,
                    fingerprint: body.fingerprint,
                },
            )
            .await
            .map_err(|error| AliyunError::from_core(&error))
    }
}
