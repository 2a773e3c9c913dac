//! `CreateServiceInstanceToken`, the ROA operation of PAI-EAS, as phases of the request engine
//! ([`keyplane_engine::Dialect`] and [`keyplane_engine::Renderer`]).
//!
//! - parse (not audited: nothing is known yet of who asked): the path
//!   (`InvalidAction.NotFound`, `InvalidParameter` for a segment that is not percent-encoded
//!   UTF-8), `GET` (`UnsupportedHTTPMethod`), `x-acs-version` (`MissingParameter`,
//!   `InvalidVersion`), an `x-acs-action` other than the operation's
//!   (`InvalidAction.NotFound`), the parameters, the `Authorization` scheme
//!   (`IncompleteSignature`);
//! - authenticate: the key, the ACS3 or ROA v1 signature over the raw request, the nonce (or,
//!   for ROA v1 without one, the signature) as replay key, a security token refused;
//! - the engine's rate limit and authorization of `eas:CreateServiceInstanceToken` on the
//!   service (`Forbidden.RAM`);
//! - act: `ActionType` (only `WorkBench`), then the three tokens and their URLs.
//!
//! Answers are always JSON with `HostId` `pai-eas.aliyuncs.com`, except the refusal of a
//! throttled address, which is Keyplane's (the request was not read).

use keyplane_core::authority::InstanceTokenRequest;
use keyplane_core::authorization::Principal;
use keyplane_core::model::InstanceTokenPurpose;
use keyplane_core::{CoreError, RequestContext};
use keyplane_crypto::aliyun::{
    parse_acs3_authorization, parse_roa_v1_authorization, verify_acs3, verify_roa_v1,
    Acs3Authorization, AliyunAuthorizationParseError, RoaV1Authorization, ROA_V1_ALGORITHM,
};
use keyplane_engine::{
    Authentication, Dialect, Incoming, Outcome, Outgoing, Renderer, RequestView, Routed,
};
use serde_json::{Map, Value};

use super::{
    aliyun_phases, core_error, ACTION, HOST, PATH_PREFIX, PRODUCT, TROUBLESHOOT_PRODUCT, VERSION,
    WORKBENCH_ACTION_TYPE,
};
use crate::envelope::{self, Params};
use crate::errors::AliyunError;
use crate::permissions;
use crate::render::{self, Format};
use crate::{AliyunDialect, IncomingRequest, OutgoingResponse};

/// The names in a `…/token` path, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPath {
    pub cluster: String,
    pub service: String,
    pub instance: String,
}

/// Reads `/api/v2/services/{ClusterId}/{ServiceName}/instances/{InstanceName}/token`:
/// `Ok(None)` for any other path, `InvalidParameter` for a segment that does not decode to
/// UTF-8.
pub fn parse_token_path(raw_path: &str) -> Result<Option<TokenPath>, AliyunError> {
    let Some(rest) = raw_path.strip_prefix(PATH_PREFIX) else {
        return Ok(None);
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let [cluster, service, "instances", instance, "token"] = segments.as_slice() else {
        return Ok(None);
    };
    if [cluster, service, instance]
        .iter()
        .any(|segment| segment.is_empty())
    {
        return Ok(None);
    }
    let decode = |segment: &str, parameter: &str| {
        percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| {
                AliyunError::invalid_parameter(parameter, "it is not percent-encoded UTF-8.")
            })
    };
    Ok(Some(TokenPath {
        cluster: decode(cluster, "ClusterId")?,
        service: decode(service, "ServiceName")?,
        instance: decode(instance, "InstanceName")?,
    }))
}

/// How a ROA request was signed.
pub enum RoaScheme {
    Acs3(Acs3Authorization),
    RoaV1(RoaV1Authorization),
}

impl RoaScheme {
    fn access_key_id(&self) -> &str {
        match self {
            RoaScheme::Acs3(authorization) => &authorization.access_key_id,
            RoaScheme::RoaV1(authorization) => &authorization.access_key_id,
        }
    }
}

