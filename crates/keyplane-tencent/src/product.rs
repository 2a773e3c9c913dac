//! The products the Tencent dialect serves. A product names the rate limits, the audit
//! records and the TC3 credential scope of its actions; a few core failures have
//! product-specific codes (see `errors`).

/// Which product a request addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Cam,
    ApiGateway,
}

impl Product {
    /// The product name used in rate-limit names, audit records and the TC3 scope.
    pub const fn name(self) -> &'static str {
        match self {
            Product::Cam => "cam",
            Product::ApiGateway => "apigateway",
        }
    }
}
