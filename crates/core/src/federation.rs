//! Workload identity federation: a workload's own OIDC token (GitHub Actions, GitLab CI, a
//! Kubernetes projected service account token) exchanged for a service account's IAM token at
//! Yandex Cloud's token-exchange service (RFC 8693).
//!
//! The subject token is got afresh for every upstream request: a file is read again (Kubernetes
//! rotates projected tokens), GitHub's ID-token endpoint is asked again (its tokens live
//! minutes). A cache entry is keyed by the subject's *source* (the file path, a hash of the
//! token text, a hash of GitHub's request), never by a token.

use aws_lc_rs::digest;
use reqwest::StatusCode;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::clock;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{self, CallOptions, Failure};
use crate::limits::{MAX_INPUT_BYTES, MAX_TOKEN_CHARS};
use crate::metadata;
use crate::redact;
use crate::token::Token;

pub const DEFAULT_ENDPOINT: &str = "https://auth.yandex.cloud/oauth/token";
pub const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
pub const DEFAULT_RETRIES: u32 = 3;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const REQUESTED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Where the workload's OIDC token comes from.
pub enum Subject {
    /// The token itself (`subjectToken`, `YC_ID_TOKEN`); `from` names it for messages.
    Text {
        token: Zeroizing<String>,
        from: &'static str,
    },
    /// A file holding it (`subjectTokenFile`, `YC_ID_TOKEN_FILE`), read at every request.
    File { path: String, from: &'static str },
    /// GitHub Actions' job token: `GET url[&audience=…]` with `Authorization: Bearer …`.
    GitHub {
        url: String,
        bearer: Zeroizing<String>,
        audience: Option<String>,
        /// Direct or through a proxy, from the caller's environment.
        route: http::Route,
    },
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Text { from, .. } => write!(f, "Subject::Text({from}, [redacted])"),
            Subject::File { path, from } => write!(f, "Subject::File({from}, {path:?})"),
            Subject::GitHub { url, audience, .. } => write!(
                f,
                "Subject::GitHub({}, audience {audience:?})",
                redact::url(url)
            ),
        }
    }
}

/// A subject's identity for the cache: the file's path, or a SHA-256 (never the token, never
/// GitHub's bearer token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectIdentity {
    File(String),
    Text([u8; 32]),
    GitHub([u8; 32]),
}

impl Subject {
    pub fn identity(&self) -> SubjectIdentity {
        match self {
            Subject::Text { token, .. } => SubjectIdentity::Text(sha256(&[token.as_bytes()])),
            Subject::File { path, .. } => SubjectIdentity::File(path.clone()),
            Subject::GitHub {
                url,
                bearer,
                audience,
                ..
            } => SubjectIdentity::GitHub(sha256(&[
                url.as_bytes(),
                bearer.as_bytes(),
                audience.as_deref().unwrap_or("\0none").as_bytes(),
            ])),
        }
    }
}

/// SHA-256 over the parts, each followed by a NUL (so ("ab","c") and ("a","bc") differ).
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
        ctx.update(b"\0");
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// One exchange, resolved and checked.
#[derive(Debug)]
pub struct Request {
    pub endpoint: String,
    pub service_account_id: String,
    pub subject: Subject,
    pub call: CallOptions,
    /// Direct or through a proxy, and whom TLS trusts: from the caller's environment.
    pub route: http::Route,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GitHubAnswer {
    value: Option<serde_json::Value>,
}

/// Gets the subject token and exchanges it, retrying what is worth retrying (both requests
/// share the call's deadline and retries).
pub async fn exchange(request: &Request) -> Result<Token> {
    let deadline = tokio::time::Instant::now() + request.call.timeout;
    let what = format!(
        "the token exchange at {}{}",
        redact::url(&request.endpoint),
        request.route.describe()
    );
    let client = request.route.client(deadline).await?;
    let call = request.call.until(deadline, &what)?;
    http::with_retries(&what, call, || async {
        let subject_token = subject_token(&request.subject, deadline).await?;
        let body = Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", GRANT_TYPE)
                .append_pair("requested_token_type", REQUESTED_TOKEN_TYPE)
                .append_pair("audience", &request.service_account_id)
                .append_pair("subject_token", &subject_token)
                .append_pair("subject_token_type", SUBJECT_TOKEN_TYPE)
                .finish(),
        );
        let sent_at = clock::now();
        let sent_wall_ms = clock::wall_ms();
        let exchange = client
            .post(&request.endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.as_bytes().to_vec());
        let (status, body) = http::attempt(exchange, &what).await?;
        if status != StatusCode::OK {
            return Err(Failure::fatal(rejection(status, &body, &what, request)));
        }
        metadata::parse_token(&body, sent_at, sent_wall_ms, &what).map_err(Failure::fatal)
    })
    .await
}

