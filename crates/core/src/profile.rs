//! The `yc` CLI's profile: what a developer's laptop has after `yc init`.
//!
//! `yc` keeps its profiles in `$HOME/.config/yandex-cloud/config.yaml` (on Windows
//! `%USERPROFILE%\.config\yandex-cloud\config.yaml`; `yc` does not follow `XDG_CONFIG_HOME`,
//! so neither does this):
//!
//! ```yaml
//! current: default
//! profiles:
//!   default:
//!     token: y0_…                    # a user's OAuth token
//!     cloud-id: b1g…
//!   robot:
//!     service-account-key:           # an authorized key, as yc iam key create wrote it
//!       id: aje…
//!       service_account_id: aje…
//!       private_key: |
//!         -----BEGIN PRIVATE KEY-----
//!   work:
//!     federation-id: bpf…            # a federated user: only yc can get the token
//! ```
//!
//! The profile is `YC_PROFILE`'s, else `current`. A missing file or profile means "does not
//! apply" (getToken moves on); a file that is there but cannot be read or parsed is
//! `ERR_INVALID_ARG` naming the file. The YAML is read with yaml-rust2's pull parser into the
//! package's small [`Value`]: aliases are not expanded (no "billion laughs" from a 64 KiB file),
//! nesting is bounded, and nothing but mappings and scalars is kept.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use yaml_rust2::parser::Parser;
use yaml_rust2::scanner::TScalarStyle;
use yaml_rust2::Event;
use zeroize::Zeroizing;

use crate::env::{self, Env};
use crate::error::{Error, ErrorCode, Result};
use crate::oauth;
use crate::redact;
use crate::value::Value;

/// The config's place under the home folder.
pub const CONFIG_PATH: [&str; 3] = [".config", "yandex-cloud", "config.yaml"];
/// A yc config is well under 10 KB (a profile with a service account key is ~3 KB).
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
const MAX_DEPTH: usize = 32;
/// What `yc iam create-token` may print (a token is ~300 characters).
const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The credentials of the selected profile.
pub enum Credentials {
    /// `service-account-key`: the authorized key's fields.
    Key(Value),
    /// `token` holding an OAuth token.
    OAuth(Zeroizing<String>),
    /// `token` holding an IAM token (`t1.…`): used as it is.
    IamToken(Zeroizing<String>),
    /// A federated user (`federation-id`) or an impersonating profile: only `yc` can get the
    /// token. The path of `yc`, found on PATH.
    Yc(PathBuf),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Key(_) => "Key([redacted])",
            Credentials::OAuth(_) => "OAuth([redacted])",
            Credentials::IamToken(_) => "IamToken([redacted])",
            Credentials::Yc(_) => "Yc",
        })
    }
}

/// The profile that applies.
#[derive(Debug)]
pub struct Selected {
    pub name: String,
    pub config: PathBuf,
    pub credentials: Credentials,
}

/// What reading the config found.
#[derive(Debug)]
pub enum Selection {
    Applies(Selected),
    /// Why the profile is no source here (no config, no such profile, no credentials…).
    DoesNotApply(String),
}

/// The variables the config's path comes from.
pub const HOME_VARS: &[&str] = &["HOME", "USERPROFILE"];

/// The config file's path, from HOME (else USERPROFILE); None when neither is set.
pub fn config_path(env: &Env) -> Option<PathBuf> {
    let home = env.get("HOME").or_else(|| env.get("USERPROFILE"))?;
    let mut path = PathBuf::from(home);
    path.extend(CONFIG_PATH);
    Some(path)
}

/// Why no profile can apply here without reading anything: HOME is not set, or no file is at
/// the config's path (one `stat`, cheap enough for every getToken call); None when a config is
/// there to read.
pub fn absent(env: &Env) -> Option<String> {
    let Some(path) = config_path(env) else {
        return Some("HOME is not set, so there is no yc config to read".into());
    };
    if std::fs::metadata(&path).is_ok() {
        return None;
    }
    Some(format!(
        "no yc config at {} (yc init makes one)",
        show_config_path(&path)
    ))
}

