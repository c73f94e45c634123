//! A WebSocket client that never reads: the upgrade is written by hand over a plain
//! `TcpStream`, then only masked text frames go out. Whatever the server sends piles up
//! in this side's receive buffer, then in the server's send buffer, then in its outbox,
//! which is what the `hostile` scenario wants to see the server cope with.
//!
//! Without reading, a closed connection shows only in the socket: a write fails once the
//! server's side is gone (it answers data for a closed socket with a reset), or the
//! kernel reports the connection as no longer established (a FIN that got through).
//! When the load stops, [`RawSocket::drain`] finally reads what was queued, to find the
//! close frame a server that gave up on the socket sent behind it.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Result;

/// `TCP_ESTABLISHED` in the kernel's `tcp_info.tcpi_state`.
const ESTABLISHED: u8 = 1;

pub struct RawSocket {
    stream: TcpStream,
    mask: u32,
}

/// How an upgrade ended.
pub enum Upgrade {
    Open(RawSocket),
    /// The server answered with this status instead of 101 (429: too many sockets for the
    /// identity).
    Refused(u16),
}

impl RawSocket {
    /// Connects and upgrades. Only the response head is read, byte by byte, so not even
    /// the server's first frame (`hello`) is taken from the socket.
    pub async fn connect(server: SocketAddr, token: &str, seed: u32) -> Result<Upgrade> {
        let mut stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let key = websocket_key(seed);
        let request = format!(
            "GET /ws?token={token} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
             User-Agent: switchboard-load (never reads)\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err("upgrade response head over 16 KiB".into());
            }
            if stream.read(&mut byte).await? == 0 {
                return Err("connection closed during the upgrade".into());
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad upgrade response {head:?}"))?;
        if status != 101 {
            return Ok(Upgrade::Refused(status));
        }
        Ok(Upgrade::Open(RawSocket {
            stream,
            mask: seed.wrapping_mul(0x9E37_79B9) | 1,
        }))
    }

    /// Writes one masked text frame; fails when the server has dropped the connection,
    /// or when the write does not complete `within` (the server stopped reading too).
    pub async fn send_text(&mut self, text: &str, within: Duration) -> SendOutcome {
        let frame = self.frame(text.as_bytes());
        match tokio::time::timeout(within, self.stream.write_all(&frame)).await {
            Ok(Ok(())) => SendOutcome::Sent,
            Ok(Err(_)) => SendOutcome::Closed,
            Err(_) => SendOutcome::Stalled,
        }
    }

    /// A client frame: FIN and opcode 1 (text), the mask bit and length, the masking key,
    /// then the payload XORed with the key.
    fn frame(&mut self, payload: &[u8]) -> Vec<u8> {
        // A different key per frame, as RFC 6455 asks; unpredictability does not matter.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let key = self.mask.to_be_bytes();
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x81);
        match payload.len() {
            len if len < 126 => frame.push(0x80 | len as u8),
            len if len <= u16::MAX as usize => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        frame
    }

    /// Whether the kernel still counts the connection as established (a FIN or reset
    /// from the server ends that without anything being read).
    pub fn established(&self) -> bool {
        // SAFETY: tcp_info is plain integers, for which all zeroes is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `info`, a plain C struct.
        let ok = unsafe {
            libc::getsockopt(
                self.stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        } == 0;
        !ok || info.tcpi_state == ESTABLISHED
    }

    /// Bytes the server sent that sit unread in this side's receive buffer.
    pub fn unread_bytes(&self) -> usize {
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let ok = unsafe { libc::ioctl(self.stream.as_raw_fd(), libc::FIONREAD, &mut unread) } == 0;
        if ok {
            unread.max(0) as usize
        } else {
            0
        }
    }
}

/// What the server had queued for a socket, read when the hostile load stops.
#[derive(Default)]
pub struct Drained {
    pub bytes: u64,
    /// The code of the close frame the server sent, if one came.
    pub close_code: Option<u16>,
    /// The server closed the connection (after the close frame, or without one).
    pub eof: bool,
}

impl RawSocket {
    /// Reads (for the first time) whatever the server sends within `within`, skipping
    /// frames, until a close frame or the end of the connection.
    pub async fn drain(&mut self, within: Duration) -> Drained {
        let deadline = tokio::time::Instant::now() + within;
        let mut drained = Drained::default();
        let mut buffer = vec![0u8; 64 * 1024];
        // Bytes of a frame head not yet complete, and payload bytes still to skip.
        let mut head: Vec<u8> = Vec::new();
        let mut skip = 0usize;
        while drained.close_code.is_none() {
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await;
            let n = match read {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    drained.eof = true;
                    break;
                }
                Ok(Ok(n)) => n,
                Err(_) => break,
            };
            drained.bytes += n as u64;
            let skipped = skip.min(n);
            skip -= skipped;
            head.extend_from_slice(&buffer[skipped..n]);
            while let Some((header, len, opcode)) = frame_head(&head) {
                if opcode == 8 {
                    if head.len() < header + len {
                        break;
                    }
                    drained.close_code = Some(if len >= 2 {
                        u16::from_be_bytes([head[header], head[header + 1]])
                    } else {
                        1005
                    });
                    break;
                }
                if head.len() >= header + len {
                    head.drain(..header + len);
                } else {
                    skip = header + len - head.len();
                    head.clear();
                }
            }
        }
        if drained.close_code.is_some() && !drained.eof {
            // The server closes the connection after its close frame.
            let mut rest = [0u8; 4096];
            loop {
                match tokio::time::timeout_at(deadline, self.stream.read(&mut rest)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        drained.eof = true;
                        break;
                    }
                    Ok(Ok(n)) => drained.bytes += n as u64,
                    Err(_) => break,
                }
            }
        }
        drained
    }
}

