//! The HTTP stack every network source shares: one pooled client per purpose
//! ([`iam_client`], [`metadata_client`]), bounded bodies ([`body`]), and the retry loop with
//! the one table of which failures are retried ([`retry`]).

mod body;
mod retry;

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::Client;

use crate::error::{Error, Result};
use crate::limits;

pub use body::read_body;
pub use retry::{send_failure, status_failure, with_retries, Failure};

pub const USER_AGENT: &str = concat!("yc-iam-token/", env!("CARGO_PKG_VERSION"));
/// A metadata service answers in milliseconds; no connection within this means "not on a VM".
pub const METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Deadline and retries of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    pub timeout: Duration,
    pub retries: u32,
}

impl CallOptions {
    /// Checks `timeoutMs` and `retries` as the caller passed them.
    pub fn new(timeout_ms: f64, retries: f64) -> Result<Self> {
        if !timeout_ms.is_finite() || timeout_ms <= 0.0 || timeout_ms > limits::MAX_TIMEOUT_MS {
            return Err(Error::invalid_arg(format!(
                "timeoutMs must be a positive number of milliseconds, at most 3600000 (got {timeout_ms})"
            )));
        }
        if retries.fract() != 0.0 || !(0.0..=f64::from(limits::MAX_RETRIES)).contains(&retries) {
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
            shown_url(url)
        ))
    })
}

/// A URL as messages show it (no userinfo, query or fragment: [`crate::redact::url`]).
pub fn shown_url(url: &str) -> String {
    let shown = crate::redact::url(url);
    if shown.starts_with("a text of") {
        shown
    } else {
        format!("\"{shown}\"")
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

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
}
