//! The TCP socket under a WebSocket, which the server can cut.
//!
//! Closing a WebSocket politely leaves the connection to the HTTP layer, which keeps
//! writing what it buffered (up to the transport's 32 frames, plus the kernel's send
//! buffer) for as long as the peer stays connected. A peer that never reads would hold
//! all of it for ever. [`Socket::cut`] aborts the connection instead: the kernel drops
//! what it has not sent and answers with a reset, and the HTTP layer's next write fails,
//! so it lets go of its buffers too.

use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

/// The descriptor of an accepted connection, recorded for each one when it is accepted
/// (see [`record`]).
#[derive(Clone, Copy)]
struct ConnectionFd(RawFd);

/// For `HttpServer::on_connect`: remembers the descriptor of each accepted TCP connection.
pub fn record(connection: &dyn std::any::Any, data: &mut Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        data.insert(ConnectionFd(stream.as_raw_fd()));
    }
}

/// A handle of its own on one connection's socket: it stays valid however the HTTP
/// layer's copy ends.
pub struct Socket(socket2::Socket);

impl Socket {
    /// The socket under the request's connection, if it came over TCP.
    pub fn of(req: &HttpRequest) -> Option<Socket> {
        let ConnectionFd(fd) = *req.conn_data::<ConnectionFd>()?;
        // SAFETY: the connection that owns `fd` is serving this very request, so the
        // descriptor is open and still belongs to it while this runs; the duplicate made
        // here outlives it on its own.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        match borrowed.try_clone_to_owned() {
            Ok(owned) => Some(Socket(socket2::Socket::from(owned))),
            Err(error) => {
                log::warn!("cannot hold the socket of a connection: {error}");
                None
            }
        }
    }

    /// Aborts the connection: unsent data is discarded and the peer gets a reset.
    pub fn cut(&self) {
        // A zero linger makes the last close send a reset and free the send buffer, and
        // the shutdown fails the HTTP layer's pending write, so that close comes now.
        let _ = self.0.set_linger(Some(Duration::ZERO));
        let _ = self.0.shutdown(Shutdown::Both);
    }
}
