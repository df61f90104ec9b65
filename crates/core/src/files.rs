//! The one way the package reads a file it is given (a key file, `SSL_CERT_FILE`): opened so
//! that opening can never block (`O_NONBLOCK`: a FIFO with no writer opens at once), checked
//! on the opened file (not the path, which could change in between) to be a regular file, and
//! read to at most `limit + 1` bytes whatever size it reports (a `/proc` file reports 0, a file
//! can grow while it is read).
//!
//! [`read`] itself is blocking, as file I/O is: a slow disk or a hung network mount can stall
//! it. Async callers run it through [`read_off_thread`], on tokio's blocking pool and under the
//! call's deadline, so it never holds a runtime worker that other calls need.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};

use tokio::time::Instant;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// What was read: the bytes, wiped when dropped (a key file holds a private key).
pub type Bytes = Zeroizing<Vec<u8>>;

/// Why a file could not be read. The caller turns it into its own code and message (the key
/// file is `ERR_INVALID_KEY`, `SSL_CERT_FILE` is `ERR_INVALID_ARG`).
#[derive(Debug)]
pub enum FileError {
    /// Opening or reading failed.
    Io(io::Error),
    /// The path names something that is not a regular file.
    NotRegular(Kind),
    /// The file holds more than the limit (it may report a smaller size).
    TooLarge { limit: usize },
}

/// What a path that is not a regular file names, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Directory => "a directory",
            Kind::Fifo => "a FIFO (named pipe)",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Socket => "a socket",
            Kind::Other => "not a file",
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => f.write_str(&io_reason(e)),
            FileError::NotRegular(kind) => {
                write!(f, "it is not a regular file ({})", kind.describe())
            }
            FileError::TooLarge { limit } => write!(f, "it holds more than {limit} bytes"),
        }
    }
}

/// A short reason for an I/O failure (never the OS text alone: it can be localized).
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        kind => format!("{kind}"),
    }
}

/// Opens `path` without blocking and without making it the controlling terminal.
fn open(path: &str) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // std adds O_CLOEXEC itself; it is named here so that no change of std can drop it.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC);
    }
    options.open(path)
}

#[cfg(unix)]
fn kind_of(file_type: std::fs::FileType) -> Kind {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        Kind::Directory
    } else if file_type.is_fifo() {
        Kind::Fifo
    } else if file_type.is_char_device() {
        Kind::CharDevice
    } else if file_type.is_block_device() {
        Kind::BlockDevice
    } else if file_type.is_socket() {
        Kind::Socket
    } else {
        Kind::Other
    }
}

#[cfg(not(unix))]
fn kind_of(file_type: std::fs::FileType) -> Kind {
    if file_type.is_dir() {
        Kind::Directory
    } else {
        Kind::Other
    }
}

/// Reads the regular file at `path`, at most `limit` bytes (blocking: see the module docs).
pub fn read(path: &str, limit: usize) -> std::result::Result<Bytes, FileError> {
    let mut file = open(path).map_err(FileError::Io)?;
    // fstat on the opened file: what is read is what was checked.
    let meta = file.metadata().map_err(FileError::Io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular(kind_of(meta.file_type())));
    }
    // The reported size is a hint for the first allocation only.
    let hint = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    read_to_limit(&mut file, hint, limit)
}

/// Reads `from` to its end, refusing more than `limit` bytes: at most `limit + 1` are read.
fn read_to_limit(
    from: &mut impl Read,
    hint: usize,
    limit: usize,
) -> std::result::Result<Bytes, FileError> {
    let cap = limit.saturating_add(1);
    let mut out: Bytes = Zeroizing::new(Vec::with_capacity(hint.saturating_add(1).min(cap)));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let room = cap - out.len();
        if room == 0 {
            return Err(FileError::TooLarge { limit });
        }
        let want = room.min(chunk.len());
        let buf = chunk.get_mut(..want).unwrap_or_default();
        let n = match from.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FileError::Io(e)),
        };
        let read = buf.get(..n).unwrap_or_default();
        if out.len() + n > out.capacity() {
            // Grow by hand, so that no copy of the bytes is left behind unwiped.
            let wanted = (out.capacity().saturating_mul(2))
                .max(out.len() + n)
                .min(cap);
            let mut bigger: Bytes = Zeroizing::new(Vec::with_capacity(wanted));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(read);
    }
    chunk.zeroize();
    if out.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(out)
}

/// Runs blocking file work on tokio's blocking pool, waiting for it until `deadline` at most.
/// `what` names the file for the timeout message ("the key file \"/k.json\"").
pub async fn read_off_thread<T, F>(what: &str, deadline: Instant, work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::task::spawn_blocking(work);
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Error::internal()),
        Err(_) => Err(Error::timeout(format!(
            "reading {what} did not finish within timeoutMs (a slow disk or a hung network mount?)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("yc-files-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_regular_file() {
        let dir = temp_dir("regular");
        let path = dir.join("f");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(&**read(path.to_str().unwrap(), 5).unwrap(), b"hello");
        assert!(matches!(
            read(path.to_str().unwrap(), 4),
            Err(FileError::TooLarge { limit: 4 })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = temp_dir("kinds");
        assert!(matches!(
            read(dir.to_str().unwrap(), 100),
            Err(FileError::NotRegular(Kind::Directory))
        ));
        assert!(matches!(
            read(dir.join("missing").to_str().unwrap(), 100),
            Err(FileError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
        #[cfg(unix)]
        {
            for device in ["/dev/zero", "/dev/urandom", "/dev/null"] {
                let e = read(device, 100).unwrap_err();
                assert!(
                    matches!(e, FileError::NotRegular(Kind::CharDevice)),
                    "{device}: {e}"
                );
                assert_eq!(
                    e.to_string(),
                    "it is not a regular file (a character device)"
                );
            }
            // A FIFO with no writer: a plain open would block for ever.
            let fifo = dir.join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let (tx, rx) = std::sync::mpsc::channel();
            let path = fifo.to_str().unwrap().to_string();
            std::thread::spawn(move || tx.send(read(&path, 100).map(|_| ())).unwrap());
            let result = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("opening a FIFO blocked");
            assert!(matches!(result, Err(FileError::NotRegular(Kind::Fifo))));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_reported_size_is_not_trusted() {
        // A reader that says nothing of its size and never ends: at most limit + 1 bytes read.
        struct Endless(usize);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 += buf.len();
                buf.fill(b'x');
                Ok(buf.len())
            }
        }
        let mut endless = Endless(0);
        assert!(matches!(
            read_to_limit(&mut endless, 0, 100_000),
            Err(FileError::TooLarge { limit: 100_000 })
        ));
        assert_eq!(endless.0, 100_001);
        // A hint far over the limit allocates no more than the limit.
        let mut short: &[u8] = b"abc";
        let bytes = read_to_limit(&mut short, usize::MAX, 10).unwrap();
        assert_eq!(&**bytes, b"abc");
        assert!(bytes.capacity() <= 11);
        // /proc files report size 0 and still have content.
        #[cfg(target_os = "linux")]
        assert!(!read("/proc/self/status", 1 << 20).unwrap().is_empty());
    }

    #[tokio::test]
    async fn off_thread_work_is_bounded_by_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let started = std::time::Instant::now();
        let e = read_off_thread("the test file", deadline, || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Timeout);
        assert!(e.message.contains("the test file"));
        assert!(started.elapsed() < Duration::from_millis(400));
    }
}
