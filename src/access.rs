//! Who may do what (SPEC sections 4, 5 and 10), in one place, as pure functions over the
//! caller and the session's row, so every rule is stated once and tested without a
//! server: which requests a role may send at all ([`may_request`]), what a caller may do
//! to one session ([`authorize`]), and who may use the workspace around a conversation
//! ([`authorize_workspace`]), which also counts the specialists it was assigned to before.

use crate::auth::Caller;
use crate::db::sessions::ChatSession;
use crate::domain::{ParticipantType, Role, SessionId, SessionStatus, SpecialistId};
use crate::error::{Error, Result};
use crate::protocol::objects::Audience;
use crate::protocol::Request;

/// Things a caller can ask of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    /// A message to be sent later (`message.send` with `send_at`).
    Schedule,
    Typing,
    Read,
    Resume,
    History,
    End,
    Rate,
    Note,
    Transfer,
    /// `message.leave`: a message for when someone can answer.
    Leave,
    /// Taking a left message to answer it.
    Take,
}

/// The capacity in which a caller acts on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Visitor,
    /// The specialist the session is (or, once ended, was last) assigned to.
    Specialist,
    /// An admin who is not the assigned specialist, or a specialist it was assigned to
    /// before: may look, not talk.
    Admin,
    /// The bot that created the session.
    Bot,
    /// Any specialist, before taking a left message nobody took yet (SPEC section 14):
    /// may read it to decide, not talk.
    Onlooker,
}

impl Party {
    pub fn participant_type(self) -> ParticipantType {
        match self {
            Party::Visitor => ParticipantType::Visitor,
            Party::Specialist | Party::Admin | Party::Onlooker => ParticipantType::Specialist,
            Party::Bot => ParticipantType::Bot,
        }
    }

    /// How sessions are shown in this capacity.
    pub fn audience(self) -> Audience {
        match self {
            Party::Visitor => Audience::Visitor,
            Party::Specialist | Party::Admin | Party::Onlooker => Audience::Staff,
            Party::Bot => Audience::Bot,
        }
    }

    /// Whether notes are visible in this capacity.
    pub fn sees_notes(self) -> bool {
        matches!(self, Party::Specialist | Party::Admin | Party::Onlooker)
    }
}

/// Whether a connection of `role` may send `request` at all, before anything in it is
/// looked at: staff requests from visitors and visitor requests from staff are refused.
pub fn may_request(role: Role, request: &Request) -> Result<()> {
    may_send(role, request.name())?;
    // Scheduling is a `message.send` with `send_at`: the specialists' kind.
    let scheduling = matches!(
        request,
        Request::MessageSend {
            send_at: Some(_),
            ..
        }
    );
    if scheduling && !matches!(role, Role::Specialist | Role::Admin) {
        return Err(Error::forbidden("only specialists schedule messages"));
    }
    Ok(())
}

/// [`may_request`] by the frame's name alone: a frame whose body is broken is still
/// refused as not for the role, before it is found broken.
pub fn may_send(role: Role, name: &str) -> Result<()> {
    const STAFF_ONLY: [&str; 10] = [
        "status.set",
        "offer.accept",
        "offer.decline",
        "session.transfer",
        "session.pickup",
        "note.add",
        "message.unschedule",
        "queue.watch",
        "queue.unwatch",
        "session.tag",
    ];
    const VISITOR_ONLY: [&str; 3] = ["session.start", "session.rate", "message.leave"];
    let staff = matches!(role, Role::Specialist | Role::Admin);
    if (STAFF_ONLY.contains(&name) && !staff)
        || (VISITOR_ONLY.contains(&name) && role != Role::Visitor)
    {
        return Err(Error::forbidden(format!("{name} is not for your role")));
    }
    Ok(())
}

fn party(session: &ChatSession, caller: &Caller) -> Option<Party> {
    match *caller {
        Caller::Visitor(id) => (session.visitor_id == id).then_some(Party::Visitor),
        Caller::Bot(id) => (session.created_by_bot_id == Some(id)).then_some(Party::Bot),
        Caller::Specialist(id) | Caller::Admin(id) => {
            if session.specialist_id == Some(id) {
                Some(Party::Specialist)
            } else if caller.is_admin() {
                Some(Party::Admin)
            } else if session.status == SessionStatus::Offline && session.specialist_id.is_none() {
                Some(Party::Onlooker)
            } else {
                None
            }
        }
    }
}

