//! The routing rules of SPEC section 6 as plain data and functions, with no actors and
//! no I/O, so every rule is unit-tested directly: the queue's order, the roster of
//! specialists and their load, who fits and who is chosen, the offer lifecycle, and the
//! wait estimate. The dispatcher actor holds these and applies what they decide.

mod estimate;
mod offers;
mod queue;
mod roster;

pub use estimate::WaitEstimator;
pub use offers::{check_pickup, check_transfer_target, Offer, Offers, Withdrawal};
pub use queue::{Queue, Waiting};
pub use roster::{Roster, SpecialistState, Status};

use crate::domain::{SessionId, SpecialistId};

/// Whether `specialist` has every skill and the language `session` needs, whatever
/// their status and load.
pub fn qualified(session: &Waiting, specialist: &SpecialistState) -> bool {
    session
        .skills
        .iter()
        .all(|skill| specialist.skills.contains(skill))
        && session
            .language
            .as_ref()
            .is_none_or(|language| specialist.languages.contains(language))
}

/// Whether `specialist` may be offered `session` now (SPEC section 6, "fits").
pub fn fits(session: &Waiting, specialist: &SpecialistState) -> bool {
    specialist.status == Status::Online
        && specialist.has_free_slot()
        && session.target.is_none_or(|target| target == specialist.id)
        && qualified(session, specialist)
        && !session.declined.contains(&specialist.id)
}

/// Total and free chat slots of the online specialists qualified for `session`: what
/// its wait estimate is based on.
pub fn fitting_capacity(roster: &Roster, session: &Waiting) -> (usize, usize) {
    roster
        .iter()
        .filter(|s| s.status == Status::Online && qualified(session, s))
        .fold((0, 0), |(capacity, free), s| {
            let used = s.open.len() + s.pending_offers;
            (
                capacity + s.max_concurrent_chats,
                free + s.max_concurrent_chats.saturating_sub(used),
            )
        })
}

/// Among the specialists who fit, the one with the fewest open chats, then the one who
/// has waited longest since their last assignment.
pub fn choose<'a>(
    session: &Waiting,
    roster: impl Iterator<Item = &'a SpecialistState>,
) -> Option<SpecialistId> {
    roster
        .filter(|specialist| fits(session, specialist))
        .min_by_key(|specialist| {
            (
                specialist.open.len(),
                specialist.last_assigned,
                specialist.id,
            )
        })
        .map(|specialist| specialist.id)
}

