//! Authentication of a Tencent request: the claimed SecretId, then for TC3 the operator's
//! rules (no `UNSIGNED-PAYLOAD` unless allowed, `x-tc-action` signed when required, a
//! credential scope whose service is the product acted on) and the signature; for v1 the
//! signature, then replay protection through the store's shared nonce table, so a v1 request
//! is accepted once on every node.
//!
//! TC3 has no replay memory: it carries no nonce, and two identical legitimate requests within
//! one second have identical signatures (see docs/security/tencent-signatures.md).

use std::sync::Arc;

use keyplane_core::model::{KeyFamily, KeyUsage};
use keyplane_crypto::tencent::{
    tc3_payload_unsigned, tc3_signing_key, verify_tc3_with_signing_key, verify_v1,
    Tc3Authorization, Tc3Request, TENCENT_SIGNATURE_WINDOW_SECONDS,
};
use time::OffsetDateTime;

use crate::envelope::{Credentials, Envelope};
use crate::{credential_service, DerivedKey, Product, TencentDialect, TencentError, VERSIONS};
use keyplane_engine::Incoming;

/// How long a v1 signature is remembered: the signature window on both sides of the request
/// time, so a request cannot be replayed for as long as its timestamp is acceptable.
const V1_REPLAY_MEMORY: time::Duration =
    time::Duration::seconds(2 * TENCENT_SIGNATURE_WINDOW_SECONDS);

/// What the nonce table records for a v1 request, before its signature.
const V1_REPLAY_PREFIX: &str = "tencent-v1:";

impl TencentDialect {
    /// The TC3 signing key of `key_id` for the authorization's date and service.
    fn derived_key(
        &self,
        key_id: &str,
        secret: &[u8],
        authorization: &Tc3Authorization,
    ) -> Arc<DerivedKey> {
        if let Some(derived) = self.derived_keys.get(key_id) {
            if derived.credential_date == authorization.credential_date
                && derived.credential_service == authorization.credential_service
            {
                return derived;
            }
        }
        let derived = Arc::new(DerivedKey {
            credential_date: authorization.credential_date.clone(),
            credential_service: authorization.credential_service.clone(),
            key: tc3_signing_key(
                secret,
                &authorization.credential_date,
                &authorization.credential_service,
            ),
        });
        self.derived_keys.insert(key_id.to_owned(), derived.clone());
        derived
    }

    /// Checks the signature and returns the caller. Records the key's use on success.
    pub(crate) async fn verify_caller(
        &self,
        incoming: &Incoming<'_>,
        envelope: &Envelope,
        product: Product,
    ) -> Result<keyplane_core::Caller, TencentError> {
        let secret_id = envelope.credentials.secret_id();
        let well_formed = secret_id.len() >= 8
            && secret_id.len() <= 128
            && secret_id.starts_with("AKID")
            && secret_id.bytes().all(|byte| byte.is_ascii_alphanumeric());
        if !well_formed {
            return Err(TencentError::invalid_secret_id());
        }
        let signing_key = self
            .authority
            .signing_key(secret_id, KeyFamily::Tencent)
            .await
            .map_err(|error| TencentError::from_core(&error, product))?
            .ok_or_else(TencentError::secret_id_not_found)?;
        let secret = signing_key.secret.expose().as_bytes();
        let request = &incoming.request;
        let now = incoming.now.unix_timestamp();
        let host = request.header("host").unwrap_or("");
        match &envelope.credentials {
            Credentials::Tc3 {
                authorization,
                timestamp,
            } => {
                let tc3_request = Tc3Request {
                    request: *request,
                    timestamp,
                };
                self.check_tc3_rules(&tc3_request, authorization, product, host)?;
                let derived = self.derived_key(secret_id, secret, authorization);
                verify_tc3_with_signing_key(&tc3_request, authorization, &derived.key, now)
                    .map_err(|error| TencentError::from_signature(&error))?;
            }
            Credentials::V1 { all_parameters, .. } => verify_v1(
                request.method,
                host,
                request.path,
                all_parameters,
                secret,
                now,
            )
            .map_err(|error| TencentError::from_signature(&error))?,
        }
        if envelope.token.is_some() {
            return Err(TencentError::token_failure());
        }
        if let Credentials::V1 { all_parameters, .. } = &envelope.credentials {
            self.accept_v1_once(&signing_key.caller.key_id, all_parameters, incoming.now)
                .await?;
        }
        self.authority
            .record_use(&signing_key.caller.key_id, incoming.now, || KeyUsage {
                key_id: signing_key.caller.key_id.clone(),
                used_at: incoming.now,
                product: product.name().to_owned(),
                action: envelope.action.clone(),
                source_address: incoming.source_address.to_owned(),
            });
        Ok(signing_key.caller)
    }

