//! TC3: the `Authorization` header parser (`parse_tc3_authorization`) and the verifier
//! (`verify_tc3`) over any request, under a fixed secret and clock. Neither may panic; a parsed
//! header written back with `to_header_value` must parse to the same value; and a request that
//! `sign_tc3` signed must verify.

#![no_main]

use keyplane_crypto::tencent::{
    parse_tc3_authorization, sign_tc3, verify_tc3, Tc3Authorization, Tc3Request,
};
use keyplane_fuzz::{is_header_name, HttpInput, NOW_UNIX_SECONDS};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"FakeSecretKey000000000000000EXMP";

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let headers = input.header_pairs();
    let timestamp = input.header("x-tc-timestamp").unwrap_or("");
    let request = Tc3Request {
        request: input.view(&headers),
        timestamp,
    };
    let Some(authorization) =
        input.authorization(parse_tc3_authorization, Tc3Authorization::to_header_value)
    else {
        return;
    };
    let _ = verify_tc3(&request, &authorization, SECRET, NOW_UNIX_SECONDS);

    // Round trip: the same request, signed over the headers it names, with a fresh timestamp.
    let now = NOW_UNIX_SECONDS.to_string();
    let signed_request = Tc3Request {
        timestamp: &now,
        ..request
    };
    let names: Vec<&str> = authorization
        .signed_headers
        .iter()
        .map(String::as_str)
        .collect();
    // A client can only send (and sign) headers whose names are HTTP tokens.
    if !names.iter().all(|name| is_header_name(name)) {
        return;
    }
    let Ok(signed) = sign_tc3(
        &signed_request,
        &authorization.secret_id,
        SECRET,
        &authorization.credential_service,
        &names,
    ) else {
        return;
    };
    let Ok(signed_authorization) = parse_tc3_authorization(&signed) else {
        panic!("sign_tc3 wrote {signed:?}, which does not parse");
    };
    if let Err(error) = verify_tc3(
        &signed_request,
        &signed_authorization,
        SECRET,
        NOW_UNIX_SECONDS,
    ) {
        // The verifier insists on content-type and host being signed: only a request that
        // names both (and carries a body hash it accepts) is expected to pass.
        let required = ["content-type", "host"]
            .iter()
            .all(|name| names.iter().any(|signed| signed.eq_ignore_ascii_case(name)));
        let unsigned_payload = input.header("x-tc-content-sha256").is_some();
        if required && !unsigned_payload {
            panic!("a request signed by sign_tc3 was refused: {error:?} ({signed:?})");
        }
    }
});
