//! Which proxy a request to IAM goes through, from the caller's environment ([`Env`]), never
//! from reqwest's own reading of the C environment: an unusable value is an error naming the
//! variable (reqwest would skip it and connect directly), `NO_PROXY=*` bypasses every host, IP
//! literals included (curl's meaning), and a changed `process.env` takes effect at the next call.
//!
//! - an https:// endpoint: `HTTPS_PROXY`, else `https_proxy`, else `ALL_PROXY` / `all_proxy`;
//! - an http:// endpoint: `HTTP_PROXY`, else `http_proxy`, else `ALL_PROXY` / `all_proxy`
//!   (in a CGI program, `REQUEST_METHOD` set, `HTTP_PROXY` is not read: "httpoxy");
//! - `NO_PROXY` (else `no_proxy`): entries separated by commas or spaces; `*` matches every
//!   host; a name matches itself and its subdomains (`example.com`, `.example.com` and
//!   `*.example.com` alike); an IP address or a CIDR block (`10.0.0.0/8`, `[::1]`, `fd00::/8`)
//!   matches IP hosts; a `:port` on an entry is ignored.
//!
//! The first variable that is set decides: when it cannot be used, the call fails, whether or
//! not `NO_PROXY` names the host (a broken setting is reported, not guessed around).

use std::net::IpAddr;

use reqwest::Url;

use crate::env::{self, Env};
use crate::error::{Error, Result};

/// The proxy a request goes through, and the variable it came from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// `http://` or `https://`, host and port; userinfo kept (reqwest sends it as
    /// `Proxy-Authorization: Basic`).
    pub url: Url,
    pub variable: &'static str,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Proxy {
    /// "the proxy http://host:3128/ (HTTPS_PROXY)", userinfo removed.
    pub fn describe(&self) -> String {
        format!(
            "the proxy {} ({})",
            crate::redact::url(self.url.as_str()),
            self.variable
        )
    }
}

/// The proxy for a request to `endpoint`, or `None` for a direct connection.
pub fn for_endpoint(endpoint: &Url, env: &Env) -> Result<Option<Proxy>> {
    let names: [&str; 4] = match endpoint.scheme() {
        "https" => [
            env::HTTPS_PROXY[0],
            env::HTTPS_PROXY[1],
            env::ALL_PROXY[0],
            env::ALL_PROXY[1],
        ],
        _ => [
            env::HTTP_PROXY[0],
            env::HTTP_PROXY[1],
            env::ALL_PROXY[0],
            env::ALL_PROXY[1],
        ],
    };
    // In a CGI program HTTP_PROXY may be a client's `Proxy:` header ("httpoxy"): not read.
    let cgi = env.get(env::CGI_REQUEST_METHOD).is_some();
    let Some((variable, value)) = names
        .iter()
        .filter(|name| !(cgi && **name == env::HTTP_PROXY[0]))
        .find_map(|name| env.get(name).map(|value| (*name, value)))
    else {
        return Ok(None);
    };
    let proxy = parse(variable, value)?;
    let bypassed = env
        .first(&env::NO_PROXY)
        .is_some_and(|(_, list)| bypasses(list, endpoint));
    Ok((!bypassed).then_some(proxy))
}

/// A proxy variable's value: `http://host[:port]`, `https://host[:port]`, or `host[:port]`
/// (taken as http://, as curl and reqwest take it), userinfo allowed, no path beyond `/`.
fn parse(variable: &'static str, value: &str) -> Result<Proxy> {
    let text = value.trim();
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("http://{text}")
    };
    let bad = |why: &str| {
        Error::invalid_arg(format!(
            "{variable} is set but cannot be used: {why} (got {}). Set it to http://host:port \
             (or https://), or unset it; the request was not sent, neither through a proxy nor \
             directly",
            super::shown_url(&with_scheme)
        ))
    };
    let url = Url::parse(&with_scheme).map_err(|_| bad("it is not a proxy URL"))?;
    match url.scheme() {
        "http" | "https" => {}
        "socks4" | "socks4a" | "socks5" | "socks5h" => {
            return Err(bad(
                "SOCKS proxies are not supported (only http:// and https:// proxies are)",
            ))
        }
        _ => return Err(bad("a proxy URL must start with http:// or https://")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if url.port() == Some(0) {
        return Err(bad("its port is 0"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a proxy URL has no path, query or fragment (a PAC file cannot be used)",
        ));
    }
    Ok(Proxy { url, variable })
}

/// Whether the `NO_PROXY` list names the endpoint's host.
pub fn bypasses(list: &str, endpoint: &Url) -> bool {
    let Some(host) = endpoint.host() else {
        return false;
    };
    let ip: Option<IpAddr> = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    let name = match host {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        _ => String::new(),
    };
    list.split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            match ip {
                Some(ip) => ip_matches(entry, ip),
                None => name_matches(entry, &name),
            }
        })
}

