//! The Alibaba RPC envelope: `keyplane_aliyun::envelope::{recognizes, parameters, parse,
//! answer_format}` over any request (ACS3 `Authorization` or RPC v1 parameters, query and form
//! body), and the list and paging getters on its parameters. Nothing may panic, nor grow the
//! heap much more than the request's size.

#![no_main]

use keyplane_aliyun::envelope::{answer_format, parameters, parse, recognizes};
use keyplane_fuzz::{assert_bounded, HttpInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = HttpInput::read(data);
    let headers = input.header_pairs();
    let request = input.view(&headers);
    let _ = assert_bounded("alibaba recognition", data.len(), || recognizes(&request));
    let Ok(params) = assert_bounded("alibaba parameters", data.len(), || parameters(&request))
    else {
        return;
    };
    let _ = answer_format(&request, &params);
    let _ = params.max_items(100, 1000);
    for name in ["AccessTokenId", "UserName", "Tag"] {
        let _ = assert_bounded("alibaba list parameter", data.len(), || params.list(name));
    }
    if let Ok(envelope) = assert_bounded("alibaba envelope", data.len(), || {
        parse(&request, params.clone())
    }) {
        assert!(!envelope.action.is_empty(), "an envelope without an action");
        assert!(
            !envelope.version.is_empty(),
            "an envelope without a version"
        );
        assert!(
            !envelope.access_key_id.is_empty(),
            "an envelope without an AccessKeyId"
        );
    }
});
