//! The workspace around a conversation (SPEC section 10) that changes it: tags, and
//! archiving once it is over. For admins and the specialists it is or was assigned to.

use chrono::{DateTime, Utc};

use super::decision::{Answer, Change, Effect, Stored};
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::access;
use crate::auth::Caller;
use crate::db::sessions::SessionChanges;
use crate::domain::SessionStatus;
use crate::error::{Error, Result};
use crate::protocol::objects::Audience;
use crate::protocol::Frame;

impl Conversation {
    fn authorize_workspace(&self, caller: &Caller) -> Result<()> {
        let took_part = caller.staff().is_some_and(|s| self.took_part(s));
        access::authorize_workspace(caller, took_part)
    }

    /// Replaces the session's tags (already checked and sorted).
    pub fn tag(&self, caller: &Caller, tags: Vec<String>) -> Step {
        if let Err(error) = self.authorize_workspace(caller) {
            return Step::refuse(error);
        }
        let mut change = Change::new(self.id());
        change.tags = Some(tags.clone());
        Step::Commit(Decision {
            change,
            then: Then::Tagged(tags),
        })
    }

    pub(super) fn tagged(&mut self, tags: Vec<String>) -> Vec<Effect> {
        self.view.tags = tags.clone();
        vec![
            Effect::Deliver {
                frame: Frame::SessionTagged {
                    reference: None,
                    session_id: self.id(),
                    tags: tags.clone(),
                },
                to: self.staff(),
            },
            Effect::Answer(Answer::Tagged(tags)),
        ]
    }

    /// Archives (or unarchives) an ended or abandoned session.
    pub fn archive(&self, caller: &Caller, archived: bool, now: DateTime<Utc>) -> Step {
        if let Err(error) = self.authorize_workspace(caller) {
            return Step::refuse(error);
        }
        if !matches!(
            self.row().status,
            SessionStatus::Ended | SessionStatus::Abandoned
        ) {
            return Step::refuse(Error::conflict(
                "only an ended or abandoned session can be archived",
            ));
        }
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            archived_at: Some(archived.then_some(now)),
            ..Default::default()
        });
        Step::Commit(Decision {
            change,
            then: Then::Archived,
        })
    }

    pub(super) fn archived(&mut self, stored: Stored) -> Vec<Effect> {
        self.take_row(stored);
        vec![Effect::Answer(Answer::Archived(
            self.session_for(Audience::Staff),
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::domain::SpecialistId;

    #[test]
    fn tags_are_for_admins_and_specialists_who_took_part() {
        let mut conversation = active();
        let tags = vec!["billing".to_owned(), "vip".to_owned()];
        let visitor = visitor_of(&conversation);
        assert_refused(
            conversation.tag(&visitor, tags.clone()),
            ErrorCode::Forbidden,
        );
        let stranger = Caller::Specialist(SpecialistId::new());
        assert_refused(
            conversation.tag(&stranger, tags.clone()),
            ErrorCode::Forbidden,
        );
        let specialist = specialist_of(&conversation);
        let decision = commit_of(conversation.tag(&specialist, tags.clone()));
        let effects = conversation.committed(decision.then, Stored::default());
        assert!(matches!(effects[1], Effect::Answer(Answer::Tagged(ref t)) if *t == tags));
        assert_eq!(conversation.session_for(Audience::Staff).tags, Some(tags));
        let admin = Caller::Admin(SpecialistId::new());
        assert!(matches!(conversation.tag(&admin, vec![]), Step::Commit(_)));
    }

    #[test]
    fn only_a_closed_session_is_archived() {
        let conversation = active();
        let admin = Caller::Admin(SpecialistId::new());
        assert_refused(
            conversation.archive(&admin, true, now()),
            ErrorCode::Conflict,
        );
        let ended = with_status(SessionStatus::Abandoned);
        let decision = commit_of(ended.archive(&admin, true, now()));
        assert_eq!(decision.change.row.unwrap().archived_at, Some(Some(now())));
    }
}
