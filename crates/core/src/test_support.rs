//! Keys for the Rust tests: real RSA keys, made once per test process.

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

pub struct TestKey {
    pub pkcs8_pem: String,
    pub public_der: Vec<u8>,
}

pub fn rsa_2048() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make(KeySize::Rsa2048))
}

pub fn rsa_2048_other() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make(KeySize::Rsa2048))
}

fn make(size: KeySize) -> TestKey {
    let pair = KeyPair::generate(size).unwrap();
    let pkcs8: Pkcs8V1Der = pair.as_der().unwrap();
    let public: PublicKeyX509Der = pair.public_key().as_der().unwrap();
    TestKey {
        pkcs8_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec())),
        public_der: public.as_ref().to_vec(),
    }
}

/// The authorized key JSON as `yc iam key create` writes it.
pub fn key_file_json(key: &TestKey, id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "service_account_id": "ajesa0000000000000000",
        "created_at": "2026-11-22T00:00:00Z",
        "key_algorithm": "RSA_2048",
        "public_key": "-----BEGIN PUBLIC KEY-----\n…",
        "private_key": format!("PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{id}>\n{}", key.pkcs8_pem),
    })
}