fn rejection(status: StatusCode, body: &[u8], what: &str, request: &Request) -> Error {
    let answer = serde_json::from_slice::<OAuthError>(body).ok();
    let code = answer
        .as_ref()
        .and_then(|a| a.error.as_deref())
        .and_then(redact::vocabulary_word);
    let said = match (
        code,
        answer.as_ref().and_then(|a| a.error_description.as_deref()),
    ) {
        (Some(code), Some(text)) => format!(": {code}: \"{}\"", redact::excerpt(text)),
        (Some(code), None) => format!(": {code}"),
        (None, Some(text)) => format!(": \"{}\"", redact::excerpt(text)),
        (None, None) => String::new(),
    };
    let source = match &request.subject {
        Subject::Text { from, .. } | Subject::File { from, .. } => *from,
        Subject::GitHub { .. } => "GitHub Actions' job token",
    };
    let hint = match code {
        Some("invalid_grant") => format!(
            "; check that service account {} has a federated credential for this workload's \
             subject (yc iam workload-identity federated-credential list --service-account-id …), \
             that the federation trusts the token's issuer and audience, and that the token from \
             {source} has not expired",
            redact::caller_text(&request.service_account_id)
        ),
        Some("invalid_target") | Some("invalid_request") => {
            "; check serviceAccountId (the service account's id, aje…)".to_string()
        }
        _ => String::new(),
    };
    Error::new(
        ErrorCode::IamRejected,
        format!("{what} rejected the subject token with {status}{said}{hint}"),
    )
    .with_status(status.as_u16())
}

/// The subject token for one request (a file is read off the runtime's workers, until
/// `deadline` at most).
async fn subject_token(
    subject: &Subject,
    deadline: tokio::time::Instant,
) -> std::result::Result<Zeroizing<String>, Failure> {
    match subject {
        Subject::Text { token, from } => Ok(Zeroizing::new(check_subject(token, from)?)),
        Subject::File { path, from } => {
            let what = format!("{from} {}", redact::caller_text(path));
            let (path, from) = (path.clone(), *from);
            let text = crate::files::read_off_thread(&what, deadline, move || {
                read_token_file(&path, from)
            })
            .await?;
            Ok(Zeroizing::new(check_subject(&text, from)?))
        }
        Subject::GitHub {
            url,
            bearer,
            audience,
            route,
        } => github_token(url, bearer, audience.as_deref(), route, deadline).await,
    }
}

