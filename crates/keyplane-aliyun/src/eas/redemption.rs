//! The terminal gateway's entry points: an instance token presented at the URL it was issued
//! for, redeemed ([`AliyunDialect::redeem_instance_token`]) or only looked at
//! ([`AliyunDialect::preview_instance_token`], the Workbench's confirmation page).
//!
//! Both are the request engine's phases ([`keyplane_engine::Dialect`], run by
//! [`keyplane_engine::run`]: the gateway renders the outcome itself, as a WebSocket upgrade or a
//! page). The token is the proof: no caller, no rate limit, no policy before the action. So the
//! engine checks the source address's failed-authentication throttle before the token is looked
//! at and audits every refusal once (aggregated, as refusals before authentication are; counted
//! against the address unless the token itself was proven); a successful redemption is audited
//! by the use case, in the transaction that burns the token.

use std::future::Future;

use keyplane_core::model::{InstanceSession, InstanceToken, InstanceTokenPurpose, Secret};
use keyplane_core::{Authority, CoreError, RequestContext};
use keyplane_engine::{Authentication, Dialect, Headers, Incoming, RequestView, Routed};
use time::OffsetDateTime;

use super::{
    aliyun_phases, core_error, redemption_path, INSTANCE_PERMISSION, MAX_TOKEN_CHARACTERS, PRODUCT,
};
use crate::errors::AliyunError;
use crate::AliyunDialect;

/// What a terminal gateway knows of a request that presents an instance token.
#[derive(Debug, Clone, Copy)]
pub struct TokenPresentation<'a> {
    /// Which URL the token was presented at.
    pub purpose: InstanceTokenPurpose,
    /// The token, as found by [`super::token_from_query`] (or a header of the gateway's
    /// choosing).
    pub token: &'a str,
    pub source_address: &'a str,
    pub user_agent: &'a str,
    pub now: OffsetDateTime,
}

/// A refused presentation, as the gateway renders it: the error (its HTTP status, code and
/// message) and the id of the request, as audited.
#[derive(Debug, Clone)]
pub struct RedemptionRefusal {
    pub error: AliyunError,
    pub request_id: String,
}

/// What is done with a presented token.
trait TokenUse: Sync {
    /// What the use gives.
    type Answer: Send;

    /// Uses `token`, presented at the URL of `purpose`.
    fn act<'a>(
        authority: &'a Authority,
        context: &'a RequestContext,
        purpose: InstanceTokenPurpose,
        token: &'a Secret,
    ) -> impl Future<Output = Result<Self::Answer, CoreError>> + Send + 'a;
}

/// Burns the token and opens its session.
struct Redeem;

impl TokenUse for Redeem {
    type Answer = InstanceSession;

    fn act<'a>(
        authority: &'a Authority,
        context: &'a RequestContext,
        purpose: InstanceTokenPurpose,
        token: &'a Secret,
    ) -> impl Future<Output = Result<InstanceSession, CoreError>> + Send + 'a {
        authority.redeem_instance_token(context, purpose, token, INSTANCE_PERMISSION)
    }
}

/// Looks the token up, burning nothing.
struct Preview;

impl TokenUse for Preview {
    type Answer = InstanceToken;

    fn act<'a>(
        authority: &'a Authority,
        context: &'a RequestContext,
        purpose: InstanceTokenPurpose,
        token: &'a Secret,
    ) -> impl Future<Output = Result<InstanceToken, CoreError>> + Send + 'a {
        authority.preview_instance_token(purpose, token, context.now)
    }
}

/// One presentation of a token, as a dialect of the engine.
struct Presented<'a, Use> {
    dialect: &'a AliyunDialect,
    presentation: TokenPresentation<'a>,
    token_use: std::marker::PhantomData<Use>,
}

