//! The one home of the "no secret in a message" rule: what looks like a credential, and how
//! text that came from outside (a server's error message, a path, a URL) is made safe to show.

/// How IAM tokens (`t1.`), JWTs (`eyJ`, base64 of `{"`), and OAuth tokens (`y0_`, `AQAAAA`)
/// start.
pub const CREDENTIAL_PREFIXES: [&str; 4] = ["t1.", "eyJ", "y0_", "AQAA"];
/// Longest excerpt of a server's own message that is shown.
const MAX_EXCERPT_CHARS: usize = 200;
/// A run of token characters (`.` separates runs, as it separates a JWT's parts) longer than
/// this is taken for a piece of a credential: no 20 characters of a JWT or a token are shown.
const MAX_PLAIN_RUN: usize = 19;
/// A Yandex Cloud resource id (`aje…`, `b1g…`): 20 lowercase letters and digits, shown as it
/// is (a message naming the key or the service account is the useful part).
const RESOURCE_ID_CHARS: usize = 20;
/// What stands for a blanked word.
const REDACTED: &str = "[redacted]";

/// Whether `text` (trimmed) starts like a credential.
pub fn looks_like_credential(text: &str) -> bool {
    let text = text.trim_start();
    CREDENTIAL_PREFIXES.iter().any(|p| text.starts_with(p))
}

/// Whether `text` is JSON text rather than a path: its first non-blank character (a BOM
/// counts as blank) is `{`. The one test every input form uses.
pub fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .starts_with('{')
}

/// A short excerpt of a server's own error message: terminal escape sequences removed,
/// control and invisible formatting characters (bidi overrides) dropped, every word that holds
/// a credential prefix anywhere or a run of 20 or more token characters (other than a resource
/// id) blanked, at most 200 characters.
pub fn excerpt(message: &str) -> String {
    let printable = without_escapes(message);
    let mut words: Vec<&str> = Vec::new();
    for word in printable.split_whitespace() {
        let word = if word_is_secret(word) { REDACTED } else { word };
        // A credential cut into pieces is one blank.
        if !(word == REDACTED && words.last() == Some(&REDACTED)) {
            words.push(word);
        }
    }
    let mut out = words.join(" ");
    if out.chars().count() > MAX_EXCERPT_CHARS {
        out = out.chars().take(MAX_EXCERPT_CHARS).collect::<String>() + "…";
    }
    out
}

/// `text` without ANSI/VT escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`, and
/// two-character ones), with other control characters as spaces and invisible formatting
/// characters (zero-width, bidi controls) dropped.
fn without_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Character set designations: ESC ( B and the like.
                Some('(' | ')' | '*' | '+' | '-' | '.' | '/' | '#' | '%') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            c if is_invisible_format(c) => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Zero-width and bidirectional formatting characters: they make a log line read otherwise
/// than it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}')
}

/// Whether a piece of caller text (a path segment, a URL's path segment) may be a credential
/// pasted in by mistake: a credential prefix, or a run of token characters longer than 24
/// (IAM tokens, JWTs, OAuth tokens are far longer; file and directory names seldom are).
fn caller_piece_is_secret(piece: &str) -> bool {
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=' | '~');
    piece
        .split(|c: char| !token_char(c))
        .any(|run| run.len() > 24)
        || CREDENTIAL_PREFIXES.iter().any(|p| piece.contains(p))
}

