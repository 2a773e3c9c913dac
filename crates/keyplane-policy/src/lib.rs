//! Keyplane's policy language, pure: RAM-style (Alibaba) and CAM-style (Tencent) policy
//! documents parsed into one common form ([`Policy`]), checked, kept in a compact stored form,
//! rendered back in either syntax, and evaluated against a [`Request`]. Nothing here performs
//! I/O or reads the clock or the environment: the time and the source address come in the
//! request.
//!
//! ```
//! use keyplane_policy::{evaluate, Outcome, Policy, Request, Syntax};
//! let policy = Policy::parse(
//!     r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:List*","Resource":"*"}]}"#,
//!     Syntax::Ram,
//! )
//! .unwrap();
//! let request = Request {
//!     action: "ram:ListUsers",
//!     resource: "acs:ram::1234:user/*",
//!     source_ip: None,
//!     now: time::OffsetDateTime::UNIX_EPOCH,
//!     account_id: "1234",
//!     uin: "",
//!     user_name: "alice",
//!     extra_keys: &[],
//! };
//! assert_eq!(evaluate(&[&policy], &request).outcome, Outcome::Allow);
//! ```

pub mod condition;
pub mod document;
pub mod error;
pub mod evaluate;
pub mod pattern;
pub mod policy;
pub mod syntax;
pub mod system;

pub use condition::{Condition, ConditionKey, Operator};
pub use error::PolicyError;
pub use evaluate::{
    candidates_for_action, evaluate, evaluate_candidates, Decision, Outcome, Request, StatementRef,
};
pub use pattern::Pattern;
pub use policy::{Effect, Matcher, Policy, Statement, MAX_STATEMENTS};
pub use syntax::Syntax;
pub use system::{system_policies, system_policy, system_policy_by_cam_id, SystemPolicy};
