//! The public operations. Each takes the caller's options as given (`None`: "not passed"),
//! applies the documented defaults and environment variables, checks every value, and
//! answers a token. The napi layer only turns JS values into these structs.

use std::future::Future;

use zeroize::Zeroizing;

use crate::cache::{self, CacheKey, Cached, CallStart};
use crate::env::{self, Env};
use crate::error::{Error, Result};
use crate::federation::{self, Subject};
use crate::http::{self, CallOptions};
use crate::iam::{self, Exchange};
use crate::jwt::{self, Jwt};
use crate::key::{self, AuthorizedKey, KeyInput};
use crate::limits;
use crate::metadata;
use crate::oauth;
use crate::profile::{self, Credentials, Selection};
use crate::redact;
use crate::token::Token;

/// What every network call takes.
#[derive(Debug, Clone, Default)]
pub struct CallSettings {
    /// Deadline of the whole call, retries included, in ms.
    pub timeout_ms: Option<f64>,
    /// Retries after the first attempt, for retryable failures only.
    pub retries: Option<f64>,
    /// Use and fill the per-process token cache (default true).
    pub cache: Option<bool>,
}

impl CallSettings {
    fn resolve(
        &self,
        default_timeout_ms: f64,
        default_retries: u32,
    ) -> Result<(CallOptions, bool)> {
        let call = CallOptions::new(
            self.timeout_ms.unwrap_or(default_timeout_ms),
            self.retries.unwrap_or(f64::from(default_retries)),
        )?;
        Ok((call, self.cache.unwrap_or(true)))
    }
}

/// Options of [`token_from_key`].
#[derive(Debug, Clone, Default)]
pub struct KeyOptions {
    /// IAM's token endpoint; default [`iam::DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    /// The JWT's `aud`; default: the endpoint.
    pub audience: Option<String>,
    pub call: CallSettings,
}

/// Options of [`token_from_metadata`].
#[derive(Debug, Clone, Default)]
pub struct MetadataOptions {
    /// Default: `http://$YC_METADATA_ADDR/…` when that is set, else [`metadata::DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    pub call: CallSettings,
}

/// Options of [`create_jwt`].
#[derive(Debug, Clone, Default)]
pub struct JwtOptions {
    /// Default [`iam::DEFAULT_ENDPOINT`].
    pub audience: Option<String>,
    /// Whole seconds 1..=3600; default 3600.
    pub lifetime_sec: Option<f64>,
}

/// An IAM token for an authorized key: signed JWT, exchanged at IAM, cached per
/// (endpoint, key content). `env` gives the proxy variables and `SSL_CERT_FILE`.
/// The call starts when this is called, not when it is first polled (the cache's single
/// flight counts from then, and so does the deadline).
pub fn token_from_key(
    key: KeyInput,
    options: KeyOptions,
    env: &Env,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    let begun = tokio::time::Instant::now();
    let env = env.clone();
    async move { key_exchange(key, options, &env, started, begun).await }
}

async fn key_exchange(
    key: KeyInput,
    options: KeyOptions,
    env: &Env,
    started: CallStart,
    begun: tokio::time::Instant,
) -> Result<Cached> {
    let (endpoint, route) = iam_route(options.endpoint, env)?;
    let audience = match options.audience {
        Some(audience) => check_audience(audience)?,
        None => endpoint.clone(),
    };
    let (call, use_cache) = options
        .call
        .resolve(iam::DEFAULT_TIMEOUT_MS, iam::DEFAULT_RETRIES)?;
    // A key file is read off the runtime's workers, inside the call's deadline; what is left
    // of the deadline bounds the exchange.
    let deadline = begun + call.timeout;
    let key = key::load_within(key, deadline).await?;
    let call = call.until(deadline, "IAM (the key file took the time)")?;
    exchange_key(key, endpoint, audience, call, route, use_cache, started).await
}

/// A loaded key's exchange, through the cache unless `use_cache` is off.
async fn exchange_key(
    key: AuthorizedKey,
    endpoint: String,
    audience: String,
    call: CallOptions,
    route: http::Route,
    use_cache: bool,
    started: CallStart,
) -> Result<Cached> {
    let exchange = Exchange {
        endpoint,
        audience,
        call,
        route,
    };
    if !use_cache {
        return iam::exchange(&key, &exchange).await.map(Cached::once);
    }
    let cache_key = CacheKey::Key {
        endpoint: exchange.endpoint.clone(),
        identity: key.identity,
    };
    let fetch = move || async move { iam::exchange(&key, &exchange).await };
    cache::global()
        .get(cache_key, fetch, started, call.timeout)
        .await
}

