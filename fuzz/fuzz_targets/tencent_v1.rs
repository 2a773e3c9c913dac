//! Tencent v1 forms: the parameters of a v1 request (query of a GET, form body of a POST) read
//! by `keyplane_crypto::tencent::verify_v1` under a fixed secret and clock. It must never panic;
//! and signing the same parameters with `sign_v1` (with a fresh `Timestamp`) must give a request
//! that `verify_v1` accepts, whatever else they hold.

#![no_main]

use keyplane_crypto::tencent::{sign_v1, verify_v1, V1SignatureMethod};
use keyplane_fuzz::{decode_pairs, HttpInput, NOW_UNIX_SECONDS};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"FakeSecretKey000000000000000EXMP";

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let host = input.header("host").unwrap_or("");
    let pairs = if input.method == "GET" {
        decode_pairs(input.raw_query.as_bytes())
    } else {
        decode_pairs(&input.body)
    };
    let _ = verify_v1(
        &input.method,
        host,
        &input.path,
        &pairs,
        SECRET,
        NOW_UNIX_SECONDS,
    );

    // Round trip: the fuzzed business parameters, signed as a client would.
    let method = if input.body.len().is_multiple_of(2) {
        V1SignatureMethod::HmacSha1
    } else {
        V1SignatureMethod::HmacSha256
    };
    let mut signed: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "Signature" | "Timestamp" | "SignatureMethod"))
        .collect();
    signed.push(("Timestamp".to_owned(), NOW_UNIX_SECONDS.to_string()));
    signed.push(("SignatureMethod".to_owned(), method.as_str().to_owned()));
    let signature = sign_v1(&input.method, host, &input.path, &signed, SECRET, method);
    signed.push(("Signature".to_owned(), signature));
    if let Err(error) = verify_v1(
        &input.method,
        host,
        &input.path,
        &signed,
        SECRET,
        NOW_UNIX_SECONDS,
    ) {
        panic!("a v1 request signed by sign_v1 was refused: {error:?}");
    }
});
