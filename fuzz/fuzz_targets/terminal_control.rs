//! The terminal's client text frames (`gateway::control::parse_client_text` of keyplane-server,
//! compiled here by path: that module depends only on serde and serde_json, which keeps the
//! server's whole dependency tree out of the fuzz build). Nothing may panic; input is the
//! frame as sent; a resize is within 1..=MAX_TERMINAL_CELLS each way.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/keyplane-server/src/gateway/control.rs"]
mod control;

use control::{parse_client_text, ClientText, CONTROL_MARKER, MAX_TERMINAL_CELLS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_text(text) {
        ClientText::Input(input) => {
            assert_eq!(input, text, "input changed on the way to the terminal");
            assert!(
                !text.starts_with(CONTROL_MARKER),
                "a control frame sent as input"
            );
        }
        ClientText::Resize { columns, rows } => {
            assert!(
                text.starts_with(CONTROL_MARKER),
                "a resize without the marker"
            );
            assert!(
                (1..=MAX_TERMINAL_CELLS).contains(&columns),
                "{columns} columns"
            );
            assert!((1..=MAX_TERMINAL_CELLS).contains(&rows), "{rows} rows");
        }
        ClientText::Malformed(_) => {
            assert!(text.starts_with(CONTROL_MARKER), "plain input refused");
        }
    }
});