fn allowed(party: Party, action: Action) -> bool {
    use Action::*;
    match party {
        Party::Visitor => matches!(
            action,
            Send | Typing | Read | Resume | History | End | Rate | Leave
        ),
        Party::Specialist => matches!(
            action,
            Send | Schedule | Typing | Read | Resume | History | End | Note | Transfer | Take
        ),
        Party::Admin => matches!(action, Resume | History | End | Take),
        Party::Bot => matches!(action, Send | Resume | History | End),
        Party::Onlooker => matches!(action, Resume | History | Take),
    }
}

/// Checks that `caller` may do `action` to `session` in its current state.
pub fn authorize(session: &ChatSession, caller: &Caller, action: Action) -> Result<Party> {
    let party = party(session, caller).ok_or_else(|| match action {
        // A pickup that lost the race to a colleague: what the queue showed is gone.
        Action::Take if caller.staff().is_some() => {
            Error::conflict("the session is no longer waiting")
        }
        _ => Error::forbidden("not a participant of this session"),
    })?;
    if action == Action::Schedule && party != Party::Specialist {
        return Err(Error::forbidden("only specialists schedule messages"));
    }
    if !allowed(party, action) {
        return Err(Error::forbidden(
            format!("{action:?} is not allowed here").to_lowercase(),
        ));
    }
    // A left message (`offline`) is answered like a chat, but not transferred or
    // scheduled into: its visitor is away, and a reply reaches them by e-mail.
    let answering = matches!(
        session.status,
        SessionStatus::Active | SessionStatus::Offline
    );
    match action {
        Action::Send | Action::Schedule | Action::Typing | Action::End
            if !session.status.is_open() =>
        {
            Err(Error::conflict("the session has ended"))
        }
        Action::Transfer | Action::Schedule if session.status != SessionStatus::Active => {
            Err(Error::conflict("the session is not active"))
        }
        Action::Note if !answering => Err(Error::conflict("the session is not active")),
        Action::Send | Action::Typing if party == Party::Specialist && !answering => {
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

/// Reading a session (`GET …`, `history`): its participants as [`authorize`] says, and
/// (SPEC section 10) a specialist it was assigned to before, read-only like an admin.
pub fn authorize_reading(session: &ChatSession, caller: &Caller, took_part: bool) -> Result<Party> {
    authorize(session, caller, Action::History).or_else(|denied| {
        authorize_workspace(caller, took_part).map_err(|_| denied)?;
        Ok(Party::Admin)
    })
}

/// Who may use the workspace around a conversation (SPEC section 10: tags, archive,
/// analytics, rendering canned responses into it): admins, and specialists the session
/// is or was assigned to (`took_part`); never visitors or bots.
pub fn authorize_workspace(caller: &Caller, took_part: bool) -> Result<()> {
    caller.require_staff()?;
    if !caller.is_admin() && !took_part {
        return Err(Error::forbidden("not one of your conversations"));
    }
    Ok(())
}

/// `message.unschedule`: only the specialist who scheduled the message, or an admin.
pub fn authorize_unschedule(caller: &Caller, author: SpecialistId) -> Result<()> {
    if caller.is_admin() || caller.staff() == Some(author) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only its author or an admin may unschedule a message",
        ))
    }
}

/// Whether `caller` is a specialist `session` is or was assigned to, read from
/// `session_specialists` only for specialists (admins never need it).
pub fn took_part(
    conn: &mut diesel::PgConnection,
    session: SessionId,
    caller: &Caller,
) -> Result<bool> {
    Ok(match caller {
        Caller::Specialist(id) => crate::db::sessions::took_part(conn, session, *id)?,
        _ => false,
    })
}

