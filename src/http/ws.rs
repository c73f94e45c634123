//! `GET /ws?token=…`: authenticates before upgrading (a bad token gets 401 and no
//! WebSocket, a page that may not open it 403, see `origin`), prepares the `hello`, and
//! hands the socket to a `WsConnection` actor.

use actix::{Actor, AsyncContext};
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use chrono::{DateTime, Utc};

use super::origin;
use crate::actors::connection::{Identity, WsConnection, MAX_FRAME_BYTES};
use crate::actors::connections::{Admission, Peer};
use crate::auth::Caller;
use crate::db;
use crate::db::sessions::SessionView;
use crate::domain::{Role, VisitorId};
use crate::error::{Error, Result};
use crate::protocol::objects::{Audience, Session};
use crate::protocol::Frame;
use crate::routing::{SpecialistState, Status};
use crate::socket::Socket;
use crate::state::AppState;

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[get("/ws")]
async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse> {
    let token = query
        .token
        .as_deref()
        .ok_or_else(|| Error::unauthorized("missing token"))?;
    let (caller, token_expires) = Caller::authenticate_until(&state, token).await?;
    origin::check_upgrade(&req, caller.role(), &state.config.allowed_origins)?;
    let (peer, limit) = match caller {
        Caller::Bot(_) => return Err(Error::forbidden("bots use the HTTP API")),
        Caller::Visitor(id) => (Peer::visitor(id.0), state.config.limits.visitor_connections),
        other => (
            Peer::specialist(other.uuid()),
            state.config.limits.staff_connections,
        ),
    };
    let admission = state
        .connections
        .admit(peer, limit)
        .ok_or_else(|| Error::rate_limited("too many open connections for this account"))?;
    let (identity, hello) = prepare(&state, caller, &req, token_expires, admission).await?;
    let (response, session, stream) =
        actix_ws::handle(&req, body).map_err(|e| Error::bad_request(e.to_string()))?;
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let socket = Socket::of(&req);
    let state = state.get_ref().clone();
    WsConnection::create(move |ctx| {
        ctx.add_stream(stream);
        WsConnection::new(state, identity, session, socket, hello, ctx)
    });
    Ok(response)
}

/// Loads who the caller is and their open sessions, and builds the `hello`.
async fn prepare(
    state: &AppState,
    caller: Caller,
    req: &HttpRequest,
    token_expires: DateTime<Utc>,
    admission: Admission,
) -> Result<(Identity, Frame)> {
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let id = match caller {
        Caller::Visitor(id) => {
            let identity = Identity {
                caller,
                name: None,
                profile: None,
                user_agent,
                open_sessions: Vec::new(),
                token_expires,
                admission,
            };
            return prepare_visitor(state, id, identity).await;
        }
        Caller::Specialist(id) | Caller::Admin(id) => id,
        Caller::Bot(_) => return Err(Error::forbidden("bots use the HTTP API")),
    };
    let (specialist, sessions) = state
        .db
        .run(move |conn| {
            let specialist = db::specialists::find(conn, id)?
                .ok_or_else(|| Error::unauthorized("unknown specialist"))?;
            Ok((specialist, db::sessions::open_for_specialist(conn, id)?))
        })
        .await?;
    let status = match state.specialists.get(id) {
        Some(addr) => addr
            .send(crate::actors::messages::specialist::GetStatus)
            .await
            .unwrap_or(Status::Offline),
        None => Status::Offline,
    };
    let profile = SpecialistState::new(
        id,
        specialist.name.clone(),
        specialist.skills.clone(),
        specialist.languages.clone(),
        specialist.max_concurrent_chats.max(0) as usize,
    );
    let mut me = serde_json::to_value(crate::protocol::objects::Specialist::from(
        specialist.clone(),
    ));
    if let Ok(serde_json::Value::Object(fields)) = me.as_mut() {
        fields.insert(
            "status".into(),
            serde_json::to_value(status).unwrap_or_default(),
        );
    }
    let hello = hello(caller.role(), me, &sessions, Audience::Staff);
    // Start (or find) the specialist's actor now, so the connection can use it at once.
    state.specialists.get_or_start(profile.clone());
    let identity = Identity {
        caller,
        name: Some(specialist.name),
        profile: Some(profile),
        user_agent,
        open_sessions: Vec::new(),
        token_expires,
        admission,
    };
    Ok((identity, hello))
}

async fn prepare_visitor(
    state: &AppState,
    id: VisitorId,
    mut identity: Identity,
) -> Result<(Identity, Frame)> {
    let (visitor, sessions) = state
        .db
        .run(move |conn| {
            let visitor = db::visitors::find(conn, id)?
                .ok_or_else(|| Error::unauthorized("unknown visitor"))?;
            Ok((visitor, db::sessions::open_for_visitor(conn, id)?))
        })
        .await?;
    let hello = hello(
        identity.caller.role(),
        serde_json::to_value(crate::protocol::objects::Visitor::from(visitor.clone())),
        &sessions,
        Audience::Visitor,
    );
    identity.name = visitor.name;
    identity.open_sessions = sessions.iter().map(|v| v.row.id).collect();
    Ok((identity, hello))
}

fn hello(
    role: Role,
    me: serde_json::Result<serde_json::Value>,
    sessions: &[SessionView],
    audience: Audience,
) -> Frame {
    Frame::Hello {
        role,
        me: me.unwrap_or_default(),
        sessions: sessions
            .iter()
            .map(|view| Session::for_audience(view, audience))
            .collect(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(upgrade);
}