/// Whether a word of a server's message may hold a credential or a piece of one.
fn word_is_secret(word: &str) -> bool {
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=' | '~');
    let long_run = word.split(|c: char| !token_char(c)).any(|run| {
        run.len() > MAX_PLAIN_RUN
            && !(run.len() == RESOURCE_ID_CHARS
                && run
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    });
    long_run || CREDENTIAL_PREFIXES.iter().any(|p| word.contains(p))
}

/// A URL as it may be shown: userinfo, query and fragment removed (they may carry
/// credentials), a path segment that looks like a credential blanked; a text that is not a
/// URL with a host is shown by its length only (`user:pass@host` parses as a URL of scheme
/// `user`).
pub fn url(text: &str) -> String {
    match reqwest::Url::parse(text) {
        Ok(mut url) if url.has_host() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            let path = url
                .path()
                .split('/')
                .map(|segment| {
                    if caller_piece_is_secret(segment) {
                        "[redacted]"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            url.set_path(&path);
            url.to_string()
        }
        _ => format!(
            "a text of {} characters that is not a URL",
            text.chars().count()
        ),
    }
}

/// A value that should be `host[:port]` (a variable such as `YC_METADATA_ADDR`), as it may be
/// shown: a URL as [`url`] shows it; quoted when it holds only host characters and cannot be a
/// credential; else by its length.
pub fn address(text: &str) -> String {
    if text.contains("://") {
        return format!("\"{}\"", url(text));
    }
    let host_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']' | '-' | '_'));
    if host_chars
        && text.len() <= 100
        && !looks_like_credential(text)
        && !caller_piece_is_secret(text)
    {
        format!("\"{text}\"")
    } else {
        format!("a value of {} characters, not shown", text.chars().count())
    }
}

/// A path or other caller text as it may be shown: quoted when it is short, printable and
/// does not look like a credential; else described by its length.
pub fn caller_text(text: &str) -> String {
    let shown = text.chars().count() <= 200
        && !text.chars().any(char::is_control)
        && !looks_like_credential(text)
        && !text.split(['/', '\\']).any(caller_piece_is_secret);
    if shown {
        format!("\"{text}\"")
    } else {
        format!("(a text of {} characters, not shown)", text.chars().count())
    }
}

/// A value from an enumerated vocabulary (`token_type`, an OAuth `error`): shown only if it
/// is a short alphanumeric word.
pub fn vocabulary_word(text: &str) -> Option<&str> {
    (text.len() <= 32 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_hide_tokens() {
        for msg in [
            "bad jwt eyJhbGciOi.x.y for token t1.9euelZ and more",
            "token:t1.9euelZ",
            "jwt=(eyJhbGciOiJQUzI1NiJ9)",
            "oauth y0_AgAAAA",
            "piece abcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            let out = excerpt(msg);
            for secret in ["eyJ", "t1.9", "y0_", "abcdefghijklmnopqrstuvwxyz"] {
                assert!(!out.contains(secret), "{msg:?} -> {out:?}");
            }
        }
        assert!(excerpt(&"a ".repeat(500)).chars().count() <= 201);
        assert_eq!(excerpt("\u{1b}[31mred\u{1b}[0m text"), "red text");
        assert_eq!(excerpt("the key was deleted"), "the key was deleted");
    }

    #[test]
    fn excerpts_blank_glued_tokens_jwt_pieces_and_escapes() {
        // A short token glued to a prefix, in every way a message may glue it.
        for msg in [
            "token:t1.abc",
            "bad token (t1.abc)",
            "iamToken=\"t1.abc\"",
            "Bearer\u{1b}[0mt1.abc",
            "oauth:y0_abc",
            "x-AQAAAAabc",
        ] {
            let out = excerpt(msg);
            for secret in ["t1.abc", "y0_abc", "AQAAAAabc"] {
                assert!(!out.contains(secret), "{msg:?} -> {out:?}");
            }
        }
        // Any 20 characters of a JWT's parts, alone or in pieces.
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJhamVzYTAwMDAwMDAwMDAwMDAwMDAiLCJhdWQiOiJ4In0.Zm9vYmFyYmF6cXV4cXV1eHF1dXpjb3JnZWdyYXVsdA";
        for part in jwt.split('.') {
            for piece in [
                part,
                part.get(3..23).unwrap(),
                part.get(part.len() - 20..).unwrap(),
            ] {
                let msg = format!("signature {piece} does not verify");
                let out = excerpt(&msg);
                assert!(!out.contains(piece), "{msg:?} -> {out:?}");
            }
        }
        assert_eq!(
            excerpt("pieces eyJhbGciOiJQUzI1NiJ9 abcdefghijklmnopqrstuvwxyzABCD end"),
            "pieces [redacted] end"
        );
        // ANSI escapes of every kind are dropped whole, bidi overrides too.
        assert_eq!(
            excerpt("\u{1b}]0;owned\u{7}a\u{1b}]8;;http://x\u{1b}\\b\u{9b}2Jc\u{1b}(Bd e\u{202e}f"),
            "abcd ef"
        );
        // A resource id and a domain stay readable.
        assert_eq!(
            excerpt("key 'ajekey10000000000001' not found at iam.api.cloud.yandex.net"),
            "key 'ajekey10000000000001' not found at iam.api.cloud.yandex.net"
        );
    }

    #[test]
    fn urls_lose_their_credentials() {
        let shown = url("http://user:hunter2@host:8080/path?token=t1.x#frag");
        assert_eq!(shown, "http://host:8080/path");
        assert_eq!(
            url("http://user:hunter2@127.0.0.1:1/x?token=abc"),
            "http://127.0.0.1:1/x"
        );
        assert_eq!(
            url("https://h/tokens/t1.abc/eyJhbGciOiJQUzI1NiJ9/ok"),
            "https://h/tokens/[redacted]/[redacted]/ok"
        );
        for not_shown in [
            "not a url hunter2",
            "user:hunter2@host",
            "user:hunter2@host:1/x",
        ] {
            assert!(!url(not_shown).contains("hunter2"), "{not_shown}");
        }
    }

    #[test]
    fn addresses_show_only_what_cannot_be_secret() {
        assert_eq!(address("127.0.0.1:8080"), "\"127.0.0.1:8080\"");
        assert_eq!(address("[::1]:80"), "\"[::1]:80\"");
        assert_eq!(
            address("http://user:hunter2@127.0.0.1:1/x?token=abc"),
            "\"http://127.0.0.1:1/x\""
        );
        for secret in ["user:hunter2@host", "host/x?token=abc", "t1.abc", "a b"] {
            let shown = address(secret);
            assert!(shown.contains("not shown"), "{secret}: {shown}");
        }
    }

    #[test]
    fn caller_text_hides_what_could_be_secret() {
        assert_eq!(caller_text("/etc/key.json"), "\"/etc/key.json\"");
        for secret in [
            "t1.9euelZ",
            "y0_AgAAAA",
            "/tmp/eyJhbGciOiJQUzI1NiJ9",
            "a\u{1b}[31m",
        ] {
            assert!(!caller_text(secret).contains(secret), "{secret}");
        }
    }

    #[test]
    fn json_text_is_told_from_paths() {
        assert!(looks_like_json(" \u{feff}\n{\"id\":1}"));
        assert!(!looks_like_json("/key.json"));
        assert!(!looks_like_json(""));
    }
}