/// A server frame's head: (head length, payload length, opcode), once complete.
fn frame_head(bytes: &[u8]) -> Option<(usize, usize, u8)> {
    let (first, second) = (*bytes.first()?, *bytes.get(1)?);
    let opcode = first & 0x0f;
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let (header, len) = match second & 0x7f {
        126 => (
            4,
            u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize,
        ),
        127 => {
            let mut len = [0u8; 8];
            len.copy_from_slice(bytes.get(2..10)?);
            (10, u64::from_be_bytes(len) as usize)
        }
        len => (2, len as usize),
    };
    if bytes.len() < header + mask {
        return None;
    }
    Some((header + mask, len, opcode))
}

pub enum SendOutcome {
    Sent,
    /// The write failed: the server's side of the connection is gone.
    Closed,
    /// The write did not complete in time: the server does not read this socket either.
    Stalled,
}

/// A `Sec-WebSocket-Key`: base64 of 16 bytes (derived from `seed`; the server only
/// hashes it into its answer).
fn websocket_key(seed: u32) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = [0u8; 16];
    let mut x = seed as u64 ^ 0x2545_F491_4F6C_DD1D;
    for byte in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    let mut key = String::with_capacity(24);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                key.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                key.push('=');
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_heads_of_every_length_encoding() {
        assert_eq!(frame_head(&[0x81]), None);
        assert_eq!(frame_head(&[0x81, 5, b'h']), Some((2, 5, 1)));
        assert_eq!(frame_head(&[0x81, 126, 0x01]), None);
        assert_eq!(frame_head(&[0x81, 126, 0x01, 0x00]), Some((4, 256, 1)));
        let long = [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(frame_head(&long), Some((10, 65536, 2)));
        assert_eq!(frame_head(&[0x88, 0x82, 1, 2, 3, 4]), Some((6, 2, 8)));
    }

    #[test]
    fn keys_are_24_characters_of_base64() {
        let key = websocket_key(7);
        assert_eq!(key.len(), 24);
        assert!(key.ends_with("=="));
        assert_ne!(key, websocket_key(8));
    }
}
