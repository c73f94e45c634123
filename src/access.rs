//! Who may do what to a session (SPEC sections 4 and 5), as one pure function over the
//! session's row, so the rules are stated once and tested without a server. The
//! workspace around a conversation (section 10) has its own rule, which also counts the
//! specialists the session was assigned to before.

use crate::auth::Caller;
use crate::db::sessions::ChatSession;
use crate::domain::{ParticipantType, Role, SessionId, SessionStatus, SpecialistId};
use crate::error::{Error, Result};

/// Things a caller can ask of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    Typing,
    Read,
    Resume,
    History,
    End,
    Rate,
    Note,
    Transfer,
}

/// The capacity in which a caller acts on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Visitor,
    /// The specialist the session is (or, once ended, was last) assigned to.
    Specialist,
    /// An admin who is not the assigned specialist: may look, not talk.
    Admin,
    /// The bot that created the session.
    Bot,
}

impl Party {
    pub fn participant_type(self) -> ParticipantType {
        match self {
            Party::Visitor => ParticipantType::Visitor,
            Party::Specialist | Party::Admin => ParticipantType::Specialist,
            Party::Bot => ParticipantType::Bot,
        }
    }

    /// Whether notes are visible in this capacity.
    pub fn sees_notes(self) -> bool {
        matches!(self, Party::Specialist | Party::Admin)
    }
}

fn party(session: &ChatSession, caller: &Caller) -> Option<Party> {
    match caller.role {
        Role::Visitor => (session.visitor_id.0 == caller.id).then_some(Party::Visitor),
        Role::Bot => {
            (session.created_by_bot_id.map(|b| b.0) == Some(caller.id)).then_some(Party::Bot)
        }
        Role::Specialist | Role::Admin => {
            if session.specialist_id.map(|s| s.0) == Some(caller.id) {
                Some(Party::Specialist)
            } else if caller.role == Role::Admin {
                Some(Party::Admin)
            } else {
                None
            }
        }
    }
}

fn allowed(party: Party, action: Action) -> bool {
    use Action::*;
    match party {
        Party::Visitor => matches!(action, Send | Typing | Read | Resume | History | End | Rate),
        Party::Specialist => matches!(
            action,
            Send | Typing | Read | Resume | History | End | Note | Transfer
        ),
        Party::Admin => matches!(action, Resume | History | End),
        Party::Bot => matches!(action, Send | Resume | History | End),
    }
}

/// Checks that `caller` may do `action` to `session` in its current state.
pub fn authorize(session: &ChatSession, caller: &Caller, action: Action) -> Result<Party> {
    let party = party(session, caller)
        .ok_or_else(|| Error::forbidden("not a participant of this session"))?;
    if !allowed(party, action) {
        return Err(Error::forbidden(
            format!("{action:?} is not allowed here").to_lowercase(),
        ));
    }
    let open = matches!(
        session.status,
        SessionStatus::Waiting | SessionStatus::Active
    );
    match action {
        Action::Send | Action::Typing | Action::End if !open => {
            Err(Error::conflict("the session has ended"))
        }
        Action::Note | Action::Transfer if session.status != SessionStatus::Active => {
            Err(Error::conflict("the session is not active"))
        }
        Action::Send | Action::Typing
            if party == Party::Specialist && session.status != SessionStatus::Active =>
        {
            Err(Error::conflict("the session is not active"))
        }
        Action::Rate if session.status != SessionStatus::Ended => {
            Err(Error::conflict("only an ended session can be rated"))
        }
        Action::Rate if session.rating.is_some() => {
            Err(Error::conflict("this session is already rated"))
        }
        _ => Ok(party),
    }
}

/// Who may use the workspace around a conversation (SPEC section 10: tags, archive,
/// analytics, rendering canned responses into it): admins, and specialists the session
/// is or was assigned to (`took_part`); never visitors or bots.
pub fn authorize_workspace(caller: &Caller, took_part: bool) -> Result<()> {
    caller.require_staff()?;
    if caller.role == Role::Specialist && !took_part {
        return Err(Error::forbidden("not one of your conversations"));
    }
    Ok(())
}

