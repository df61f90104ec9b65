//! Answers read with a bound: a hostile server cannot make the package hold more than
//! [`MAX_BODY_BYTES`](crate::limits::MAX_BODY_BYTES) of its answer.

use reqwest::Response;

use super::{cause_chain, Failure};
use crate::error::Error;
use crate::limits::MAX_BODY_BYTES;

/// Reads a body, refusing more than `MAX_BODY_BYTES`.
pub async fn read_body(
    mut response: Response,
    what: &str,
) -> std::result::Result<Vec<u8>, Failure> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(Failure::fatal(
                        Error::invalid_response(format!(
                            "{what} sent an answer over 64 KiB; it was cut off and rejected"
                        ))
                        .with_status(status),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(Failure::retryable(Error::unavailable(format!(
                    "{what}: the answer broke off: {}",
                    cause_chain(&e.without_url())
                ))))
            }
        }
    }
}
