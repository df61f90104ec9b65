//! The IAM token every source produces.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

use crate::limits::MAX_TOKEN_CHARS;
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

/// Checks a token a source handed over (IAM's `iamToken`, the metadata service's or the
/// context's `access_token`) before anyone can put it into an `Authorization: Bearer` header:
/// non-empty visible ASCII (no CR, LF, NUL, space, control or non-ASCII character: a header
/// injection or a garbled answer), at most [`MAX_TOKEN_CHARS`] long. The `Err` is a reason to
/// follow the field's name ("access_token holds a line break"); it never quotes the token.
pub fn check_access_token(token: &str) -> std::result::Result<(), String> {
    if token.is_empty() {
        return Err("is empty".into());
    }
    if token.len() > MAX_TOKEN_CHARS {
        return Err(format!(
            "is {} bytes long, more than the {MAX_TOKEN_CHARS} a token may have",
            token.len()
        ));
    }
    let Some(bad) = token.chars().find(|c| !c.is_ascii_graphic()) else {
        return Ok(());
    };
    let what = match bad {
        '\r' | '\n' => "a line break (CR or LF)",
        '\0' => "a NUL character",
        ' ' | '\t' => "a space or tab",
        c if c.is_ascii_control() => "a control character",
        _ => "a non-ASCII character",
    };
    Err(format!(
        "holds {what}; a token is visible ASCII only (it goes into an Authorization header)"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_visible_ascii_of_bounded_length() {
        assert!(check_access_token(
            "t1.9euelZqSyprOjZLSyc2OlZKekpSTke3rnpWajZqSm5rJmZLMl5mPz8aOx8-_~+/="
        )
        .is_ok());
        for (token, reason) in [
            ("", "empty"),
            ("t1.abc\r\nX-Injected: 1", "line break"),
            ("t1.abc\n", "line break"),
            ("t1.a\0bc", "NUL"),
            ("t1.a bc", "space"),
            (" t1.abc", "space"),
            ("t1.a\tbc", "space or tab"),
            ("t1.a\u{1b}[31m", "control"),
            ("t1.тест", "non-ASCII"),
            ("t1.a\u{a0}b", "non-ASCII"),
        ] {
            let why = check_access_token(token).unwrap_err();
            assert!(why.contains(reason), "{token:?}: {why}");
            assert!(!why.contains("t1."), "{why}");
        }
        let long = format!("t1.{}", "a".repeat(MAX_TOKEN_CHARS));
        assert!(check_access_token(&long).unwrap_err().contains("more than"));
        assert!(check_access_token(&long[..MAX_TOKEN_CHARS]).is_ok());
    }
}
