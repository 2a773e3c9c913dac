//! The one request pipeline of Keyplane. A wire protocol (Tencent API 3.0, Alibaba RPC, the
//! PAI-EAS ROA operation, the SMC agent's registration, the terminal gateway's token
//! redemption) implements [`Dialect`]: its phases, each a small function over its own wire
//! format. [`run`] drives them in one fixed order and owns every decision they share:
//!
//! 1. the failed-authentication throttle of the source address, checked before anything of the
//!    request is read (refusals aggregated in the audit under [`Dialect::entry`]);
//! 2. [`Dialect::parse`] the envelope and [`Dialect::route`] it to one action of the dialect's
//!    table; failures here are answered but not audited (nothing is known of the caller);
//! 3. the [`RequestContext`] is built, once, from what routing named;
//! 4. [`Dialect::authenticate`]: a signed request yields its caller, a request that carries a
//!    proof the action itself checks (an activation code, an instance token) yields
//!    [`Authentication::Presented`];
//! 5. the caller's per-action rate limit ([`Authority::admit`]);
//! 6. [`Dialect::parameters`], read only now that the signature verified;
//! 7. [`Dialect::name_resource`] (what it resolves travels on to the action) and the
//!    authorization of the action's permission on it, the decision recorded in the context;
//! 8. [`Dialect::act`];
//! 9. every refusal after routing audited exactly once, here; successful changes write their
//!    audit record in the use case's own transaction.
//!
//! [`serve`] adds the last phase, [`Renderer::render`], for dialects that answer over HTTP.

pub mod actions;
pub mod code_table;

use std::future::Future;

pub use actions::ActionRow;
use keyplane_core::authorization::Principal;
use keyplane_core::{Authority, Caller, CoreError, RequestContext};
pub use keyplane_request::{Headers, RequestView};
use time::OffsetDateTime;

/// The longest claimed key id kept in a request's context (and so in an audit record).
const CLAIMED_KEY_ID_MAX_CHARACTERS: usize = 128;
/// The longest user agent kept in a request's context.
const USER_AGENT_MAX_CHARACTERS: usize = 256;

/// One request as the HTTP front hands it to a dialect.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub request: RequestView<'a>,
    /// The client's address (after the trusted-proxy rules), `ip` or `ip:port`.
    pub source_address: &'a str,
    /// The server clock's time of the request: the only time any phase reads.
    pub now: OffsetDateTime,
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub request_id: String,
    /// The wire code of a refusal, for logs and metrics; `None` on success.
    pub error_code: Option<&'static str>,
}

/// A dialect's error as its client sees it: one member of the dialect's closed code table.
pub trait WireError: Send {
    /// The wire code.
    fn code(&self) -> &'static str;

    /// Whether the request proved its credential before it was refused (a valid activation
    /// code that is exhausted; a valid instance token already used): audited like any refusal
    /// before authentication, but not counted as a failed authentication of its source.
    fn after_proof(&self) -> bool {
        false
    }
}

/// What routing named: the product and action (as rate limits, policies' actions and the
/// audit name them) and the key id the request claims, before anything is verified.
#[derive(Debug, Clone, Copy)]
pub struct Routed<'a> {
    pub product: &'static str,
    pub action: &'static str,
    pub claimed_key_id: Option<&'a str>,
}

/// Who a request turned out to be.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// A signature verified with this caller's key.
    Caller(Caller),
    /// The request carries a proof the action itself checks (an activation code, an instance
    /// token): no caller, no rate limit and no policy apply before the action.
    Presented,
}

/// The phases of one wire protocol. Every phase may refuse with the dialect's error; the
/// engine decides what happens then.
pub trait Dialect: Sync {
    /// The dialect's error: a member of its code table with its message.
    type Error: WireError;
    /// What [`Dialect::parse`] read of the request.
    type Envelope: Send + Sync;
    /// One row of the dialect's action table.
    type Action: Copy + Send + Sync;
    /// The request's parameters, decoded once the signature verified.
    type Parameters: Send + Sync;
    /// What naming the action's resource resolved, handed on to the action.
    type Resource: Send + Sync;
    /// What a successful action answers, before rendering.
    type Answer: Send;

