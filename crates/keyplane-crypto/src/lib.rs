//! Cryptographic building blocks for Keyplane, written as pure functions over bytes.
//!
//! * [`aliyun`]: server-side verification (and client-side signing) of Alibaba Cloud OpenAPI
//!   requests: RPC signature v1 (HMAC-SHA1), `ACS3-HMAC-SHA256` and ROA signature v1.
//! * [`tencent`]: server-side verification (and client-side signing) of Tencent Cloud API 3.0
//!   requests, both `TC3-HMAC-SHA256` and the legacy v1 `HmacSHA1` / `HmacSHA256` scheme.
//! * [`generate`]: random identifiers, secrets and bearer tokens drawn from the OS CSPRNG.
//! * [`seal`]: AES-256-GCM sealing of secrets at rest under a versioned master key.
//! * [`token`]: hashing of bearer tokens and constant-time comparison.
//!
//! Nothing in this crate performs I/O (other than reading the OS random number generator) or
//! reads the clock: the current time is always a parameter.

pub mod aliyun;
pub mod generate;
mod mac;
pub mod seal;
mod shared;
pub mod tencent;
pub mod token;
