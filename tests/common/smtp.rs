//! A real SMTP server for tests: aiosmtpd (Debian's `python3-aiosmtpd`, which
//! `scripts/test.sh` installs) as a child process that stores every mail it takes in a
//! Maildir, killed when dropped. Mail is read back from the Maildir as headers and a
//! decoded body.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long aiosmtpd may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        Self::start_on(free_port()).await
    }

    /// Listens on `port` of 127.0.0.1 and waits until connections are taken.
    pub async fn start_on(port: u16) -> SmtpServer {
        let maildir = std::env::temp_dir().join(format!(
            "switchboard-smtp-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().expect("poll aiosmtpd") {
                panic!("aiosmtpd exited before listening on {port}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's address as `SWITCHBOARD_SMTP_URL`.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// Every mail taken so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        ["new", "cur"]
            .iter()
            .flat_map(|sub| files_in(&self.maildir.join(sub)))
            .map(|file| ReceivedMail::parse(&std::fs::read(file).expect("read a mail")))
            .collect()
    }

    /// Waits until `count` mails have arrived; fails the test after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{count} mail(s) expected within {timeout:?}, {} arrived",
                received.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

/// A port of 127.0.0.1 nothing listens on (for now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The Python that has aiosmtpd: Debian's package installs it for the system's Python,
/// which may not be the first `python3` on the path.
fn python() -> &'static str {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .expect("aiosmtpd is not installed: apt-get install python3-aiosmtpd")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.expect("a Maildir entry").path())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// One mail as the server stored it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Names as written, values with folded lines joined; aiosmtpd adds `X-MailFrom`
    /// and `X-RcptTo` (the envelope's sender and recipients).
    pub headers: Vec<(String, String)>,
    /// Decoded from its transfer encoding.
    pub body: String,
}

impl ReceivedMail {
    fn parse(raw: &[u8]) -> ReceivedMail {
        let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            match headers.last_mut() {
                Some((_, value)) if line.starts_with([' ', '\t']) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                _ => {
                    let (name, value) = line.split_once(':').expect("a header line");
                    headers.push((name.to_owned(), value.trim().to_owned()));
                }
            }
        }
        let mut mail = ReceivedMail {
            headers,
            body: String::new(),
        };
        let encoding = mail
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .to_lowercase();
        mail.body = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(body),
            "base64" => decode_base64(body),
            _ => body.to_owned(),
        };
        mail
    }

    /// Every value of the header `name` (case-insensitive).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }

    /// The envelope's recipients.
    pub fn recipients(&self) -> Vec<String> {
        self.header("X-RcptTo")
            .unwrap_or_default()
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect()
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 text")
}

fn decode_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8(out).expect("UTF-8 text")
}
