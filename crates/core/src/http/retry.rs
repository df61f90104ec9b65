//! Which failures are retried, and the loop that retries them inside the call's deadline.
//!
//! The one retry table of the package (every source's failures pass through here):
//!
//! | cause                                         | code                   | retried?          |
//! |-----------------------------------------------|------------------------|-------------------|
//! | connection refused / reset, DNS failure       | `ERR_UNAVAILABLE`      | yes (IAM); no for the metadata service ("not on a VM") |
//! | connect timeout                               | `ERR_TIMEOUT`          | as above          |
//! | TLS failure (untrusted certificate, handshake)| `ERR_UNAVAILABLE`      | no                |
//! | answer broke off mid-body, other send errors  | `ERR_UNAVAILABLE`      | yes               |
//! | 429, 5xx (honouring `Retry-After`)            | `ERR_UNAVAILABLE`      | yes               |
//! | 3xx (redirects are not followed)              | `ERR_INVALID_RESPONSE` | no                |
//! | other non-200 2xx/1xx                         | `ERR_INVALID_RESPONSE` | no                |
//! | 4xx                                           | the source's own (`ERR_IAM_REJECTED`, `ERR_NO_SERVICE_ACCOUNT`) | no |
//! | a 200 that is not the documented answer       | `ERR_INVALID_RESPONSE` | no                |
//! | a subject token file that cannot be read      | `ERR_INVALID_ARG`      | no                |
//! | GitHub's ID-token endpoint: 429/5xx, 4xx      | as IAM's: `ERR_UNAVAILABLE` (yes), `ERR_IAM_REJECTED` (no) | (inside the exchange's attempt) |
//! | `yc iam create-token` exits non-zero          | `ERR_UNAVAILABLE`      | no (not HTTP; yc retries itself) |
//! | `yc iam create-token` prints no token         | `ERR_INVALID_RESPONSE` | no                |
//! | the deadline passes                           | `ERR_TIMEOUT`          | —                 |

use std::future::Future;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use tokio::time::{sleep, timeout_at, Instant};

use super::{cause_chain, CallOptions};
use crate::error::{Error, ErrorCode, Result};

const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// One attempt's failure: the error, and whether another attempt may help.
pub struct Failure {
    pub error: Error,
    pub retry: bool,
}

impl Failure {
    pub fn fatal(error: Error) -> Self {
        Failure {
            error,
            retry: false,
        }
    }

    pub fn retryable(error: Error) -> Self {
        Failure { error, retry: true }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::fatal(error)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or runs out of retries or time.
/// `what` names the service for messages ("IAM at https://…").
pub async fn with_retries<T, F, Fut>(what: &str, options: CallOptions, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, Failure>>,
{
    let deadline = Instant::now() + options.timeout;
    let mut last: Option<Error> = None;
    let attempts = async {
        let mut retried = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if !failure.retry || retried >= options.retries => {
                    return Err(failure.error)
                }
                Err(failure) => {
                    let wait = failure
                        .error
                        .retry_after
                        .map_or_else(|| backoff(retried), |w| w.min(MAX_RETRY_AFTER));
                    if Instant::now() + wait >= deadline {
                        let mut error = failure.error;
                        error
                            .message
                            .push_str(" (the next retry would pass timeoutMs)");
                        return Err(error);
                    }
                    last = Some(failure.error);
                    sleep(wait).await;
                    retried += 1;
                }
            }
        }
    };
    match timeout_at(deadline, attempts).await {
        Ok(result) => result,
        Err(_) => {
            let mut message = format!(
                "{what} did not answer within {} ms (timeoutMs); check the network, or raise timeoutMs",
                options.timeout.as_millis()
            );
            if let Some(last) = last {
                message.push_str(&format!("; the previous attempt failed: {}", last.message));
            }
            Err(Error::timeout(message))
        }
    }
}

/// Exponential backoff with jitter: between half and all of 100 ms × 2^n, at most 2 s.
fn backoff(retried: u32) -> Duration {
    let full = BACKOFF_BASE
        .saturating_mul(1 << retried.min(10))
        .min(BACKOFF_MAX);
    let mut byte = [0u8; 1];
    let jitter = match aws_lc_rs::rand::fill(&mut byte) {
        Ok(()) => f64::from(byte[0]) / 255.0,
        Err(_) => 0.5,
    };
    full.mul_f64(0.5 + jitter / 2.0)
}

/// What a failed send means. A refused or unreachable connection is retried for IAM but means
/// "not on a VM" for the metadata service (`retry_connect` false).
pub fn send_failure(e: reqwest::Error, what: &str, retry_connect: bool) -> Failure {
    // reqwest's message names the request's URL, userinfo and query included: `what` names
    // the service, redacted.
    let e = e.without_url();
    let chain = cause_chain(&e);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return Failure::fatal(Error::unavailable(format!(
            "{what}: TLS failed: {chain}. If the server uses a private CA, point SSL_CERT_FILE at its certificate"
        )));
    }
    if e.is_connect() {
        let code = if e.is_timeout() {
            ErrorCode::Timeout
        } else {
            ErrorCode::Unavailable
        };
        let error = Error::new(code, format!("{what}: cannot connect: {chain}"));
        return Failure {
            error,
            retry: retry_connect,
        };
    }
    Failure::retryable(Error::unavailable(format!("{what}: {chain}")))
}

