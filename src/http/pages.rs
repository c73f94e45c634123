//! The web pages of SPEC section 7: the demo site with the visitor widget (`/`,
//! `/widget.js`), the specialist console (`/console`) and the admin dashboard (`/admin`).
//!
//! The files under `static/` are compiled into the binary, so a deployed server is one
//! file and the pages always match the protocol the server speaks. Every response
//! carries a strict Content-Security-Policy: scripts and styles only from this origin, no
//! inline code, so even a rendering bug that let message text become markup could not
//! run it.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

/// One file served at one path.
struct Asset {
    route: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    // Served at its own path under `/assets/`.
    ($file:literal, $content_type:expr) => {
        asset!(concat!("/", $file), $file, $content_type)
    };
    ($route:expr, $file:literal, $content_type:expr) => {
        Asset {
            route: $route,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $file)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML),
    asset!("/console", "console.html", HTML),
    asset!("/admin", "admin.html", HTML),
    asset!("/admin/setup", "setup.html", HTML),
    asset!("/widget.js", "widget.js", JS),
    asset!("assets/admin/bots.js", JS),
    asset!("assets/admin/canned.js", JS),
    asset!("assets/admin/charts.js", JS),
    asset!("assets/admin/forms.js", JS),
    asset!("assets/admin/main.js", JS),
    asset!("assets/admin/setup.js", JS),
    asset!("assets/admin/specialists.js", JS),
    asset!("assets/admin/webhooks.js", JS),
    asset!("assets/app.css", CSS),
    asset!("assets/console/alerts.js", JS),
    asset!("assets/console/canned.js", JS),
    asset!("assets/console/conversation.js", JS),
    asset!("assets/console/history.js", JS),
    asset!("assets/console/main.js", JS),
    asset!("assets/console/offers.js", JS),
    asset!("assets/console/tools.js", JS),
    asset!("assets/lib/api.js", JS),
    asset!("assets/lib/dom.js", JS),
    asset!("assets/lib/login.js", JS),
    asset!("assets/lib/messages.js", JS),
    asset!("assets/lib/queue.js", JS),
    asset!("assets/lib/socket.js", JS),
    asset!("assets/site.css", CSS),
    asset!("assets/widget.css", CSS),
    asset!("assets/widget/main.js", JS),
    asset!("assets/widget/store.js", JS),
    asset!("assets/widget/view.js", JS),
];

/// `connect-src 'self'` covers `ws:`/`wss:` to this host too (CSP level 3).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

fn respond(asset: &'static Asset) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    if asset.content_type == HTML {
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ));
    } else {
        // The widget's scripts and styles are loaded by other sites that embed it.
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    }
    response.body(asset.body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        cfg.route(
            asset.route,
            web::get().to(move || async move { respond(asset) }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type_and_a_unique_route() {
        let mut routes: Vec<&str> = ASSETS.iter().map(|a| a.route).collect();
        routes.sort_unstable();
        routes.dedup();
        assert_eq!(routes.len(), ASSETS.len());
        for asset in ASSETS {
            assert!(
                [HTML, JS, CSS].contains(&asset.content_type),
                "{}",
                asset.route
            );
            assert!(!asset.body.is_empty(), "{}", asset.route);
        }
    }

    #[test]
    fn every_file_under_static_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).expect("static/ is readable") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).expect("static file is readable");
                let served = ASSETS.iter().any(|asset| asset.body == bytes.as_slice());
                assert!(served, "{} is not in ASSETS", path.display());
            }
        }
    }
}
