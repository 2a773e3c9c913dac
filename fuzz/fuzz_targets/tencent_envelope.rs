//! The Tencent envelope (`keyplane_tencent::envelope::parse`) over any request: TC3 or v1,
//! GET or POST, JSON, query or form parameters. It must never panic, and must not grow the heap
//! much more than the request's size (issue 11, item 1).

#![no_main]

use keyplane_fuzz::{assert_bounded, HttpInput};
use keyplane_request::{Headers, RequestView};
use keyplane_tencent::envelope::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let headers = input.header_pairs();
    let request = RequestView {
        method: &input.method,
        path: "/",
        raw_query: &input.raw_query,
        headers: Headers::new(&headers),
        body: &input.body,
    };
    let envelope = assert_bounded("tencent envelope", data.len(), || parse(&request));
    if let Ok(envelope) = envelope {
        assert!(!envelope.action.is_empty(), "an envelope without an action");
        assert!(
            !envelope.version.is_empty(),
            "an envelope without a version"
        );
        let _ = envelope.credentials.secret_id();
    }
});