/// IAM's endpoint (the option, else the default), checked, and the route to it from `env`.
fn iam_route(option: Option<String>, env: &Env) -> Result<(String, http::Route)> {
    let endpoint = option.unwrap_or_else(|| iam::DEFAULT_ENDPOINT.into());
    let url = http::check_endpoint("endpoint", &endpoint)?;
    let route = http::Route::new(http::Service::Iam, &url, env)?;
    Ok((endpoint, route))
}

/// The token of the VM's or function's service account from the metadata service.
pub fn token_from_metadata(
    options: MetadataOptions,
    env: &Env,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    let endpoint =
        metadata::resolve_endpoint(options.endpoint.clone(), env.get(env::METADATA_ADDR));
    let env = env.clone();
    async move { metadata_fetch(endpoint?, options, env, started).await }
}

async fn metadata_fetch(
    endpoint: String,
    options: MetadataOptions,
    env: Env,
    started: CallStart,
) -> Result<Cached> {
    let (call, use_cache) = options
        .call
        .resolve(metadata::DEFAULT_TIMEOUT_MS, metadata::DEFAULT_RETRIES)?;
    if !use_cache {
        return metadata::fetch(&endpoint, call, &env)
            .await
            .map(Cached::once);
    }
    let cache_key = CacheKey::Metadata {
        endpoint: endpoint.clone(),
    };
    let fetch = move || async move { metadata::fetch(&endpoint, call, &env).await };
    cache::global()
        .get(cache_key, fetch, started, call.timeout)
        .await
}

/// The token Cloud Functions passes a handler in `context.token`.
pub fn token_from_context(context: &crate::value::Value) -> Result<Cached> {
    crate::context::token_from_context(context).map(Cached::once)
}

/// Options of [`token_from_federation`]. What is left out comes from the environment:
/// `YC_SERVICE_ACCOUNT_ID`; `YC_ID_TOKEN`, else `YC_ID_TOKEN_FILE`, else GitHub Actions' job
/// token (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
#[derive(Clone, Default)]
pub struct FederationOptions {
    /// The service account to get a token for (the exchange's `audience`).
    pub service_account_id: Option<String>,
    /// The workload's OIDC token (a JWT).
    pub subject_token: Option<String>,
    /// A file holding it, read again at every upstream request.
    pub subject_token_file: Option<String>,
    /// GitHub Actions only: the `audience` of the job's OIDC token.
    pub audience: Option<String>,
    /// The token-exchange endpoint; default [`federation::DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    pub call: CallSettings,
}

impl std::fmt::Debug for FederationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationOptions")
            .field("service_account_id", &self.service_account_id)
            .field(
                "subject_token",
                &self.subject_token.as_ref().map(|_| "[redacted]"),
            )
            .field("subject_token_file", &self.subject_token_file)
            .field("audience", &self.audience)
            .field("endpoint", &self.endpoint)
            .field("call", &self.call)
            .finish()
    }
}

/// Whether federation is getToken's source here: `YC_SERVICE_ACCOUNT_ID` together with
/// `YC_ID_TOKEN`, `YC_ID_TOKEN_FILE`, or both of GitHub Actions' variables. The reason when
/// Why getToken's yc profile step cannot apply, without reading the config (see
/// [`profile::absent`]); None when a config is there.
pub fn profile_absent(env: &Env) -> Option<String> {
    profile::absent(env)
}

/// it is not.
pub fn federation_applies(env: &Env) -> std::result::Result<(), String> {
    let github = env.get(env::GITHUB_ID_TOKEN_URL).is_some()
        && env.get(env::GITHUB_ID_TOKEN_BEARER).is_some();
    let subject =
        env.get(env::ID_TOKEN).is_some() || env.get(env::ID_TOKEN_FILE).is_some() || github;
    match (env.get(env::SERVICE_ACCOUNT_ID).is_some(), subject) {
        (true, true) => Ok(()),
        (false, true) => Err(format!(
            "an OIDC token is at hand, but {} is not set (the service account to exchange it for)",
            env::SERVICE_ACCOUNT_ID
        )),
        (true, false) => Err(format!(
            "{} is set, but none of {}, {}, or GitHub Actions' {} + {} (permissions: id-token: write)",
            env::SERVICE_ACCOUNT_ID,
            env::ID_TOKEN,
            env::ID_TOKEN_FILE,
            env::GITHUB_ID_TOKEN_URL,
            env::GITHUB_ID_TOKEN_BEARER
        )),
        (false, false) => Err(format!("{} not set", env::SERVICE_ACCOUNT_ID)),
    }
}

