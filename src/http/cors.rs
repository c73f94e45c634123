//! CORS for the visitor widget on other sites (SPEC section 11). A page of another
//! origin loads the widget's files and makes the widget's calls; its browser lets it
//! read an answer only when the answer carries `Access-Control-Allow-Origin` for it.
//!
//! - The widget's calls ([`WIDGET_CALLS`]) answer the pages `SWITCHBOARD_ALLOWED_ORIGINS`
//!   allows, preflights included.
//! - `GET /api/v1/embedding` answers every page: it is how the widget on a refused page
//!   learns that it is refused, to tell its visitor. So does `GET /api/v1/availability`,
//!   which tells no more than whether the chat is open.
//! - The widget's files answer every page with `*`: they are public code, and a page
//!   that may not use the chat still needs them for the widget to say so.
//! - Every other call (staff, admin, bots) carries no CORS header, so no other site's
//!   script can read it; matching method and path keeps the bot's `POST /sessions` out
//!   even though the widget may `GET /sessions`.
//!
//! Never with credentials: the widget sends its token as a bearer header, not a cookie.

use actix_cors::Cors;
use actix_web::dev::{RequestHead, ResourceDef};
use actix_web::http::{header, Method};

use crate::origins::AllowedOrigins;

/// Every call the widget (`static/assets/widget/` and the `lib/` modules it imports)
/// makes to the API.
static WIDGET_CALLS: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/visitors"),
    // Whether a saved token still works, when the socket keeps failing.
    (Method::GET, "/api/v1/sessions"),
    (Method::POST, "/api/v1/sessions/{id}/attachments"),
    (Method::GET, "/api/v1/attachments/{id}"),
    // The conversation's transcript by mail, asked at its end.
    (Method::POST, "/api/v1/sessions/{id}/transcript/email"),
];

/// The calls every page may read.
static OPEN_CALLS: &[(Method, &str)] = &[
    (Method::GET, "/api/v1/embedding"),
    // Whether anyone can answer now: public, and asked before anything else.
    (Method::GET, "/api/v1/availability"),
];

/// How long a browser may reuse a preflight's answer, so a changed setting reaches
/// every visitor within ten minutes.
const PREFLIGHT_CACHE_SECS: usize = 600;

/// For the `/api/v1` scope: the widget's calls for allowed pages, the embedding check
/// for every page, nothing for the rest.
pub fn widget_calls(allowed: &AllowedOrigins) -> Cors {
    let allowed = allowed.clone();
    let widget_calls = Calls::new(WIDGET_CALLS);
    let open_calls = Calls::new(OPEN_CALLS);
    Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let page_allowed = || origin.to_str().is_ok_and(|origin| allowed.allows(origin));
            open_calls.includes(head) || (widget_calls.includes(head) && page_allowed())
        })
        .allowed_methods([Method::GET, Method::POST])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(PREFLIGHT_CACHE_SECS)
}

/// For each of the widget's files: readable by every page.
pub fn widget_files() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([Method::GET])
}

/// A list of calls, with their paths as the router matches them.
struct Calls(Vec<(Method, ResourceDef)>);

impl Calls {
    fn new(calls: &[(Method, &str)]) -> Calls {
        Calls(
            calls
                .iter()
                .map(|(method, path)| (method.clone(), ResourceDef::new(*path)))
                .collect(),
        )
    }

    /// Whether a request, or the request a preflight asks about, is one of these calls.
    fn includes(&self, head: &RequestHead) -> bool {
        let Some(method) = intended_method(head) else {
            return false;
        };
        let path = head.uri.path();
        self.0
            .iter()
            .any(|(allowed, pattern)| *allowed == method && pattern.is_match(path))
    }
}

/// The method a request is for: a preflight names it in `Access-Control-Request-Method`.
fn intended_method(head: &RequestHead) -> Option<Method> {
    if head.method != Method::OPTIONS {
        return Some(head.method.clone());
    }
    let requested = head.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    requested.to_str().ok()?.parse().ok()
}