fn name_matches(entry: &str, host: &str) -> bool {
    let entry = strip_port(entry);
    let entry = entry
        .strip_prefix("*.")
        .or_else(|| entry.strip_prefix('.'))
        .unwrap_or(entry)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    !entry.is_empty()
        && (host == entry
            || host
                .strip_suffix(&entry)
                .is_some_and(|rest| rest.ends_with('.')))
}

fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, bits)) => match bits.parse::<u8>() {
            Ok(bits) => (address, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let address = strip_port(address);
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    let Ok(network) = address.parse::<IpAddr>() else {
        return false;
    };
    match (network, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            prefix_matches(&net.octets(), &ip.octets(), prefix.unwrap_or(32))
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            prefix_matches(&net.octets(), &ip.octets(), prefix.unwrap_or(128))
        }
        _ => false,
    }
}

/// Whether the first `bits` bits of `a` and `b` agree (`bits` past their length: no match).
fn prefix_matches(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    if bits > a.len() * 8 {
        return false;
    }
    let (whole, rest) = (bits / 8, bits % 8);
    if a.get(..whole) != b.get(..whole) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(whole), b.get(whole)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// `host:port` → `host` (an IPv6 address in brackets keeps its colons; a bare one has no port).
fn strip_port(entry: &str) -> &str {
    if let Some(end) = entry.find(']') {
        return entry.get(..=end).unwrap_or(entry);
    }
    match entry.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn proxy_for(endpoint: &str, pairs: &[(&str, &str)]) -> Result<Option<String>> {
        for_endpoint(&url(endpoint), &env(pairs))
            .map(|p| p.map(|p| format!("{} {}", p.variable, p.url)))
    }

    #[test]
    fn the_variable_follows_the_scheme() {
        let all = [
            ("HTTPS_PROXY", "http://s:1"),
            ("https_proxy", "http://s2:1"),
            ("HTTP_PROXY", "http://h:1"),
            ("http_proxy", "http://h2:1"),
            ("ALL_PROXY", "http://a:1"),
            ("all_proxy", "http://a2:1"),
        ];
        assert_eq!(
            proxy_for("https://iam/x", &all).unwrap().unwrap(),
            "HTTPS_PROXY http://s:1/"
        );
        assert_eq!(
            proxy_for("http://iam/x", &all).unwrap().unwrap(),
            "HTTP_PROXY http://h:1/"
        );
        assert_eq!(
            proxy_for("https://iam/x", &all[1..]).unwrap().unwrap(),
            "https_proxy http://s2:1/"
        );
        assert_eq!(
            proxy_for("https://iam/x", &all[2..]).unwrap().unwrap(),
            "ALL_PROXY http://a:1/"
        );
        assert_eq!(
            proxy_for("http://iam/x", &all[5..]).unwrap().unwrap(),
            "all_proxy http://a2:1/"
        );
        assert_eq!(
            proxy_for("https://iam/x", &[("HTTP_PROXY", "http://h:1")]).unwrap(),
            None
        );
        assert_eq!(proxy_for("https://iam/x", &[]).unwrap(), None);
        // httpoxy: under CGI, HTTP_PROXY may be a request header; http_proxy is still read.
        let cgi = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
        assert_eq!(proxy_for("http://iam/x", &cgi).unwrap(), None);
        assert_eq!(
            proxy_for(
                "http://iam/x",
                &[cgi[0], cgi[1], ("http_proxy", "http://h2:1")]
            )
            .unwrap()
            .unwrap(),
            "http_proxy http://h2:1/"
        );
        // No scheme: http://, as curl and reqwest take it; userinfo kept for the proxy.
        assert_eq!(
            proxy_for("https://iam/x", &[("HTTPS_PROXY", "proxy.corp:3128")])
                .unwrap()
                .unwrap(),
            "HTTPS_PROXY http://proxy.corp:3128/"
        );
        assert_eq!(
            proxy_for(
                "https://iam/x",
                &[("HTTPS_PROXY", "https://u:hunter2@p:443/")]
            )
            .unwrap()
            .unwrap(),
            "HTTPS_PROXY https://u:hunter2@p/"
        );
    }

    #[test]
    fn an_unusable_value_is_an_error_naming_the_variable() {
        for (value, why) in [
            (":::", "not a proxy URL"),
            ("http://", "not a proxy URL"),
            ("http://:8080", "not a proxy URL"),
            ("ftp://x", "http:// or https://"),
            ("socks5://127.0.0.1:1080", "SOCKS"),
            ("socks5h://user:hunter2@127.0.0.1", "SOCKS"),
            ("http://p:3128/proxy.pac", "no path"),
            ("http://p:3128/?token=abc", "no path"),
            ("http://p:0", "port is 0"),
            ("http://p:99999", "not a proxy URL"),
            ("http://user:hunter2@bad host:1", "not a proxy URL"),
        ] {
            for (endpoint, variable) in [
                ("https://iam/x", "HTTPS_PROXY"),
                ("https://iam/x", "ALL_PROXY"),
                ("http://iam/x", "http_proxy"),
            ] {
                // A NO_PROXY naming the host does not hide a broken setting.
                let e = proxy_for(endpoint, &[(variable, value), ("NO_PROXY", "*")]).unwrap_err();
                assert_eq!(e.code, ErrorCode::InvalidArg);
                assert!(e.message.starts_with(variable), "{}", e.message);
                assert!(e.message.contains(why), "{value}: {}", e.message);
                assert!(!e.message.contains("hunter2"), "{}", e.message);
                assert!(!e.message.contains("token=abc"), "{}", e.message);
            }
        }
    }

    #[test]
    fn no_proxy_as_curl_reads_it() {
        let bypassed = |list: &str, endpoint: &str| bypasses(list, &url(endpoint));
        for endpoint in [
            "https://iam.api.cloud.yandex.net/x",
            "http://127.0.0.1:8080/x",
            "http://[::1]:8080/x",
            "http://10.1.2.3/",
        ] {
            assert!(bypassed("*", endpoint), "{endpoint}");
            assert!(bypassed("foo, *", endpoint), "{endpoint}");
        }
        assert!(bypassed("yandex.net", "https://iam.api.cloud.yandex.net/x"));
        assert!(bypassed(
            ".yandex.net",
            "https://iam.api.cloud.yandex.net/x"
        ));
        assert!(bypassed(
            "*.yandex.net",
            "https://iam.api.cloud.yandex.net/x"
        ));
        assert!(bypassed(
            "YANDEX.NET.",
            "https://iam.api.cloud.yandex.net./x"
        ));
        assert!(bypassed(
            "iam.api.cloud.yandex.net:443",
            "https://iam.api.cloud.yandex.net/x"
        ));
        assert!(bypassed("a b,yandex.net", "https://yandex.net/x"));
        assert!(!bypassed("ndex.net", "https://iam.api.cloud.yandex.net/x"));
        assert!(!bypassed("other.net", "https://iam.api.cloud.yandex.net/x"));
        assert!(bypassed("127.0.0.1", "http://127.0.0.1:8080/x"));
        assert!(bypassed("localhost,127.0.0.1:8080", "http://127.0.0.1:1/x"));
        assert!(bypassed("127.0.0.0/8", "http://127.1.2.3/x"));
        assert!(bypassed("10.0.0.0/9", "http://10.127.0.1/x"));
        assert!(!bypassed("10.0.0.0/9", "http://10.128.0.1/x"));
        assert!(bypassed("0.0.0.0/0", "http://8.8.8.8/x"));
        assert!(!bypassed("10.0.0.0/33", "http://10.0.0.1/x"));
        assert!(bypassed("::1", "http://[::1]/x"));
        assert!(bypassed("[::1]", "http://[::1]/x"));
        assert!(bypassed("[::1]:80", "http://[::1]/x"));
        assert!(bypassed("fd00::/8", "http://[fd12::1]/x"));
        assert!(!bypassed("fd00::/8", "http://[fe80::1]/x"));
        assert!(!bypassed("127.0.0.1", "http://[::1]/x"));
        assert!(!bypassed("localhost", "http://127.0.0.1/x"));
        assert!(!bypassed("", "http://127.0.0.1/x"));
        assert!(!bypassed(",, ,", "http://h/x"));
        // for_endpoint applies it.
        assert_eq!(
            proxy_for(
                "https://iam/x",
                &[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "iam")]
            )
            .unwrap(),
            None
        );
        assert!(proxy_for(
            "https://iam/x",
            &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "other")]
        )
        .unwrap()
        .is_some());
    }
}
