//! The HTTP stack both network sources share: one pooled client per purpose, bounded body
//! reading, failure classification with the whole cause chain, and the retry loop that keeps
//! every call inside its deadline.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use tokio::time::{sleep, timeout_at, Instant};

use crate::error::{Error, ErrorCode, Result};

pub const USER_AGENT: &str = concat!("yc-iam-token/", env!("CARGO_PKG_VERSION"));
/// Larger answers are cut off and rejected: a token answer is well under 1 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A metadata service answers in milliseconds; no connection within this means "not on a VM".
pub const METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Deadline and retries of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    pub timeout: Duration,
    pub retries: u32,
}

impl CallOptions {
    /// Checks `timeoutMs` and `retries` as the caller passed them.
    pub fn new(timeout_ms: f64, retries: f64) -> Result<Self> {
        if !timeout_ms.is_finite() || timeout_ms <= 0.0 || timeout_ms > 3_600_000.0 {
            return Err(Error::invalid_arg(format!(
                "timeoutMs must be a positive number of milliseconds, at most 3600000 (got {timeout_ms})"
            )));
        }
        if retries.fract() != 0.0 || !(0.0..=10.0).contains(&retries) {
            return Err(Error::invalid_arg(format!(
                "retries must be a whole number from 0 to 10 (got {retries})"
            )));
        }
        Ok(CallOptions {
            timeout: Duration::from_secs_f64(timeout_ms / 1000.0),
            retries: retries as u32,
        })
    }
}

/// Checks an endpoint option: an absolute http(s) URL.
pub fn check_endpoint(name: &str, url: &str) -> Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    parsed.ok_or_else(|| {
        Error::invalid_arg(format!(
            "{name} must be an absolute http:// or https:// URL (got {})",
            if url.len() <= 200 {
                format!("\"{url}\"")
            } else {
                format!("{} characters", url.len())
            }
        ))
    })
}

/// The client for IAM: proxies from the environment, redirects off.
pub fn iam_client() -> Result<&'static Client> {
    static CLIENT: OnceLock<std::result::Result<Client, String>> = OnceLock::new();
    cached_client(&CLIENT, Client::builder)
}

/// The client for the metadata service: never through a proxy, short connect timeout.
pub fn metadata_client() -> Result<&'static Client> {
    static CLIENT: OnceLock<std::result::Result<Client, String>> = OnceLock::new();
    cached_client(&CLIENT, || {
        Client::builder()
            .no_proxy()
            .connect_timeout(METADATA_CONNECT_TIMEOUT)
    })
}

fn cached_client(
    cell: &'static OnceLock<std::result::Result<Client, String>>,
    builder: impl FnOnce() -> reqwest::ClientBuilder,
) -> Result<&'static Client> {
    cell.get_or_init(|| {
        let tls = crate::tls::client_config().map_err(|e| e.to_string())?;
        builder()
            .tls_backend_preconfigured(tls)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| cause_chain(&e))
    })
    .as_ref()
    .map_err(|cause| Error::unavailable(format!("cannot set up the HTTP client: {cause}")))
}

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
                    cause_chain(&e)
                ))))
            }
        }
    }
}

/// What a failed send means. A refused or unreachable connection is retried for IAM but means
/// "not on a VM" for the metadata service (`retry_connect` false).
pub fn send_failure(e: &reqwest::Error, what: &str, retry_connect: bool) -> Failure {
    let chain = cause_chain(e);
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

/// The error and all its causes, deduplicated: a bare "error sending request" hides whether
/// the certificate was untrusted or the connection refused.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// A short excerpt of a server's own error message, with anything token-like blanked.
pub fn safe_excerpt(message: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut out: String = message
        .split_whitespace()
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            if bare.starts_with("eyJ") || bare.starts_with("t1.") || bare.len() > 64 {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > MAX_CHARS {
        out = out.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(CallOptions::new(1000.0, 3.0).is_ok());
        for (t, r) in [
            (0.0, 1.0),
            (-1.0, 1.0),
            (f64::NAN, 1.0),
            (f64::INFINITY, 1.0),
            (10.0, 11.0),
            (10.0, 1.5),
            (10.0, -1.0),
        ] {
            assert_eq!(
                CallOptions::new(t, r).unwrap_err().code,
                ErrorCode::InvalidArg
            );
        }
    }

    #[test]
    fn endpoints_are_checked() {
        assert!(
            check_endpoint("endpoint", "https://iam.api.cloud.yandex.net/iam/v1/tokens").is_ok()
        );
        for bad in [
            "",
            "iam.api.cloud.yandex.net",
            "ftp://x/y",
            "http://",
            "not a url",
        ] {
            assert_eq!(
                check_endpoint("endpoint", bad).unwrap_err().code,
                ErrorCode::InvalidArg
            );
        }
    }

    #[test]
    fn excerpts_hide_tokens() {
        let msg = "bad jwt eyJhbGciOi.x.y for token t1.9euelZ and more";
        let out = safe_excerpt(msg);
        assert!(!out.contains("eyJ") && !out.contains("t1.9"), "{out}");
        assert!(safe_excerpt(&"a ".repeat(500)).chars().count() <= 201);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_millis(100));
        assert!(backoff(0) >= Duration::from_millis(50));
        assert!(backoff(9) <= BACKOFF_MAX);
    }

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
    async fn the_deadline_bounds_a_hang() {
        let options = CallOptions::new(50.0, 3.0).unwrap();
        let started = Instant::now();
        let result: Result<()> = with_retries("test", options, std::future::pending).await;
        assert_eq!(result.unwrap_err().code, ErrorCode::Timeout);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
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
