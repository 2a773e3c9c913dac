//! Policy documents in both syntaxes (`keyplane_policy::Policy::parse`, RAM or CAM by the
//! input's first byte). Nothing may panic; a parsed policy must survive its stored form
//! (`to_stored` → `from_stored` gives an equal policy), and its rendering in either syntax must
//! parse back to an equal policy whenever it fits that syntax's length limit. Evaluation of the
//! parsed policy against a fixed request must not panic either.

#![no_main]

use keyplane_policy::{evaluate, Policy, Request, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, document)) = data.split_first() else {
        return;
    };
    let Ok(document) = std::str::from_utf8(document) else {
        return;
    };
    let syntax = if selector.is_multiple_of(2) {
        Syntax::Ram
    } else {
        Syntax::Cam
    };
    let policy = match Policy::parse(document, syntax) {
        Ok(policy) => policy,
        Err(error) => {
            let _ = error.message();
            return;
        }
    };
    let stored = policy.to_stored();
    match Policy::from_stored(&stored) {
        Ok(reloaded) => assert_eq!(reloaded, policy, "the stored form {stored:?} changed it"),
        Err(error) => panic!("the stored form {stored:?} does not load: {error:?}"),
    }
    for target in [Syntax::Ram, Syntax::Cam] {
        let rendered = policy.render(target);
        if rendered.chars().count() > target.max_length() {
            continue;
        }
        match Policy::parse(&rendered, target) {
            Ok(again) => assert_eq!(again, policy, "rendered as {rendered:?} it changed"),
            Err(error) => panic!("the rendering {rendered:?} does not parse: {error:?}"),
        }
    }
    let request = Request {
        action: "ram:ListUsers",
        resource: "acs:ram::1234:user/alice",
        source_ip: "192.0.2.1".parse().ok(),
        now: time::OffsetDateTime::UNIX_EPOCH,
        account_id: "1234",
        uin: "100000000001",
        user_name: "alice",
        extra_keys: &[],
    };
    let _ = evaluate(&[&policy], &request);
});
