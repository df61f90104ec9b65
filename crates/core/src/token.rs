//! The IAM token every source produces.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

pub use crate::limits::MAX_TOKEN_LIFETIME as MAX_LIFETIME;

#[derive(Clone)]
pub struct Token {
    pub access_token: String,
    /// When the token stops working on the wall clock, in ms since the Unix epoch: the
    /// caller's `expiresAt`.
    pub expires_at_ms: f64,
    /// When the request that got the token was sent (monotonic): the token's age starts here.
    pub obtained_at: Instant,
    /// When the token stops working on the monotonic clock, reckoned from when the request
    /// that got it was sent: what the cache goes by.
    pub expires_at: Instant,
}

impl Token {
    /// A token that lives `lifetime` from `sent_at` (monotonic) / `sent_wall_ms` (wall clock).
    pub fn new(
        access_token: String,
        sent_at: Instant,
        sent_wall_ms: f64,
        lifetime: Duration,
    ) -> Self {
        Token {
            access_token,
            expires_at_ms: sent_wall_ms + lifetime.as_secs_f64() * 1000.0,
            obtained_at: sent_at,
            expires_at: sent_at + lifetime,
        }
    }

    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }

    /// Whether the token is dead already (a slow answer can outlive a short token).
    pub fn has_expired(&self) -> bool {
        self.remaining(crate::clock::now()).is_zero()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[redacted]")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// Checks the `expires_in` seconds of a metadata or context token. `what` names the source
/// for the message; `make` picks the error code the source uses for a bad value.
pub fn lifetime_from_secs(
    expires_in: f64,
    what: &str,
    make: impl Fn(String) -> Error,
) -> Result<Duration> {
    if !expires_in.is_finite() || expires_in <= 0.0 {
        return Err(make(format!(
            "{what} expires_in must be a positive number of seconds (got {expires_in})"
        )));
    }
    if expires_in > MAX_LIFETIME.as_secs_f64() {
        return Err(make(format!(
            "{what} expires_in is {expires_in} s, more than an IAM token lives (43200 s)"
        )));
    }
    Ok(Duration::from_secs_f64(expires_in))
}
