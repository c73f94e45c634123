//! The web pages of SPEC section 7: the demo site with the visitor widget (`/`,
//! `/widget.js`), the specialist console (`/console`) and the admin dashboard (`/admin`).
//!
//! The files under `static/` are compiled into the binary, so a deployed server is one
//! file and the pages always match the protocol the server speaks. Every response
//! carries a strict Content-Security-Policy: scripts and styles only from this origin, no
//! inline code, so even a rendering bug that let message text become markup could not
//! run it. The widget's own files are also loaded by the pages of other sites that embed
//! it ([`WIDGET_FILES`]).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use super::cors;

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
    asset!("assets/admin/hours.js", JS),
    asset!("assets/admin/mail.js", JS),
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
    asset!("assets/console/needs-reply.js", JS),
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
    asset!("assets/widget/availability.js", JS),
    asset!("assets/widget/leave.js", JS),
    asset!("assets/widget/main.js", JS),
    asset!("assets/widget/outbox.js", JS),
    asset!("assets/widget/status.js", JS),
    asset!("assets/widget/store.js", JS),
    asset!("assets/widget/transcript.js", JS),
    asset!("assets/widget/typing.js", JS),
    asset!("assets/widget/view.js", JS),
];

/// What a page of another site loads to run the widget: the loader, its modules (with
/// the `lib/` ones they import) and its styles. Other sites may read them (see `cors`);
/// the tests below check the list against the modules' imports.
const WIDGET_FILES: &[&str] = &[
    "/widget.js",
    "/assets/widget.css",
    "/assets/widget/availability.js",
    "/assets/widget/leave.js",
    "/assets/widget/main.js",
    "/assets/widget/outbox.js",
    "/assets/widget/status.js",
    "/assets/widget/store.js",
    "/assets/widget/transcript.js",
    "/assets/widget/typing.js",
    "/assets/widget/view.js",
    "/assets/lib/api.js",
    "/assets/lib/dom.js",
    "/assets/lib/login.js",
    "/assets/lib/messages.js",
    "/assets/lib/socket.js",
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
    }
    response.body(asset.body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        let serve = web::get().to(move || async move { respond(asset) });
        if WIDGET_FILES.contains(&asset.route) {
            cfg.service(
                web::resource(asset.route)
                    .wrap(cors::widget_files())
                    .route(serve),
            );
        } else {
            cfg.route(asset.route, serve);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The routes of the modules and stylesheets a file of the widget loads: relative
    /// imports (`from '../lib/dom.js'`) and paths on the server (`/assets/…`).
    fn loaded_by(route: &str, text: &str) -> Vec<String> {
        let directory = &route[..=route.rfind('/').expect("a route starts with /")];
        let imports = text
            .split("from '")
            .skip(1)
            .filter_map(|rest| rest.split('\'').next())
            .map(|import| resolve(directory, import));
        let paths = text
            .split("/assets/")
            .skip(1)
            .filter_map(|rest| rest.split(['\'', '"', '`']).next())
            .map(|path| format!("/assets/{path}"));
        imports.chain(paths).collect()
    }

    fn resolve(directory: &str, import: &str) -> String {
        let mut parts: Vec<&str> = directory.split('/').filter(|p| !p.is_empty()).collect();
        for part in import.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
        format!("/{}", parts.join("/"))
    }

    #[test]
    fn the_widget_files_are_the_loader_and_all_it_loads() {
        let mut reached = BTreeSet::from(["/widget.js".to_owned()]);
        let mut pending = vec!["/widget.js".to_owned()];
        while let Some(route) = pending.pop() {
            let asset = ASSETS
                .iter()
                .find(|asset| asset.route == route)
                .unwrap_or_else(|| panic!("the widget loads {route}, which is not served"));
            let text = std::str::from_utf8(asset.body).expect("a text file");
            for loaded in loaded_by(&route, text) {
                if reached.insert(loaded.clone()) {
                    pending.push(loaded);
                }
            }
        }
        let listed: BTreeSet<String> = WIDGET_FILES.iter().map(|r| r.to_string()).collect();
        assert_eq!(reached, listed);
    }

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
