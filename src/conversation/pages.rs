//! How many messages one reply may carry: a page is cut to a byte budget, so a long
//! conversation's `session.state` or `history` stays a bounded size, and the client
//! asks for the rest (`has_more`).

use crate::db::messages::Page;
use crate::protocol::objects::Message;

/// What a message costs in a reply besides its text: ids, names, times, JSON.
const OVERHEAD_BYTES: usize = 256;

/// Cuts `messages` (oldest first) to at most `budget` bytes, keeping the ones next to
/// where the page starts: the oldest for a page after a `seq`, the newest for a page
/// before one. At least one message is kept, so paging always moves. Returns whether
/// any were cut.
pub fn fit_reply(messages: &mut Vec<Message>, page: Page, budget: usize) -> bool {
    let cost = |m: &Message| {
        m.body.len()
            + m.client_msg_id.as_ref().map_or(0, String::len)
            + m.sender.name.as_ref().map_or(0, String::len)
            + m.attachment
                .as_ref()
                .map_or(0, |a| a.file_name.len() + a.url.len())
            + OVERHEAD_BYTES
    };
    let mut spent = 0;
    let fits = |m: &Message, spent: &mut usize| {
        *spent += cost(m);
        *spent <= budget
    };
    let keep = match page {
        Page::After(_) => messages.iter().take_while(|m| fits(m, &mut spent)).count(),
        Page::Before(_) => messages
            .iter()
            .rev()
            .take_while(|m| fits(m, &mut spent))
            .count(),
    }
    .max(1)
    .min(messages.len());
    if keep == messages.len() {
        return false;
    }
    match page {
        Page::After(_) => messages.truncate(keep),
        Page::Before(_) => {
            messages.drain(..messages.len() - keep);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MessageId, MessageKind, ParticipantType, SessionId};
    use crate::protocol::objects::Participant;

    fn messages(count: i32, body_bytes: usize) -> Vec<Message> {
        (1..=count)
            .map(|seq| Message {
                id: MessageId::new(),
                session_id: SessionId::new(),
                seq,
                sender: Participant {
                    kind: ParticipantType::Visitor,
                    id: None,
                    name: None,
                },
                kind: MessageKind::Text,
                body: "x".repeat(body_bytes),
                attachment: None,
                client_msg_id: None,
                created_at: chrono::Utc::now(),
            })
            .collect()
    }

    fn seqs(messages: &[Message]) -> Vec<i32> {
        messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn a_page_within_the_budget_is_whole() {
        let mut page = messages(3, 100);
        assert!(!fit_reply(&mut page, Page::After(0), 10_000));
        assert_eq!(seqs(&page), vec![1, 2, 3]);
    }

    #[test]
    fn a_page_after_a_seq_keeps_its_oldest_messages() {
        let mut page = messages(10, 744);
        assert!(fit_reply(&mut page, Page::After(0), 3_000));
        assert_eq!(seqs(&page), vec![1, 2, 3]);
    }

    #[test]
    fn a_page_before_a_seq_keeps_its_newest_messages() {
        let mut page = messages(10, 744);
        assert!(fit_reply(&mut page, Page::Before(11), 3_000));
        assert_eq!(seqs(&page), vec![8, 9, 10]);
    }

    #[test]
    fn one_message_is_kept_however_large() {
        let mut page = messages(2, 4000);
        assert!(fit_reply(&mut page, Page::After(0), 10));
        assert_eq!(seqs(&page), vec![1]);
        let mut empty = Vec::new();
        assert!(!fit_reply(&mut empty, Page::After(0), 10));
    }
}
