//! Where the answer to a request goes: the WebSocket connection that asked (as a frame
//! with its `ref`), an HTTP handler waiting on a channel (as an [`Answer`]), or another
//! node that forwarded the request (as an [`Answer`] it sends back to its asker, or, for
//! a request to the dispatcher, as the frame its asking connection gets).

use bytestring::ByteString;
use tokio::sync::oneshot;

use super::connections::ConnectionHandle;
use crate::conversation::Answer;
use crate::domain::SessionId;
use crate::error::Error;
use crate::protocol::Frame;

pub enum Reply {
    Connection {
        connection: ConnectionHandle,
        reference: Option<String>,
    },
    /// An HTTP handler, or the node that forwarded the request, waiting for the answer.
    Channel {
        answer: oneshot::Sender<Result<Answer, Error>>,
        /// For a forwarded request, the asking connection on the other node, which
        /// fan-out skips.
        origin: Option<u64>,
    },
    /// A WebSocket request another node forwarded to the dispatcher: the reply frame's
    /// text goes back to that node for the asking connection `origin`.
    Relay {
        frame: oneshot::Sender<ByteString>,
        reference: Option<String>,
        origin: Option<u64>,
    },
}

impl Reply {
    pub fn connection(connection: ConnectionHandle, reference: Option<String>) -> Reply {
        Reply::Connection {
            connection,
            reference,
        }
    }

    /// A reply for an HTTP handler, and the receiver it awaits.
    pub fn channel() -> (Reply, oneshot::Receiver<Result<Answer, Error>>) {
        Reply::forwarded(None)
    }

    /// A reply for a request another node forwarded from connection `origin`, and the
    /// receiver its answer is sent back from.
    pub fn forwarded(origin: Option<u64>) -> (Reply, oneshot::Receiver<Result<Answer, Error>>) {
        let (answer, receiver) = oneshot::channel();
        (Reply::Channel { answer, origin }, receiver)
    }

    /// A reply for a WebSocket request `reference` of connection `origin` on another
    /// node, and the receiver the reply frame's text is sent back from.
    pub fn relay(
        reference: Option<String>,
        origin: Option<u64>,
    ) -> (Reply, oneshot::Receiver<ByteString>) {
        let (frame, receiver) = oneshot::channel();
        let reply = Reply::Relay {
            frame,
            reference,
            origin,
        };
        (reply, receiver)
    }

    /// The request's `ref`, to be copied into the reply frame.
    pub fn reference(&self) -> Option<String> {
        match self {
            Reply::Connection { reference, .. } | Reply::Relay { reference, .. } => {
                reference.clone()
            }
            Reply::Channel { .. } => None,
        }
    }

    /// The asking connection, which fan-out skips because it gets the reply instead.
    pub fn connection_id(&self) -> Option<u64> {
        match self {
            Reply::Connection { connection, .. } => Some(connection.id),
            Reply::Channel { origin, .. } | Reply::Relay { origin, .. } => *origin,
        }
    }

    /// Gives the asking connection the reply frame another node sent back for it.
    pub fn relayed(self, text: ByteString) {
        match self {
            Reply::Connection { connection, .. } => connection.send(text),
            Reply::Channel { answer: sender, .. } => {
                let _ = sender.send(Err(Error::internal("a WebSocket answer asked over HTTP")));
            }
            Reply::Relay { frame, .. } => {
                let _ = frame.send(text);
            }
        }
    }

    /// Gives the outcome of a request another node served to this reply.
    pub fn settle(self, session: SessionId, outcome: Result<Answer, Error>) {
        match outcome {
            Ok(answer) => self.answer(session, answer),
            Err(error) => self.err(error),
        }
    }

    /// Answers a request about session `session`.
    pub fn answer(self, session: SessionId, answer: Answer) {
        match self {
            Reply::Connection {
                connection,
                reference,
            } => {
                if let Some(frame) = answer.into_frame(session, reference) {
                    connection.send_frame(&frame);
                }
            }
            Reply::Channel { answer: sender, .. } => {
                let _ = sender.send(Ok(answer));
            }
            Reply::Relay {
                frame, reference, ..
            } => {
                if let Some(reply) = answer.into_frame(session, reference) {
                    let _ = frame.send(reply.to_text());
                }
            }
        }
    }

    /// Answers a request only a WebSocket can make (offers, status, the queue).
    pub fn frame(self, frame: impl FnOnce(Option<String>) -> Frame) {
        match self {
            Reply::Connection {
                connection,
                reference,
            } => connection.send_frame(&frame(reference)),
            Reply::Channel { answer: sender, .. } => {
                let _ = sender.send(Err(Error::internal("a WebSocket answer asked over HTTP")));
            }
            Reply::Relay {
                frame: sender,
                reference,
                ..
            } => {
                let _ = sender.send(frame(reference).to_text());
            }
        }
    }

    pub fn err(self, error: Error) {
        match self {
            Reply::Connection {
                connection,
                reference,
            } => connection.send_frame(&Frame::error(reference, &error)),
            Reply::Channel { answer: sender, .. } => {
                let _ = sender.send(Err(error));
            }
            Reply::Relay {
                frame, reference, ..
            } => {
                let _ = frame.send(Frame::error(reference, &error).to_text());
            }
        }
    }
}
