//! What the fuzz targets share: reading fuzz bytes as an HTTP request, and measuring how much
//! heap a parser takes for the bytes it was given.
//!
//! An HTTP input is written like the head of an HTTP/1.1 request, so that seeds can be made from
//! the captured requests of `vectors/` (`fuzz/seed.py`) and libFuzzer's mutations stay
//! meaningful:
//!
//! ```text
//! METHOD TARGET\n
//! Name: value\n
//! …
//! \n
//! body bytes
//! ```
//!
//! Every byte string is some request: a missing part is empty, the head is read as UTF-8 with
//! invalid sequences replaced, `TARGET` splits at its first `?` into path and raw query, a line
//! may end in CRLF, and a header value loses the whitespace around it (as HTTP delivers it).
//!
//! The heap is counted by a global allocator that wraps the system one; [`assert_bounded`]
//! fails when a parse grew the heap by more than [`AMPLIFICATION`] times the input plus
//! [`ALLOWANCE_BYTES`]. The factor is the bound issue 11 sets for the server (a 256 KiB body
//! may grow it by less than 16 MiB); the allowance covers what any request may cost whatever its
//! size (a thousand small JSON objects take about 700 KB). `KEYPLANE_FUZZ_AMPLIFICATION=off`
//! turns the check off, to fuzz a commit where that bound is known not to hold.

use keyplane_request::{Headers, RequestView};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many times its input a parse may grow the heap.
pub const AMPLIFICATION: usize = 64;
/// Heap growth allowed whatever the input's size.
pub const ALLOWANCE_BYTES: usize = 1024 * 1024;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes and their peak.
pub struct CountingAllocator;

fn grew(size: usize) {
    let live = LIVE_BYTES.fetch_add(size, Ordering::Relaxed) + size;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated around it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc(layout);
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc_zeroed(layout);
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(pointer, layout, new_size);
        if !moved.is_null() {
            // Counted as if the old and new blocks briefly lived together, as they may.
            grew(new_size);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `parse` and returns its result with the most the heap grew meanwhile, in bytes.
pub fn heap_growth<T>(parse: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE_BYTES.load(Ordering::Relaxed);
    PEAK_BYTES.store(start, Ordering::Relaxed);
    let result = parse();
    let peak = PEAK_BYTES.load(Ordering::Relaxed);
    (result, peak.saturating_sub(start))
}

fn amplification_checked() -> bool {
    static CHECKED: OnceLock<bool> = OnceLock::new();
    *CHECKED.get_or_init(|| {
        std::env::var("KEYPLANE_FUZZ_AMPLIFICATION").map_or(true, |value| value != "off")
    })
}

/// Runs `parse` over an input of `input_bytes` bytes and panics (a crash for libFuzzer) when it
/// grew the heap beyond the bound of the module documentation.
pub fn assert_bounded<T>(what: &str, input_bytes: usize, parse: impl FnOnce() -> T) -> T {
    let (result, growth) = heap_growth(parse);
    let limit = input_bytes
        .saturating_mul(AMPLIFICATION)
        .saturating_add(ALLOWANCE_BYTES);
    if amplification_checked() && growth > limit {
        panic!(
            "{what}: {input_bytes} input bytes grew the heap by {growth} bytes \
             (limit {limit}: {AMPLIFICATION} x input + {ALLOWANCE_BYTES})"
        );
    }
    result
}

/// A request read from fuzz bytes (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct HttpInput {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpInput {
    /// Reads fuzz bytes as a request; never fails.
    pub fn read(data: &[u8]) -> Self {
        let (head, body) = match find(data, b"\n\n") {
            Some(index) => (&data[..index], &data[index + 2..]),
            None => (data, &[][..]),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap_or("");
        let (method, target) = request_line.split_once(' ').unwrap_or((request_line, "/"));
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .map(|line| match line.split_once(':') {
                Some((name, value)) => (name.to_owned(), value.trim_ascii().to_owned()),
                None => (line.to_owned(), String::new()),
            })
            .collect();
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            raw_query: raw_query.to_owned(),
            headers,
            body: body.to_vec(),
        }
    }

    /// The headers as the dialects take them.
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        borrowed_pairs(&self.headers)
    }

    /// The request as every dialect and signature scheme reads it, over `headers` (this input's
    /// [`header_pairs`](Self::header_pairs), or others).
    pub fn view<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> RequestView<'a> {
        RequestView {
            method: &self.method,
            path: &self.path,
            raw_query: &self.raw_query,
            headers: Headers::new(headers),
            body: &self.body,
        }
    }

    /// The `Authorization` header parsed by `parse`, or `None` when there is none or it does
    /// not parse; when it parses, the value written back by `write` must parse to the same.
    pub fn authorization<T: PartialEq + Debug, E: Debug>(
        &self,
        parse: impl Fn(&str) -> Result<T, E>,
        write: impl Fn(&T) -> String,
    ) -> Option<T> {
        let value = self.header("authorization")?;
        let parsed = parse(value).ok()?;
        let written = write(&parsed);
        match parse(&written) {
            Ok(again) => assert_eq!(again, parsed, "{written:?} parsed differently"),
            Err(error) => panic!("{written:?}, written from {value:?}, does not parse: {error:?}"),
        }
        Some(parsed)
    }

    /// The headers except those named (in any case) in `skipped`.
    pub fn headers_except(&self, skipped: &[&str]) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(name, _)| !skipped.iter().any(|skip| name.eq_ignore_ascii_case(skip)))
            .cloned()
            .collect()
    }

    /// The first header of that name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Borrowed `(name, value)` pairs of owned ones.
pub fn borrowed_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Whether `name` is an HTTP field name (a `token`): the only names a server is handed.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `name=value` pairs decoded from a query string or form body, as the dialects decode them.
pub fn decode_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// A fixed "now" for the verifiers: 2026-11-24T02:42:34Z, the time of most captured vectors.
pub const NOW_UNIX_SECONDS: i64 = 1_795_488_154;
