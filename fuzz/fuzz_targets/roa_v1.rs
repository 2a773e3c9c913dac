//! ROA signature v1 and the EAS paths: the `acs AccessKeyId:Signature` header parser,
//! `verify_roa_v1` over any request under a fixed secret and clock, the token path
//! (`/api/v2/services/…/token`) and the `token` query parameter of the gateway URLs. Nothing may
//! panic; a parsed header written back must parse to the same value; the request re-signed by
//! `sign_roa_v1` with a well-formed `Date` must verify unless the verifier calls its string to
//! sign ambiguous.

#![no_main]

use keyplane_aliyun::eas::{parse_token_path, token_from_query};
use keyplane_crypto::aliyun::{
    parse_roa_v1_authorization, sign_roa_v1, verify_roa_v1, AliyunSignatureError,
    RoaV1Authorization,
};
use keyplane_fuzz::{borrowed_pairs, HttpInput, NOW_UNIX_SECONDS};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"FakeAccessKeySecret00000000001";

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let _ = parse_token_path(&input.path);
    let _ = token_from_query(&input.raw_query);
    let headers = input.header_pairs();
    let request = input.view(&headers);
    let Some(authorization) = input.authorization(
        parse_roa_v1_authorization,
        RoaV1Authorization::to_header_value,
    ) else {
        return;
    };
    let _ = verify_roa_v1(&request, &authorization, SECRET, NOW_UNIX_SECONDS);

    // Round trip: a well-formed Date and signature parameters, signed as a client would.
    let mut signed_headers = input.headers_except(&[
        "authorization",
        "date",
        "x-acs-signature-method",
        "x-acs-signature-version",
    ]);
    signed_headers.push((
        "Date".to_owned(),
        "Tue, 24 Nov 2026 02:42:34 GMT".to_owned(),
    ));
    let pairs = borrowed_pairs(&signed_headers);
    let signed_request = input.view(&pairs);
    let signature = sign_roa_v1(&signed_request, SECRET);
    let signed = format!("acs {}:{signature}", authorization.access_key_id);
    let Ok(signed_authorization) = parse_roa_v1_authorization(&signed) else {
        panic!("{signed:?} does not parse");
    };
    match verify_roa_v1(
        &signed_request,
        &signed_authorization,
        SECRET,
        NOW_UNIX_SECONDS,
    ) {
        Ok(()) | Err(AliyunSignatureError::Mismatch { .. }) => {}
        Err(error) => panic!("a request signed by sign_roa_v1 was refused: {error:?}"),
    }
});
