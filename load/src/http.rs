//! A minimal keep-alive HTTP/1.1 client for the set-up calls (sign-ups, logins, creating
//! specialists). Tens of thousands of sign-ups must reuse connections: one TCP connection
//! per request would leave as many sockets in TIME_WAIT and eat the ephemeral ports the
//! WebSockets need.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Result;

pub struct HttpClient {
    server: SocketAddr,
    connection: Option<BufReader<TcpStream>>,
}

impl HttpClient {
    pub fn new(server: SocketAddr) -> Self {
        Self {
            server,
            connection: None,
        }
    }

    /// Sends a JSON request and returns the status and JSON body. A kept-alive connection
    /// the server closed in the meantime is replaced once.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let request = self.encode(method, path, token, body);
        let reused = self.connection.is_some();
        match self.exchange(&request).await {
            Ok(response) => Ok(response),
            Err(_) if reused => {
                self.connection = None;
                self.exchange(&request).await
            }
            Err(error) => Err(error),
        }
    }

    /// Like [`call`](Self::call) but fails unless the status is the expected one.
    pub async fn expect(
        &mut self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let (got, reply) = self.call(method, path, token, body).await?;
        if got != status {
            return Err(format!("{method} {path}: expected {status}, got {got}: {reply}").into());
        }
        Ok(reply)
    }

    fn encode(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<u8> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.server,
            body.len()
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Value)> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(self.server).await?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let connection = self.connection.as_mut().expect("connected above");
        connection.get_mut().write_all(request).await?;

        let mut line = String::new();
        connection.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            if connection.read_line(&mut line).await? == 0 {
                return Err("connection closed in the headers".into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.trim().eq_ignore_ascii_case("close");
            }
        }
        let mut body = vec![0; length];
        connection.read_exact(&mut body).await?;
        if close {
            self.connection = None;
        }
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)?
        };
        Ok((status, json))
    }
}