impl<Use: TokenUse> Dialect for Presented<'_, Use> {
    type Error = AliyunError;
    /// The presentation is read by the gateway: nothing left to parse.
    type Envelope = ();
    /// Which URL the token was presented at.
    type Action = InstanceTokenPurpose;
    /// The token.
    type Parameters = Secret;
    type Resource = ();
    type Answer = Use::Answer;

    aliyun_phases!(shared(PRODUCT));

    fn parse(&self, _incoming: &Incoming<'_>) -> Result<(), AliyunError> {
        Ok(())
    }

    fn route(&self, _envelope: &()) -> Result<InstanceTokenPurpose, AliyunError> {
        Ok(self.presentation.purpose)
    }

    fn routed<'e>(&self, _envelope: &'e (), purpose: InstanceTokenPurpose) -> Routed<'e> {
        Routed {
            product: PRODUCT,
            action: purpose.redemption_action(),
            claimed_key_id: None,
        }
    }

    /// The token is the proof, checked by the use case; one that cannot be an issued token
    /// (`InvalidInstanceToken`) is not looked up.
    async fn authenticate(
        &self,
        _incoming: &Incoming<'_>,
        _envelope: &(),
        _purpose: InstanceTokenPurpose,
    ) -> Result<Authentication, AliyunError> {
        if plausible_token(self.presentation.token) {
            Ok(Authentication::Presented)
        } else {
            Err(core_error(&CoreError::InstanceTokenInvalid))
        }
    }

    fn parameters(
        &self,
        _incoming: &Incoming<'_>,
        _envelope: &(),
        _purpose: InstanceTokenPurpose,
    ) -> Result<Secret, AliyunError> {
        Ok(Secret::new(self.presentation.token.to_owned()))
    }

    /// Never asked (the token is the proof); what the token's principal must still hold.
    fn permission(&self, _purpose: InstanceTokenPurpose) -> &'static str {
        INSTANCE_PERMISSION.action
    }

    aliyun_phases!(no_resource(InstanceTokenPurpose, Secret));

    async fn act(
        &self,
        context: &RequestContext,
        _envelope: &(),
        purpose: InstanceTokenPurpose,
        token: Secret,
        _resource: (),
    ) -> Result<Use::Answer, AliyunError> {
        Use::act(&self.dialect.authority, context, purpose, &token)
            .await
            .map_err(|error| core_error(&error))
    }

    fn core_error(&self, _purpose: Option<InstanceTokenPurpose>, error: &CoreError) -> AliyunError {
        core_error(error)
    }
}

impl AliyunDialect {
    /// The terminal gateway's entry point: redeems the token presented at the URL of
    /// `presentation.purpose` and returns the session to open (whose it is, which worker, the
    /// expanded command to run there without a shell of the client's making). The token is
    /// burned atomically across every node; success is audited in the same transaction
    /// (action [`InstanceTokenPurpose::redemption_action`], attributed to the principal and key
    /// that asked for the token), and a refusal by the engine with its code, so the gateway
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
        self.present::<Redeem>(presentation).await
    }

    /// The token presented at the URL of `presentation.purpose`, unused and unexpired, without
    /// redeeming it (what the Workbench's confirmation page shows): the same refusals as
    /// [`AliyunDialect::redeem_instance_token`] for an unknown, used or expired token, under the
    /// same failed-authentication throttle and refusal audit, and nothing burned.
    pub async fn preview_instance_token(
        &self,
        presentation: TokenPresentation<'_>,
    ) -> Result<InstanceToken, RedemptionRefusal> {
        self.present::<Preview>(presentation).await
    }

    /// Runs the engine over a presentation. The gateway has read the HTTP request: the view
    /// the engine gets carries the URL's path and the user agent, which is all the request's
    /// context takes from it.
    async fn present<Use: TokenUse>(
        &self,
        presentation: TokenPresentation<'_>,
    ) -> Result<Use::Answer, RedemptionRefusal> {
        let headers = [("user-agent", presentation.user_agent)];
        let incoming = Incoming {
            request: RequestView {
                method: "",
                path: redemption_path(presentation.purpose),
                raw_query: "",
                headers: Headers::new(&headers),
                body: b"",
            },
            source_address: presentation.source_address,
            now: presentation.now,
        };
        let presented = Presented::<Use> {
            dialect: self,
            presentation,
            token_use: std::marker::PhantomData,
        };
        let outcome = keyplane_engine::run(&presented, &incoming).await;
        let request_id = outcome.request_id;
        outcome
            .result
            .map_err(|error| RedemptionRefusal { error, request_id })
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
