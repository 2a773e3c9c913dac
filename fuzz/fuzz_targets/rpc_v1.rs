//! RPC signature v1: `verify_rpc_v1` over the parameters of any request (query, then a form
//! body, as the envelope merges them) under a fixed secret and clock. It must never panic; and
//! the same parameters, signed by `sign_rpc_v1` with well-formed signature parameters, must
//! verify.

#![no_main]

use keyplane_crypto::aliyun::{
    rpc_v1_canonicalized_query, sign_rpc_v1, verify_rpc_v1, RPC_V1_SIGNATURE_METHOD,
    RPC_V1_SIGNATURE_VERSION,
};
use keyplane_fuzz::{decode_pairs, HttpInput, NOW_UNIX_SECONDS};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"FakeAccessKeySecret00000000001";

/// The parameters the round trip sets itself.
const SIGNATURE_PARAMETERS: &[&str] = &[
    "Signature",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
];

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let mut pairs = decode_pairs(input.raw_query.as_bytes());
    pairs.extend(decode_pairs(&input.body));
    let _ = rpc_v1_canonicalized_query(&pairs);
    let _ = verify_rpc_v1(&input.method, &pairs, SECRET, NOW_UNIX_SECONDS);

    let mut signed: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| !SIGNATURE_PARAMETERS.contains(&name.as_str()))
        .collect();
    for (name, value) in [
        ("AccessKeyId", "LTAI5tFakeAccessKeyId0001"),
        ("SignatureMethod", RPC_V1_SIGNATURE_METHOD),
        ("SignatureVersion", RPC_V1_SIGNATURE_VERSION),
        ("SignatureNonce", "3f1c0c1e-0000-4000-8000-000000000001"),
        ("Timestamp", "2026-11-24T02:42:34Z"),
    ] {
        signed.push((name.to_owned(), value.to_owned()));
    }
    let signature = sign_rpc_v1(&input.method, &signed, SECRET);
    signed.push(("Signature".to_owned(), signature));
    if let Err(error) = verify_rpc_v1(&input.method, &signed, SECRET, NOW_UNIX_SECONDS) {
        panic!("an RPC v1 request signed by sign_rpc_v1 was refused: {error:?}");
    }
});
