//! The authenticated caller of a request. Extracting a [`Caller`] verifies the bearer
//! token and then checks the database, so a revoked bot or a disabled specialist is
//! refused on its very next request, not when its token expires.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use uuid::Uuid;

use crate::db;
use crate::domain::{BotId, Role, SpecialistId, VisitorId};
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
}

impl Caller {
    /// Verifies `token` and that its holder still exists and is allowed in.
    pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller> {
        let claims = state.tokens.verify(token)?;
        let caller = Caller {
            id: claims.sub,
            role: claims.role,
        };
        let allowed = state
            .db
            .run(move |conn| {
                Ok(match caller.role {
                    Role::Visitor => db::visitors::find(conn, VisitorId(caller.id))?.is_some(),
                    Role::Bot => db::bots::find(conn, BotId(caller.id))?
                        .is_some_and(|bot| bot.revoked_at.is_none()),
                    Role::Specialist | Role::Admin => {
                        db::specialists::find(conn, SpecialistId(caller.id))?.is_some_and(|s| {
                            s.disabled_at.is_none()
                                && (s.role == Role::Admin || caller.role == Role::Specialist)
                        })
                    }
                })
            })
            .await?;
        if allowed {
            Ok(caller)
        } else {
            Err(Error::unauthorized("invalid or expired token"))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden("admins only"))
        }
    }

    /// Specialists and admins: the people who answer chats and manage the desk. The id
    /// is theirs as a specialist.
    pub fn require_staff(&self) -> Result<SpecialistId> {
        match self.role {
            Role::Specialist | Role::Admin => Ok(SpecialistId(self.id)),
            Role::Visitor | Role::Bot => Err(Error::forbidden("specialists and admins only")),
        }
    }

    pub fn require_bot_or_admin(&self) -> Result<()> {
        match self.role {
            Role::Bot | Role::Admin => Ok(()),
            _ => Err(Error::forbidden("bots and admins only")),
        }
    }
}

/// The token of an HTTP request: `Authorization: Bearer <jwt>`.
fn bearer_token(req: &HttpRequest) -> Result<String> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| Error::unauthorized("missing bearer token"))?;
    let value = header
        .to_str()
        .map_err(|_| Error::unauthorized("malformed authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| Error::unauthorized("expected a bearer token"))?;
    Ok(token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Caller>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| Error::internal("application state missing"))?;
            Caller::authenticate(&state, &token?).await
        })
    }
}
