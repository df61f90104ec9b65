//! The instance metadata service (Yandex Compute VMs, Serverless Containers and Functions,
//! Google Compute Engine): a GCE-format token endpoint on a link-local address.

use reqwest::StatusCode;
use serde::Deserialize;

use crate::clock;
use crate::env::{Env, METADATA_ADDR as ADDR_ENV};
use crate::error::{Error, ErrorCode, Result};
use crate::http::{self, CallOptions, Failure};
use crate::token::{check_access_token, lifetime_from_secs, Token};

pub const DEFAULT_ENDPOINT: &str =
    "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token";
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
pub const DEFAULT_TIMEOUT_MS: f64 = 3_000.0;
pub const DEFAULT_RETRIES: u32 = 2;

/// The endpoint to ask: the option, else `YC_METADATA_ADDR`, else the link-local default.
pub fn resolve_endpoint(option: Option<String>, env_addr: Option<&str>) -> Result<String> {
    if let Some(url) = option {
        return http::check_endpoint("endpoint", &url).map(|_| url);
    }
    match env_addr {
        Some(addr) => {
            check_addr(addr).map_err(|why| {
                Error::invalid_arg(format!(
                    "{ADDR_ENV} {why} (got {}): it must be host[:port] as the Go and Python SDKs \
                     read it, e.g. 169.254.169.254 or 127.0.0.1:8080",
                    crate::redact::address(addr)
                ))
            })?;
            let url = format!("http://{addr}{TOKEN_PATH}");
            http::check_endpoint(ADDR_ENV, &url)?;
            Ok(url)
        }
        None => Ok(DEFAULT_ENDPOINT.to_string()),
    }
}

/// Checks a `YC_METADATA_ADDR` value: `host[:port]`, the host an IPv4 address, an IPv6 address
/// in brackets, or a DNS name; the port 1..=65535. The `Err` says what is wrong.
fn check_addr(addr: &str) -> std::result::Result<(), &'static str> {
    if addr.contains("://") {
        return Err("has a scheme; leave out http://");
    }
    if addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds a space or a control character");
    }
    for (c, what) in [
        ('@', "holds userinfo (user@)"),
        ('/', "holds a path"),
        ('\\', "holds a backslash"),
        ('?', "holds a query (?)"),
        ('#', "holds a fragment (#)"),
    ] {
        if addr.contains(c) {
            return Err(what);
        }
    }
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("has a [ with no ]")?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "has [ ] around something that is not an IPv6 address")?;
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err("has something other than :port after ]"),
            },
        }
    } else {
        match addr.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                return Err(
                    "holds more than one colon; an IPv6 address goes in brackets: [::1]:8080",
                )
            }
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(addr), None),
        }
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err("has a port that is not a number from 1 to 65535");
        }
    }
    match host {
        None => Ok(()),
        Some(host) => check_host(host),
    }
}

/// An IPv4 address or a DNS name (letters, digits, `-`, `_`; labels of 1..63 characters).
fn check_host(host: &str) -> std::result::Result<(), &'static str> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() {
        return Err("has no host");
    }
    let labels: Vec<&str> = name.split('.').collect();
    // As URL parsers read it: a name whose last label is numeric is an IPv4 address.
    if labels
        .last()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return name
            .parse::<std::net::Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| "is not a valid IPv4 address");
    }
    let valid = name.len() <= 253
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(())
    } else {
        Err("is not a valid host name")
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<serde_json::Value>,
    expires_in: Option<serde_json::Value>,
    token_type: Option<serde_json::Value>,
}

/// Asks the metadata service at `endpoint` (never through a proxy; `env` only says whether
/// `SSL_CERT_FILE` is to be trusted, for an https:// endpoint).
pub async fn fetch(endpoint: &str, call: CallOptions, env: &Env) -> Result<Token> {
    let deadline = tokio::time::Instant::now() + call.timeout;
    let what = format!("the metadata service at {}", crate::redact::url(endpoint));
    let url = http::check_endpoint("endpoint", endpoint)?;
    let client = http::Route::new(http::Service::Metadata, &url, env)?
        .client(deadline)
        .await?;
    let call = call.until(deadline, &what)?;
    http::with_retries(&what, call, || async {
        let sent_at = clock::now();
        let sent_wall_ms = clock::wall_ms();
        let response = client
            .get(endpoint)
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .map_err(|e| not_here(http::send_failure(e, &what, false)))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Failure::fatal(
                Error::new(
                    ErrorCode::NoServiceAccount,
                    format!("{what} answered 404: no service account is attached to this VM / function; attach one, or use tokenFromKey"),
                )
                .with_status(404),
            ));
        }
        if let Some(failure) = http::status_failure(status, &response, &what) {
            return Err(failure);
        }
        if status != StatusCode::OK {
            return Err(Failure::fatal(
                Error::new(ErrorCode::IamRejected, format!("{what} refused the request with {status}"))
                    .with_status(status.as_u16()),
            ));
        }
        let body = http::read_body(response, &what).await?;
        parse_token(&body, sent_at, sent_wall_ms, &what).map_err(Failure::fatal)
    })
    .await
}

/// A connection that cannot be made means "not on a VM": say so.
fn not_here(mut failure: Failure) -> Failure {
    if !failure.retry {
        failure
            .error
            .message
            .push_str(" (no metadata service here: not on a Yandex Cloud VM or function? Elsewhere use tokenFromKey)");
    }
    failure
}

