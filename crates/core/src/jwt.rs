//! The PS256 JWT that IAM exchanges for a token.
//!
//! jsonwebtoken's `encode` parses the key's DER on every signature (~880 signs/s here), so
//! the JWT is assembled from jsonwebtoken's `Header` and signed through its `JwtSigner` trait
//! by a signer that holds the already-parsed aws-lc-rs key pair (`key::AuthorizedKey`).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PSS_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::crypto::JwtSigner;
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::AuthorizedKey;

/// IAM accepts JWTs that live at most an hour.
pub use crate::limits::MAX_JWT_LIFETIME_SECS as MAX_LIFETIME_SECS;
/// `iat` is backdated so that a local clock slightly ahead of IAM's is not rejected.
pub const IAT_BACKDATE_SECS: u64 = 5;
// `exp` is reckoned from now, not from the backdated `iat` (a 1-second JWT would be dead on
// arrival), but never more than an hour after `iat`, as IAM requires: the default JWT is
// valid for 3595 s from now.

/// A signed JWT. It is a bearer credential for an hour: never printed, wiped when dropped.
pub struct Jwt(Zeroizing<String>);

impl Jwt {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jwt([redacted])")
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

struct KeyPairSigner<'a>(&'a RsaKeyPair);

impl Signer<Vec<u8>> for KeyPairSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PSS_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(signature::Error::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for KeyPairSigner<'_> {
    fn algorithm(&self) -> Algorithm {
        Algorithm::PS256
    }
}

/// Checks a caller's `lifetimeSec`.
pub fn check_lifetime(lifetime_secs: f64) -> Result<u64> {
    if lifetime_secs.fract() != 0.0 || !(1.0..=MAX_LIFETIME_SECS as f64).contains(&lifetime_secs) {
        return Err(Error::invalid_arg(format!(
            "lifetimeSec must be a whole number of seconds from 1 to 3600 (got {lifetime_secs})"
        )));
    }
    Ok(lifetime_secs as u64)
}

pub fn create_jwt(key: &AuthorizedKey, audience: &str, lifetime_secs: u64) -> Result<Jwt> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let iat = now.saturating_sub(IAT_BACKDATE_SECS);
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some(key.key_id.clone());
    let claims = Claims {
        iss: &key.service_account_id,
        aud: audience,
        iat,
        exp: (now + lifetime_secs).min(iat + MAX_LIFETIME_SECS),
    };
    let mut jwt = String::with_capacity(1024);
    jwt.push_str(&b64_json(&header)?);
    jwt.push('.');
    jwt.push_str(&b64_json(&claims)?);
    let signer = KeyPairSigner(&key.key_pair);
    let sig = signer
        .try_sign(jwt.as_bytes())
        .map_err(|_| Error::invalid_key("signing the JWT with this RSA key failed"))?;
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut jwt);
    Ok(Jwt(Zeroizing::new(jwt)))
}

fn b64_json<T: Serialize>(value: &T) -> Result<String> {
    let json = serde_json::to_vec(value)
        .map_err(|_| Error::invalid_arg("the JWT header or claims cannot be serialized"))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{load, KeyInput};
    use crate::test_support::{key_file_json, rsa_2048};
    use crate::value::Value;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    #[derive(serde::Deserialize)]
    struct Decoded {
        iss: String,
        aud: String,
        iat: u64,
        exp: u64,
    }

    #[test]
    fn a_jwt_verifies_with_the_public_key() {
        let key = load(KeyInput::Object(Value::from_json(key_file_json(
            rsa_2048(),
            "ajekid",
        ))))
        .unwrap();
        let jwt = create_jwt(&key, "https://iam.example/iam/v1/tokens", 600).unwrap();
        let header = decode_header(jwt.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::PS256);
        assert_eq!(header.kid.as_deref(), Some("ajekid"));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let mut validation = Validation::new(Algorithm::PS256);
        validation.set_audience(&["https://iam.example/iam/v1/tokens"]);
        let data = decode::<Decoded>(
            jwt.expose(),
            &DecodingKey::from_rsa_der(&rsa_2048().public_der),
            &validation,
        )
        .unwrap();
        let claims = data.claims;
        assert_eq!(claims.iss, "ajesa0000000000000000");
        assert_eq!(claims.aud, "https://iam.example/iam/v1/tokens");
        assert_eq!(claims.exp - claims.iat, 600 + IAT_BACKDATE_SECS);
        let now = jsonwebtoken::get_current_timestamp();
        assert!(claims.iat <= now - IAT_BACKDATE_SECS + 1 && claims.iat + 60 > now);
        assert_eq!(format!("{jwt:?}"), "Jwt([redacted])");
    }

    #[test]
    fn lifetimes_are_checked() {
        assert_eq!(check_lifetime(3600.0).unwrap(), 3600);
        assert_eq!(check_lifetime(1.0).unwrap(), 1);
        for bad in [0.0, 3601.0, 1.5, -1.0, f64::NAN] {
            assert!(check_lifetime(bad).is_err());
        }
    }
}
