//! The shape of the RPC action tables: each IMS, RAM and SMC action is one
//! [`keyplane_engine::ActionRow`] in its product's table (`ims::ACTIONS`, `ram::ACTIONS`,
//! `smc::ACTIONS`) — its name, permission, how its resource is named, its default rate limit
//! and its handler. Routing, the permission table, the lists of actions and the default rate
//! limits are all read from these rows.

use std::future::Future;
use std::pin::Pin;

use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{Map, Value};

use crate::envelope::Params;
use crate::errors::AliyunError;
use crate::permissions::{RequestResource, ResourceKind};
use crate::product::Product;

/// What a successful action answers: the fields beside `RequestId`.
pub type Answer = Map<String, Value>;

/// The future a handler returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Answer, AliyunError>> + Send + 'a>>;

/// What a handler is called with: the use cases, the request's context (with its caller and
/// authorization), its parameters, and what naming the resource resolved.
pub struct Call<'a> {
    pub authority: &'a Authority,
    pub context: &'a RequestContext,
    pub params: &'a Params,
    pub resource: RequestResource,
}

impl<'a> Call<'a> {
    /// The use cases, the request's context and its parameters: what most handlers read.
    pub fn parts(&self) -> (&'a Authority, &'a RequestContext, &'a Params) {
        (self.authority, self.context, self.params)
    }
}

/// Performs one action, authorized, on the resource naming resolved.
pub type Handler = for<'a> fn(Call<'a>) -> HandlerFuture<'a>;

/// One action of an RPC product.
pub type Row = keyplane_engine::ActionRow<ResourceKind, Handler>;

/// The [`Handler`] of an `async fn(Call<'_>) -> Result<Answer, AliyunError>`.
macro_rules! handler {
    ($function:path) => {{
        fn boxed(call: $crate::actions::Call<'_>) -> $crate::actions::HandlerFuture<'_> {
            Box::pin($function(call))
        }
        boxed as $crate::actions::Handler
    }};
}
pub(crate) use handler;

/// A product's action table, one line per action: `"Name" => ("service:Name", ResourceKind
/// member, handler)`, optionally followed by `, limit N` for a default rate limit of N per
/// second (no RPC action has one today).
macro_rules! action_table {
    ($product:literal {
        $($name:literal => ($permission:literal, $resource:ident, $handler:path $(, limit $limit:literal)?)),* $(,)?
    }) => {
        &[$(
            $crate::actions::Row {
                product: $product,
                name: $name,
                permission: $permission,
                resource: $crate::permissions::ResourceKind::$resource,
                rate_limit: $crate::actions::action_table!(@limit $($limit)?),
                handler: $crate::actions::handler!($handler),
            }
        ),*]
    };
    (@limit) => { None };
    (@limit $limit:literal) => { Some($limit) };
}
pub(crate) use action_table;

/// The action table of `product`.
pub fn table(product: Product) -> &'static [Row] {
    match product {
        Product::Ims => crate::ims::ACTIONS,
        Product::Smc => crate::smc::ACTIONS,
        Product::Ram => crate::ram::ACTIONS,
    }
}

/// The row of `product` named `name`.
pub fn find(product: Product, name: &str) -> Option<&'static Row> {
    keyplane_engine::actions::find(table(product), name)
}

/// The default rate limits every RPC action declares, as (`product:Action`, per second).
pub fn default_rate_limits() -> Vec<(String, u32)> {
    [Product::Ims, Product::Ram, Product::Smc]
        .into_iter()
        .flat_map(|product| keyplane_engine::actions::default_rate_limits(table(product)))
        .collect()
}

/// The dialect's error for a core error a handler's use case returned.
pub(crate) fn core(error: CoreError) -> AliyunError {
    AliyunError::from_core(&error)
}

/// The empty answer of an action once its use case succeeded; its error otherwise.
pub(crate) fn done<T>(result: Result<T, CoreError>) -> Result<Answer, AliyunError> {
    result.map_err(core)?;
    nothing()
}

/// An empty answer (the action has nothing to say beyond `RequestId`).
pub(crate) fn nothing() -> Result<Answer, AliyunError> {
    Ok(Map::new())
}

/// The fields of a JSON object (nothing for any other value).
pub(crate) fn fields(value: Value) -> Answer {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