pub fn parse_token(
    body: &[u8],
    sent_at: tokio::time::Instant,
    sent_wall_ms: f64,
    what: &str,
) -> Result<Token> {
    let bad = |why: String| {
        Error::invalid_response(format!(
            "{what} answered 200 but {why}; expected {{\"access_token\": \"…\", \"expires_in\": <seconds>, \"token_type\": \"Bearer\"}}"
        ))
        .with_status(200)
    };
    let answer: TokenAnswer =
        serde_json::from_slice(body).map_err(|_| bad("the body is not that JSON".into()))?;
    let access_token = match answer.access_token {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(bad("access_token is missing or not a string".into())),
    };
    check_access_token(&access_token).map_err(|why| bad(format!("access_token {why}")))?;
    let expires_in = match answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => return Err(bad("expires_in is missing or not a number".into())),
    };
    match answer.token_type {
        None => {}
        Some(serde_json::Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err(bad("token_type is not Bearer".into())),
    }
    let lifetime = lifetime_from_secs(expires_in, "the answer's", bad)?;
    let token = Token::new(access_token, sent_at, sent_wall_ms, lifetime);
    if token.has_expired() {
        return Err(bad(
            "the token had expired by the time the answer arrived".into()
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_order() {
        assert_eq!(resolve_endpoint(None, None).unwrap(), DEFAULT_ENDPOINT);
        assert_eq!(
            resolve_endpoint(None, Some("127.0.0.1:8080")).unwrap(),
            format!("http://127.0.0.1:8080{TOKEN_PATH}")
        );
        assert_eq!(
            resolve_endpoint(Some("http://a/b".into()), Some("127.0.0.1:1")).unwrap(),
            "http://a/b"
        );
        assert_eq!(
            resolve_endpoint(None, Some("a b/c")).unwrap_err().code,
            ErrorCode::InvalidArg
        );
        assert_eq!(
            resolve_endpoint(None, Some("[::1]:8080")).unwrap(),
            format!("http://[::1]:8080{TOKEN_PATH}")
        );
        assert_eq!(
            resolve_endpoint(Some("nope".into()), None)
                .unwrap_err()
                .code,
            ErrorCode::InvalidArg
        );
    }

    #[test]
    fn the_address_variable_is_host_and_port_only() {
        for good in [
            "169.254.169.254",
            "127.0.0.1:8080",
            "metadata.google.internal",
            "metadata.google.internal.",
            "md_emulator:1",
            "localhost:65535",
            "[::1]",
            "[fe80::1]:80",
        ] {
            assert!(resolve_endpoint(None, Some(good)).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://127.0.0.1:8080", "scheme"),
            ("http://user:hunter2@127.0.0.1:1/x?token=abc", "scheme"),
            ("user:hunter2@127.0.0.1", "userinfo"),
            ("127.0.0.1/computeMetadata", "path"),
            ("127.0.0.1:80?token=abc", "query"),
            ("127.0.0.1#x", "fragment"),
            ("bad host", "space"),
            (" 127.0.0.1", "space"),
            ("127.0.0.1:", "port"),
            ("127.0.0.1:0", "port"),
            ("127.0.0.1:65536", "port"),
            ("127.0.0.1:+80", "port"),
            ("127.0.0.1:８０", "port"),
            ("::1", "brackets"),
            ("[::1", "no ]"),
            ("[nope]:80", "IPv6"),
            ("[::1]x", "after ]"),
            ("999.1.1.1", "IPv4"),
            ("1.2.3", "IPv4"),
            ("-bad.example", "host name"),
            ("a..b", "host name"),
            ("exämple.com", "host name"),
            (":80", "no host"),
        ] {
            let e = resolve_endpoint(None, Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{bad}");
            assert!(e.message.contains(ADDR_ENV), "{bad}: {}", e.message);
            assert!(e.message.contains(why), "{bad}: {}", e.message);
            for secret in ["hunter2", "token=abc"] {
                assert!(!e.message.contains(secret), "{}", e.message);
            }
        }
    }

    #[test]
    fn answers_are_checked() {
        let (now, wall) = (clock::now(), clock::wall_ms());
        let ok = br#"{"access_token":"t1.abc","expires_in":42299,"token_type":"Bearer"}"#;
        let token = parse_token(ok, now, wall, "md").unwrap();
        assert_eq!(token.remaining(now).as_secs(), 42299);
        for body in [
            &br#"garbage"#[..],
            br#"{"access_token":"","expires_in":10}"#,
            br#"{"expires_in":10}"#,
            br#"{"access_token":"t1.x"}"#,
            br#"{"access_token":"t1.x","expires_in":0}"#,
            br#"{"access_token":"t1.x","expires_in":-5}"#,
            br#"{"access_token":"t1.x","expires_in":1e12}"#,
            br#"{"access_token":"t1.x","expires_in":"10"}"#,
            br#"{"access_token":"t1.x","expires_in":10,"token_type":"MAC"}"#,
            br#"{"access_token":"t1.x\r\nX-Injected: 1","expires_in":10}"#,
            br#"{"access_token":"t1.x\u0000","expires_in":10}"#,
            br#"{"access_token":"t1.x y","expires_in":10}"#,
            br#"{"access_token":"t1.x\u00e9","expires_in":10}"#,
            br#"{"access_token":7,"expires_in":10}"#,
        ] {
            let e = parse_token(body, now, wall, "md").unwrap_err();
            assert_eq!(
                e.code,
                ErrorCode::InvalidResponse,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(!e.message.contains("t1.x"));
        }
    }
}