    /// The use cases.
    fn authority(&self) -> &Authority;

    /// The name throttled refusals are aggregated under in the audit (`tencent`, `aliyun`, ...).
    fn entry(&self) -> &'static str;

    /// A new request id, in the dialect's format.
    fn new_request_id(&self) -> String;

    /// Reads the envelope.
    fn parse(&self, incoming: &Incoming<'_>) -> Result<Self::Envelope, Self::Error>;

    /// Finds the action the envelope asks for.
    fn route(&self, envelope: &Self::Envelope) -> Result<Self::Action, Self::Error>;

    /// What the routed request names, for its context.
    fn routed<'e>(&self, envelope: &'e Self::Envelope, action: Self::Action) -> Routed<'e>;

    /// Verifies who sent the request.
    fn authenticate(
        &self,
        incoming: &Incoming<'_>,
        envelope: &Self::Envelope,
        action: Self::Action,
    ) -> impl Future<Output = Result<Authentication, Self::Error>> + Send;

    /// Decodes the parameters of an authenticated request.
    fn parameters(
        &self,
        incoming: &Incoming<'_>,
        envelope: &Self::Envelope,
        action: Self::Action,
    ) -> Result<Self::Parameters, Self::Error>;

    /// The permission the action needs, as policies name it (`cam:CreateAccessKey`).
    fn permission(&self, action: Self::Action) -> &'static str;

    /// Names (and where needed resolves) the resource the action is asked on.
    fn name_resource(
        &self,
        context: &RequestContext,
        action: Self::Action,
        parameters: &Self::Parameters,
    ) -> impl Future<Output = Result<Self::Resource, Self::Error>> + Send;

    /// The resource's names as `principal`'s policies are evaluated against them.
    fn resource_names(&self, resource: &Self::Resource, principal: Principal<'_>) -> Vec<String>;

    /// The error a refused authorization answers (by default the dialect's mapping of the
    /// denial).
    fn denied(
        &self,
        _context: &RequestContext,
        action: Self::Action,
        _resource: &Self::Resource,
        denial: CoreError,
    ) -> impl Future<Output = Self::Error> + Send {
        let error = self.core_error(Some(action), &denial);
        async move { error }
    }

    /// Performs the action.
    fn act(
        &self,
        context: &RequestContext,
        envelope: &Self::Envelope,
        action: Self::Action,
        parameters: Self::Parameters,
        resource: Self::Resource,
    ) -> impl Future<Output = Result<Self::Answer, Self::Error>> + Send;

    /// The dialect's one mapping of a core failure (for `action`, once routed).
    fn core_error(&self, action: Option<Self::Action>, error: &CoreError) -> Self::Error;
}

/// A dialect that answers over HTTP.
pub trait Renderer: Dialect {
    /// The answer to `outcome`.
    fn render(&self, incoming: &Incoming<'_>, outcome: Outcome<Self>) -> Outgoing
    where
        Self: Sized;
}

/// How one request ended, with what the phases that ran had found.
pub struct Outcome<D: Dialect> {
    pub request_id: String,
    /// The envelope, when it could be read.
    pub envelope: Option<D::Envelope>,
    /// The action, when the request was routed.
    pub action: Option<D::Action>,
    /// The request's context, when it was routed (with the caller and the authorization
    /// decision, as far as they were established).
    pub context: Option<RequestContext>,
    pub result: Result<D::Answer, D::Error>,
}

impl<D: Dialect> std::fmt::Debug for Outcome<D> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Outcome")
            .field("request_id", &self.request_id)
            .field(
                "error_code",
                &self.result.as_ref().err().map(WireError::code),
            )
            .finish_non_exhaustive()
    }
}