    /// The operator's TC3 rules, checked before the signature is computed.
    fn check_tc3_rules(
        &self,
        request: &Tc3Request<'_>,
        authorization: &Tc3Authorization,
        product: Product,
        host: &str,
    ) -> Result<(), TencentError> {
        if !self.settings.allow_unsigned_payload && tc3_payload_unsigned(request) {
            return Err(TencentError::unsigned_payload_refused());
        }
        if self.settings.require_signed_action
            && !authorization
                .signed_headers
                .iter()
                .any(|name| name == "x-tc-action")
        {
            return Err(TencentError::action_not_signed());
        }
        let service = authorization.credential_service.as_str();
        let host = (!self.settings.strict_credential_scope).then_some(host);
        if !scope_service_fits(service, product, host) {
            return Err(TencentError::credential_scope_mismatch(
                &keyplane_core::audit::truncated(service, 64),
                credential_service(product),
            ));
        }
        Ok(())
    }

    /// Replay protection for v1: its signature (which covers the SecretId, Nonce, Timestamp
    /// and every parameter) is remembered for the window in the store's nonce table; a
    /// second use is refused on every node. Called only once the signature verified, so
    /// unauthenticated requests write nothing.
    async fn accept_v1_once(
        &self,
        key_id: &str,
        all_parameters: &[(String, String)],
        now: OffsetDateTime,
    ) -> Result<(), TencentError> {
        let parameter = |name: &str| {
            all_parameters
                .iter()
                .find(|(parameter, _)| parameter == name)
                .map(|(_, value)| value.as_str())
                .filter(|value| !value.is_empty())
        };
        if parameter("Nonce").is_none() {
            return Err(TencentError::missing_parameter("Nonce"));
        }
        let signature = parameter("Signature").unwrap_or_default();
        let fresh = self
            .authority
            .accept_nonce(
                key_id,
                &format!("{V1_REPLAY_PREFIX}{signature}"),
                V1_REPLAY_MEMORY,
                now,
            )
            .await
            .map_err(|error| TencentError::from_core(&error, Product::Cam))?;
        if !fresh {
            return Err(TencentError::request_replayed());
        }
        Ok(())
    }
}

/// Whether a TC3 credential scope's service may act on `product`: the product's own service
/// (`cam`, `apigateway`), or — for SDKs that derive the service from their endpoint, as the
/// Node SDK does (`endpoint.split(".")[0]`, `127` for `127.0.0.1:8080`) — the first label of
/// the signed `Host`, unless that label is itself another product's service. A scope naming
/// another served product is always refused, so a signature made for CAM cannot act on API
/// Gateway. Without a host (`--strict-credential-scope`) only the product's own service fits.
fn scope_service_fits(service: &str, product: Product, host: Option<&str>) -> bool {
    if service.is_empty() {
        return false;
    }
    if service == credential_service(product) {
        return true;
    }
    if VERSIONS
        .iter()
        .any(|entry| entry.credential_service == service)
    {
        return false;
    }
    let Some(host) = host else {
        return false;
    };
    let host = host.trim_ascii();
    let host = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            host.get(..scheme.len())
                .filter(|prefix| prefix.eq_ignore_ascii_case(scheme))
                .map(|_| &host[scheme.len()..])
        })
        .unwrap_or(host);
    host.split('.').next() == Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_service_names_the_product_or_the_host() {
        for (service, product, host, fits) in [
            ("cam", Product::Cam, "127.0.0.1:8080", true),
            ("apigateway", Product::ApiGateway, "127.0.0.1:8080", true),
            ("cam", Product::ApiGateway, "127.0.0.1:8080", false),
            ("apigateway", Product::Cam, "127.0.0.1:8080", false),
            ("127", Product::Cam, "127.0.0.1:8080", true),
            ("127", Product::Cam, "http://127.0.0.1:8080", true),
            (
                "keyplane",
                Product::ApiGateway,
                "keyplane.example.com",
                true,
            ),
            ("localhost:8080", Product::Cam, "localhost:8080", true),
            ("cvm", Product::Cam, "127.0.0.1:8080", false),
            ("cam", Product::ApiGateway, "cam.example.com", false),
            ("128", Product::Cam, "127.0.0.1:8080", false),
            ("", Product::Cam, "", false),
        ] {
            assert_eq!(
                scope_service_fits(service, product, Some(host)),
                fits,
                "{service} {product:?} {host}"
            );
            let strict = service == credential_service(product);
            assert_eq!(scope_service_fits(service, product, None), strict);
        }
    }
}
