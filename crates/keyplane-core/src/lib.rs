//! Keyplane's domain: the model (accounts, users, access keys, API keys, activation codes, the
//! EAS service registry and instance tokens), the rules that govern their lifecycle (quotas,
//! formats, who may act on what), command templates, per-account rate limits, audit events
//! (with unauthenticated refusals aggregated), the failed-authentication throttle,
//! and the two ports the outside world plugs into: [`store::Store`] (persistence) and
//! [`clock::Clock`] (time). Nothing in this crate performs I/O, reads the clock or the
//! environment, or knows a wire format: `now` is always a parameter.

pub mod audit;
pub mod authentication_throttle;
pub mod authority;
pub mod authorization;
pub mod clock;
pub mod error;
pub mod factory;
pub mod instance_access;
pub mod model;
pub mod policy_admission;
pub mod rate_limit;
pub mod refusal_audit;
pub mod rules;
pub mod store;
pub mod template;
pub mod usage;
pub mod validation;

pub use authority::{Authority, AuthorityConfig, Caller, KeyLookup, RequestContext};
pub use clock::Clock;
pub use error::CoreError;
pub use factory::CredentialFactory;
pub use store::{Store, StoreError};
pub use validation::{Field, Violation};
