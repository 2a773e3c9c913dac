//! Integration tests for `keyplane-crypto`: data-driven signature tests over the captured Tencent
//! request vectors (`vectors/*.json`), round trips of signing and sealing, generators, token
//! helpers, and malformed-input handling.

#[path = "crypto/generate.rs"]
mod generate;
#[path = "crypto/parse.rs"]
mod parse;
#[path = "crypto/roundtrip.rs"]
mod roundtrip;
#[path = "crypto/seal.rs"]
mod seal;
#[path = "crypto/token.rs"]
mod token;
#[path = "crypto/vectors.rs"]
mod vectors;
