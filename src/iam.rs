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
pub const DEFAULT_RETRIES: f64 = 3.0;

/// Where and how to exchange a key.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub endpoint: String,
    /// The JWT's `aud`: the endpoint unless the caller says otherwise.
    pub audience: String,
    pub call: CallOptions,
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

pub async fn exchange(key: &AuthorizedKey, request: &Exchange) -> Result<Token> {
    let client = http::iam_client()?;
    let what = format!("IAM at {}", request.endpoint);
    http::with_retries(&what, request.call, || async {
        // A fresh JWT for each attempt: its iat must be recent.
        let jwt = jwt::create_jwt(key, &request.audience, jwt::MAX_LIFETIME_SECS)?;
        let body = Zeroizing::new(serde_json::json!({ "jwt": jwt.expose() }).to_string());
        let sent_at = clock::now();
        let sent_wall_ms = clock::wall_ms();
        let response = client
            .post(&request.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| http::send_failure(&e, &what, true))?;
        let status = response.status();
        if let Some(failure) = http::status_failure(status, &response, &what) {
            return Err(failure);
        }
        let body = http::read_body(response, &what).await?;
        if status != StatusCode::OK {
            return Err(Failure::fatal(rejection(status, &body, &what)));
        }
        parse_token(&body, sent_at, sent_wall_ms, &what).map_err(Failure::fatal)
    })
    .await
}

fn rejection(status: StatusCode, body: &[u8], what: &str) -> Error {
    let said = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|a| a.message)
        .map(|m| format!(": \"{}\"", http::safe_excerpt(&m)))
        .unwrap_or_default();
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            "; check that the authorized key still exists (yc iam key list) and belongs to this service account"
        }
        _ => "",
    };
    Error::new(
        ErrorCode::IamRejected,
        format!("{what} rejected the key with {status}{said}{hint}"),
    )
    .with_status(status.as_u16())
}

pub fn parse_token(
    body: &[u8],
    sent_at: std::time::Instant,
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
    if answer.iam_token.trim().is_empty() {
        return Err(bad("iamToken is empty"));
    }
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
    // The caller sees IAM's own expiresAt; the cache goes by the (capped) monotonic expiry.
    token.expires_at_ms = expires_at_ms;
    if token.has_expired() {
        return Err(bad("the token had expired by the time the answer arrived"));
    }
    Ok(token)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into ms since the Unix epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20
        || at(4) != Some(b'-')
        || at(7) != Some(b'-')
        || !matches!(at(10), Some(b'T' | b't' | b' '))
        || at(13) != Some(b':')
        || at(16) != Some(b':')
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Whole milliseconds, truncated as Date.parse does; the nanoseconds beyond are dropped.
        let digits = s.get(start..i.min(start + 3))?;
        millis = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && at(i + 3) == Some(b':') => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let m = h * 60 + m;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some((secs * 1000 + millis) as f64)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        let later = wall + 3_600_000.0;
        let secs = (later / 1000.0) as i64;
        let days = secs.div_euclid(86_400);
        // Build an RFC 3339 string for `later` by searching the date: simple and exact enough.
        let (y, m, d) = civil_from_days(days);
        let rem = secs.rem_euclid(86_400);
        let ts = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.123456789Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
        let body = format!("{{\"iamToken\":\"t1.abc\",\"expiresAt\":\"{ts}\"}}");
        let token = parse_token(body.as_bytes(), now, wall, "IAM").unwrap();
        let left = token.remaining(now).as_secs();
        assert!((3590..=3600).contains(&left), "{left}");

        for body in [
            "nope",
            "{}",
            "{\"iamToken\":\"\",\"expiresAt\":\"2030-01-01T00:00:00Z\"}",
            "{\"iamToken\":\"t1.x\",\"expiresAt\":\"soon\"}",
            "{\"iamToken\":\"t1.x\",\"expiresAt\":\"2000-01-01T00:00:00Z\"}",
        ] {
            let e = parse_token(body.as_bytes(), now, wall, "IAM").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidResponse);
            assert!(!e.message.contains("t1.x"));
        }
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
}
