//! The action tables of the Tencent dialect: every action of every product declared once, as
//! a [`TencentAction`] row (name, permission, resource kind, default rate limit, handler), in
//! `cam::ACTIONS` and `apigateway::ACTIONS`. Routing, the permission the pipeline authorizes,
//! how the resource is named, the default rate limits and the dispatch to the handler are all
//! read from the row; the handler decodes the action's typed parameters (see `decode`).

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use keyplane_core::{Authority, RequestContext};
use serde_json::{Map, Value};

use crate::errors::ActionError;
use crate::params::Params;
use crate::permissions::{Resource, ResourceKind};
use crate::product::Product;
use crate::{apigateway, cam};

/// What a handler answers: the fields of the `Response` object.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Map<String, Value>, ActionError>> + Send + 'a>>;

/// What performs one action, over the request's parameters and its named resource.
pub type Handler =
    for<'a> fn(&'a Authority, &'a RequestContext, &'a Params, Resource) -> HandlerFuture<'a>;

/// One action of a product.
pub type TencentAction = keyplane_engine::ActionRow<ResourceKind, Handler>;

/// The action a request was routed to: its product and its row.
#[derive(Debug, Clone, Copy)]
pub struct Routed {
    pub product: Product,
    pub row: &'static TencentAction,
}

/// The action table of `product`.
pub fn table(product: Product) -> &'static [TencentAction] {
    match product {
        Product::Cam => cam::ACTIONS,
        Product::ApiGateway => apigateway::ACTIONS,
    }
}

/// The row of `product` named `name`.
pub fn find(product: Product, name: &str) -> Option<Routed> {
    keyplane_engine::actions::find(table(product), name).map(|row| Routed { product, row })
}

/// The default rate limits the products' tables declare, as (`product:Action`, per second),
/// as `keyplane_core::rate_limit::RateLimits::with_defaults` takes them.
pub fn default_rate_limits() -> impl Iterator<Item = (&'static str, u32)> {
    static DEFAULTS: LazyLock<Vec<(String, u32)>> = LazyLock::new(|| {
        [Product::Cam, Product::ApiGateway]
            .into_iter()
            .flat_map(|product| keyplane_engine::actions::default_rate_limits(table(product)))
            .collect()
    });
    DEFAULTS
        .iter()
        .map(|(name, per_second)| (name.as_str(), *per_second))
}

/// The handler of an action function `async fn(&Authority, &RequestContext, P, Resource)`
/// whose `P` is its typed parameters: decodes them, then runs it.
macro_rules! handler {
    ($action:path) => {{
        fn handle<'a>(
            authority: &'a keyplane_core::Authority,
            context: &'a keyplane_core::RequestContext,
            parameters: &'a $crate::params::Params,
            resource: $crate::permissions::Resource,
        ) -> $crate::actions::HandlerFuture<'a> {
            Box::pin(async move {
                let parameters = $crate::decode::decode(parameters)?;
                $action(authority, context, parameters, resource).await
            })
        }
        handle
    }};
}

pub(crate) use handler;

/// One row of an action table: `row!(product, "Name", "service:Name", kind, limit, function)`.
macro_rules! row {
    ($product:expr, $name:literal, $permission:literal, $resource:expr, $rate_limit:expr, $action:path) => {
        keyplane_engine::ActionRow {
            product: $product.name(),
            name: $name,
            permission: $permission,
            resource: $resource,
            rate_limit: $rate_limit,
            handler: $crate::actions::handler!($action),
        }
    };
}

pub(crate) use row;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_declare_the_published_default_rate_limits() {
        let mut limits: Vec<_> = default_rate_limits().collect();
        limits.sort_unstable();
        assert_eq!(
            limits,
            [
                ("apigateway:CreateApiKey", 20),
                ("cam:CreateAccessKey", 5),
                ("cam:DeleteAccessKey", 5),
                ("cam:ListAccessKeys", 20),
                ("cam:UpdateAccessKey", 5),
            ]
        );
    }

    #[test]
    fn every_row_is_found_by_its_name_and_names_its_product() {
        for product in [Product::Cam, Product::ApiGateway] {
            for row in table(product) {
                let routed = find(product, row.name).expect("a row is found by its name");
                assert_eq!(routed.row.name, row.name);
                assert_eq!(row.product, product.name());
            }
        }
    }
}
