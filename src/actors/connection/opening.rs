//! A visitor's ways into a conversation: `session.start`, which joins the queue during
//! business hours, and `message.leave`, a message for when someone can answer (SPEC
//! section 14).

use actix::prelude::*;
use chrono::Utc;

use super::WsConnection;
use crate::actors::reply::Reply;
use crate::actors::session::{Leaving, Opener};
use crate::auth::Caller;
use crate::conversation::{LeftMessage, Opening, OpeningInput, Origin, SessionCommand};
use crate::db::sessions::SessionView;
use crate::domain::{inputs, SessionId, VisitorId};
use crate::error::Error;
use crate::hours::{self, Openness};
use crate::protocol::client::{LeaveMessage, SessionStart};
use crate::protocol::objects::{Audience, Session};
use crate::protocol::Frame;
use crate::state::AppState;

impl WsConnection {
    pub(super) fn start_session(
        &mut self,
        params: SessionStart,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let Caller::Visitor(visitor) = self.identity.caller else {
            return reply.err(Error::forbidden("session.start is not for your role"));
        };
        let opening = Opening::parse_for_visitor(OpeningInput {
            priority: params.priority,
            intent: params.intent.as_deref(),
            language: params.language.as_deref(),
            skills: params.skills.as_deref(),
            metadata: params.metadata,
        });
        let page_url = inputs::optional_text("page_url", params.page_url.as_deref(), 2000);
        let (opening, page_url) = match (opening, page_url) {
            (Ok(opening), Ok(page_url)) => (opening, page_url),
            (Err(error), _) | (_, Err(error)) => return reply.err(error),
        };
        let origin = Origin::Visitor {
            page_url,
            user_agent: self.identity.user_agent.clone(),
        };
        let state = self.state.clone();
        ctx.spawn(
            async move {
                let closed = match state
                    .hours
                    .openness(&state.db, &opening.skills, Utc::now())
                    .await?
                {
                    Openness::Open => None,
                    Openness::Closed { next_open_at } => Some(hours::refusal(next_open_at)),
                };
                Opener::of(&state, visitor, origin)
                    .start(opening, closed)
                    .await
            }
            .into_actor(self)
            .map(move |result, this, _| match result {
                Ok(view) => {
                    let session = this.opened(&view);
                    reply.frame(|reference| Frame::SessionStarted { reference, session });
                    this.state.sessions.opened(view);
                }
                Err(error) => reply.err(error),
            }),
        );
    }

    /// `message.leave`: into the visitor's open session when they have one (a waiting one
    /// leaves the queue), else into a new `offline` session.
    pub(super) fn leave_message(
        &mut self,
        params: LeaveMessage,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let Caller::Visitor(visitor) = self.identity.caller else {
            return reply.err(Error::forbidden("message.leave is not for your role"));
        };
        let (session_id, left) = match LeftMessage::parse(params) {
            Ok(parsed) => parsed,
            Err(error) => return reply.err(error),
        };
        if let Some(session_id) = session_id {
            return self.leave_in(session_id, left, reply);
        }
        let origin = Origin::Visitor {
            page_url: None,
            user_agent: self.identity.user_agent.clone(),
        };
        let state = self.state.clone();
        let kept = left.clone();
        ctx.spawn(
            async move { Opener::of(&state, visitor, origin).leave(left).await }
                .into_actor(self)
                .map(move |result, this, _| match result {
                    Ok(Leaving::Created(view)) => {
                        let session = this.opened(&view);
                        reply.frame(|reference| Frame::SessionOffline { reference, session });
                        this.state.sessions.opened(view);
                    }
                    Ok(Leaving::Open(view)) => {
                        this.opened(&view);
                        this.leave_in(view.row.id, kept, reply);
                    }
                    Err(error) => reply.err(error),
                }),
        );
    }

    fn leave_in(&self, session_id: SessionId, left: LeftMessage, reply: Reply) {
        self.command(session_id, SessionCommand::Leave(left), reply);
    }

    /// Remembers the visitor's open session (for presence notices) and shows it to them.
    fn opened(&mut self, view: &SessionView) -> Session {
        if !self.identity.open_sessions.contains(&view.row.id) {
            self.identity.open_sessions.push(view.row.id);
        }
        Session::for_audience(view, Audience::Visitor)
    }
}

impl<'a> Opener<'a> {
    /// The visitor `visitor` opening a conversation on this node.
    fn of(state: &'a AppState, visitor: VisitorId, origin: Origin) -> Opener<'a> {
        Opener {
            persistence: &state.persistence,
            db: &state.db,
            webhooks: &state.webhooks,
            visitor,
            origin,
            owner: state.sessions.claim_as(),
        }
    }
}
