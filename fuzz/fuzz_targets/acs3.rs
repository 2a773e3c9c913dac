//! ACS3-HMAC-SHA256: the `Authorization` header parser and `verify_acs3` over any request,
//! under a fixed secret and clock, with the canonical query and string to sign on the way.
//! Nothing may panic; a parsed header written back must parse to the same value; and the
//! request re-signed by `sign_acs3` over every header it carries must verify.

#![no_main]

use keyplane_crypto::aliyun::{
    acs3_canonical_query, acs3_hashed_payload, parse_acs3_authorization, sign_acs3, verify_acs3,
    Acs3Authorization,
};
use keyplane_fuzz::{borrowed_pairs, is_header_name, HttpInput, NOW_UNIX_SECONDS};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"FakeAccessKeySecret00000000001";

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let headers = input.header_pairs();
    let request = input.view(&headers);
    let _ = acs3_canonical_query(&input.raw_query);
    let Some(authorization) =
        input.authorization(parse_acs3_authorization, Acs3Authorization::to_header_value)
    else {
        return;
    };
    let _ = verify_acs3(&request, &authorization, SECRET, NOW_UNIX_SECONDS);

    // Round trip: a well-formed date and body hash, every header signed.
    let mut signed_headers =
        input.headers_except(&["authorization", "x-acs-date", "x-acs-content-sha256"]);
    signed_headers.push(("x-acs-date".to_owned(), "2026-11-24T02:42:34Z".to_owned()));
    signed_headers.push((
        "x-acs-content-sha256".to_owned(),
        acs3_hashed_payload(&input.body),
    ));
    if !signed_headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        signed_headers.push(("host".to_owned(), "ims.aliyuncs.com".to_owned()));
    }
    let names: Vec<String> = signed_headers
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    // A client can only send (and sign) headers whose names are HTTP tokens.
    if !names.iter().all(|name| is_header_name(name)) {
        return;
    }
    let pairs = borrowed_pairs(&signed_headers);
    let signed_request = input.view(&pairs);
    let signed = sign_acs3(
        &signed_request,
        &authorization.access_key_id,
        &names,
        SECRET,
    );
    let Ok(signed_authorization) = parse_acs3_authorization(&signed) else {
        panic!("sign_acs3 wrote {signed:?}, which does not parse");
    };
    if let Err(error) = verify_acs3(
        &signed_request,
        &signed_authorization,
        SECRET,
        NOW_UNIX_SECONDS,
    ) {
        panic!("a request signed by sign_acs3 was refused: {error:?} ({signed:?})");
    }
});
