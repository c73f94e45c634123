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

/// Who is asking, with the id typed by what they are: a visitor id can never be taken
/// for a specialist's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Caller {
    Visitor(VisitorId),
    Specialist(SpecialistId),
    /// A specialist with the admin role.
    Admin(SpecialistId),
    Bot(BotId),
}

impl Caller {
    /// The caller a token names.
    pub fn new(id: Uuid, role: Role) -> Caller {
        match role {
            Role::Visitor => Caller::Visitor(VisitorId(id)),
            Role::Specialist => Caller::Specialist(SpecialistId(id)),
            Role::Admin => Caller::Admin(SpecialistId(id)),
            Role::Bot => Caller::Bot(BotId(id)),
        }
    }

    /// Verifies `token` and that its holder still exists and is allowed in.
    pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller> {
        Ok(Caller::authenticate_until(state, token).await?.0)
    }

    /// [`Caller::authenticate`], and when the token expires.
    pub async fn authenticate_until(
        state: &AppState,
        token: &str,
    ) -> Result<(Caller, chrono::DateTime<chrono::Utc>)> {
        let claims = state.tokens.verify(token)?;
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| Error::unauthorized("invalid or expired token"))?;
        let caller = Caller::new(claims.sub, claims.role);
        let allowed = state
            .db
            .run(move |conn| {
                Ok(match caller {
                    Caller::Visitor(id) => db::visitors::find(conn, id)?.is_some(),
                    Caller::Bot(id) => {
                        db::bots::find(conn, id)?.is_some_and(|bot| bot.revoked_at.is_none())
                    }
                    Caller::Specialist(id) | Caller::Admin(id) => db::specialists::find(conn, id)?
                        .is_some_and(|s| {
                            s.disabled_at.is_none()
                                && (s.role == Role::Admin || caller.role() == Role::Specialist)
                        }),
                })
            })
            .await?;
        if allowed {
            Ok((caller, expires))
        } else {
            Err(Error::unauthorized("invalid or expired token"))
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Caller::Visitor(_) => Role::Visitor,
            Caller::Specialist(_) => Role::Specialist,
            Caller::Admin(_) => Role::Admin,
            Caller::Bot(_) => Role::Bot,
        }
    }

    /// The id as it appears on the wire (a message's sender, a participant).
    pub fn uuid(&self) -> Uuid {
        match self {
            Caller::Visitor(id) => id.0,
            Caller::Specialist(id) | Caller::Admin(id) => id.0,
            Caller::Bot(id) => id.0,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::Admin(_))
    }

    /// The specialist id of specialists and admins.
    pub fn staff(&self) -> Option<SpecialistId> {
        match self {
            Caller::Specialist(id) | Caller::Admin(id) => Some(*id),
            Caller::Visitor(_) | Caller::Bot(_) => None,
        }
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
        self.staff()
            .ok_or_else(|| Error::forbidden("specialists and admins only"))
    }

    pub fn require_bot(&self) -> Result<BotId> {
        match self {
            Caller::Bot(id) => Ok(*id),
            _ => Err(Error::forbidden("only bots hand conversations over")),
        }
    }

    pub fn require_bot_or_admin(&self) -> Result<()> {
        match self {
            Caller::Bot(_) | Caller::Admin(_) => Ok(()),
            _ => Err(Error::forbidden("bots and admins only")),
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.role(), self.uuid())
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
