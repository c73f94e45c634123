//! Authorization before validation (SPEC section 12): a caller who may not use an
//! endpoint gets 401 or 403 whatever the body or query holds. Actix runs a handler's
//! extractors side by side, so a malformed body could answer 400 before the token was
//! even checked; wrapped in [`Later`], an extractor's failure waits until the handler,
//! having authorized the caller, asks for the value.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, FromRequest, HttpRequest};

use crate::error::{Error, Result};

/// The outcome of extractor `E`, kept until the handler takes it.
pub struct Later<E>(Result<E>);

impl<E> Later<E> {
    /// The extracted value, or the error extracting it gave (a 400 or 413).
    pub fn take(self) -> Result<E> {
        self.0
    }
}

impl<E> FromRequest for Later<E>
where
    E: FromRequest + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let extracting = E::from_request(req, payload);
        Box::pin(async move {
            Ok(Later(extracting.await.map_err(|error| {
                let error: actix_web::Error = error.into();
                error
                    .as_error::<Error>()
                    .cloned()
                    .unwrap_or_else(|| Error::bad_request(error.to_string()))
            })))
        })
    }
}
