//! Who can hold live connections: a visitor, or a specialist (admins are specialists
//! here). Fan-out is addressed to peers; each may have several tabs open.

use uuid::Uuid;

use super::ParticipantType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub kind: ParticipantType,
    pub id: Uuid,
}

impl Peer {
    pub fn visitor(id: Uuid) -> Peer {
        Peer {
            kind: ParticipantType::Visitor,
            id,
        }
    }

    pub fn specialist(id: Uuid) -> Peer {
        Peer {
            kind: ParticipantType::Specialist,
            id,
        }
    }
}
