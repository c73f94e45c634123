//! Which page a browser request comes from (its `Origin` header), and what that page may
//! do (SPEC section 11): the visitor widget runs on the pages `SWITCHBOARD_ALLOWED_ORIGINS`
//! allows and on this server's own (the demo page); the console and the admin page run
//! only on this server's own pages.
//!
//! A browser names the page in `Origin` on every cross-origin `fetch` and every WebSocket
//! upgrade, and a script can neither leave it out nor change it. A request without it is
//! therefore not another site's script but a same-origin `fetch` or a program (a bot, a
//! load tool), judged by its token alone.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::client::ClientInfo;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::origins::{AllowedOrigins, Origin};

/// This server's origin as the browser addressed it: the scheme and host of the URL the
/// request was sent to, as a trusted reverse proxy reports them (`http::client`). Every
/// comparison with the server's own pages takes it from here.
pub fn own_origin(req: &HttpRequest) -> Option<Origin> {
    let client = ClientInfo::of(req).ok()?;
    Origin::parse(&client.public_origin())
}

/// Whether the page a request comes from may run the visitor widget.
pub fn widget_may_run(req: &HttpRequest, allowed: &AllowedOrigins) -> bool {
    match page(req) {
        None => true,
        Some(page) => allowed.allows(page) || is_own(req, page),
    }
}

/// A WebSocket upgrade from a page: a visitor's from a page that may run the widget, a
/// specialist's or an admin's from this server's own pages; `forbidden` otherwise, before
/// the upgrade.
pub fn check_upgrade(req: &HttpRequest, role: Role, allowed: &AllowedOrigins) -> Result<()> {
    let Some(page) = page(req) else {
        return Ok(());
    };
    match role {
        Role::Visitor if widget_may_run(req, allowed) => Ok(()),
        Role::Visitor => Err(Error::forbidden(format!(
            "the chat is not available on {page}"
        ))),
        _ if is_own(req, page) => Ok(()),
        _ => Err(Error::forbidden(
            "staff connect only from this server's own pages",
        )),
    }
}

/// The `Origin` header; a value that is not text is kept as one no origin matches.
fn page(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::ORIGIN)?;
    Some(value.to_str().unwrap_or_default())
}

fn is_own(req: &HttpRequest, page: &str) -> bool {
    Origin::parse(page).is_some_and(|page| own_origin(req) == Some(page))
}
