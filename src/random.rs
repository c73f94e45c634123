//! Random identifiers and secrets, written as lower-case hex (JWT and webhook secrets,
//! attachment storage keys).

/// `bytes` random bytes from the operating system, as `2 × bytes` hex characters.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::getrandom(&mut buffer).map_err(std::io::Error::other)?;
    Ok(hex(&buffer))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