/// Reads the config and picks the profile. Blocking (it reads a file and looks along PATH):
/// call it off the async workers.
pub fn select(env: &Env) -> Result<Selection> {
    if let Some(reason) = absent(env) {
        return Ok(Selection::DoesNotApply(reason));
    }
    let Some(path) = config_path(env) else {
        return Ok(Selection::DoesNotApply(
            "HOME is not set, so there is no yc config to read".into(),
        ));
    };
    let shown = show_config_path(&path);
    let Some(text) = read_config(&path, &shown)? else {
        return Ok(Selection::DoesNotApply(format!(
            "no yc config at {shown} (yc init makes one)"
        )));
    };
    let config = parse_yaml(&text).map_err(|why| {
        Error::invalid_arg(format!(
            "the yc config {shown} is not valid YAML ({why}); fix it, or run yc init again"
        ))
    })?;
    let malformed = |why: String| {
        Error::invalid_arg(format!(
            "the yc config {shown} is malformed: {why}; fix it, or run yc init again"
        ))
    };
    match &config {
        Value::Object(_) => {}
        Value::Missing | Value::Null => {
            return Ok(Selection::DoesNotApply(format!(
                "the yc config {shown} is empty"
            )))
        }
        other => {
            return Err(malformed(format!(
                "it must be a mapping with current and profiles (it is {})",
                yaml_type(other)
            )))
        }
    }
    let (name, named_by) = match (env.get(env::PROFILE), config.get("current")) {
        (Some(name), _) => (name.to_string(), env::PROFILE),
        (None, Value::String(name)) if !name.trim().is_empty() => (name.clone(), "current"),
        (None, Value::Missing | Value::Null) | (None, Value::String(_)) => {
            return Ok(Selection::DoesNotApply(format!(
                "the yc config {shown} names no current profile, and {} is not set",
                env::PROFILE
            )))
        }
        (None, other) => {
            return Err(malformed(format!(
                "current must be a profile name (it is {})",
                yaml_type(other)
            )))
        }
    };
    let shown_name = redact::caller_text(&name);
    let profile = match config.get("profiles") {
        Value::Object(_) => config.get("profiles").get(&name),
        Value::Missing | Value::Null => {
            return Ok(Selection::DoesNotApply(format!(
                "the yc config {shown} has no profiles"
            )))
        }
        other => {
            return Err(malformed(format!(
                "profiles must be a mapping (it is {})",
                yaml_type(other)
            )))
        }
    };
    match profile {
        Value::Object(_) => {}
        Value::Missing => {
            return Ok(Selection::DoesNotApply(format!(
                "profile {shown_name} (named by {named_by}) is not in the yc config {shown}"
            )))
        }
        other => {
            return Err(malformed(format!(
                "profile {shown_name} must be a mapping (it is {})",
                yaml_type(other)
            )))
        }
    }
    let field = |name: &str| match profile.get(name) {
        Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Value::Missing | Value::Null | Value::String(_) => Ok(None),
        other => Err(malformed(format!(
            "{name} of profile {shown_name} must be a string (it is {})",
            yaml_type(other)
        ))),
    };
    let needs_yc = |why: &str| -> Result<Selection> {
        Ok(match find_on_path(env, "yc") {
            Some(yc) => Selection::Applies(Selected {
                name: name.clone(),
                config: path.clone(),
                credentials: Credentials::Yc(yc),
            }),
            None => Selection::DoesNotApply(format!(
                "profile {shown_name} {why}: its token comes from `yc iam create-token`, and yc \
                 is not on PATH"
            )),
        })
    };
    // An impersonating profile's token is the service account's, which only yc can get: the
    // profile's own credentials would be the wrong identity.
    if field("impersonate-service-account-id")?.is_some() {
        return needs_yc("impersonates a service account (impersonate-service-account-id)");
    }
    let applies = |credentials: Credentials| -> Result<Selection> {
        Ok(Selection::Applies(Selected {
            name: name.clone(),
            config: path.clone(),
            credentials,
        }))
    };
    match profile.get("service-account-key") {
        key @ Value::Object(_) => return applies(Credentials::Key(key.clone())),
        Value::Missing | Value::Null => {}
        other => {
            return Err(malformed(format!(
                "service-account-key of profile {shown_name} must be the authorized key's \
                 fields (it is {})",
                yaml_type(other)
            )))
        }
    }
    if let Some(token) = field("token")?.map(Zeroizing::new) {
        let from = format!("the token of profile {shown_name} in {shown}");
        if token.starts_with("t1.") {
            check_iam_token(&token)
                .map_err(|why| Error::invalid_arg(format!("{from} is {why}")))?;
            return applies(Credentials::IamToken(token));
        }
        let token = Zeroizing::new(oauth::check(&token, &from)?);
        return applies(Credentials::OAuth(token));
    }
    if field("federation-id")?.is_some() {
        return needs_yc("is a federated user's (federation-id)");
    }
    if matches!(profile.get("instance-service-account"), Value::String(s) if s == "true") {
        return Ok(Selection::DoesNotApply(format!(
            "profile {shown_name} uses the VM's service account (instance-service-account): \
             that is the metadata service's token"
        )));
    }
    Ok(Selection::DoesNotApply(format!(
        "profile {shown_name} in {shown} holds no credentials (token, service-account-key or \
         federation-id)"
    )))
}