/// Reads the `Authorization` header: ACS3 or ROA v1, else `IncompleteSignature`.
fn scheme(request: &RequestView<'_>) -> Result<RoaScheme, AliyunError> {
    let value = request
        .header("authorization")
        .ok_or_else(|| AliyunError::incomplete_signature("The Authorization header is missing."))?;
    let trimmed = value.trim_start();
    let parse_error = |error: AliyunAuthorizationParseError| {
        AliyunError::incomplete_signature(&format!("{error}."))
    };
    if trimmed.starts_with("ACS3-") {
        parse_acs3_authorization(value)
            .map(RoaScheme::Acs3)
            .map_err(parse_error)
    } else if trimmed
        .strip_prefix(ROA_V1_ALGORITHM)
        .is_some_and(|rest| rest.starts_with(|character: char| character.is_ascii_whitespace()))
    {
        parse_roa_v1_authorization(value)
            .map(RoaScheme::RoaV1)
            .map_err(parse_error)
    } else {
        Err(AliyunError::incomplete_signature(
            "The Authorization header must be ACS3-HMAC-SHA256 or acs AccessKeyId:Signature.",
        ))
    }
}

/// What parsing read of a token request.
pub struct TokenEnvelope {
    path: TokenPath,
    params: Params,
    scheme: RoaScheme,
}

/// The parameters of a token request, read (not yet checked) once it is authenticated.
pub struct TokenParameters {
    path: TokenPath,
    worker: Option<String>,
    action_type: Option<String>,
}

/// The service the tokens are asked on, as the permission names it.
pub struct ServiceResource {
    cluster: String,
    service: String,
}

/// The operation, over the dialect's use cases.
struct CreateServiceInstanceToken<'a> {
    dialect: &'a AliyunDialect,
}

