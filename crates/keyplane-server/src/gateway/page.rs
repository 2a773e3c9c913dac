//! The Workbench's browser side: the confirmation page a Workbench URL shows (a plain HTML
//! form, no script), the page (`/eas/workbench/terminal`), its assets (xterm.js and its fit
//! addon, vendored under `assets/` with their licences, and Keyplane's own script and style),
//! and the plain HTML pages that explain a refusal. Everything is compiled in; no
//! request leaves the page (the Content-Security-Policy allows only this origin, no inline
//! script, no framing). Inline styles are allowed because xterm.js writes its theme into a
//! `<style>` element it creates.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The policy of every page and asset the gateway serves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The confirmation page's policy: the same, but its form may post to this origin.
pub const CONFIRMATION_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'none'; \
     style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const WORKBENCH_HTML: &str = include_str!("../../assets/workbench.html");

/// One compiled-in file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The content types of the assets.
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const STYLESHEET: &str = "text/css; charset=utf-8";

#[rustfmt::skip]
const ASSETS: &[Asset] = &[
    Asset { name: "xterm.js", content_type: JAVASCRIPT, body: include_bytes!("../../assets/xterm/xterm.js") },
    Asset { name: "xterm.css", content_type: STYLESHEET, body: include_bytes!("../../assets/xterm/xterm.css") },
    Asset { name: "addon-fit.js", content_type: JAVASCRIPT, body: include_bytes!("../../assets/addon-fit/addon-fit.js") },
    Asset { name: "workbench.js", content_type: JAVASCRIPT, body: include_bytes!("../../assets/workbench.js") },
    Asset { name: "workbench.css", content_type: STYLESHEET, body: include_bytes!("../../assets/workbench.css") },
];

/// Headers every gateway page carries: the policy, no caching of session pages, no sniffing,
/// no referrer (the token URL must not leak through it).
fn with_page_headers(
    response: Response<Full<Bytes>>,
    content_type: &'static str,
    cacheable: bool,
) -> Response<Full<Bytes>> {
    with_policy(response, content_type, cacheable, CONTENT_SECURITY_POLICY)
}

fn with_policy(
    mut response: Response<Full<Bytes>>,
    content_type: &'static str,
    cacheable: bool,
    policy: &'static str,
) -> Response<Full<Bytes>> {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if cacheable {
            "public, max-age=3600"
        } else {
            "no-store"
        }),
    );
    response
}

/// The Workbench page.
pub fn workbench() -> Response<Full<Bytes>> {
    with_page_headers(
        Response::new(Full::new(Bytes::from_static(WORKBENCH_HTML.as_bytes()))),
        "text/html; charset=utf-8",
        false,
    )
}

/// A compiled-in asset by its name under `assets/`, if there is one.
pub fn asset(name: &str) -> Option<Response<Full<Bytes>>> {
    let asset = ASSETS.iter().find(|asset| asset.name == name)?;
    Some(with_page_headers(
        Response::new(Full::new(Bytes::from_static(asset.body))),
        asset.content_type,
        true,
    ))
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The message pages' style, inline: they are served at several depths of the path (and under
/// a public URL's prefix), where no one relative link to the stylesheet would work.
const MESSAGE_STYLE: &str = "body { background: #1e1e1e; color: #ddd; font-family: sans-serif; } \
     div { max-width: 40em; margin: 4em auto; line-height: 1.5; } h1 { font-size: 1.4em; }";

/// A page that explains why nothing was opened.
pub fn message(status: StatusCode, title: &str, explanation: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{title} · Keyplane Workbench</title>\n\
         <style>{MESSAGE_STYLE}</style>\n</head>\n<body>\n\
         <div class=\"message\">\n<h1>{title}</h1>\n<p>{explanation}</p>\n\
         <p>Ask for a new Workbench URL (<code>CreateServiceInstanceToken</code>) to open a terminal.</p>\n\
         </div>\n</body>\n</html>\n",
        title = escape_html(title),
        explanation = escape_html(explanation),
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    with_page_headers(response, "text/html; charset=utf-8", false)
}

/// What the confirmation page shows of the URL it opens.
pub struct Confirmation<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub instance: &'a str,
    pub worker: &'a str,
    pub principal_uin: u64,
    pub key_id: &'a str,
    pub expires_at: &'a str,
    /// The token, sent back with the form.
    pub token: &'a str,
    /// The page's anti-forgery value, also in the confirmation cookie.
    pub confirmation: &'a str,
}

/// The page a Workbench URL shows: what it opens, and a button that opens it (a form posted
/// to the same address).
pub fn confirmation(confirmation: &Confirmation<'_>) -> Response<Full<Bytes>> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>Open a terminal · Keyplane Workbench</title>\n\
         <style>{MESSAGE_STYLE} dt {{ color: #999; }} dd {{ margin: 0 0 0.6em 0; font-family: monospace; }} \
         button {{ font-size: 1.1em; padding: 0.4em 1.2em; }}</style>\n</head>\n<body>\n\
         <div class=\"message\">\n<h1>Open a terminal on this worker?</h1>\n\
         <p>This Workbench URL opens a shell on the worker below. Open it only if you asked for it: \
         whoever issued the URL chose the worker, and what you type there is theirs to see.</p>\n\
         <dl>\n<dt>Service</dt><dd id=\"service\">{cluster}/{service}</dd>\n\
         <dt>Instance</dt><dd id=\"instance\">{instance}</dd>\n\
         <dt>Worker</dt><dd id=\"worker\">{worker}</dd>\n\
         <dt>Issued to</dt><dd>principal {principal}, access key {key_id}</dd>\n\
         <dt>Valid until</dt><dd>{expires_at}</dd>\n</dl>\n\
         <form method=\"post\" action=\"workbench\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n\
         <input type=\"hidden\" name=\"confirmation\" value=\"{value}\">\n\
         <button type=\"submit\" id=\"open\">Open the terminal</button>\n</form>\n\
         </div>\n</body>\n</html>\n",
        cluster = escape_html(confirmation.cluster),
        service = escape_html(confirmation.service),
        instance = escape_html(confirmation.instance),
        worker = escape_html(confirmation.worker),
        principal = confirmation.principal_uin,
        key_id = escape_html(confirmation.key_id),
        expires_at = escape_html(confirmation.expires_at),
        token = escape_html(confirmation.token),
        value = escape_html(confirmation.confirmation),
    );
    let mut response = with_policy(
        Response::new(Full::new(Bytes::from(body))),
        "text/html; charset=utf-8",
        false,
        CONFIRMATION_CONTENT_SECURITY_POLICY,
    );
    // Under `no-referrer` a browser sends `Origin: null` with the form's POST; `same-origin`
    // lets it send the real origin to this server and still nothing to any other.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
