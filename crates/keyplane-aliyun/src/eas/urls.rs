//! The public URLs of the instance tokens: Keyplane's configured base URL ([`PublicUrls`],
//! never the request's `Host`: pop-core sends it without the port), the absolute URL that
//! redeems a token for its purpose, and where a terminal gateway finds the token in it.

use keyplane_core::model::InstanceTokenPurpose;
use keyplane_crypto::aliyun::percent_encode_rfc3986;

use super::{redemption_path, TOKEN_PARAMETER};

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
