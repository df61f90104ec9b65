//! The environment variables the package reads, as one snapshot. A runtime whose
//! `process.env` is not the C environment (Bun, Deno, a test that sets a variable at run
//! time) hands its own snapshot in ([`Env::from_pairs`]); a Rust program uses
//! [`Env::process`].

use std::collections::BTreeMap;

/// Every variable the package reads, so a caller knows what to hand over.
pub const NAMES: &[&str] = &[
    METADATA_ADDR,
    KEY_FILE,
    KEY,
    SERVICE_ACCOUNT_ID,
    ID_TOKEN,
    ID_TOKEN_FILE,
    GITHUB_ID_TOKEN_URL,
    GITHUB_ID_TOKEN_BEARER,
    IAM_TOKEN,
    TOKEN,
    PROFILE,
    "HOME",
    "USERPROFILE",
    "XDG_CONFIG_HOME",
    "PATH",
    HTTPS_PROXY[0],
    HTTPS_PROXY[1],
    HTTP_PROXY[0],
    HTTP_PROXY[1],
    ALL_PROXY[0],
    ALL_PROXY[1],
    NO_PROXY[0],
    NO_PROXY[1],
    SSL_CERT_FILE,
    CGI_REQUEST_METHOD,
];

/// `host[:port]` of the metadata service, as the Go and Python SDKs read it.
pub const METADATA_ADDR: &str = "YC_METADATA_ADDR";
pub const KEY_FILE: &str = "YC_SERVICE_ACCOUNT_KEY_FILE";
pub const KEY: &str = "YC_SERVICE_ACCOUNT_KEY";
pub const SERVICE_ACCOUNT_ID: &str = "YC_SERVICE_ACCOUNT_ID";
pub const ID_TOKEN: &str = "YC_ID_TOKEN";
pub const ID_TOKEN_FILE: &str = "YC_ID_TOKEN_FILE";
pub const GITHUB_ID_TOKEN_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const GITHUB_ID_TOKEN_BEARER: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
pub const IAM_TOKEN: &str = "YC_IAM_TOKEN";
pub const TOKEN: &str = "YC_TOKEN";
pub const PROFILE: &str = "YC_PROFILE";
/// The proxy variables, each with its lowercase twin (the uppercase one is read first).
pub const HTTPS_PROXY: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
pub const HTTP_PROXY: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
pub const ALL_PROXY: [&str; 2] = ["ALL_PROXY", "all_proxy"];
pub const NO_PROXY: [&str; 2] = ["NO_PROXY", "no_proxy"];
/// A PEM bundle of the CA certificates to trust instead of the system's.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Set in a CGI program, where `HTTP_PROXY` can come from a request's `Proxy:` header
/// ("httpoxy"): then only the lowercase `http_proxy` is read.
pub const CGI_REQUEST_METHOD: &str = "REQUEST_METHOD";

/// A snapshot of the variables in [`NAMES`]. An empty value counts as unset.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be credentials (YC_TOKEN, a key's JSON): names only.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The process's C environment.
    pub fn process() -> Env {
        Env::process_only(NAMES)
    }

    /// Only `names` of the process's C environment (a hot path that needs two variables).
    pub fn process_only(names: &[&str]) -> Env {
        Env::from_pairs(
            names
                .iter()
                .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v))),
        )
    }

    /// The given variables (others in the list are ignored).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .filter(|(name, value)| !value.is_empty() && NAMES.contains(&name.as_str()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The first of `names` that is set, with its name (`HTTPS_PROXY` before `https_proxy`).
    pub fn first<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a str)> {
        names
            .iter()
            .find_map(|name| self.get(name).map(|value| (*name, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unknown_variables_are_unset() {
        let env = Env::from_pairs([
            (METADATA_ADDR.to_string(), String::new()),
            ("SECRET_OF_SOMEONE_ELSE".to_string(), "x".to_string()),
            (KEY_FILE.to_string(), "/k.json".to_string()),
        ]);
        assert_eq!(env.get(METADATA_ADDR), None);
        assert_eq!(env.get("SECRET_OF_SOMEONE_ELSE"), None);
        assert_eq!(env.first(&[KEY, KEY_FILE]), Some((KEY_FILE, "/k.json")));
        assert!(!format!("{env:?}").contains("/k.json"));
    }
}
