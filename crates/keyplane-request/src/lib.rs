//! The one view of a received HTTP request that every part of Keyplane reads: the dialects'
//! envelopes, the request engine's phases and the signature schemes of `keyplane-crypto`. It
//! borrows everything from the HTTP front (nothing is copied) and offers one case-insensitive
//! header lookup, so no reader writes its own.

/// The headers of a request, in wire order, with every name as received (any case).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a>(&'a [(&'a str, &'a str)]);

impl<'a> Headers<'a> {
    /// The headers `pairs`, as received.
    pub const fn new(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self(pairs)
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// The value of the first header named `name`, trimmed; `None` when absent or blank.
    pub fn non_empty(&self, name: &str) -> Option<&'a str> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    /// Every value of the headers named `name`, in wire order.
    pub fn all(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// How many headers are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.0
            .iter()
            .filter(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Every header, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().copied()
    }

    /// The pairs as received.
    pub const fn as_slice(&self) -> &'a [(&'a str, &'a str)] {
        self.0
    }

    /// Whether there are no headers at all.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One received HTTP request, as far as Keyplane reads it.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The HTTP method as received: `GET`, `POST`, ...
    pub method: &'a str,
    /// The path exactly as received, without the query, not percent-decoded.
    pub path: &'a str,
    /// The query exactly as received, without `?`; empty when there is none.
    pub raw_query: &'a str,
    /// Every header with a UTF-8 value, in wire order.
    pub headers: Headers<'a>,
    /// The raw body bytes.
    pub body: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case_and_keeps_wire_order() {
        let pairs = [
            ("Content-Type", "application/json"),
            ("x-acs-date", "first"),
            ("X-ACS-Date", "second"),
            ("Empty", "  "),
        ];
        let headers = Headers::new(&pairs);
        assert_eq!(headers.get("content-type"), Some("application/json"));
        assert_eq!(headers.get("X-Acs-Date"), Some("first"));
        assert_eq!(headers.count("x-acs-date"), 2);
        assert_eq!(
            headers.all("x-acs-date").collect::<Vec<_>>(),
            ["first", "second"]
        );
        assert_eq!(headers.non_empty("empty"), None);
        assert_eq!(headers.get("missing"), None);
        let view = RequestView {
            method: "GET",
            path: "/",
            raw_query: "",
            headers,
            body: b"",
        };
        assert_eq!(view.header("CONTENT-TYPE"), Some("application/json"));
    }
}