/// A service account's IAM token for the workload's OIDC token (workload identity federation),
/// cached per (endpoint, service account, subject source). The call starts when this is called.
pub fn token_from_federation(
    options: FederationOptions,
    env: &Env,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    let prepared = options
        .call
        .resolve(federation::DEFAULT_TIMEOUT_MS, federation::DEFAULT_RETRIES)
        .and_then(|(call, use_cache)| {
            Ok((federation_request(options, env, call)?, call, use_cache))
        });
    async move {
        let (request, call, use_cache) = prepared?;
        if !use_cache {
            return federation::exchange(&request).await.map(Cached::once);
        }
        let cache_key = CacheKey::Federation {
            endpoint: request.endpoint.clone(),
            service_account_id: request.service_account_id.clone(),
            subject: request.subject.identity(),
        };
        let fetch = move || async move { federation::exchange(&request).await };
        cache::global()
            .get(cache_key, fetch, started, call.timeout)
            .await
    }
}

fn federation_request(
    options: FederationOptions,
    env: &Env,
    call: CallOptions,
) -> Result<federation::Request> {
    let endpoint = options
        .endpoint
        .unwrap_or_else(|| federation::DEFAULT_ENDPOINT.into());
    let url = http::check_endpoint("endpoint", &endpoint)?;
    let route = http::Route::new(http::Service::Iam, &url, env)?;
    let service_account_id = match options.service_account_id {
        Some(id) => check_id(&id, "serviceAccountId")?,
        None => match env.get(env::SERVICE_ACCOUNT_ID) {
            Some(id) => check_id(id, env::SERVICE_ACCOUNT_ID)?,
            None => {
                return Err(Error::invalid_arg(format!(
                    "serviceAccountId is required: the id of the service account (aje…) whose \
                     federated credential trusts this workload; or set {}",
                    env::SERVICE_ACCOUNT_ID
                )))
            }
        },
    };
    if let Some(audience) = &options.audience {
        if audience.trim().is_empty() {
            return Err(Error::invalid_arg(
                "audience must not be empty: leave it out for GitHub's default",
            ));
        }
    }
    let subject = match (options.subject_token, options.subject_token_file) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_arg(
                "pass subjectToken or subjectTokenFile, not both",
            ))
        }
        (Some(token), None) => text_subject(token, "subjectToken")?,
        (None, Some(path)) => file_subject(path, "subjectTokenFile")?,
        (None, None) => {
            let github = (
                env.get(env::GITHUB_ID_TOKEN_URL),
                env.get(env::GITHUB_ID_TOKEN_BEARER),
            );
            if let Some(token) = env.get(env::ID_TOKEN) {
                text_subject(token.to_string(), env::ID_TOKEN)?
            } else if let Some(path) = env.get(env::ID_TOKEN_FILE) {
                file_subject(path.to_string(), env::ID_TOKEN_FILE)?
            } else if let (Some(url), Some(bearer)) = github {
                let github_url =
                    http::check_endpoint(env::GITHUB_ID_TOKEN_URL, url).map_err(|_| {
                        Error::invalid_arg(format!(
                            "{} must be an http(s) URL (it is {})",
                            env::GITHUB_ID_TOKEN_URL,
                            redact::url(url)
                        ))
                    })?;
                Subject::GitHub {
                    url: url.to_string(),
                    bearer: Zeroizing::new(bearer.to_string()),
                    audience: options.audience.clone(),
                    route: http::Route::new(http::Service::Iam, &github_url, env)?,
                }
            } else {
                return Err(Error::invalid_arg(format!(
                    "no OIDC token to exchange: pass subjectToken (the workload's OIDC token, a \
                     JWT) or subjectTokenFile (a file holding it, such as a Kubernetes projected \
                     service account token), set {} or {}, or run in GitHub Actions with \
                     `permissions: id-token: write` (which sets {} and {})",
                    env::ID_TOKEN,
                    env::ID_TOKEN_FILE,
                    env::GITHUB_ID_TOKEN_URL,
                    env::GITHUB_ID_TOKEN_BEARER
                )));
            }
        }
    };
    if options.audience.is_some() && !matches!(subject, Subject::GitHub { .. }) {
        return Err(Error::invalid_arg(
            "audience is for GitHub Actions' job token only; a subjectToken or \
             subjectTokenFile already has its audience",
        ));
    }
    Ok(federation::Request {
        endpoint,
        service_account_id,
        subject,
        call,
        route,
    })
}