/// Classifies a non-200 answer that every service treats alike; `None` for the statuses the
/// caller handles itself (4xx).
pub fn status_failure(status: StatusCode, response: &Response, what: &str) -> Option<Failure> {
    if status.is_redirection() {
        return Some(Failure::fatal(
            Error::invalid_response(format!(
                "{what} answered with a redirect ({status}); redirects are not followed: set the endpoint to the final URL"
            ))
            .with_status(status.as_u16()),
        ));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let mut error =
            Error::unavailable(format!("{what} answered {status}")).with_status(status.as_u16());
        error.retry_after = retry_after(response);
        return Some(Failure::retryable(error));
    }
    if !status.is_client_error() && status != StatusCode::OK {
        return Some(Failure::fatal(
            Error::invalid_response(format!("{what} answered an unexpected {status}"))
                .with_status(status.as_u16()),
        ));
    }
    None
}

/// `Retry-After` in seconds (the HTTP-date form is not used by IAM or metadata services).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: f64 = value.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_millis(100));
        assert!(backoff(0) >= Duration::from_millis(50));
        assert!(backoff(9) <= BACKOFF_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_count() {
        let mut calls = 0;
        let options = CallOptions::new(5000.0, 2.0).unwrap();
        let result: Result<()> = with_retries("test", options, || {
            calls += 1;
            async { Err(Failure::retryable(Error::unavailable("down"))) }
        })
        .await;
        assert_eq!(result.unwrap_err().code, ErrorCode::Unavailable);
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_failures_are_not_retried() {
        let mut calls = 0;
        let options = CallOptions::new(5000.0, 3.0).unwrap();
        let result: Result<()> = with_retries("test", options, || {
            calls += 1;
            async { Err(Failure::fatal(Error::invalid_response("bad"))) }
        })
        .await;
        assert_eq!(result.unwrap_err().code, ErrorCode::InvalidResponse);
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_bounds_a_hang() {
        let options = CallOptions::new(50.0, 3.0).unwrap();
        let started = Instant::now();
        let result: Result<()> = with_retries("test", options, std::future::pending).await;
        assert_eq!(result.unwrap_err().code, ErrorCode::Timeout);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_past_the_deadline_ends_at_once() {
        let options = CallOptions::new(1000.0, 3.0).unwrap();
        let started = Instant::now();
        let result: Result<()> = with_retries("test", options, || async {
            let mut e = Error::unavailable("busy");
            e.retry_after = Some(Duration::from_secs(5));
            Err(Failure::retryable(e))
        })
        .await;
        assert_eq!(result.unwrap_err().code, ErrorCode::Unavailable);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