impl Dialect for CreateServiceInstanceToken<'_> {
    type Error = AliyunError;
    type Envelope = TokenEnvelope;
    /// The operation is the only action: nothing to choose.
    type Action = ();
    type Parameters = TokenParameters;
    type Resource = ServiceResource;
    type Answer = Map<String, Value>;

    aliyun_phases!(shared(PRODUCT));

    fn parse(&self, incoming: &Incoming<'_>) -> Result<TokenEnvelope, AliyunError> {
        let request = &incoming.request;
        let path = parse_token_path(request.path)?.ok_or_else(AliyunError::action_not_found)?;
        if request.method != "GET" {
            return Err(AliyunError::unsupported_method(request.method));
        }
        match request.header("x-acs-version").map(str::trim) {
            Some(VERSION) => {}
            Some(_) => return Err(AliyunError::invalid_version()),
            None => return Err(AliyunError::missing_parameter("x-acs-version")),
        }
        if request
            .header("x-acs-action")
            .is_some_and(|action| action.trim() != ACTION)
        {
            return Err(AliyunError::action_not_found());
        }
        let params = envelope::parameters(request)?;
        let scheme = scheme(request)?;
        Ok(TokenEnvelope {
            path,
            params,
            scheme,
        })
    }

    fn route(&self, _envelope: &TokenEnvelope) -> Result<(), AliyunError> {
        Ok(())
    }

    fn routed<'e>(&self, envelope: &'e TokenEnvelope, _action: ()) -> Routed<'e> {
        Routed {
            product: PRODUCT,
            action: ACTION,
            claimed_key_id: Some(envelope.scheme.access_key_id()),
        }
    }

    /// Checks an ACS3 or ROA v1 signature over the raw request, then replay, and returns the
    /// caller. Records the key's use.
    async fn authenticate(
        &self,
        incoming: &Incoming<'_>,
        envelope: &TokenEnvelope,
        _action: (),
    ) -> Result<Authentication, AliyunError> {
        let request = &incoming.request;
        let key_id = envelope.scheme.access_key_id();
        let signing_key = self.dialect.signing_key(key_id).await?;
        let secret = signing_key.secret.expose().as_bytes();
        let now = incoming.now.unix_timestamp();
        let nonce = request
            .header("x-acs-signature-nonce")
            .filter(|nonce| !nonce.is_empty());
        let replay_key = match &envelope.scheme {
            RoaScheme::Acs3(authorization) => {
                verify_acs3(request, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "x-acs-date"))?;
                nonce
                    .ok_or_else(|| AliyunError::missing_parameter("x-acs-signature-nonce"))?
                    .to_owned()
            }
            RoaScheme::RoaV1(authorization) => {
                verify_roa_v1(request, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "Date"))?;
                // The signature covers the date, the path, the query and every x-acs-*
                // header: a request without a nonce is replayed only by repeating it whole.
                nonce
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("roa-v1-signature:{}", authorization.signature))
            }
        };
        if request
            .header("x-acs-security-token")
            .is_some_and(|token| !token.is_empty())
        {
            return Err(AliyunError::security_token_mismatch());
        }
        self.dialect
            .accept_nonce(key_id, &replay_key, incoming.now)
            .await?;
        self.dialect.record_use(
            &signing_key.caller,
            incoming.now,
            incoming.source_address,
            PRODUCT,
            ACTION,
        );
        Ok(Authentication::Caller(signing_key.caller))
    }

    fn parameters(
        &self,
        _incoming: &Incoming<'_>,
        envelope: &TokenEnvelope,
        _action: (),
    ) -> Result<TokenParameters, AliyunError> {
        let read = |name: &str| envelope.params.non_empty(name).map(str::to_owned);
        Ok(TokenParameters {
            path: envelope.path.clone(),
            worker: read("WorkerName"),
            action_type: read("ActionType"),
        })
    }

    fn permission(&self, _action: ()) -> &'static str {
        permissions::EAS_CREATE_SERVICE_INSTANCE_TOKEN
    }

    async fn name_resource(
        &self,
        _context: &RequestContext,
        _action: (),
        parameters: &TokenParameters,
    ) -> Result<ServiceResource, AliyunError> {
        Ok(ServiceResource {
            cluster: parameters.path.cluster.clone(),
            service: parameters.path.service.clone(),
        })
    }

    fn resource_names(&self, resource: &ServiceResource, principal: Principal<'_>) -> Vec<String> {
        vec![permissions::eas_service_resource(
            principal.account_id,
            &resource.cluster,
            &resource.service,
        )]
    }

    async fn act(
        &self,
        context: &RequestContext,
        _envelope: &TokenEnvelope,
        _action: (),
        parameters: TokenParameters,
        _resource: ServiceResource,
    ) -> Result<Map<String, Value>, AliyunError> {
        if let Some(action_type) = &parameters.action_type {
            if action_type != WORKBENCH_ACTION_TYPE {
                return Err(AliyunError::invalid_parameter(
                    "ActionType",
                    &format!("the only supported value is {WORKBENCH_ACTION_TYPE}."),
                ));
            }
        }
        let TokenPath {
            cluster,
            service,
            instance,
        } = parameters.path;
        let issued = self
            .dialect
            .authority
            .create_instance_tokens(
                context,
                InstanceTokenRequest {
                    cluster,
                    service,
                    instance,
                    worker: parameters.worker,
                },
            )
            .await
            .map_err(|error| core_error(&error))?;
        let url = |purpose: InstanceTokenPurpose| {
            Value::String(
                self.dialect
                    .public_urls
                    .url(purpose, issued.token(purpose).expose()),
            )
        };
        let mut fields = Map::new();
        fields.insert(
            "Token".to_owned(),
            Value::String(issued.terminal.expose().to_owned()),
        );
        fields.insert("Url".to_owned(), url(InstanceTokenPurpose::Terminal));
        fields.insert(
            "WorkbenchUrl".to_owned(),
            url(InstanceTokenPurpose::Workbench),
        );
        fields.insert(
            "StreamlogUrl".to_owned(),
            url(InstanceTokenPurpose::Streamlog),
        );
        Ok(fields)
    }

    fn core_error(&self, _action: Option<()>, error: &CoreError) -> AliyunError {
        core_error(error)
    }
}

impl Renderer for CreateServiceInstanceToken<'_> {
    fn render(&self, _incoming: &Incoming<'_>, outcome: Outcome<Self>) -> Outgoing {
        match outcome.result {
            Ok(fields) => render::success_answer(Format::Json, ACTION, fields, outcome.request_id),
            Err(error) => {
                render::endpoint_error(&error, HOST, TROUBLESHOOT_PRODUCT, outcome.request_id)
            }
        }
    }
}

impl AliyunDialect {
    /// Serves an EAS (ROA) request. Never fails: every outcome is an Alibaba-shaped JSON
    /// answer.
    pub async fn handle_eas(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        keyplane_engine::serve(
            &CreateServiceInstanceToken { dialect: self },
            &request.incoming(),
        )
        .await
    }
}