fn text_subject(token: String, from: &'static str) -> Result<Subject> {
    let token = Zeroizing::new(token);
    federation::check_subject_text(&token, from)?;
    Ok(Subject::Text { token, from })
}

fn file_subject(path: String, from: &'static str) -> Result<Subject> {
    if path.trim().is_empty() || path.chars().count() > limits::MAX_PATH_CHARS {
        return Err(Error::invalid_arg(format!(
            "{from} must be the path of a file holding the OIDC token (at most {} characters)",
            limits::MAX_PATH_CHARS
        )));
    }
    if redact::looks_like_credential(&path) {
        return Err(Error::invalid_arg(format!(
            "{from} looks like a token, not a path: pass the token as subjectToken"
        )));
    }
    Ok(Subject::File { path, from })
}

/// An id such as a service account's: a short word of visible ASCII.
fn check_id(id: &str, name: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_arg(format!(
            "{name} must be a service account id such as aje… (got {})",
            redact::caller_text(id)
        )));
    }
    Ok(id.to_string())
}

/// Options of [`token_from_oauth`].
#[derive(Debug, Clone, Default)]
pub struct OAuthOptions {
    /// IAM's token endpoint; default [`iam::DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    pub call: CallSettings,
}

/// A user's OAuth token (`y0_…`, `AQAAAA…`) exchanged at IAM, cached per (endpoint, the
/// token's SHA-256). The call starts when this is called.
/// `env` gives the proxy variables and `SSL_CERT_FILE`.
pub fn token_from_oauth(
    token: Zeroizing<String>,
    options: OAuthOptions,
    env: &Env,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    let env = env.clone();
    async move {
        let (endpoint, route) = iam_route(options.endpoint, &env)?;
        let (call, use_cache) = options
            .call
            .resolve(iam::DEFAULT_TIMEOUT_MS, iam::DEFAULT_RETRIES)?;
        let token = Zeroizing::new(oauth::check(&token, "the OAuth token")?);
        oauth_exchange(token, endpoint, call, route, use_cache, started).await
    }
}

async fn oauth_exchange(
    token: Zeroizing<String>,
    endpoint: String,
    call: CallOptions,
    route: http::Route,
    use_cache: bool,
    started: CallStart,
) -> Result<Cached> {
    if !use_cache {
        return oauth::exchange(&token, &endpoint, call, &route)
            .await
            .map(Cached::once);
    }
    let cache_key = CacheKey::OAuth {
        endpoint: endpoint.clone(),
        token_hash: federation::sha256(&[token.as_bytes()]),
    };
    let fetch = move || async move { oauth::exchange(&token, &endpoint, call, &route).await };
    cache::global()
        .get(cache_key, fetch, started, call.timeout)
        .await
}

/// Options of [`token_from_profile`].
#[derive(Debug, Clone, Default)]
pub struct ProfileOptions {
    /// IAM's token endpoint, for a profile's key or OAuth token; default [`iam::DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    pub call: CallSettings,
}

/// What kind of credentials the `yc` profile held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// `service-account-key`: the key exchange.
    Key,
    /// `token` with an OAuth token: the OAuth exchange.
    OAuth,
    /// `token` with an IAM token: as it is.
    IamToken,
    /// A federated user or an impersonating profile: `yc iam create-token`.
    Yc,
}

impl ProfileKind {
    /// getToken's `source`: `yc` when the token came from running yc, else `profile`.
    pub fn source(self) -> &'static str {
        match self {
            ProfileKind::Yc => "yc",
            _ => "profile",
        }
    }
}

/// A profile's token: from an exchange (expiry known), or as yc printed it or the profile held
/// it (expiry not known).
#[derive(Debug)]
pub enum ProfileToken {
    Exchanged(Cached),
    AsIs(String),
}