/// [`authorize_workspace`] for `caller` on `session`, reading `session_specialists` only
/// when the caller is a specialist.
pub fn authorize_workspace_on(
    conn: &mut diesel::PgConnection,
    session: SessionId,
    caller: &Caller,
) -> Result<()> {
    let took_part = caller.role == Role::Specialist
        && crate::db::sessions::took_part(conn, session, SpecialistId(caller.id))?;
    authorize_workspace(caller, took_part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BotId, Priority, VisitorId};
    use crate::error::ErrorCode;

    fn session(status: SessionStatus) -> ChatSession {
        ChatSession {
            id: SessionId::new(),
            number: 1,
            visitor_id: VisitorId::new(),
            specialist_id: Some(SpecialistId::new()),
            created_by_bot_id: Some(BotId::new()),
            status,
            priority: Priority::Medium,
            intent: None,
            language: None,
            skills: vec![],
            page_url: None,
            user_agent: None,
            metadata: serde_json::json!({}),
            created_at: chrono::Utc::now(),
            queued_at: chrono::Utc::now(),
            assigned_at: None,
            first_response_at: None,
            ended_at: None,
            ended_by: None,
            ended_by_id: None,
            end_reason: None,
            last_seq: 0,
            rating: None,
            feedback: None,
            rated_at: None,
            archived_at: None,
        }
    }

    fn caller(id: uuid::Uuid, role: Role) -> Caller {
        Caller { id, role }
    }

    fn code(result: Result<Party>) -> ErrorCode {
        result.unwrap_err().code
    }

    #[test]
    fn strangers_are_forbidden_everything() {
        let s = session(SessionStatus::Active);
        for role in [Role::Visitor, Role::Specialist, Role::Bot] {
            let stranger = caller(uuid::Uuid::new_v4(), role);
            assert_eq!(
                code(authorize(&s, &stranger, Action::Resume)),
                ErrorCode::Forbidden,
                "{role:?}"
            );
        }
    }

    #[test]
    fn visitors_talk_and_rate_but_never_write_notes_or_transfer() {
        let s = session(SessionStatus::Active);
        let visitor = caller(s.visitor_id.0, Role::Visitor);
        assert_eq!(authorize(&s, &visitor, Action::Send), Ok(Party::Visitor));
        assert_eq!(
            code(authorize(&s, &visitor, Action::Note)),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(authorize(&s, &visitor, Action::Transfer)),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(authorize(&s, &visitor, Action::Rate)),
            ErrorCode::Conflict,
            "not ended yet"
        );
    }

    #[test]
    fn an_ended_session_takes_no_messages_and_one_rating() {
        let mut s = session(SessionStatus::Ended);
        let visitor = caller(s.visitor_id.0, Role::Visitor);
        assert_eq!(
            code(authorize(&s, &visitor, Action::Send)),
            ErrorCode::Conflict
        );
        assert_eq!(authorize(&s, &visitor, Action::Rate), Ok(Party::Visitor));
        assert_eq!(authorize(&s, &visitor, Action::History), Ok(Party::Visitor));
        s.rating = Some(4);
        assert_eq!(
            code(authorize(&s, &visitor, Action::Rate)),
            ErrorCode::Conflict
        );
    }

    #[test]
    fn only_the_assigned_specialist_talks_and_admins_only_look() {
        let s = session(SessionStatus::Active);
        let assigned = caller(s.specialist_id.unwrap().0, Role::Specialist);
        let admin = caller(uuid::Uuid::new_v4(), Role::Admin);
        assert_eq!(
            authorize(&s, &assigned, Action::Note),
            Ok(Party::Specialist)
        );
        assert_eq!(authorize(&s, &admin, Action::History), Ok(Party::Admin));
        assert_eq!(
            code(authorize(&s, &admin, Action::Send)),
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn the_creating_bot_may_talk_but_never_rate() {
        let s = session(SessionStatus::Waiting);
        let bot = caller(s.created_by_bot_id.unwrap().0, Role::Bot);
        assert_eq!(authorize(&s, &bot, Action::Send), Ok(Party::Bot));
        assert_eq!(
            code(authorize(&s, &bot, Action::Rate)),
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn the_workspace_is_for_admins_and_specialists_who_took_part() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(authorize_workspace(&caller(id, Role::Admin), false), Ok(()));
        assert_eq!(
            authorize_workspace(&caller(id, Role::Specialist), true),
            Ok(())
        );
        for (role, took_part) in [
            (Role::Specialist, false),
            (Role::Visitor, true),
            (Role::Bot, true),
        ] {
            assert_eq!(
                authorize_workspace(&caller(id, role), took_part)
                    .unwrap_err()
                    .code,
                ErrorCode::Forbidden,
                "{role:?}"
            );
        }
    }
}
