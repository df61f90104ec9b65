//! The exchange at the IAM endpoint: a signed JWT in, an IAM token out.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::clock;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{self, CallOptions, Failure};
use crate::jwt;
use crate::key::AuthorizedKey;
use crate::token::{Token, MAX_LIFETIME};

pub const DEFAULT_ENDPOINT: &str = "https://iam.api.cloud.yandex.net/iam/v1/tokens";
pub const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
pub const DEFAULT_RETRIES: u32 = 3;
/// How far IAM's clock may be ahead of ours before its `expiresAt` is not believed.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Where and how to exchange a key.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub endpoint: String,
    /// The JWT's `aud`: the endpoint unless the caller says otherwise.
    pub audience: String,
    pub call: CallOptions,
    /// Direct or through a proxy, and whom TLS trusts: from the caller's environment.
    pub route: http::Route,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    iam_token: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    message: Option<String>,
}

/// What is exchanged at IAM for an IAM token: a service account's key (as a JWT signed for
/// each attempt) or a user's OAuth token. Both exchanges share one request path and one
/// answer parser; only the body and the advice on a rejection differ.
#[derive(Clone, Copy)]
enum Credential<'a> {
    Key {
        key: &'a AuthorizedKey,
        audience: &'a str,
    },
    OAuth(&'a str),
}

impl Credential<'_> {
    fn body(&self) -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(match self {
            // A fresh JWT for each attempt: its iat must be recent.
            Credential::Key { key, audience } => {
                let jwt = jwt::create_jwt(key, audience, jwt::MAX_LIFETIME_SECS)?;
                serde_json::json!({ "jwt": jwt.expose() }).to_string()
            }
            Credential::OAuth(token) => {
                serde_json::json!({ "yandexPassportOauthToken": token }).to_string()
            }
        }))
    }

    /// What IAM rejected, for the message.
    fn noun(&self) -> &'static str {
        match self {
            Credential::Key { .. } => "the key",
            Credential::OAuth(_) => "the OAuth token",
        }
    }

    fn hint(&self, status: StatusCode) -> &'static str {
        match (self, status) {
            (Credential::Key { .. }, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                "; check that the authorized key still exists (yc iam key list) and belongs to this service account"
            }
            (Credential::OAuth(_), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                "; the OAuth token is invalid, expired or revoked: get a new one (yc init, or \
                 https://oauth.yandex.com/authorize?response_type=token&client_id=1a6990aa636648e9b2ef855fa7bec2fb)"
            }
            _ => "",
        }
    }
}

/// An authorized key's JWT exchanged at IAM.
pub async fn exchange(key: &AuthorizedKey, request: &Exchange) -> Result<Token> {
    let credential = Credential::Key {
        key,
        audience: &request.audience,
    };
    post(&request.endpoint, request.call, &request.route, credential).await
}

/// A user's OAuth token (`y0_…`, `AQAAAA…`) exchanged at IAM.
pub async fn exchange_oauth(
    oauth_token: &str,
    endpoint: &str,
    call: CallOptions,
    route: &http::Route,
) -> Result<Token> {
    post(endpoint, call, route, Credential::OAuth(oauth_token)).await
}

async fn post(
    endpoint: &str,
    call: CallOptions,
    route: &http::Route,
    credential: Credential<'_>,
) -> Result<Token> {
    let deadline = tokio::time::Instant::now() + call.timeout;
    let what = format!(
        "IAM at {}{}",
        crate::redact::url(endpoint),
        route.describe()
    );
    let client = route.client(deadline).await?;
    let call = call.until(deadline, &what)?;
    http::with_retries(&what, call, || async {
        let body = credential.body()?;
        let sent_at = clock::now();
        let sent_wall_ms = clock::wall_ms();
        let request = client
            .post(endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.as_bytes().to_vec());
        let (status, body) = http::attempt(request, &what).await?;
        if status != StatusCode::OK {
            return Err(Failure::fatal(rejection(status, &body, &what, credential)));
        }
        parse_token(&body, sent_at, sent_wall_ms, &what).map_err(Failure::fatal)
    })
    .await
}

fn rejection(status: StatusCode, body: &[u8], what: &str, credential: Credential<'_>) -> Error {
    let said = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|a| a.message)
        .map(|m| format!(": \"{}\"", crate::redact::excerpt(&m)))
        .unwrap_or_default();
    Error::new(
        ErrorCode::IamRejected,
        format!(
            "{what} rejected {} with {status}{said}{}",
            credential.noun(),
            credential.hint(status)
        ),
    )
    .with_status(status.as_u16())
}