#[derive(Debug)]
pub enum ProfileOutcome {
    Token {
        token: ProfileToken,
        kind: ProfileKind,
        /// The profile's name.
        profile: String,
    },
    /// Why the profile is no source here: getToken moves on.
    DoesNotApply(String),
}

/// The token of the `yc` CLI's profile (YC_PROFILE's, else the config's `current`), for
/// getToken. The whole of it, the config read and a `yc` run included, is inside the call's
/// deadline.
pub fn token_from_profile(
    options: ProfileOptions,
    env: &Env,
) -> impl Future<Output = Result<ProfileOutcome>> + Send {
    let started = CallStart::now();
    let env = env.clone();
    async move { profile_token(options, &env, started).await }
}

async fn profile_token(
    options: ProfileOptions,
    env: &Env,
    started: CallStart,
) -> Result<ProfileOutcome> {
    let (endpoint, route) = iam_route(options.endpoint, env)?;
    let (call, use_cache) = options
        .call
        .resolve(iam::DEFAULT_TIMEOUT_MS, iam::DEFAULT_RETRIES)?;
    let deadline = tokio::time::Instant::now() + call.timeout;
    let late = || {
        Error::timeout(format!(
            "reading the yc config took longer than timeoutMs ({} ms)",
            call.timeout.as_millis()
        ))
    };
    let reading = {
        let env = env.clone();
        tokio::task::spawn_blocking(move || profile::select(&env))
    };
    let selected = match tokio::time::timeout_at(deadline, reading).await {
        Err(_) => return Err(late()),
        Ok(Err(_)) => return Err(Error::invalid_arg("the yc config could not be read")),
        Ok(Ok(selection)) => match selection? {
            Selection::Applies(selected) => selected,
            Selection::DoesNotApply(why) => return Ok(ProfileOutcome::DoesNotApply(why)),
        },
    };
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if left.is_zero() {
        return Err(late());
    }
    let call = CallOptions {
        timeout: left,
        retries: call.retries,
    };
    let name = selected.name;
    let (token, kind) = match selected.credentials {
        Credentials::Key(fields) => {
            let key = key::load(KeyInput::Object(fields)).map_err(|mut e| {
                e.message = format!(
                    "the service-account-key of profile {} in {}: {}",
                    redact::caller_text(&name),
                    profile::show_config_path(&selected.config),
                    e.message
                );
                e
            })?;
            let audience = endpoint.clone();
            let cached =
                exchange_key(key, endpoint, audience, call, route, use_cache, started).await?;
            (ProfileToken::Exchanged(cached), ProfileKind::Key)
        }
        Credentials::OAuth(token) => {
            let cached = oauth_exchange(token, endpoint, call, route, use_cache, started).await?;
            (ProfileToken::Exchanged(cached), ProfileKind::OAuth)
        }
        Credentials::IamToken(token) => {
            (ProfileToken::AsIs(token.to_string()), ProfileKind::IamToken)
        }
        Credentials::Yc(yc) => {
            let token = profile::run_yc(&yc, &name, env, left).await?;
            (ProfileToken::AsIs(token), ProfileKind::Yc)
        }
    };
    Ok(ProfileOutcome::Token {
        token,
        kind,
        profile: name,
    })
}

/// The signed PS256 JWT alone, for callers who exchange it themselves.
pub fn create_jwt(key: KeyInput, options: JwtOptions) -> Result<Jwt> {
    let lifetime = match options.lifetime_sec {
        Some(secs) => jwt::check_lifetime(secs)?,
        None => jwt::MAX_LIFETIME_SECS,
    };
    let audience = match options.audience {
        Some(audience) => check_audience(audience)?,
        None => iam::DEFAULT_ENDPOINT.to_string(),
    };
    let key = key::load(key)?;
    jwt::create_jwt(&key, &audience, lifetime)
}

fn check_audience(audience: String) -> Result<String> {
    if audience.trim().is_empty() {
        return Err(Error::invalid_arg(
            "audience must not be empty: leave it out for the IAM endpoint URL",
        ));
    }
    Ok(audience)
}

