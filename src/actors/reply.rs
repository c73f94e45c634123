//! Where the answer to a request goes: the WebSocket connection that asked (as a frame
//! with its `ref`), an HTTP handler waiting on a channel (as an [`Answer`]), or another
//! node that forwarded the request (as an [`Answer`] it sends back to its asker).

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

    /// The request's `ref`, to be copied into the reply frame.
    pub fn reference(&self) -> Option<String> {
        match self {
            Reply::Connection { reference, .. } => reference.clone(),
            Reply::Channel { .. } => None,
        }
    }

    /// The asking connection, which fan-out skips because it gets the reply instead.
    pub fn connection_id(&self) -> Option<u64> {
        match self {
            Reply::Connection { connection, .. } => Some(connection.id),
            Reply::Channel { origin, .. } => *origin,
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
        }
    }
}