pub fn parse_token(
    body: &[u8],
    sent_at: tokio::time::Instant,
    sent_wall_ms: f64,
    what: &str,
) -> Result<Token> {
    let bad = |why: &str| {
        Error::invalid_response(format!(
            "{what} answered 200 but {why}; expected {{\"iamToken\": \"…\", \"expiresAt\": \"<RFC 3339>\"}}"
        ))
        .with_status(200)
    };
    let answer: TokenAnswer =
        serde_json::from_slice(body).map_err(|_| bad("the body is not that JSON"))?;
    crate::token::check_access_token(&answer.iam_token)
        .map_err(|why| bad(&format!("iamToken {why}")))?;
    let expires_at_ms = parse_rfc3339_ms(&answer.expires_at)
        .ok_or_else(|| bad("expiresAt is not an RFC 3339 time"))?;
    let lifetime_ms = expires_at_ms - sent_wall_ms;
    if lifetime_ms <= 0.0 {
        return Err(bad(
            "the token has expired already by this machine's clock (is the clock right?)",
        ));
    }
    let lifetime = Duration::from_secs_f64(lifetime_ms / 1000.0).min(MAX_LIFETIME);
    let mut token = Token::new(answer.iam_token, sent_at, sent_wall_ms, lifetime);
    // The caller sees IAM's own expiresAt, unless it claims more than a token lives (plus
    // clock skew): then what the cache goes by, request time + 12 h.
    if lifetime_ms <= (MAX_LIFETIME + CLOCK_SKEW).as_secs_f64() * 1000.0 {
        token.expires_at_ms = expires_at_ms;
    }
    if token.has_expired() {
        return Err(bad("the token had expired by the time the answer arrived"));
    }
    Ok(token)
}

/// Parses an RFC 3339 time (IAM sends up to nanoseconds) into whole ms since the Unix epoch,
/// truncated as `Date.parse` does.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let time =
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time.unix_timestamp_nanos().div_euclid(1_000_000)) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T02:06:27.911247532Z"),
            Some(1_795_399_587_911.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T05:06:27+03:00"),
            parse_rfc3339_ms("2026-11-23T02:06:27Z")
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T12:00:00.5Z"),
            Some(951_825_600_500.0)
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T02:06:27",
            "2026-11-23T02:06:27.Z",
            "2026-11-23T02:06:27Zjunk",
            "２026-11-23T02:06:27Z",
            "2099-02-31T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-11-23T02:06:27+99:99",
            "2026-11-23T02:06:27+03:60",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_token_answer_is_checked() {
        let now = clock::now();
        let wall = clock::wall_ms();
        let later =
            time::OffsetDateTime::from_unix_timestamp_nanos(((wall + 3_600_000.0) * 1e6) as i128)
                .unwrap();
        let ts = later
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let body = format!("{{\"iamToken\":\"t1.abc\",\"expiresAt\":\"{ts}\"}}");
        let token = parse_token(body.as_bytes(), now, wall, "IAM").unwrap();
        let long = body.replace("t1.abc", &format!("t1.{}", "a".repeat(16 * 1024)));
        let e = parse_token(long.as_bytes(), now, wall, "IAM").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidResponse);
        assert!(e.message.contains("more than the 16384"), "{}", e.message);
        let left = token.remaining(now).as_secs();
        assert!((3590..=3600).contains(&left), "{left}");

        for body in [
            "nope",
            "{}",
            "{\"iamToken\":\"\",\"expiresAt\":\"2030-01-01T00:00:00Z\"}",
            "{\"iamToken\":\"t1.x\",\"expiresAt\":\"soon\"}",
            "{\"iamToken\":\"t1.x\",\"expiresAt\":\"2000-01-01T00:00:00Z\"}",
            "{\"iamToken\":\"t1.x\\r\\nX-Injected: 1\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}",
            "{\"iamToken\":\"t1.x\\u0000\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}",
            "{\"iamToken\":\" t1.x\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}",
            "{\"iamToken\":\"t1.xé\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}",
        ] {
            let e = parse_token(body.as_bytes(), now, wall, "IAM").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidResponse);
            assert!(!e.message.contains("t1.x"));
        }
    }
}