impl Cached {
    /// A token handed out once, not kept: the next call asks again.
    pub fn once(token: Token) -> Cached {
        Cached {
            token,
            fresh_for: std::time::Duration::ZERO,
            origin: cache::Origin::Fetched,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::federation::SubjectIdentity;

    fn env_with(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn call() -> CallOptions {
        CallOptions::new(1000.0, 0.0).unwrap()
    }

    fn resolve(options: FederationOptions, env: &[(&str, &str)]) -> Result<federation::Request> {
        federation_request(options, &env_with(env), call())
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    const GITHUB: [(&str, &str); 2] = [
        (
            env::GITHUB_ID_TOKEN_URL,
            "https://gh.example/idtoken?api-version=2.0",
        ),
        (env::GITHUB_ID_TOKEN_BEARER, "bearer-secret"),
    ];

    #[test]
    fn federation_options_then_environment() {
        let given = FederationOptions {
            service_account_id: Some("ajesa".into()),
            subject_token_file: Some("/var/run/token".into()),
            ..Default::default()
        };
        let env = [(env::SERVICE_ACCOUNT_ID, "ajeenv"), (env::ID_TOKEN, JWT)];
        let request = resolve(given, &env).unwrap();
        assert_eq!(request.service_account_id, "ajesa");
        assert_eq!(request.endpoint, federation::DEFAULT_ENDPOINT);
        assert_eq!(
            request.subject.identity(),
            SubjectIdentity::File("/var/run/token".into())
        );

        let from_env = resolve(FederationOptions::default(), &env).unwrap();
        assert_eq!(from_env.service_account_id, "ajeenv");
        assert!(matches!(
            from_env.subject,
            Subject::Text {
                from: env::ID_TOKEN,
                ..
            }
        ));

        let mut github = vec![(env::SERVICE_ACCOUNT_ID, "ajeenv")];
        github.extend(GITHUB);
        let options = FederationOptions {
            audience: Some("https://github.com/acme".into()),
            ..Default::default()
        };
        let request = resolve(options, &github).unwrap();
        assert!(matches!(request.subject, Subject::GitHub { .. }));
        assert!(!format!("{request:?}").contains("bearer-secret"));
        assert!(federation_applies(&env_with(&github)).is_ok());
    }

    #[test]
    fn federation_without_what_it_needs_says_what_to_pass() {
        let e = resolve(FederationOptions::default(), &[(env::ID_TOKEN, JWT)]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message.contains("serviceAccountId"), "{}", e.message);
        let sa = [(env::SERVICE_ACCOUNT_ID, "ajesa")];
        let e = resolve(FederationOptions::default(), &sa).unwrap_err();
        for what in ["subjectToken", "subjectTokenFile", "id-token: write"] {
            assert!(e.message.contains(what), "{what}: {}", e.message);
        }
        let both = FederationOptions {
            subject_token: Some(JWT.into()),
            subject_token_file: Some("/t".into()),
            ..Default::default()
        };
        assert!(resolve(both, &sa).unwrap_err().message.contains("not both"));
        let audience_for_text = FederationOptions {
            subject_token: Some(JWT.into()),
            audience: Some("x".into()),
            ..Default::default()
        };
        assert!(resolve(audience_for_text, &sa)
            .unwrap_err()
            .message
            .contains("GitHub"));
        let token_as_path = FederationOptions {
            subject_token_file: Some(JWT.into()),
            ..Default::default()
        };
        let e = resolve(token_as_path, &sa).unwrap_err();
        assert!(!e.message.contains("eyJ"), "{}", e.message);
        let bad_endpoint = FederationOptions {
            endpoint: Some("nope".into()),
            subject_token: Some(JWT.into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(bad_endpoint, &sa).unwrap_err().code,
            ErrorCode::InvalidArg
        );
    }

    #[test]
    fn federation_applies_only_with_both_halves() {
        for (env, applies) in [
            (
                vec![(env::SERVICE_ACCOUNT_ID, "a"), (env::ID_TOKEN, JWT)],
                true,
            ),
            (
                vec![(env::SERVICE_ACCOUNT_ID, "a"), (env::ID_TOKEN_FILE, "/t")],
                true,
            ),
            (vec![(env::SERVICE_ACCOUNT_ID, "a"), GITHUB[0]], false),
            (vec![(env::ID_TOKEN, JWT)], false),
            (vec![], false),
        ] {
            let got = federation_applies(&env_with(&env));
            assert_eq!(got.is_ok(), applies, "{env:?}: {got:?}");
            if let Err(why) = got {
                assert!(!why.contains("eyJ"));
            }
        }
    }
}