/// The pairs to offer now: each waiting session without a pending offer, in queue order,
/// gets the best fitting specialist, counting the offers made earlier in the same pass.
pub fn plan_offers(queue: &Queue, roster: &mut Roster) -> Vec<(SessionId, SpecialistId)> {
    let mut offers = Vec::new();
    for session in queue.in_order() {
        if !roster.anyone_has_capacity() {
            break;
        }
        if session.offered_to.is_some() {
            continue;
        }
        if let Some(specialist) = choose(session, roster.iter()) {
            roster.reserve(specialist);
            offers.push((session.id, specialist));
        }
    }
    offers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Priority, VisitorId};
    use chrono::{Duration, Utc};

    fn specialist(skills: &[&str], languages: &[&str], max: usize) -> SpecialistState {
        let mut state = SpecialistState::new(
            SpecialistId::new(),
            "S".into(),
            skills.iter().map(|s| s.to_string()).collect(),
            languages.iter().map(|s| s.to_string()).collect(),
            max,
        );
        state.status = Status::Online;
        state
    }

    fn waiting(priority: Priority, minutes_ago: i64) -> Waiting {
        Waiting::new(
            SessionId::new(),
            VisitorId::new(),
            priority,
            Utc::now() - Duration::minutes(minutes_ago),
        )
    }

    #[test]
    fn a_specialist_fits_only_with_every_skill_the_language_and_a_free_slot() {
        let billing_de = specialist(&["billing", "refunds"], &["en", "de"], 1);
        let mut session = waiting(Priority::Medium, 0);
        session.skills = vec!["billing".into()];
        session.language = Some("de".into());
        assert!(fits(&session, &billing_de));

        session.skills.push("tax".into());
        assert!(!fits(&session, &billing_de), "missing skill");
        session.skills.pop();
        session.language = Some("fr".into());
        assert!(!fits(&session, &billing_de), "wrong language");
        session.language = None;

        let mut full = billing_de.clone();
        full.open.insert(SessionId::new());
        assert!(!fits(&session, &full), "no free slot");
        let mut away = billing_de.clone();
        away.status = Status::Away;
        assert!(!fits(&session, &away), "away takes no new chats");
        session.declined.insert(billing_de.id);
        assert!(!fits(&session, &billing_de), "declined once, never again");
    }

    #[test]
    fn pending_offers_count_against_capacity() {
        let mut one_slot = specialist(&[], &["en"], 1);
        let session = waiting(Priority::Medium, 0);
        assert!(fits(&session, &one_slot));
        one_slot.pending_offers = 1;
        assert!(!fits(&session, &one_slot));
    }

    #[test]
    fn a_targeted_session_fits_its_target_only() {
        let a = specialist(&[], &["en"], 3);
        let b = specialist(&[], &["en"], 3);
        let mut session = waiting(Priority::High, 0);
        session.target = Some(b.id);
        assert!(!fits(&session, &a));
        assert!(fits(&session, &b));
    }

    #[test]
    fn the_least_loaded_then_longest_idle_specialist_is_chosen() {
        let mut busy = specialist(&[], &["en"], 3);
        busy.open.insert(SessionId::new());
        let mut recent = specialist(&[], &["en"], 3);
        recent.last_assigned = 10;
        let mut idle = specialist(&[], &["en"], 3);
        idle.last_assigned = 2;
        let session = waiting(Priority::Medium, 0);
        let roster = [busy.clone(), recent.clone(), idle.clone()];
        assert_eq!(choose(&session, roster.iter()), Some(idle.id));
        assert_eq!(
            choose(&session, [busy.clone(), recent.clone()].iter()),
            Some(recent.id)
        );
    }

    #[test]
    fn offers_follow_queue_order_and_capacity() {
        let mut queue = Queue::default();
        let low_old = waiting(Priority::Low, 10);
        let medium_new = waiting(Priority::Medium, 1);
        let urgent_newest = waiting(Priority::Urgent, 0);
        let (low_id, medium_id, urgent_id) = (low_old.id, medium_new.id, urgent_newest.id);
        queue.push(low_old);
        queue.push(medium_new);
        queue.push(urgent_newest);
        assert_eq!(
            queue.in_order().map(|w| w.id).collect::<Vec<_>>(),
            vec![urgent_id, medium_id, low_id]
        );

        let mut roster = Roster::default();
        let only = specialist(&[], &["en"], 2);
        let only_id = only.id;
        roster.upsert(only);
        let offers = plan_offers(&queue, &mut roster);
        assert_eq!(offers, vec![(urgent_id, only_id), (medium_id, only_id)]);
        assert_eq!(queue.position(low_id), Some(3));
    }

    #[test]
    fn a_session_nobody_fits_does_not_block_the_ones_behind_it() {
        let mut queue = Queue::default();
        let mut needs_tax = waiting(Priority::Urgent, 5);
        needs_tax.skills = vec!["tax".into()];
        let plain = waiting(Priority::Low, 1);
        let plain_id = plain.id;
        queue.push(needs_tax);
        queue.push(plain);
        let mut roster = Roster::default();
        let s = specialist(&[], &["en"], 1);
        let s_id = s.id;
        roster.upsert(s);
        assert_eq!(plan_offers(&queue, &mut roster), vec![(plain_id, s_id)]);
    }

    #[test]
    fn capacity_counts_the_online_qualified_specialists_slots() {
        let mut roster = Roster::default();
        let mut busy = specialist(&["billing"], &["en"], 3);
        busy.open.insert(SessionId::new());
        roster.upsert(busy);
        roster.upsert(specialist(&["billing"], &["en"], 2));
        roster.upsert(specialist(&[], &["en"], 5));
        let mut away = specialist(&["billing"], &["en"], 4);
        away.status = Status::Away;
        roster.upsert(away);
        let mut session = waiting(Priority::Medium, 0);
        session.skills = vec!["billing".into()];
        assert_eq!(fitting_capacity(&roster, &session), (5, 4));
    }
}
