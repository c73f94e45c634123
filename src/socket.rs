//! The TCP socket under a WebSocket, which the server can cut.
//!
//! Closing a WebSocket politely leaves the connection to the HTTP layer, which keeps
//! writing what it buffered (up to the transport's 32 frames, plus the kernel's send
//! buffer) for as long as the peer stays connected. A peer that never reads would hold
//! all of it for ever. [`Socket::cut`] aborts the connection instead: the kernel drops
//! what it has not sent and answers with a reset, and the HTTP layer's next write fails,
//! so it lets go of its buffers too.
//!
//! The socket is reached through the HTTP layer's own descriptor, not a duplicate: a
//! duplicate per WebSocket would halve the connections an open-file limit allows. That
//! descriptor may have been closed, and its number given to another connection, by the
//! time the server cuts; so the socket's two addresses, recorded when it was accepted,
//! are checked first. No two open TCP sockets share both.

use std::mem::ManuallyDrop;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

/// The descriptor of an accepted connection, recorded for each one (see [`record`]).
#[derive(Clone, Copy)]
struct ConnectionFd(RawFd);

/// For `HttpServer::on_connect`: remembers the descriptor of each accepted TCP connection.
pub fn record(connection: &dyn std::any::Any, data: &mut Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        data.insert(ConnectionFd(stream.as_raw_fd()));
    }
}

/// One connection's socket: its descriptor and its two addresses.
#[derive(Clone, Copy)]
pub struct Socket {
    fd: RawFd,
    local: SocketAddr,
    peer: SocketAddr,
}

impl Socket {
    /// The socket under the request's connection, if it came over TCP. Its addresses
    /// are read now, while the connection is serving this request and so surely owns the
    /// descriptor.
    pub fn of(req: &HttpRequest) -> Option<Socket> {
        let ConnectionFd(fd) = *req.conn_data::<ConnectionFd>()?;
        let socket = borrow(fd);
        let local = socket.local_addr().ok()?.as_socket()?;
        let peer = socket.peer_addr().ok()?.as_socket()?;
        Some(Socket { fd, local, peer })
    }

    /// Aborts the connection: unsent data is discarded and the peer gets a reset. Does
    /// nothing if the connection is already gone.
    pub fn cut(&self) {
        // If the connection was closed meanwhile, the calls below fail on a closed
        // descriptor, or the addresses show that the number now belongs to another
        // socket, which is then left alone.
        let socket = borrow(self.fd);
        let same = |address: std::io::Result<socket2::SockAddr>, expected: SocketAddr| {
            address.ok().and_then(|a| a.as_socket()) == Some(expected)
        };
        if !same(socket.local_addr(), self.local) || !same(socket.peer_addr(), self.peer) {
            return;
        }
        // A zero linger makes the last close send a reset and free the send buffer, and
        // the shutdown fails the HTTP layer's pending write, so that close comes now.
        let _ = socket.set_linger(Some(Duration::ZERO));
        let _ = socket.shutdown(Shutdown::Both);
    }
}

/// The socket behind `fd`, to call on without ever closing it.
fn borrow(fd: RawFd) -> ManuallyDrop<socket2::Socket> {
    // SAFETY: the descriptor is only borrowed: `ManuallyDrop` never closes it, and a
    // descriptor that was closed meanwhile only makes the calls on it fail.
    ManuallyDrop::new(unsafe { socket2::Socket::from_raw_fd(fd) })
}
