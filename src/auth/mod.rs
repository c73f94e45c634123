//! Identities: who a caller is (a verified token) and how specialists prove it (passwords).

mod caller;
mod password;
pub mod throttle;
mod token;

pub use caller::Caller;
pub use password::{hash_password, verify_password};
pub use throttle::LoginGuard;
pub use token::{load_or_create_secret, Claims, TokenKeys};
