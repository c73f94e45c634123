//! WebSocket clients as browsers and consoles open them: `GET /ws?token=…`, one JSON
//! object per text frame.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::Result;

/// Each source address has about 28,000 ephemeral ports; clients beyond that spread over
/// 127.0.0.2, 127.0.0.3, … (all of 127/8 is loopback on Linux).
const CLIENTS_PER_SOURCE: usize = 20_000;

pub struct Client {
    stream: WebSocketStream<TcpStream>,
}

/// The fields the load tool looks at in a server frame; everything else is skipped
/// without being built into a `Value`, which keeps the client cheap under load.
#[derive(Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(rename = "ref", default, borrow)]
    pub reference: Option<&'a str>,
    #[serde(default, borrow)]
    pub message: Option<FrameMessage<'a>>,
    #[serde(default, borrow)]
    pub offer_id: Option<&'a str>,
}

/// A frame's `message`: a chat message, or something else (an error's explanation).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum FrameMessage<'a> {
    Chat {
        #[serde(default, borrow)]
        body: Option<&'a str>,
    },
    /// An error frame's explanation, a string, which the tool does not read.
    Explanation(serde::de::IgnoredAny),
}

impl<'a> FrameMessage<'a> {
    pub fn body(&self) -> Option<&'a str> {
        match self {
            FrameMessage::Chat { body } => *body,
            FrameMessage::Explanation(_) => None,
        }
    }
}

impl Client {
    /// Connects client number `index` and returns it with the `hello` frame.
    pub async fn connect(server: SocketAddr, token: &str, index: usize) -> Result<(Self, Value)> {
        tokio::time::timeout(Duration::from_secs(30), Self::open(server, token, index))
            .await
            .map_err(|_| "connecting took over 30 s")?
    }

    async fn open(server: SocketAddr, token: &str, index: usize) -> Result<(Self, Value)> {
        let source = Ipv4Addr::new(127, 0, 0, 2 + (index / CLIENTS_PER_SOURCE) as u8);
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
        let tcp = socket.connect(server).await?;
        tcp.set_nodelay(true)?;
        // Small buffers: an idle client should cost the tool little, like the server.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let url = format!("ws://{server}/ws?token={token}");
        let (stream, _) =
            tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await?;
        let mut client = Self { stream };
        let hello = client.recv_value(Duration::from_secs(30)).await?;
        if hello["type"] != "hello" {
            return Err(format!("expected hello, got {hello}").into());
        }
        Ok((client, hello))
    }

    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.stream.send(Message::text(text)).await?;
        Ok(())
    }

    pub async fn send(&mut self, frame: &Value) -> Result<()> {
        self.send_text(frame.to_string()).await
    }

    /// The next text frame, or `None` when the connection closed.
    pub async fn next_text(&mut self) -> Result<Option<String>> {
        while let Some(message) = self.stream.next().await {
            match message? {
                Message::Text(text) => return Ok(Some(text.as_str().to_owned())),
                Message::Close(_) => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    /// Waits for `until` while reading (and dropping) frames: a client that stops
    /// reading stops answering the server's heartbeat pings and gets disconnected.
    pub async fn idle_until<T>(
        &mut self,
        until: impl std::future::Future<Output = T>,
    ) -> Result<T> {
        tokio::pin!(until);
        loop {
            tokio::select! {
                biased;
                done = &mut until => return Ok(done),
                text = self.next_text() => {
                    text?.ok_or("connection closed while idle")?;
                }
            }
        }
    }

    pub async fn recv_value(&mut self, within: Duration) -> Result<Value> {
        let text = tokio::time::timeout(within, self.next_text())
            .await
            .map_err(|_| "timed out waiting for a frame")??
            .ok_or("connection closed")?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Reads frames until one of type `kind` arrives (others are dropped).
    pub async fn recv_type(&mut self, kind: &str, within: Duration) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.recv_value(left).await?;
            if frame["type"] == kind {
                return Ok(frame);
            }
            if frame["type"] == "error" {
                return Err(format!("waiting for {kind}: {frame}").into());
            }
        }
    }

    /// Sends a request and waits for the frame carrying its `ref`.
    pub async fn request(&mut self, mut frame: Value, reference: &str) -> Result<Value> {
        frame["ref"] = reference.into();
        self.send(&frame).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self.recv_value(left).await?;
            if reply["ref"] == reference {
                if reply["type"] == "error" {
                    return Err(format!("{}: {reply}", frame["type"]).into());
                }
                return Ok(reply);
            }
        }
    }
}
