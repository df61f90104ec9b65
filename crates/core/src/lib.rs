//! Yandex Cloud IAM tokens for a service account, from every place a program can get one:
//! an authorized key (signed PS256 JWT, exchanged at IAM), the instance metadata service, a
//! Cloud Functions context, a workload's OIDC token (workload identity federation: GitHub
//! Actions, GitLab CI, Kubernetes), a user's OAuth token, or the `yc` CLI's profile. This is the napi-free core of the `yc-iam-token` Node.js addon,
//! and a Rust library of its own: everything here runs in any tokio program.
//!
//! The operations are in [`api`]: each takes plain options (what a caller may leave out is an
//! `Option`), resolves the documented defaults and environment variables, and answers a
//! [`Cached`] token. Tokens are cached per process ([`cache`]): fresh tokens come back at once,
//! old ones are refreshed on demand, concurrent calls share one request.
//!
//! ```
//! use yc_iam_token_core::api;
//! use yc_iam_token_core::value::Value;
//!
//! // A Cloud Functions handler's `context`, as JSON.
//! let context = Value::from_json(serde_json::json!({
//!     "token": {"access_token": "t1.9euelZqexample", "expires_in": 43200, "token_type": "Bearer"}
//! }));
//! let token = api::token_from_context(&context).unwrap();
//! assert_eq!(token.token.access_token, "t1.9euelZqexample");
//! ```
//!
//! Every failure is an [`Error`] with one stable [`ErrorCode`]; no message ever holds a
//! private key, a JWT or a token ([`redact`] is where that rule lives).

#![deny(clippy::all)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod api;
pub mod cache;
pub mod clock;
pub mod context;
pub mod env;
pub mod error;
pub mod federation;
pub mod files;
mod http;
pub mod iam;
mod jwt;
pub mod key;
pub mod limits;
mod lru;
pub mod metadata;
pub mod oauth;
pub mod profile;
pub mod redact;
mod tls;
pub mod token;
pub mod value;

#[cfg(test)]
mod test_support;

pub use cache::Cached;
pub use error::{Error, ErrorCode, Result};
pub use jwt::Jwt;
pub use token::Token;
