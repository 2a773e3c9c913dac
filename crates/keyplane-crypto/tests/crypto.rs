//! Integration tests for `keyplane-crypto`: data-driven signature tests over the captured Tencent
//! and Alibaba request vectors (`vectors/*.json`), round trips of signing and sealing, generators,
//! token helpers, and malformed-input handling.

#[path = "crypto/aliyun_parse.rs"]
mod aliyun_parse;
#[path = "crypto/aliyun_roundtrip.rs"]
mod aliyun_roundtrip;
#[path = "crypto/aliyun_vectors.rs"]
mod aliyun_vectors;
#[path = "crypto/generate.rs"]
mod generate;
#[path = "crypto/parse.rs"]
mod parse;
#[path = "crypto/roundtrip.rs"]
mod roundtrip;
#[path = "crypto/seal.rs"]
mod seal;
#[path = "crypto/support.rs"]
mod support;
#[path = "crypto/token.rs"]
mod token;
#[path = "crypto/vectors.rs"]
mod vectors;