/// The config's path as messages show it: HOME plus a fixed tail, so not a credential pasted
/// by mistake (as a caller's text may be); only control characters and length hide it.
pub fn show_config_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text.chars().count() <= 300 && !text.chars().any(char::is_control) {
        format!("\"{text}\"")
    } else {
        format!("(a path of {} characters, not shown)", text.chars().count())
    }
}

/// The config's text; None when there is no file (or no folder) there. Read through the one
/// bounded reader ([`crate::files`]): a regular file (a FIFO, a device, a directory is refused
/// without blocking) of at most 64 KiB.
fn read_config(path: &Path, shown: &str) -> Result<Option<Zeroizing<String>>> {
    use crate::files::FileError;
    use std::io::ErrorKind;
    let Some(text_path) = path.to_str() else {
        return Err(Error::invalid_arg(format!(
            "the yc config {shown} has a path that is not UTF-8"
        )));
    };
    let bytes = match crate::files::read(text_path, MAX_CONFIG_BYTES) {
        Ok(bytes) => bytes,
        Err(FileError::Io(e))
            if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) =>
        {
            return Ok(None)
        }
        Err(FileError::TooLarge { .. }) => {
            return Err(Error::invalid_arg(format!(
                "the yc config {shown} is over 64 KiB, too large for a yc config"
            )))
        }
        Err(e) => {
            return Err(Error::invalid_arg(format!(
                "cannot read the yc config {shown}: {e}"
            )))
        }
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::invalid_arg(format!("the yc config {shown} is not UTF-8 text")))?;
    Ok(Some(Zeroizing::new(
        text.trim_start_matches('\u{feff}').to_string(),
    )))
}

fn yaml_type(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "a mapping",
        Value::String(_) => "a scalar",
        Value::Null | Value::Missing => "empty",
        Value::Other(what) => what,
        _ => "another kind of value",
    }
}

/// The first document of `text` as a [`Value`]: mappings as objects, scalars as strings
/// (plain `~`, `null` and empty as null), sequences and aliases as [`Value::Other`].
fn parse_yaml(text: &str) -> std::result::Result<Value, String> {
    enum Frame {
        Map {
            fields: Vec<(String, Value)>,
            key: Option<String>,
        },
        Seq,
    }
    /// A key that no lookup matches (a mapping or sequence used as a key).
    const COMPLEX_KEY: &str = "\0complex key";

    fn put(stack: &mut [Frame], root: &mut Option<Value>, mut value: Value) {
        match stack.last_mut() {
            None => *root = Some(value),
            Some(Frame::Seq) => {}
            Some(Frame::Map {
                key: key @ None, ..
            }) => {
                *key = Some(match &mut value {
                    Value::String(s) => std::mem::take(s),
                    Value::Null => String::new(),
                    _ => COMPLEX_KEY.to_string(),
                })
            }
            Some(Frame::Map { fields, key }) => {
                if let Some(name) = key.take() {
                    fields.push((name, value));
                }
            }
        }
    }

    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            format!(
                "{} at line {} column {}",
                redact::excerpt(e.info()),
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentEnd if root.is_some() => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {}
            Event::Scalar(text, style, _, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if null {
                    Value::Null
                } else {
                    Value::String(text)
                };
                put(&mut stack, &mut root, value);
            }
            Event::Alias(_) => put(&mut stack, &mut root, Value::Other("a YAML alias")),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "nested more than {MAX_DEPTH} levels deep at line {}",
                        mark.line()
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq
                } else {
                    Frame::Map {
                        fields: Vec::new(),
                        key: None,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match stack.pop() {
                    Some(Frame::Map { fields, .. }) => Value::Object(fields),
                    Some(Frame::Seq) | None => Value::Other("a sequence"),
                };
                put(&mut stack, &mut root, value);
            }
        }
    }
    Ok(root.unwrap_or(Value::Missing))
}

