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
//! refused within the window either way. Only the root may ask for tokens (as for SMC, until
//! policies exist); unknown names answer 404 `InvalidService.NotFound`,
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

use keyplane_core::authority::InstanceTokenRequest;
use keyplane_core::instance_access::InstancePermission;
use keyplane_core::model::{InstanceSession, InstanceToken, InstanceTokenPurpose, Secret};
use keyplane_core::{Caller, RequestContext};
use keyplane_crypto::aliyun::{
    parse_acs3_authorization, parse_roa_v1_authorization, percent_encode_rfc3986, verify_acs3,
    verify_roa_v1, AliyunRequest, ROA_V1_ALGORITHM,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::envelope::{self, Params};
use crate::errors::{AliyunCode, AliyunError};
use crate::permissions;
use crate::render::{self, Format};
use keyplane_core::audit::truncated;
use keyplane_request::RequestView;

use crate::{new_request_id, AliyunDialect, IncomingRequest, OutgoingResponse, Refusal};

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
/// The code of a redemption refused because the principal lost the permission.
pub const REVOKED_PERMISSION_CODE: AliyunCode = AliyunCode::ForbiddenRam;

/// Whether a path is EAS's, and so answered by [`AliyunDialect::handle_eas`].
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

/// The first `token` parameter of a raw query string, decoded: where a gateway finds the
/// token of the URLs this module issues. Pairs are decoded one at a time and dropped, so a
/// long query costs no memory.
pub fn token_from_query(raw_query: &str) -> Option<String> {
    form_urlencoded::parse(raw_query.as_bytes())
        .find(|(name, _)| name == TOKEN_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// Why a public base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    #[error("the public URL must start with http:// or https://")]
    UnsupportedScheme,
    #[error("the public URL has no host")]
    MissingHost,
    #[error("the public URL may not carry user information, a query or a fragment")]
    UnexpectedPart,
    #[error("the public URL contains whitespace or a control character")]
    InvalidCharacter,
}

/// Keyplane's public base URL (`--public-url`), from which the absolute URLs of the answer
/// are made: `http(s)://host[:port][/prefix]`; WebSocket URLs use `ws(s)://` on the same
/// authority and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    http_base: String,
    websocket_base: String,
}

impl PublicUrls {
    /// Checks and normalises a base URL (a trailing `/` is dropped).
    pub fn new(base: &str) -> Result<Self, PublicUrlError> {
        if base
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(PublicUrlError::InvalidCharacter);
        }
        let lower = base.to_ascii_lowercase();
        let (websocket_scheme, rest) = if lower.starts_with("https://") {
            ("wss://", &base["https://".len()..])
        } else if lower.starts_with("http://") {
            ("ws://", &base["http://".len()..])
        } else {
            return Err(PublicUrlError::UnsupportedScheme);
        };
        let scheme = &base[..base.len() - rest.len()];
        let rest = rest.trim_end_matches('/');
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() || authority.starts_with(':') {
            return Err(PublicUrlError::MissingHost);
        }
        if rest.contains(['?', '#']) || authority.contains('@') {
            return Err(PublicUrlError::UnexpectedPart);
        }
        Ok(Self {
            http_base: format!("{}{rest}", scheme.to_ascii_lowercase()),
            websocket_base: format!("{websocket_scheme}{rest}"),
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        &self.http_base
    }

    /// The absolute URL that redeems `token` for `purpose`.
    pub fn url(&self, purpose: InstanceTokenPurpose, token: &str) -> String {
        let base = match purpose {
            InstanceTokenPurpose::Workbench => &self.http_base,
            InstanceTokenPurpose::Terminal | InstanceTokenPurpose::Streamlog => {
                &self.websocket_base
            }
        };
        format!(
            "{base}{}?{TOKEN_PARAMETER}={}",
            redemption_path(purpose),
            percent_encode_rfc3986(token)
        )
    }
}

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
enum RoaScheme {
    Acs3(keyplane_crypto::aliyun::Acs3Authorization),
    RoaV1(keyplane_crypto::aliyun::RoaV1Authorization),
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
fn scheme(raw: &RequestView<'_>) -> Result<RoaScheme, AliyunError> {
    let value = raw
        .header("authorization")
        .ok_or_else(|| AliyunError::incomplete_signature("The Authorization header is missing."))?;
    let trimmed = value.trim_start();
    let parse_error = |error: keyplane_crypto::aliyun::AliyunAuthorizationParseError| {
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

/// What a terminal gateway knows of a request that presents an instance token.
#[derive(Debug, Clone, Copy)]
pub struct TokenPresentation<'a> {
    /// Which URL the token was presented at.
    pub purpose: InstanceTokenPurpose,
    /// The token, as found by [`token_from_query`] (or a header of the gateway's choosing).
    pub token: &'a str,
    pub source_address: &'a str,
    pub user_agent: &'a str,
    pub now: OffsetDateTime,
}

/// A refused redemption: the error (its HTTP status and code, for the gateway's answer) and
/// the id of the request, as audited.
#[derive(Debug, Clone)]
pub struct RedemptionRefusal {
    pub error: AliyunError,
    pub request_id: String,
}

impl AliyunDialect {
    /// Serves an EAS (ROA) request. Never fails: every outcome is an Alibaba-shaped JSON
    /// answer.
    pub async fn handle_eas(&self, request: IncomingRequest<'_>) -> OutgoingResponse {
        if let Some(response) = self.throttled_response(&request, PRODUCT) {
            return response;
        }
        let request_id = new_request_id();
        match self
            .create_service_instance_token(&request, &request_id)
            .await
        {
            Ok(fields) => OutgoingResponse {
                status: 200,
                content_type: Format::Json.content_type(),
                body: render::success_body(Format::Json, ACTION, fields, &request_id),
                error_code: None,
                request_id,
            },
            Err(refusal) => {
                if let Some(context) = &refusal.context {
                    self.authority
                        .record_refusal(context.audit_event(None, refusal.error.code.code()));
                }
                OutgoingResponse {
                    status: refusal.error.status(),
                    content_type: Format::Json.content_type(),
                    body: render::error_body(
                        Format::Json,
                        &refusal.error,
                        HOST,
                        TROUBLESHOOT_PRODUCT,
                        &request_id,
                    ),
                    error_code: Some(refusal.error.code.code()),
                    request_id,
                }
            }
        }
    }

    async fn create_service_instance_token(
        &self,
        request: &IncomingRequest<'_>,
        request_id: &str,
    ) -> Result<Map<String, Value>, Refusal> {
        let raw = request.raw();
        // Routing failures are not audited: nothing is known yet of who asked.
        let path = parse_token_path(request.path)?.ok_or_else(AliyunError::action_not_found)?;
        if request.method != "GET" {
            return Err(AliyunError::unsupported_method(request.method).into());
        }
        match raw.header("x-acs-version").map(str::trim) {
            Some(VERSION) => {}
            Some(_) => return Err(AliyunError::invalid_version().into()),
            None => return Err(AliyunError::missing_parameter("x-acs-version").into()),
        }
        if raw
            .header("x-acs-action")
            .is_some_and(|action| action.trim() != ACTION)
        {
            return Err(AliyunError::action_not_found().into());
        }
        let params = envelope::parameters(&raw)?;
        let scheme = scheme(&raw)?;
        let mut context = RequestContext {
            caller: None,
            claimed_key_id: Some(truncated(scheme.access_key_id(), 128)),
            now: request.now,
            request_id: request_id.to_owned(),
            source_address: request.source_address.to_owned(),
            user_agent: truncated(raw.header("user-agent").unwrap_or(""), 256),
            product: PRODUCT.to_owned(),
            action: ACTION.to_owned(),
            authorization: None,
        };
        let refuse = |error: AliyunError, context: &RequestContext| Refusal {
            error,
            context: Some(context.clone()),
        };
        let caller = self
            .authenticate_roa(request, &raw, &scheme)
            .await
            .map_err(|error| refuse(error, &context))?;
        context.caller = Some(caller);
        self.authority
            .admit(&context)
            .map_err(|error| refuse(AliyunError::from_core(&error), &context))?;
        self.authorize(
            &mut context,
            permissions::EAS_CREATE_SERVICE_INSTANCE_TOKEN,
            REVOKED_PERMISSION_CODE,
            |principal| {
                vec![permissions::eas_service_resource(
                    principal.account_id,
                    &path.cluster,
                    &path.service,
                )]
            },
        )
        .await
        .map_err(|error| refuse(error, &context))?;
        self.issue_tokens(&context, path, &params)
            .await
            .map_err(|error| refuse(error, &context))
    }

    /// Checks an ACS3 or ROA v1 signature over the raw request, then replay, and returns the
    /// caller. Records the key's use.
    async fn authenticate_roa(
        &self,
        request: &IncomingRequest<'_>,
        raw: &RequestView<'_>,
        scheme: &RoaScheme,
    ) -> Result<Caller, AliyunError> {
        let key_id = scheme.access_key_id();
        let signing_key = self.signing_key(key_id).await?;
        let secret = signing_key.secret.expose().as_bytes();
        let signed = AliyunRequest {
            method: request.method,
            raw_path: request.path,
            raw_query: request.raw_query,
            headers: request.headers,
            body: request.body,
        };
        let now = request.now.unix_timestamp();
        let nonce = raw
            .header("x-acs-signature-nonce")
            .filter(|nonce| !nonce.is_empty());
        let replay_key = match scheme {
            RoaScheme::Acs3(authorization) => {
                verify_acs3(&signed, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "x-acs-date"))?;
                nonce
                    .ok_or_else(|| AliyunError::missing_parameter("x-acs-signature-nonce"))?
                    .to_owned()
            }
            RoaScheme::RoaV1(authorization) => {
                verify_roa_v1(&signed, authorization, secret, now)
                    .map_err(|error| AliyunError::from_signature(&error, "Date"))?;
                // The signature covers the date, the path, the query and every x-acs-*
                // header: a request without a nonce is replayed only by repeating it whole.
                nonce
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("roa-v1-signature:{}", authorization.signature))
            }
        };
        if raw
            .header("x-acs-security-token")
            .is_some_and(|token| !token.is_empty())
        {
            return Err(AliyunError::security_token_mismatch());
        }
        self.accept_nonce(key_id, &replay_key, request.now).await?;
        self.record_use(
            &signing_key.caller,
            request.now,
            request.source_address,
            PRODUCT,
            ACTION,
        );
        Ok(signing_key.caller)
    }

    async fn issue_tokens(
        &self,
        context: &RequestContext,
        path: TokenPath,
        params: &Params,
    ) -> Result<Map<String, Value>, AliyunError> {
        if let Some(action_type) = params.non_empty("ActionType") {
            if action_type != WORKBENCH_ACTION_TYPE {
                return Err(AliyunError::invalid_parameter(
                    "ActionType",
                    &format!("the only supported value is {WORKBENCH_ACTION_TYPE}."),
                ));
            }
        }
        let issued = self
            .authority
            .create_instance_tokens(
                context,
                InstanceTokenRequest {
                    cluster: path.cluster,
                    service: path.service,
                    instance: path.instance,
                    worker: params.non_empty("WorkerName").map(str::to_owned),
                },
            )
            .await
            .map_err(|error| AliyunError::from_core(&error))?;
        let url = |purpose: InstanceTokenPurpose| {
            Value::String(
                self.public_urls
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

    /// The terminal gateway's entry point: redeems the token presented at the URL of
    /// `presentation.purpose` and returns the session to open (whose it is, which worker, the
    /// expanded command to run there without a shell of the client's making). The token is
    /// burned atomically across every node; success is audited in the same transaction
    /// (action [`InstanceTokenPurpose::redemption_action`], attributed to the principal and key
    /// that asked for the token), and a refusal is audited here with its code, so the gateway
    /// audits neither. Refusals: 401 `InvalidInstanceToken` (unknown, malformed, or issued for
    /// another URL), 403 `InstanceToken.AlreadyUsed`, 403 `InstanceToken.Expired`, 403
    /// `InstanceToken.Revoked` when the key that asked for it is no longer active, 403
    /// `Forbidden.RAM` when its principal no longer holds [`INSTANCE_PERMISSION`], 404
    /// `InvalidService.NotFound` / `InvalidInstance.NotFound` / `InvalidWorker.NotFound` when
    /// the registry changed since the token was issued.
    pub async fn redeem_instance_token(
        &self,
        presentation: TokenPresentation<'_>,
    ) -> Result<InstanceSession, RedemptionRefusal> {
        let context = self.admit_presentation(&presentation)?;
        let token = presentation.token;
        let result = if plausible_token(token) {
            self.authority
                .redeem_instance_token(
                    &context,
                    presentation.purpose,
                    &Secret::new(token.to_owned()),
                    INSTANCE_PERMISSION,
                )
                .await
                .map_err(|error| redemption_error(&error))
        } else {
            Err(AliyunError::from_core(
                &keyplane_core::CoreError::InstanceTokenInvalid,
            ))
        };
        result.map_err(|error| self.refuse_presentation(&context, error))
    }

    /// The context of a token presentation, unless its source address is throttled for failing
    /// authentication (checked before the token is looked at).
    fn admit_presentation(
        &self,
        presentation: &TokenPresentation<'_>,
    ) -> Result<RequestContext, RedemptionRefusal> {
        let request_id = new_request_id();
        if let Some(error) = self.throttled(
            presentation.source_address,
            presentation.now,
            &request_id,
            PRODUCT,
        ) {
            return Err(RedemptionRefusal { error, request_id });
        }
        Ok(RequestContext {
            caller: None,
            claimed_key_id: None,
            now: presentation.now,
            request_id,
            source_address: presentation.source_address.to_owned(),
            user_agent: truncated(presentation.user_agent, 256),
            product: PRODUCT.to_owned(),
            action: presentation.purpose.redemption_action().to_owned(),
            authorization: None,
        })
    }

    /// Records a refused presentation (aggregated, as refusals before authentication are;
    /// counted against the address unless the token itself was proven) and answers it.
    fn refuse_presentation(
        &self,
        context: &RequestContext,
        error: AliyunError,
    ) -> RedemptionRefusal {
        let event = context.audit_event(None, error.code.code());
        if error.after_proof() {
            self.authority.record_refusal_after_proof(event);
        } else {
            self.authority.record_refusal(event);
        }
        RedemptionRefusal {
            error,
            request_id: context.request_id.clone(),
        }
    }

    /// The token presented at the URL of `presentation.purpose`, unused and unexpired, without
    /// redeeming it (what the Workbench's confirmation page shows): the same refusals as
    /// [`AliyunDialect::redeem_instance_token`] for an unknown, used or expired token, under the
    /// same failed-authentication throttle and refusal audit, and nothing burned.
    pub async fn preview_instance_token(
        &self,
        presentation: TokenPresentation<'_>,
    ) -> Result<InstanceToken, RedemptionRefusal> {
        let context = self.admit_presentation(&presentation)?;
        let token = presentation.token;
        let result = if plausible_token(token) {
            self.authority
                .preview_instance_token(
                    presentation.purpose,
                    &Secret::new(token.to_owned()),
                    presentation.now,
                )
                .await
        } else {
            Err(keyplane_core::CoreError::InstanceTokenInvalid)
        };
        result.map_err(|error| self.refuse_presentation(&context, AliyunError::from_core(&error)))
    }
}

/// Whether `token` looks like an issued token (before it is looked up).
fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARACTERS
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// A redemption's refusal: a lost permission is EAS's `Forbidden.RAM`, the rest the table's.
fn redemption_error(error: &keyplane_core::CoreError) -> AliyunError {
    match error {
        keyplane_core::CoreError::AccessDenied(denied) => {
            AliyunError::access_denied(denied, REVOKED_PERMISSION_CODE)
        }
        other => AliyunError::from_core(other),
    }
}
