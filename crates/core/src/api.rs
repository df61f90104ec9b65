//! The public operations. Each takes the caller's options as given (`None`: "not passed"),
//! applies the documented defaults and environment variables, checks every value, and
//! answers a token. The napi layer only turns JS values into these structs.

use std::future::Future;

use crate::cache::{self, CacheKey, Cached, CallStart};
use crate::env::{self, Env};
use crate::error::{Error, Result};
use crate::http::{self, CallOptions};
use crate::iam::{self, Exchange};
use crate::jwt::{self, Jwt};
use crate::key::{self, KeyInput};
use crate::metadata;
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
/// (endpoint, key content).
/// The call starts when this is called, not when it is first polled (the cache's single
/// flight counts from then).
pub fn token_from_key(
    key: KeyInput,
    options: KeyOptions,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    key_exchange(key, options, started)
}

async fn key_exchange(key: KeyInput, options: KeyOptions, started: CallStart) -> Result<Cached> {
    let endpoint = options
        .endpoint
        .unwrap_or_else(|| iam::DEFAULT_ENDPOINT.into());
    http::check_endpoint("endpoint", &endpoint)?;
    let audience = match options.audience {
        Some(audience) => check_audience(audience)?,
        None => endpoint.clone(),
    };
    let (call, use_cache) = options
        .call
        .resolve(iam::DEFAULT_TIMEOUT_MS, iam::DEFAULT_RETRIES)?;
    let key = key::load(key)?;
    let exchange = Exchange {
        endpoint,
        audience,
        call,
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

/// The token of the VM's or function's service account from the metadata service.
pub fn token_from_metadata(
    options: MetadataOptions,
    env: &Env,
) -> impl Future<Output = Result<Cached>> + Send {
    let started = CallStart::now();
    let endpoint =
        metadata::resolve_endpoint(options.endpoint.clone(), env.get(env::METADATA_ADDR));
    async move { metadata_fetch(endpoint?, options, started).await }
}

async fn metadata_fetch(
    endpoint: String,
    options: MetadataOptions,
    started: CallStart,
) -> Result<Cached> {
    let (call, use_cache) = options
        .call
        .resolve(metadata::DEFAULT_TIMEOUT_MS, metadata::DEFAULT_RETRIES)?;
    if !use_cache {
        return metadata::fetch(&endpoint, call).await.map(Cached::once);
    }
    let cache_key = CacheKey::Metadata {
        endpoint: endpoint.clone(),
    };
    let fetch = move || async move { metadata::fetch(&endpoint, call).await };
    cache::global()
        .get(cache_key, fetch, started, call.timeout)
        .await
}

/// The token Cloud Functions passes a handler in `context.token`.
pub fn token_from_context(context: &crate::value::Value) -> Result<Cached> {
    crate::context::token_from_context(context).map(Cached::once)
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
