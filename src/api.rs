//! The public operations, as plain Rust: what the napi layer calls once it has turned JS
//! arguments into these requests. Everything here runs without Node (`cargo test`).

use std::time::Duration;

use crate::cache::{self, CacheKey, Cached};
use crate::error::Result;
use crate::http::CallOptions;
use crate::iam::{self, Exchange};
use crate::jwt::{self, Jwt};
use crate::key::{self, KeyInput};
use crate::metadata;
use crate::token::Token;

pub struct KeyRequest {
    pub key: KeyInput,
    pub exchange: Exchange,
    pub cache: bool,
}

pub struct MetadataRequest {
    pub endpoint: String,
    pub call: CallOptions,
    pub cache: bool,
}

pub async fn token_from_key(request: KeyRequest) -> Result<Cached> {
    let KeyRequest {
        key,
        exchange,
        cache,
    } = request;
    let key = key::load(key)?;
    let deadline = exchange.call.timeout;
    if !cache {
        return iam::exchange(&key, &exchange).await.map(uncached);
    }
    let cache_key = CacheKey::Key {
        endpoint: exchange.endpoint.clone(),
        identity: key.identity,
    };
    let fetch = move || async move { iam::exchange(&key, &exchange).await };
    cache::global().get(cache_key, fetch, deadline).await
}

pub async fn token_from_metadata(request: MetadataRequest) -> Result<Cached> {
    let MetadataRequest {
        endpoint,
        call,
        cache,
    } = request;
    if !cache {
        return metadata::fetch(&endpoint, call).await.map(uncached);
    }
    let cache_key = CacheKey::Metadata {
        endpoint: endpoint.clone(),
    };
    let fetch = move || async move { metadata::fetch(&endpoint, call).await };
    cache::global().get(cache_key, fetch, call.timeout).await
}

pub fn create_jwt(key: KeyInput, audience: Option<String>, lifetime_secs: u64) -> Result<Jwt> {
    let key = key::load(key)?;
    let audience = audience.unwrap_or_else(|| iam::DEFAULT_ENDPOINT.to_string());
    jwt::create_jwt(&key, &audience, lifetime_secs)
}

fn uncached(token: Token) -> Cached {
    Cached {
        token,
        fresh_for: Duration::ZERO,
    }
}