/// The token text, trimmed: one JWT-shaped line of visible ASCII.
fn check_subject(text: &str, from: &str) -> Result<String> {
    let token = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if token.is_empty() {
        return Err(Error::invalid_arg(format!(
            "{from} is empty: it must hold the workload's OIDC token (a JWT)"
        )));
    }
    if token.len() > MAX_TOKEN_CHARS {
        return Err(Error::invalid_arg(format!(
            "{from} is {} characters, too long for an OIDC token (at most {MAX_TOKEN_CHARS})",
            token.len()
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_arg(format!(
            "{from} holds characters an OIDC token cannot have (spaces, control characters or \
             non-ASCII): it must be the JWT alone"
        )));
    }
    Ok(token.to_string())
}

/// Reads a subject token file through the one bounded reader ([`crate::files`]): a regular
/// file (a FIFO, a device, a directory is refused without blocking) of at most
/// `MAX_INPUT_BYTES`. Blocking: call it off the async workers.
pub fn read_token_file(path: &str, from: &str) -> Result<Zeroizing<String>> {
    let shown = redact::caller_text(path);
    let bytes = crate::files::read(path, MAX_INPUT_BYTES).map_err(|e| match e {
        crate::files::FileError::TooLarge { .. } => Error::invalid_arg(format!(
            "{from} {shown} is over 64 KiB, too large for an OIDC token"
        )),
        e => Error::invalid_arg(format!("cannot read {from} {shown}: {e}")),
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::invalid_arg(format!("{from} {shown} is not UTF-8 text")))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// GitHub Actions' job OIDC token.
async fn github_token(
    url: &str,
    bearer: &str,
    audience: Option<&str>,
    route: &http::Route,
    deadline: tokio::time::Instant,
) -> std::result::Result<Zeroizing<String>, Failure> {
    let what = format!(
        "GitHub's ID-token endpoint {}{}",
        redact::url(url),
        route.describe()
    );
    let client = route.client(deadline).await?;
    let mut request_url = reqwest::Url::parse(url).map_err(|_| {
        Error::invalid_arg(format!(
            "{} must be a URL (it is {})",
            crate::env::GITHUB_ID_TOKEN_URL,
            redact::url(url)
        ))
    })?;
    if let Some(audience) = audience {
        request_url
            .query_pairs_mut()
            .append_pair("audience", audience);
    }
    let request = client
        .get(request_url)
        .bearer_auth(bearer)
        .header(reqwest::header::ACCEPT, "application/json");
    let (status, body) = http::attempt(request, &what).await?;
    let body = Zeroizing::new(body);
    if status != StatusCode::OK {
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "; the workflow (or job) needs `permissions: id-token: write` to get an OIDC token"
            }
            _ => "",
        };
        return Err(Failure::fatal(
            Error::new(
                ErrorCode::IamRejected,
                format!("{what} refused the job's OIDC token with {status}{hint}"),
            )
            .with_status(status.as_u16()),
        ));
    }
    let bad = || {
        Failure::fatal(
            Error::invalid_response(format!(
                "{what} answered 200 but not {{\"value\": \"<JWT>\"}}"
            ))
            .with_status(200),
        )
    };
    let answer: GitHubAnswer = serde_json::from_slice(&body).map_err(|_| bad())?;
    match answer.value {
        Some(serde_json::Value::String(token)) => {
            let token = Zeroizing::new(token);
            check_subject(&token, "GitHub's OIDC token")
                .map(Zeroizing::new)
                .map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Checks a subject token the caller passed as text.
pub fn check_subject_text(text: &str, from: &str) -> Result<()> {
    check_subject(text, from).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_hashes_or_paths() {
        let text = |t: &str| Subject::Text {
            token: Zeroizing::new(t.into()),
            from: "subjectToken",
        };
        let a = text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln").identity();
        assert_eq!(
            a,
            text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln").identity()
        );
        assert_ne!(a, text("eyJother.eyJx.c2ln").identity());
        assert!(!format!("{a:?}").contains("eyJ"));
        let file = Subject::File {
            path: "/var/run/token".into(),
            from: "subjectTokenFile",
        };
        assert_eq!(
            file.identity(),
            SubjectIdentity::File("/var/run/token".into())
        );
        let url = reqwest::Url::parse("https://x/y?a=1").unwrap();
        let gh = Subject::GitHub {
            url: url.to_string(),
            bearer: Zeroizing::new("secret-bearer".into()),
            audience: None,
            route: http::Route::new(http::Service::Iam, &url, &Default::default()).unwrap(),
        };
        assert!(!format!("{:?} {:?}", gh, gh.identity()).contains("secret-bearer"));
    }

    #[test]
    fn subject_text_is_checked() {
        assert_eq!(check_subject("  a.b.c\n", "x").unwrap(), "a.b.c");
        for bad in ["", "  \n", "a b", "a\u{0}b", "é.x.y"] {
            let e = check_subject(bad, "subjectToken").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{bad:?}");
        }
        assert_eq!(
            check_subject(&"a".repeat(MAX_TOKEN_CHARS + 1), "x")
                .unwrap_err()
                .code,
            ErrorCode::InvalidArg
        );
    }

    #[test]
    fn token_files_are_bounded_and_regular() {
        let dir = std::env::temp_dir().join(format!("yc-fed-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("token");
        std::fs::write(&ok, "a.b.c\n").unwrap();
        assert_eq!(
            &*read_token_file(ok.to_str().unwrap(), "subjectTokenFile").unwrap(),
            "a.b.c\n"
        );
        let big = dir.join("big");
        std::fs::write(&big, vec![b'a'; MAX_INPUT_BYTES + 1]).unwrap();
        for path in [
            big.to_str().unwrap(),
            dir.to_str().unwrap(),
            "/no/such/token",
            "/dev/zero",
        ] {
            let e = read_token_file(path, "subjectTokenFile").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{path}: {}", e.message);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejections_carry_the_oauth_error_redacted() {
        let request = Request {
            endpoint: DEFAULT_ENDPOINT.into(),
            service_account_id: "ajesa".into(),
            subject: Subject::Text {
                token: Zeroizing::new("x".into()),
                from: "subjectToken",
            },
            call: CallOptions::new(1000.0, 0.0).unwrap(),
            route: http::Route::new(
                http::Service::Iam,
                &reqwest::Url::parse(DEFAULT_ENDPOINT).unwrap(),
                &Default::default(),
            )
            .unwrap(),
        };
        let body = br#"{"error":"invalid_grant","error_description":"bad token eyJhbGciOiJSUzI1NiJ9.eyJ.x"}"#;
        let e = rejection(StatusCode::BAD_REQUEST, body, "exchange", &request);
        assert_eq!(e.code, ErrorCode::IamRejected);
        assert_eq!(e.status, Some(400));
        assert!(e.message.contains("invalid_grant"), "{}", e.message);
        assert!(e.message.contains("federated credential"), "{}", e.message);
        assert!(!e.message.contains("eyJ"), "{}", e.message);
        let odd = br#"{"error":"not a word \u001b[31m","error_description":null}"#;
        let e = rejection(StatusCode::UNAUTHORIZED, odd, "exchange", &request);
        assert!(!e.message.contains("not a word"), "{}", e.message);
    }
}
