//! Reading a terminal client's text frames: terminal input, or a control message.
//!
//! A client text frame is terminal input as UTF-8, unless it starts with U+001E (ASCII record
//! separator), in which case the rest is a JSON control message —
//! `{"type":"resize","cols":120,"rows":40}` is the only one. A resize is clamped to
//! 1..=[`MAX_TERMINAL_CELLS`] each way; a malformed control message is ignored.
//!
//! This is the pure half of the terminal protocol, kept apart from the socket loop so that it
//! can be tested and fuzzed on its own (`fuzz/fuzz_targets/terminal_control.rs` compiles this
//! file by path): it may depend on nothing but `serde` and `serde_json`.

use serde::Deserialize;

/// The first character of a client text frame that carries a control message.
pub const CONTROL_MARKER: char = '\u{1e}';
/// The largest terminal a resize may ask for, each way.
pub const MAX_TERMINAL_CELLS: u16 = 1000;

/// What one client text frame asks for.
#[derive(Debug)]
pub enum ClientText<'a> {
    /// Text for the terminal, as sent.
    Input(&'a str),
    /// A new terminal size, clamped to 1..=[`MAX_TERMINAL_CELLS`] each way.
    Resize { columns: u16, rows: u16 },
    /// A control message that could not be read (to be ignored).
    Malformed(serde_json::Error),
}

/// A control message as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ControlMessage {
    Resize { cols: u16, rows: u16 },
}

/// Reads one client text frame.
pub fn parse_client_text(text: &str) -> ClientText<'_> {
    let Some(control) = text.strip_prefix(CONTROL_MARKER) else {
        return ClientText::Input(text);
    };
    match serde_json::from_str::<ControlMessage>(control) {
        Ok(ControlMessage::Resize { cols, rows }) => ClientText::Resize {
            columns: cols.clamp(1, MAX_TERMINAL_CELLS),
            rows: rows.clamp(1, MAX_TERMINAL_CELLS),
        },
        Err(error) => ClientText::Malformed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_input_and_a_marked_frame_is_a_clamped_resize() {
        assert!(matches!(
            parse_client_text("ls\r"),
            ClientText::Input("ls\r")
        ));
        assert!(matches!(
            parse_client_text("\u{1e}{\"type\":\"resize\",\"cols\":120,\"rows\":40}"),
            ClientText::Resize {
                columns: 120,
                rows: 40
            }
        ));
        assert!(matches!(
            parse_client_text("\u{1e}{\"type\":\"resize\",\"cols\":0,\"rows\":65535}"),
            ClientText::Resize {
                columns: 1,
                rows: MAX_TERMINAL_CELLS
            }
        ));
    }

    #[test]
    fn a_malformed_control_message_is_reported_not_sent_to_the_terminal() {
        for text in [
            "\u{1e}",
            "\u{1e}{\"type\":\"resize\",\"cols\":-1,\"rows\":1}",
            "\u{1e}{\"type\":\"paste\"}",
        ] {
            assert!(matches!(parse_client_text(text), ClientText::Malformed(_)));
        }
    }
}