/// Runs every phase of `dialect` but the rendering, and audits a refusal.
pub async fn run<D: Dialect>(dialect: &D, incoming: &Incoming<'_>) -> Outcome<D> {
    let request_id = dialect.new_request_id();
    let authority = dialect.authority();
    if authority.authentication_throttled(incoming.source_address, incoming.now) {
        let error = dialect.core_error(None, &CoreError::AuthenticationThrottled);
        authority.record_throttled_refusal(
            incoming.source_address,
            incoming.now,
            &request_id,
            dialect.entry(),
            error.code(),
        );
        return refused(request_id, None, None, None, error);
    }
    let envelope = match dialect.parse(incoming) {
        Ok(envelope) => envelope,
        Err(error) => return refused(request_id, None, None, None, error),
    };
    let action = match dialect.route(&envelope) {
        Ok(action) => action,
        Err(error) => return refused(request_id, Some(envelope), None, None, error),
    };
    let mut context = context(dialect.routed(&envelope, action), incoming, &request_id);
    match act(dialect, incoming, &envelope, action, &mut context).await {
        Ok(answer) => Outcome {
            request_id,
            envelope: Some(envelope),
            action: Some(action),
            context: Some(context),
            result: Ok(answer),
        },
        Err(error) => {
            let event = context.audit_event(None, error.code());
            if error.after_proof() {
                authority.record_refusal_after_proof(event);
            } else {
                authority.record_refusal(event);
            }
            refused(
                request_id,
                Some(envelope),
                Some(action),
                Some(context),
                error,
            )
        }
    }
}

/// Runs every phase of `dialect` and renders the outcome.
pub async fn serve<D: Renderer>(dialect: &D, incoming: &Incoming<'_>) -> Outgoing {
    let outcome = run(dialect, incoming).await;
    dialect.render(incoming, outcome)
}

fn refused<D: Dialect>(
    request_id: String,
    envelope: Option<D::Envelope>,
    action: Option<D::Action>,
    context: Option<RequestContext>,
    error: D::Error,
) -> Outcome<D> {
    Outcome {
        request_id,
        envelope,
        action,
        context,
        result: Err(error),
    }
}

/// The one place a request's context is built.
fn context(routed: Routed<'_>, incoming: &Incoming<'_>, request_id: &str) -> RequestContext {
    RequestContext {
        caller: None,
        claimed_key_id: routed
            .claimed_key_id
            .map(|key_id| truncated(key_id, CLAIMED_KEY_ID_MAX_CHARACTERS)),
        now: incoming.now,
        request_id: request_id.to_owned(),
        source_address: incoming.source_address.to_owned(),
        user_agent: truncated(
            incoming.request.header("user-agent").unwrap_or(""),
            USER_AGENT_MAX_CHARACTERS,
        ),
        product: routed.product.to_owned(),
        action: routed.action.to_owned(),
        authorization: None,
    }
}

/// The phases from authentication to the action.
async fn act<D: Dialect>(
    dialect: &D,
    incoming: &Incoming<'_>,
    envelope: &D::Envelope,
    action: D::Action,
    context: &mut RequestContext,
) -> Result<D::Answer, D::Error> {
    let authority = dialect.authority();
    let authentication = dialect.authenticate(incoming, envelope, action).await?;
    let signed = match authentication {
        Authentication::Caller(caller) => {
            context.caller = Some(caller);
            authority
                .admit(context)
                .map_err(|error| dialect.core_error(Some(action), &error))?;
            true
        }
        Authentication::Presented => false,
    };
    let parameters = dialect.parameters(incoming, envelope, action)?;
    let resource = dialect.name_resource(context, action, &parameters).await?;
    if signed {
        let authorization = authority
            .authorize(context, dialect.permission(action), |principal| {
                dialect.resource_names(&resource, principal)
            })
            .await
            .map_err(|error| dialect.core_error(Some(action), &error))?;
        let denial = authorization.denial();
        context.authorization = Some(authorization);
        if let Some(denial) = denial {
            return Err(dialect.denied(context, action, &resource, denial).await);
        }
    }
    dialect
        .act(context, envelope, action, parameters, resource)
        .await
}

/// `text` cut to at most `max_characters` characters.
fn truncated(text: &str, max_characters: usize) -> String {
    keyplane_core::audit::truncated(text, max_characters)
}
