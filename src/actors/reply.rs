//! Where the answer to a request goes: the WebSocket connection that asked (with its
//! `ref`), or an HTTP handler waiting on a channel.

use tokio::sync::oneshot;

use super::registry::ConnectionHandle;
use crate::error::Error;
use crate::protocol::Frame;

pub enum Reply {
    Connection {
        connection: ConnectionHandle,
        reference: Option<String>,
    },
    Channel(oneshot::Sender<Result<Frame, Error>>),
}

impl Reply {
    pub fn connection(connection: ConnectionHandle, reference: Option<String>) -> Reply {
        Reply::Connection {
            connection,
            reference,
        }
    }

    /// A reply for an HTTP handler, and the receiver it awaits.
    pub fn channel() -> (Reply, oneshot::Receiver<Result<Frame, Error>>) {
        let (sender, receiver) = oneshot::channel();
        (Reply::Channel(sender), receiver)
    }

    /// The request's `ref`, to be copied into the reply frame.
    pub fn reference(&self) -> Option<String> {
        match self {
            Reply::Connection { reference, .. } => reference.clone(),
            Reply::Channel(_) => None,
        }
    }

    /// The asking connection, which fan-out skips because it gets the reply instead.
    pub fn connection_id(&self) -> Option<u64> {
        match self {
            Reply::Connection { connection, .. } => Some(connection.id),
            Reply::Channel(_) => None,
        }
    }

    pub fn ok(self, frame: Frame) {
        match self {
            Reply::Connection { connection, .. } => connection.send_frame(&frame),
            Reply::Channel(sender) => {
                let _ = sender.send(Ok(frame));
            }
        }
    }

    pub fn err(self, error: Error) {
        match self {
            Reply::Connection {
                connection,
                reference,
            } => connection.send_frame(&Frame::error(reference, &error)),
            Reply::Channel(sender) => {
                let _ = sender.send(Err(error));
            }
        }
    }

    /// Replies with the frame built from `result`, or with its error.
    pub fn settle<T>(
        self,
        result: Result<T, Error>,
        frame: impl FnOnce(T, Option<String>) -> Frame,
    ) {
        let reference = self.reference();
        match result {
            Ok(value) => self.ok(frame(value, reference)),
            Err(error) => self.err(error),
        }
    }
}
