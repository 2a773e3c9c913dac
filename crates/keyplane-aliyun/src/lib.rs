//! The Alibaba Cloud OpenAPI dialect: recognises a request, reads its RPC envelope (query and
//! form parameters, `x-acs-*` headers), authenticates it (ACS3-HMAC-SHA256 or RPC v1
//! HMAC-SHA1, the 15-minute window, and nonces refused on reuse through the store's shared
//! replay table, so on every node), routes it by (Version, Action) to one row of the IMS, RAM
//! or SMC action table, and answers in Alibaba's JSON or XML envelope with the right HTTP
//! status. The RPC phases are an implementation of [`keyplane_engine::Dialect`] (`rpc`), run
//! by the engine, which throttles, rate-limits, authorizes and audits. It also serves the ROA
//! operation of PAI-EAS, recognised by its path and signed ACS3 or ROA v1, and the redemption
//! of the instance tokens it issues (`eas`), and the SMC agent's registration endpoint
//! (`agent`). This crate owns the dialect's wire format and its closed code table (`errors`).

pub mod actions;
pub mod agent;
mod authentication;
pub mod eas;
pub mod envelope;
pub mod errors;
pub mod ims;
pub mod permissions;
pub mod product;
pub mod ram;
pub mod render;
mod rpc;
pub mod smc;
mod time_format;

use std::sync::Arc;

use keyplane_core::Authority;
pub use keyplane_engine::{Incoming, Outgoing};
use keyplane_request::{Headers, RequestView};
use time::OffsetDateTime;

pub use actions::default_rate_limits;
pub use errors::{AliyunCode, AliyunError};
pub use product::Product;
use render::Format;

/// The RPC API versions served, and the product each one is.
pub const VERSIONS: &[(&str, Product)] = &[
    ("2019-08-15", Product::Ims),
    ("2019-06-01", Product::Smc),
    ("2015-05-01", Product::Ram),
];

/// The product served at `version`.
pub fn product_at(version: &str) -> Option<Product> {
    VERSIONS
        .iter()
        .find(|(served, _)| *served == version)
        .map(|(_, product)| *product)
}

/// The names of every action of `product`, in its table's order.
pub fn actions(product: Product) -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<[Vec<&'static str>; 3]> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        [Product::Ims, Product::Smc, Product::Ram]
            .map(|product| actions::table(product).iter().map(|row| row.name).collect())
    });
    match product {
        Product::Ims => &names[0],
        Product::Smc => &names[1],
        Product::Ram => &names[2],
    }
}

/// One HTTP request, as the server hands it to the EAS and agent endpoints (the RPC path
/// takes a [`keyplane_engine::Incoming`]).
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    /// Every header with a UTF-8 value, in wire order.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub source_address: &'a str,
    pub now: OffsetDateTime,
}

impl<'a> IncomingRequest<'a> {
    /// The request view of it.
    pub fn raw(&self) -> RequestView<'a> {
        RequestView {
            method: self.method,
            path: self.path,
            raw_query: self.raw_query,
            headers: Headers::new(self.headers),
            body: self.body,
        }
    }

    /// The request as the engine takes it.
    pub fn incoming(&self) -> Incoming<'a> {
        Incoming {
            request: self.raw(),
            source_address: self.source_address,
            now: self.now,
        }
    }
}

/// The answer: status, content type and body.
pub type OutgoingResponse = Outgoing;

/// Whether a request belongs to this dialect (see [`envelope::recognizes`]).
pub fn recognizes(request: &RequestView<'_>) -> bool {
    envelope::recognizes(request)
}

/// The dialect, over the core use cases.
#[derive(Clone)]
pub struct AliyunDialect {
    authority: Arc<Authority>,
    /// Where the EAS instance-token URLs point.
    public_urls: eas::PublicUrls,
}

impl std::fmt::Debug for AliyunDialect {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AliyunDialect")
            .finish_non_exhaustive()
    }
}

impl AliyunDialect {
    /// The dialect over `authority`; EAS answers point at `public_urls`.
    pub fn new(authority: Arc<Authority>, public_urls: eas::PublicUrls) -> Self {
        Self {
            authority,
            public_urls,
        }
    }

    /// The answer to a request that failed before the dialect could read it (for example a
    /// body over the size limit), in JSON.
    pub fn error_response(&self, error: AliyunError) -> OutgoingResponse {
        render::unrouted_error(Format::Json, &error, new_request_id())
    }

    /// Serves one RPC request. Never fails: every outcome is an Alibaba-shaped answer.
    pub async fn handle(&self, incoming: Incoming<'_>) -> OutgoingResponse {
        keyplane_engine::serve(&rpc::Rpc::new(self), &incoming).await
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}