/// `name` (`name.exe` on Windows) in an absolute folder on PATH: a regular file, executable
/// on Unix. Relative PATH entries (`.`, empty) are skipped: they would run whatever `yc` the
/// current folder holds.
pub fn find_on_path(env: &Env, name: &str) -> Option<PathBuf> {
    let path = env.get("PATH")?;
    let file_name = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(&file_name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Whether `token` can be an IAM token: `t1.…`, visible ASCII, not over-long. The reason when
/// it cannot.
fn check_iam_token(token: &str) -> std::result::Result<(), String> {
    if !token.starts_with("t1.") {
        return Err("not an IAM token (t1.…)".into());
    }
    crate::token::check_access_token(token).map_err(|why| format!("a token that {why}"))
}

/// Runs `yc iam create-token --profile=<name>` and returns the token it prints, within
/// `timeout`. The child is killed when the wait ends (deadline, abort): `kill_on_drop`.
pub async fn run_yc(yc: &Path, profile: &str, env: &Env, timeout: Duration) -> Result<String> {
    let what = "yc iam create-token";
    let mut command = tokio::process::Command::new(yc);
    // `--profile=<name>`: a name that starts with `-` stays the flag's value.
    command
        .args(["iam", "create-token"])
        .arg(format!("--profile={profile}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The same config as this process's environment names (Bun's and Deno's process.env can
    // differ from the C environment the child would otherwise inherit).
    for name in ["HOME", "USERPROFILE", "PATH"] {
        if let Some(value) = env.get(name) {
            command.env(name, value);
        }
    }
    let mut child = command.spawn().map_err(|e| {
        Error::unavailable(format!(
            "cannot run {}: {}",
            redact::caller_text(&yc.to_string_lossy()),
            crate::files::io_reason(&e)
        ))
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let run = async {
        let (out, err) = tokio::join!(read_bounded(stdout), read_bounded(stderr));
        let status = child
            .wait()
            .await
            .map_err(|e| Error::unavailable(format!("{what}: {}", crate::files::io_reason(&e))))?;
        Ok::<_, Error>((status, out, err))
    };
    let finished = tokio::time::timeout(timeout, run).await;
    let Ok(finished) = finished else {
        // Killed and reaped here (an abort drops the child instead: kill_on_drop).
        let _ = child.kill().await;
        return Err(Error::timeout(format!(
            "{what} did not finish within {} ms (timeoutMs); run it yourself to see what it \
             waits for (a browser sign-in?), or raise timeoutMs",
            timeout.as_millis()
        )));
    };
    let (status, out, err) = finished?;
    if !status.success() {
        let said = first_line(&err)
            .map(|line| format!(": \"{}\"", redact::excerpt(line)))
            .unwrap_or_default();
        let how = status.code().map_or_else(
            || "was killed by a signal".to_string(),
            |c| format!("exited with status {c}"),
        );
        return Err(Error::unavailable(format!("{what} {how}{said}")));
    }
    let bad = |why: &str| {
        Error::new(
            ErrorCode::InvalidResponse,
            format!("{what} succeeded but {why}; run it yourself to see what it prints"),
        )
    };
    let Some(out) = out else {
        return Err(bad("printed more than 64 KiB"));
    };
    let text = std::str::from_utf8(&out).map_err(|_| bad("printed text that is not UTF-8"))?;
    let token = text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .ok_or_else(|| bad("printed nothing"))?;
    check_iam_token(token).map_err(|why| bad(&format!("its last line is {why}")))?;
    Ok(token.to_string())
}

/// Reads a child's pipe to its end, keeping at most `MAX_OUTPUT_BYTES`: None when it printed
/// more (the rest is drained so the child does not block on a full pipe).
async fn read_bounded(pipe: Option<impl AsyncRead + Unpin>) -> Option<Zeroizing<Vec<u8>>> {
    let mut pipe = pipe?;
    let mut out = Zeroizing::new(Vec::new());
    let mut chunk = [0u8; 8192];
    let mut over = false;
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.len() + n > MAX_OUTPUT_BYTES {
                    over = true;
                } else if let Some(read) = chunk.get(..n) {
                    out.extend_from_slice(read);
                }
            }
        }
    }
    (!over).then_some(out)
}

fn first_line(bytes: &Option<Zeroizing<Vec<u8>>>) -> Option<&str> {
    let text = std::str::from_utf8(bytes.as_ref()?).ok()?;
    text.lines().map(str::trim).find(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    struct Home(PathBuf);
    impl Home {
        fn new(tag: &str) -> Home {
            let dir = std::env::temp_dir().join(format!(
                "yc-profile-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(dir.join(".config/yandex-cloud")).unwrap();
            Home(dir)
        }
        fn write(&self, text: &str) {
            std::fs::write(self.0.join(".config/yandex-cloud/config.yaml"), text).unwrap();
        }
        fn env(&self, more: &[(&str, &str)]) -> Env {
            let mut pairs = vec![("HOME", self.0.to_str().unwrap())];
            pairs.extend_from_slice(more);
            env_with(&pairs)
        }
    }
    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn reason(selection: Selection) -> String {
        match selection {
            Selection::DoesNotApply(why) => why,
            Selection::Applies(s) => panic!("applies: {s:?}"),
        }
    }

    #[test]
    fn yaml_is_read_into_values() {
        let v = parse_yaml(
            "current: a\nprofiles:\n  a:\n    token: \"y0_x\"\n    list: [1, 2]\n    n: ~\n    k: |\n      line1\n      line2\n",
        )
        .unwrap();
        assert_eq!(v.get("current"), &Value::String("a".into()));
        let a = v.get("profiles").get("a");
        assert_eq!(a.get("token"), &Value::String("y0_x".into()));
        assert_eq!(a.get("list"), &Value::Other("a sequence"));
        assert_eq!(a.get("n"), &Value::Null);
        assert_eq!(a.get("k"), &Value::String("line1\nline2\n".into()));
        assert_eq!(parse_yaml("").unwrap(), Value::Missing);
        assert!(parse_yaml("a: [b\n").is_err());
        assert!(parse_yaml(&format!("{}1{}", "[".repeat(100), "]".repeat(100))).is_err());
        // Aliases are not expanded.
        let laughs =
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: *b\n";
        assert_eq!(
            parse_yaml(laughs).unwrap().get("c"),
            &Value::Other("a YAML alias")
        );
    }

    #[test]
    fn what_does_not_apply_says_why() {
        assert!(reason(select(&env_with(&[])).unwrap()).contains("HOME"));
        let home = Home::new("missing");
        assert!(reason(select(&home.env(&[])).unwrap()).contains("yc init"));
        home.write("current: a\nprofiles:\n  a:\n    token: y0_abc\n");
        let why = reason(select(&home.env(&[("YC_PROFILE", "other")])).unwrap());
        assert!(
            why.contains("\"other\"") && why.contains("YC_PROFILE"),
            "{why}"
        );
        home.write("profiles:\n  a:\n    token: y0_abc\n");
        assert!(reason(select(&home.env(&[])).unwrap()).contains("no current profile"));
        home.write("current: a\nprofiles:\n  a:\n    cloud-id: b1g\n");
        assert!(reason(select(&home.env(&[])).unwrap()).contains("no credentials"));
        home.write("current: a\nprofiles:\n  a:\n    instance-service-account: true\n");
        assert!(reason(select(&home.env(&[])).unwrap()).contains("metadata"));
        home.write("current: a\nprofiles:\n  a:\n    federation-id: bpf123\n");
        let why = reason(select(&home.env(&[("PATH", "/nonexistent-dir")])).unwrap());
        assert!(why.contains("not on PATH"), "{why}");
    }

    #[test]
    fn malformed_configs_name_the_file() {
        let home = Home::new("bad");
        for text in [
            "current: a\nprofiles: [\n",
            "- a\n- b\n",
            "current: a\nprofiles: [a]\n",
            "current: a\nprofiles:\n  a: text\n",
            "current: a\nprofiles:\n  a:\n    token: [x]\n",
            "current: a\nprofiles:\n  a:\n    service-account-key: /path/key.json\n",
            "current: a\nprofiles:\n  a:\n    token: y0_bad token\n",
        ] {
            home.write(text);
            let e = select(&home.env(&[])).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{text:?}: {}", e.message);
            assert!(e.message.contains("config.yaml"), "{}", e.message);
            assert!(!e.message.contains("y0_bad"), "{}", e.message);
        }
        home.write(&"#".repeat(MAX_CONFIG_BYTES + 1));
        assert!(select(&home.env(&[]))
            .unwrap_err()
            .message
            .contains("64 KiB"));
    }

    #[test]
    fn credentials_by_kind() {
        let home = Home::new("kinds");
        let kind = |text: &str, env: &[(&str, &str)]| {
            home.write(text);
            match select(&home.env(env)).unwrap() {
                Selection::Applies(s) => s.credentials,
                Selection::DoesNotApply(why) => panic!("{why}"),
            }
        };
        let key = "current: a\nprofiles:\n  a:\n    service-account-key:\n      id: aje1\n      service_account_id: aje2\n      private_key: |\n        PEM\n";
        match kind(key, &[]) {
            Credentials::Key(v) => assert_eq!(v.get("id"), &Value::String("aje1".into())),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            kind(
                "current: b\nprofiles:\n  a: {}\n  b:\n    token: y0_abc\n",
                &[]
            ),
            Credentials::OAuth(_)
        ));
        assert!(matches!(
            kind(
                "current: b\nprofiles:\n  a:\n    token: t1.abc\n  b: {}\n",
                &[("YC_PROFILE", "a")]
            ),
            Credentials::IamToken(_)
        ));
        let bin = home.0.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let yc = bin.join("yc");
        std::fs::write(&yc, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&yc, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!(".:{}", bin.to_str().unwrap());
        match kind(
            "current: a\nprofiles:\n  a:\n    token: y0_abc\n    impersonate-service-account-id: aje3\n",
            &[("PATH", &path)],
        ) {
            Credentials::Yc(found) => assert_eq!(found, yc),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn yc_is_run_and_its_output_checked() {
        use std::os::unix::fs::PermissionsExt;
        let home = Home::new("yc");
        let script = |name: &str, body: &str| {
            let path = home.0.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        let env = home.env(&[]);
        let second = Duration::from_secs(5);
        let ok = script("ok", "echo 'a notice'; echo; echo \"t1.abc-$3\"; echo");
        assert_eq!(
            run_yc(&ok, "-p", &env, second).await.unwrap(),
            "t1.abc---profile=-p"
        );
        let garbage = script("garbage", "echo 'not a token y0_secret'");
        let e = run_yc(&garbage, "p", &env, second).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidResponse);
        assert!(!e.message.contains("y0_secret"));
        let fails = script(
            "fails",
            "echo 'ERROR: token y0_secretsecret expired' >&2; exit 3",
        );
        let e = run_yc(&fails, "p", &env, second).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable);
        assert!(
            e.message.contains("status 3") && e.message.contains("ERROR"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("y0_secret"), "{}", e.message);
        let hangs = script("hangs", "exec sleep 30");
        let started = std::time::Instant::now();
        let e = run_yc(&hangs, "p", &env, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
