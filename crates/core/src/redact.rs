//! The one home of the "no secret in a message" rule: what looks like a credential, and how
//! text that came from outside (a server's error message, a path, a URL) is made safe to show.

/// How IAM tokens (`t1.`), JWTs (`eyJ`, base64 of `{"`), and OAuth tokens (`y0_`, `AQAAAA`)
/// start.
pub const CREDENTIAL_PREFIXES: [&str; 4] = ["t1.", "eyJ", "y0_", "AQAA"];
/// Longest excerpt of a server's own message that is shown.
const MAX_EXCERPT_CHARS: usize = 200;
/// A run of token characters longer than this is taken for a credential.
const MAX_PLAIN_RUN: usize = 24;

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

/// A short excerpt of a server's own error message: control characters (ANSI escapes
/// included) dropped, every word that holds a credential prefix anywhere or a long run of
/// token characters blanked, at most 200 characters.
pub fn excerpt(message: &str) -> String {
    let printable: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = printable
        .split_whitespace()
        .map(|word| {
            if word_is_secret(word) {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > MAX_EXCERPT_CHARS {
        out = out.chars().take(MAX_EXCERPT_CHARS).collect::<String>() + "…";
    }
    out
}

fn word_is_secret(word: &str) -> bool {
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=' | '~');
    let longest_run = word
        .split(|c: char| !token_char(c))
        .map(str::len)
        .max()
        .unwrap_or(0);
    longest_run > MAX_PLAIN_RUN || CREDENTIAL_PREFIXES.iter().any(|p| word.contains(p))
}

/// A URL as it may be shown: userinfo, query and fragment removed (they may carry
/// credentials); a text that does not parse is shown by its length only.
pub fn url(text: &str) -> String {
    match reqwest::Url::parse(text) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => format!(
            "a text of {} characters that is not a URL",
            text.chars().count()
        ),
    }
}

/// A path or other caller text as it may be shown: quoted when it is short, printable and
/// does not look like a credential; else described by its length.
pub fn caller_text(text: &str) -> String {
    let shown = text.chars().count() <= 200
        && !text.chars().any(char::is_control)
        && !looks_like_credential(text)
        && !text.split(['/', '\\']).any(word_is_secret);
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
        assert_eq!(excerpt("\u{1b}[31mred\u{1b}[0m text"), "[31mred [0m text");
        assert_eq!(excerpt("the key was deleted"), "the key was deleted");
    }

    #[test]
    fn urls_lose_their_credentials() {
        let shown = url("http://user:hunter2@host:8080/path?token=t1.x#frag");
        assert_eq!(shown, "http://host:8080/path");
        assert!(!url("not a url hunter2").contains("hunter2"));
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
