//! The HTTP stack every network source shares: how a request reaches its service ([`Route`]:
//! the proxy from the caller's environment, [`proxy`], and whom TLS trusts, [`crate::tls`]),
//! pooled clients kept per distinct route, bounded bodies ([`body`]), and the retry loop with
//! the one table of which failures are retried ([`retry`]).

mod body;
pub mod proxy;
mod retry;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::Client;
use tokio::time::Instant;

use crate::env::{self, Env};
use crate::error::{Error, Result};
use crate::limits;
use crate::tls::{self, Trust};

pub use body::read_body;
pub use retry::{send_failure, status_failure, with_retries, Failure};

/// One attempt: sends `request` and reads its answer. A failed send, and a status every
/// service treats alike (redirects, 429, 5xx: the retry table), are a [`Failure`]; anything
/// else comes back as its status and bounded body, for the source to read or reject.
pub async fn attempt(
    request: reqwest::RequestBuilder,
    what: &str,
) -> std::result::Result<(reqwest::StatusCode, Vec<u8>), Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| send_failure(e, what, true))?;
    let status = response.status();
    if let Some(failure) = status_failure(status, &response, what) {
        return Err(failure);
    }
    Ok((status, read_body(response, what).await?))
}

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

impl CallOptions {
    /// These options with what is left until `deadline` as the timeout (a call that spent part
    /// of its deadline reading a file or setting up a client has only the rest for requests).
    pub fn until(self, deadline: Instant, what: &str) -> Result<CallOptions> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::timeout(format!(
                "no time was left of timeoutMs ({} ms) to ask {what}; raise timeoutMs",
                self.timeout.as_millis()
            )));
        }
        Ok(CallOptions {
            timeout: left,
            ..self
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

/// What a client is for: IAM and the token-exchange services go through proxies; the metadata
/// service never does, and is given a short connect timeout ("not on a VM" must be quick).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Iam,
    Metadata,
}

/// How a request reaches an endpoint: directly or through a proxy, and whether TLS trusts the
/// bundle `SSL_CERT_FILE` names. Made from the caller's environment at each call, so that a
/// changed `process.env` takes effect at the next one.
#[derive(Debug, Clone)]
pub struct Route {
    service: Service,
    proxy: Option<proxy::Proxy>,
    /// `SSL_CERT_FILE`, when it is set and the request needs TLS (to the endpoint or the proxy).
    cert_file: Option<String>,
}

impl Route {
    /// The route to `endpoint` (already checked: [`check_endpoint`]) for `service`.
    pub fn new(service: Service, endpoint: &reqwest::Url, env: &Env) -> Result<Route> {
        let proxy = match service {
            Service::Iam => proxy::for_endpoint(endpoint, env)?,
            Service::Metadata => None,
        };
        let needs_tls = endpoint.scheme() == "https"
            || proxy.as_ref().is_some_and(|p| p.url.scheme() == "https");
        let cert_file = needs_tls
            .then(|| env.get(env::SSL_CERT_FILE).map(str::to_string))
            .flatten();
        Ok(Route {
            service,
            proxy,
            cert_file,
        })
    }

    /// " through the proxy http://p:3128/ (HTTPS_PROXY)", or nothing for a direct request: what
    /// messages add to the service's name.
    pub fn describe(&self) -> String {
        match &self.proxy {
            Some(proxy) => format!(" through {}", proxy.describe()),
            None => String::new(),
        }
    }

    /// The client for this route: `SSL_CERT_FILE` read (off the runtime's workers, until
    /// `deadline` at most) when the route needs it, one pooled client kept per distinct
    /// (service, proxy, trusted roots).
    pub async fn client(&self, deadline: Instant) -> Result<Client> {
        let trust = match &self.cert_file {
            None => Trust::Platform,
            Some(path) => {
                let what = format!(
                    "the file named by {} ({})",
                    env::SSL_CERT_FILE,
                    crate::redact::caller_text(path)
                );
                let path = path.clone();
                crate::files::read_off_thread(&what, deadline, move || tls::load_bundle(&path))
                    .await?
            }
        };
        let key = ClientKey {
            service: self.service,
            proxy: self.proxy.as_ref().map(|p| p.url.to_string()),
            trust: trust.id(),
        };
        static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, Client>>> = OnceLock::new();
        let clients = CLIENTS.get_or_init(Default::default);
        let lock = || clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = lock().get(&key) {
            return Ok(client.clone());
        }
        let client = self.build(&trust)?;
        let mut kept = lock();
        if kept.len() >= limits::MAX_HTTP_CLIENTS {
            kept.clear(); // calls in flight keep their clones
        }
        Ok(kept.entry(key).or_insert(client).clone())
    }

    fn build(&self, trust: &Trust) -> Result<Client> {
        let failed =
            |cause: String| Error::unavailable(format!("cannot set up the HTTP client: {cause}"));
        let tls = trust.config().map_err(|e| failed(e.to_string()))?;
        // no_proxy(): reqwest must not read the C environment's proxy variables itself.
        let mut builder = Client::builder()
            .no_proxy()
            .tls_backend_preconfigured(tls)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(50));
        if self.service == Service::Metadata {
            builder = builder.connect_timeout(METADATA_CONNECT_TIMEOUT);
        }
        if let Some(proxy) = &self.proxy {
            let proxy = reqwest::Proxy::all(proxy.url.as_str())
                .map_err(|e| failed(cause_chain(&e.without_url())))?;
            builder = builder.proxy(proxy);
        }
        builder.build().map_err(|e| failed(cause_chain(&e)))
    }
}

/// What tells kept clients apart. The proxy URL keeps its userinfo (a proxy's credentials
/// are part of the route); the map is never shown.
#[derive(PartialEq, Eq, Hash)]
struct ClientKey {
    service: Service,
    proxy: Option<String>,
    trust: Option<[u8; 32]>,
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