/// [`authorize_workspace`] for `caller` on `session`.
pub fn authorize_workspace_on(
    conn: &mut diesel::PgConnection,
    session: SessionId,
    caller: &Caller,
) -> Result<()> {
    authorize_workspace(caller, took_part(conn, session, caller)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BotId;
    use crate::error::ErrorCode;

    /// A session with a specialist and a bot, whatever its status.
    fn session(status: SessionStatus) -> ChatSession {
        let mut row = ChatSession::sample(status);
        row.specialist_id = Some(SpecialistId::new());
        row
    }

    fn caller(id: uuid::Uuid, role: Role) -> Caller {
        Caller::new(id, role)
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

    fn parse_frame(text: &str) -> crate::protocol::ParsedFrame {
        crate::protocol::parse(text)
    }

    fn request(text: &str) -> Request {
        crate::protocol::parse(text).request.expect("a valid frame")
    }

    const SESSION: &str = "0190b1a2-0000-7000-8000-000000000000";

    #[test]
    fn staff_requests_are_refused_to_visitors_before_anything_else() {
        let staff_only = [
            r#"{"type":"status.set","status":"online"}"#.to_owned(),
            r#"{"type":"queue.watch"}"#.to_owned(),
            format!(r#"{{"type":"note.add","session_id":"{SESSION}","body":"x"}}"#),
            format!(
                r#"{{"type":"message.send","session_id":"{SESSION}","client_msg_id":"a","body":"x","send_at":"2030-01-01T00:00:00Z"}}"#
            ),
        ];
        for text in &staff_only {
            let refused = may_request(Role::Visitor, &request(text)).unwrap_err();
            assert_eq!(refused.code, ErrorCode::Forbidden, "{text}");
            assert!(
                may_request(Role::Specialist, &request(text)).is_ok(),
                "{text}"
            );
            assert!(may_request(Role::Admin, &request(text)).is_ok(), "{text}");
        }
        let broken_note = parse_frame(r#"{"type":"note.add","body":7}"#);
        assert_eq!(
            may_send(Role::Visitor, broken_note.name.expect("a known name"))
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
        let plain_send = format!(
            r#"{{"type":"message.send","session_id":"{SESSION}","client_msg_id":"a","body":"x"}}"#
        );
        assert!(may_request(Role::Visitor, &request(&plain_send)).is_ok());
    }

    #[test]
    fn visitor_requests_are_refused_to_staff() {
        let start = request(r#"{"type":"session.start"}"#);
        let rate = request(&format!(
            r#"{{"type":"session.rate","session_id":"{SESSION}","rating":5}}"#
        ));
        for request in [start, rate] {
            assert!(may_request(Role::Visitor, &request).is_ok());
            let refused = may_request(Role::Specialist, &request).unwrap_err();
            assert_eq!(refused.code, ErrorCode::Forbidden);
        }
    }

    #[test]
    fn only_the_assigned_specialist_schedules_and_only_while_active() {
        let active = session(SessionStatus::Active);
        let assigned = Caller::Specialist(active.specialist_id.unwrap());
        assert_eq!(
            authorize(&active, &assigned, Action::Schedule),
            Ok(Party::Specialist)
        );
        let admin = caller(uuid::Uuid::new_v4(), Role::Admin);
        assert_eq!(
            code(authorize(&active, &admin, Action::Schedule)),
            ErrorCode::Forbidden
        );
        let visitor = Caller::Visitor(active.visitor_id);
        assert_eq!(
            code(authorize(&active, &visitor, Action::Schedule)),
            ErrorCode::Forbidden
        );
        let ended = session(SessionStatus::Ended);
        let assigned = Caller::Specialist(ended.specialist_id.unwrap());
        assert_eq!(
            code(authorize(&ended, &assigned, Action::Schedule)),
            ErrorCode::Conflict
        );
    }

    #[test]
    fn a_past_specialist_reads_like_an_admin_and_a_stranger_not_at_all() {
        let s = session(SessionStatus::Active);
        let past = Caller::Specialist(SpecialistId::new());
        assert_eq!(authorize_reading(&s, &past, true), Ok(Party::Admin));
        assert_eq!(
            code(authorize_reading(&s, &past, false)),
            ErrorCode::Forbidden
        );
        let visitor = Caller::Visitor(s.visitor_id);
        assert_eq!(authorize_reading(&s, &visitor, false), Ok(Party::Visitor));
        let other_bot = Caller::Bot(BotId::new());
        assert_eq!(
            code(authorize_reading(&s, &other_bot, true)),
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn only_its_author_or_an_admin_unschedules_a_message() {
        let author = SpecialistId::new();
        assert!(authorize_unschedule(&Caller::Specialist(author), author).is_ok());
        assert!(authorize_unschedule(&Caller::Admin(SpecialistId::new()), author).is_ok());
        let colleague = Caller::Specialist(SpecialistId::new());
        assert_eq!(
            authorize_unschedule(&colleague, author).unwrap_err().code,
            ErrorCode::Forbidden
        );
    }
}
