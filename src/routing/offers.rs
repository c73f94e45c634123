//! The offer lifecycle (SPEC section 6): offers pending with specialists, how each one
//! ends, and the checks on taking a chat directly (pickup) or transferring one. Timers
//! are the dispatcher's; the rules are here.

use std::collections::HashMap;

use uuid::Uuid;

use super::roster::{SpecialistState, Status};
use crate::domain::{SessionEvent, SessionId, SpecialistId};
use crate::error::{Error, Result};

/// An offer waiting for its specialist's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub session: SessionId,
    pub specialist: SpecialistId,
}

/// Why a pending offer ended without an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// Nobody answered in time.
    Expired,
    /// The specialist said no.
    Declined,
    /// Someone else picked the session up.
    Taken,
    /// The session ended.
    Ended,
    /// The visitor left the queue.
    Abandoned,
    /// The specialist went away.
    StatusChanged,
    /// The specialist's console has been gone past the grace period.
    Offline,
}

impl Withdrawal {
    /// The `reason` of the `offer.revoked` frame; a specialist who declined needs none.
    pub fn revocation(self) -> Option<&'static str> {
        match self {
            Withdrawal::Expired => Some("expired"),
            Withdrawal::Declined => None,
            Withdrawal::Taken => Some("taken"),
            Withdrawal::Ended => Some("ended"),
            Withdrawal::Abandoned => Some("abandoned"),
            Withdrawal::StatusChanged => Some("status"),
            Withdrawal::Offline => Some("offline"),
        }
    }

    /// The audit entry, for the withdrawals that say something about the specialist.
    pub fn event(self) -> Option<SessionEvent> {
        match self {
            Withdrawal::Expired => Some(SessionEvent::OfferExpired),
            Withdrawal::Declined => Some(SessionEvent::OfferDeclined),
            _ => None,
        }
    }

    /// Whether the session is never offered to that specialist again.
    pub fn keeps_away(self) -> bool {
        matches!(self, Withdrawal::Expired | Withdrawal::Declined)
    }
}

/// The pending offers by id.
#[derive(Debug, Default)]
pub struct Offers {
    pending: HashMap<Uuid, Offer>,
}

impl Offers {
    /// Records a new offer; returns its id.
    pub fn open(&mut self, session: SessionId, specialist: SpecialistId) -> Uuid {
        let id = Uuid::new_v4();
        self.pending.insert(
            id,
            Offer {
                session,
                specialist,
            },
        );
        id
    }

    /// The offer `specialist` answers, if it is still theirs to answer.
    pub fn answerable(&self, id: Uuid, specialist: SpecialistId) -> Result<Offer> {
        self.pending
            .get(&id)
            .filter(|offer| offer.specialist == specialist)
            .copied()
            .ok_or_else(|| Error::conflict("this offer is no longer available"))
    }

    pub fn remove(&mut self, id: Uuid) -> Option<Offer> {
        self.pending.remove(&id)
    }

    pub fn of_session(&self, session: SessionId) -> Vec<Uuid> {
        self.ids(|offer| offer.session == session)
    }

    pub fn of_specialist(&self, specialist: SpecialistId) -> Vec<Uuid> {
        self.ids(|offer| offer.specialist == specialist)
    }

    /// Whether `specialist` holds an offer for `session`.
    pub fn held(&self, session: SessionId, specialist: SpecialistId) -> bool {
        self.pending
            .values()
            .any(|offer| offer.session == session && offer.specialist == specialist)
    }

    fn ids(&self, matching: impl Fn(&Offer) -> bool) -> Vec<Uuid> {
        self.pending
            .iter()
            .filter(|(_, offer)| matching(offer))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Whether `specialist` may pick a waiting session up themselves: they must be online or
/// away, and have a free slot (an offer they hold for it already counts as one).
pub fn check_pickup(specialist: Option<&SpecialistState>, holds_offer: bool) -> Result<()> {
    let Some(specialist) = specialist else {
        return Err(Error::conflict("go online or away before picking up chats"));
    };
    let slots_needed = usize::from(!holds_offer);
    let used = specialist.open.len() + specialist.pending_offers;
    if used + slots_needed > specialist.max_concurrent_chats {
        return Err(Error::conflict("you are at your chat limit"));
    }
    Ok(())
}

/// Whether a session may be transferred to `target` now: online with a free slot.
pub fn check_transfer_target(target: Option<&SpecialistState>) -> Result<()> {
    match target {
        Some(s) if s.status == Status::Online && s.has_free_slot() => Ok(()),
        Some(s) if s.status == Status::Online => {
            Err(Error::conflict("that specialist has no free chat slot"))
        }
        _ => Err(Error::conflict("that specialist is not online")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn specialist(status: Status, max: usize, open: usize) -> SpecialistState {
        let mut state = SpecialistState::new(SpecialistId::new(), "S".into(), vec![], vec![], max);
        state.status = status;
        state.open = (0..open).map(|_| SessionId::new()).collect();
        state
    }

    #[test]
    fn only_the_offered_specialist_answers_a_pending_offer() {
        let mut offers = Offers::default();
        let (session, sam, kim) = (SessionId::new(), SpecialistId::new(), SpecialistId::new());
        let id = offers.open(session, sam);
        assert_eq!(offers.answerable(id, sam).unwrap().session, session);
        assert_eq!(
            offers.answerable(id, kim).unwrap_err().code,
            ErrorCode::Conflict
        );
        assert!(offers.held(session, sam));
        assert_eq!(offers.of_session(session), vec![id]);
        assert!(offers.of_specialist(kim).is_empty());
        offers.remove(id);
        assert_eq!(
            offers.answerable(id, sam).unwrap_err().code,
            ErrorCode::Conflict
        );
    }

    #[test]
    fn declined_and_expired_offers_keep_the_specialist_away_and_are_recorded() {
        for withdrawal in [Withdrawal::Expired, Withdrawal::Declined] {
            assert!(withdrawal.keeps_away());
            assert!(withdrawal.event().is_some());
        }
        for withdrawal in [Withdrawal::Taken, Withdrawal::Ended, Withdrawal::Offline] {
            assert!(!withdrawal.keeps_away());
            assert!(withdrawal.event().is_none());
            assert!(withdrawal.revocation().is_some());
        }
        assert_eq!(Withdrawal::Declined.revocation(), None, "they know already");
        assert_eq!(Withdrawal::StatusChanged.revocation(), Some("status"));
    }

    #[test]
    fn a_pickup_needs_a_status_and_a_free_slot_unless_offered() {
        assert_eq!(
            check_pickup(None, false).unwrap_err().code,
            ErrorCode::Conflict
        );
        let full = specialist(Status::Away, 1, 1);
        assert_eq!(
            check_pickup(Some(&full), false).unwrap_err().code,
            ErrorCode::Conflict
        );
        let mut offered = specialist(Status::Online, 1, 0);
        offered.pending_offers = 1;
        assert!(check_pickup(Some(&offered), true).is_ok());
        assert!(check_pickup(Some(&offered), false).is_err());
    }

    #[test]
    fn a_transfer_target_must_be_online_with_a_free_slot() {
        assert!(check_transfer_target(Some(&specialist(Status::Online, 2, 1))).is_ok());
        for target in [
            specialist(Status::Online, 1, 1),
            specialist(Status::Away, 2, 0),
        ] {
            assert!(check_transfer_target(Some(&target)).is_err());
        }
        assert!(check_transfer_target(None).is_err());
    }
}
