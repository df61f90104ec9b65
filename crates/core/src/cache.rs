//! The per-process token cache: on-demand refresh, single flight, stale-while-refresh.
//!
//! Each entry holds at most one token and at most one refresh in flight. Refreshes run as
//! their own tokio task, so a caller that stops waiting (its timeout or signal) never cancels
//! a refresh other callers share, and a failed background refresh has no one to reject.
//! Nothing runs on a timer: serverless runtimes freeze timers between invocations.
//!
//! Single flight covers every caller that started before a refresh ended: a caller that
//! started while a refresh was in flight but reached the cache after it failed (say, it was
//! still reading its key file) gets that failure too; a call that starts after it tries afresh.
//! The cache holds at most [`MAX_CACHE_ENTRIES`] entries: dead ones (no token, or an expired
//! one, and no refresh) go first, then the least recently used.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::federation::SubjectIdentity;
use crate::key::Identity;
use crate::limits::MAX_CACHE_ENTRIES;
use crate::lru::LruMap;
use crate::token::Token;

/// A token this old is refreshed in the background (Yandex's advice: about every hour).
pub const STALE_AFTER: Duration = Duration::from_secs(3600);
/// With this little left, callers wait for a refresh.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(5 * 60);
/// While a token is held, refresh attempts for one entry are at least this far apart.
pub const MIN_ATTEMPT_GAP: Duration = Duration::from_secs(10);
/// When a refresh fails for a passing reason, the old token is still handed out while it has
/// more than this left.
pub const FALLBACK_MIN_LEFT: Duration = Duration::from_secs(30);

/// What a cache entry is for. Identities are hashes or paths: no private key or token is ever a
/// map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Key {
        endpoint: String,
        identity: Identity,
    },
    Metadata {
        endpoint: String,
    },
    /// Workload identity federation: the subject's source (a file path, or a hash of the token
    /// text or of GitHub's request), never the token.
    Federation {
        endpoint: String,
        service_account_id: String,
        subject: SubjectIdentity,
    },
    /// A user's OAuth token exchanged at IAM, by its SHA-256.
    OAuth {
        endpoint: String,
        token_hash: [u8; 32],
    },
}

/// A token from the cache, and how long it may be handed out again without asking the cache
/// (zero unless it is fresh): what the JS fast path goes by.
#[derive(Debug, Clone)]
pub struct Cached {
    pub token: Token,
    pub fresh_for: Duration,
    pub origin: Origin,
}

/// Where a token came from, for debug output and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Fetched by this call (or by the refresh it waited for).
    Fetched,
    /// Fresh in the cache.
    Cache,
    /// Old (an hour or more, or near expiry with a refresh just tried): handed out while a
    /// refresh runs or waits its turn.
    Stale,
    /// The old token, because the refresh failed for a passing reason.
    Fallback,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Fetched => "fetched",
            Origin::Cache => "cache",
            Origin::Stale => "stale",
            Origin::Fallback => "fallback",
        }
    }
}

type Outcome = Option<Result<Token>>;

#[derive(Default)]
struct Entry {
    held: Option<Token>,
    refresh: Option<watch::Receiver<Outcome>>,
    last_attempt: Option<Instant>,
    /// How the last refresh failed, and how many calls had started by then: those share it.
    last_failure: Option<(CallStart, Error)>,
}

impl Entry {
    /// Holds nothing worth keeping: no usable token and no refresh in flight.
    fn is_dead(&self, now: Instant) -> bool {
        self.refresh.is_none()
            && self
                .held
                .as_ref()
                .is_none_or(|token| token.remaining(now).is_zero())
    }
}

/// When a call started, in the order calls start (a count, so that it is exact whatever the
/// clocks do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallStart(u64);

static CALLS_STARTED: AtomicU64 = AtomicU64::new(0);

impl CallStart {
    /// Marks the start of a call: take it before anything is awaited.
    pub fn now() -> CallStart {
        CallStart(CALLS_STARTED.fetch_add(1, Ordering::Relaxed))
    }

    /// The mark the next call will get: every call with a smaller one started before this.
    fn next() -> CallStart {
        CallStart(CALLS_STARTED.load(Ordering::Relaxed))
    }
}

pub struct Cache {
    entries: Mutex<LruMap<CacheKey, Arc<Mutex<Entry>>>>,
    pub clock: Clock,
}

/// The process's cache, on the process's clock (the one requests are timed with).
pub fn global() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Cache::new(Clock::process()))
}

enum Step {
    Ready(Cached),
    Failed(Error),
    Wait {
        refresh: watch::Receiver<Outcome>,
        fallback: Option<Token>,
    },
}

fn ended_unexpectedly() -> Error {
    Error::unavailable("the token refresh ended unexpectedly")
}

fn expired_on_arrival() -> Error {
    Error::invalid_response("the token had expired by the time its answer arrived")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cache {
    pub fn new(clock: Clock) -> Self {
        Cache {
            entries: Mutex::new(LruMap::new(MAX_CACHE_ENTRIES)),
            clock,
        }
    }

    /// The token for `key`, fetching it with `fetch` when the entry needs it. `started` is
    /// when the caller's call began (see the single-flight rule above). `timeout` bounds this
    /// caller's wait only: a refresh another caller started runs on with its own deadline, and
    /// a wait that runs out falls back to the old token like a refresh that timed out.
    pub async fn get<F, Fut>(
        &self,
        key: CacheKey,
        fetch: F,
        started: CallStart,
        timeout: Duration,
    ) -> Result<Cached>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>> + Send + 'static,
    {
        let entry = self.entry(key);
        let step = self.step(&entry, fetch, started);
        match step {
            Step::Ready(cached) => Ok(cached),
            Step::Failed(e) => Err(e),
            Step::Wait {
                mut refresh,
                fallback,
            } => {
                let waited = tokio::time::timeout(timeout, refresh.wait_for(Option::is_some)).await;
                let outcome = match waited {
                    Ok(Ok(outcome)) => outcome.clone().unwrap_or_else(|| Err(ended_unexpectedly())),
                    Ok(Err(_)) => Err(ended_unexpectedly()),
                    Err(_) => Err(Error::timeout(format!(
                        "no token within {} ms (timeoutMs): the token service is slow or \
                         unreachable; raise timeoutMs or check the network",
                        timeout.as_millis()
                    ))),
                };
                let now = self.clock.now();
                match (outcome, fallback) {
                    (Ok(token), _) if token.remaining(now).is_zero() => Err(expired_on_arrival()),
                    (Ok(token), _) => Ok(self.cached(token, now, Origin::Fetched)),
                    (Err(e), Some(old))
                        if matches!(e.code, ErrorCode::Unavailable | ErrorCode::Timeout)
                            && old.remaining(now) > FALLBACK_MIN_LEFT =>
                    {
                        Ok(Cached {
                            origin: Origin::Fallback,
                            ..Cached::once(old)
                        })
                    }
                    (Err(e), _) => Err(e),
                }
            }
        }
    }

    fn entry(&self, key: CacheKey) -> Arc<Mutex<Entry>> {
        let mut entries = lock(&self.entries);
        if let Some(entry) = entries.get(&key) {
            return entry.clone();
        }
        let entry = Arc::new(Mutex::new(Entry::default()));
        let now = self.clock.now();
        entries.insert(key, entry.clone(), |e| lock(e).is_dead(now));
        entry
    }

    /// Entries held (tests).
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn step<F, Fut>(&self, entry: &Arc<Mutex<Entry>>, fetch: F, started: CallStart) -> Step
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>> + Send + 'static,
    {
        let now = self.clock.now();
        let mut state = lock(entry);
        if state
            .held
            .as_ref()
            .is_some_and(|t| t.remaining(now).is_zero())
        {
            state.held = None; // never hand out an expired token
        }
        let failed_since_started = match &state.last_failure {
            Some((by, e)) if started < *by && state.refresh.is_none() => Some(e.clone()),
            _ => None,
        };
        let Some(held) = state.held.clone() else {
            if let Some(e) = failed_since_started {
                return Step::Failed(e);
            }
            let refresh = match &state.refresh {
                Some(refresh) => refresh.clone(),
                None => self.start_refresh(entry, &mut state, now, fetch()),
            };
            return Step::Wait {
                refresh,
                fallback: None,
            };
        };
        let recently_tried = state
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < MIN_ATTEMPT_GAP);
        if held.remaining(now) > EXPIRING_WITHIN {
            if now.saturating_duration_since(held.obtained_at) >= STALE_AFTER
                && state.refresh.is_none()
                && !recently_tried
            {
                self.start_refresh(entry, &mut state, now, fetch());
            }
            let origin = if now.saturating_duration_since(held.obtained_at) >= STALE_AFTER {
                Origin::Stale
            } else {
                Origin::Cache
            };
            return Step::Ready(self.cached(held, now, origin));
        }
        // Expiring: wait for a refresh, unless one was just tried (no hot loop against a
        // service that keeps answering with the same near-expiry token).
        match &state.refresh {
            Some(refresh) => Step::Wait {
                refresh: refresh.clone(),
                fallback: Some(held),
            },
            None if recently_tried => Step::Ready(Cached {
                origin: Origin::Stale,
                ..Cached::once(held)
            }),
            None => Step::Wait {
                refresh: self.start_refresh(entry, &mut state, now, fetch()),
                fallback: Some(held),
            },
        }
    }

    fn start_refresh<Fut>(
        &self,
        entry: &Arc<Mutex<Entry>>,
        state: &mut Entry,
        now: Instant,
        fetch: Fut,
    ) -> watch::Receiver<Outcome>
    where
        Fut: Future<Output = Result<Token>> + Send + 'static,
    {
        let (done, refresh) = watch::channel(None);
        state.refresh = Some(refresh.clone());
        state.last_attempt = Some(now);
        let entry = entry.clone();
        tokio::spawn(async move {
            // A panic in the fetch becomes an error for the waiters, not a stuck entry.
            let outcome = tokio::spawn(fetch).await.unwrap_or_else(|_| {
                Err(Error::unavailable("the token refresh failed unexpectedly"))
            });
            {
                let mut state = lock(&entry);
                state.refresh = None;
                state.last_failure = outcome
                    .as_ref()
                    .err()
                    .map(|e| (CallStart::next(), e.clone()));
                match &outcome {
                    Ok(token) => state.held = Some(token.clone()),
                    Err(e) if e.code == ErrorCode::IamRejected => state.held = None,
                    Err(_) => {}
                }
            }
            let _ = done.send(Some(outcome));
        });
        refresh
    }

    fn cached(&self, token: Token, now: Instant, origin: Origin) -> Cached {
        let until_stale =
            STALE_AFTER.saturating_sub(now.saturating_duration_since(token.obtained_at));
        let until_expiring = token.remaining(now).saturating_sub(EXPIRING_WITHIN);
        Cached {
            fresh_for: until_stale.min(until_expiring),
            token,
            origin,
        }
    }

    /// Forgets every entry (tests only).
    pub fn clear(&self) {
        lock(&self.entries).clear();
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock: sleeps and deadlines pass in virtual time, at once and
    //! always in the same order.
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Upstream {
        calls: AtomicUsize,
        lifetime: Mutex<Duration>,
        fail_with: Mutex<Option<Error>>,
        delay: Duration,
    }

    impl Upstream {
        fn new(lifetime: Duration) -> Arc<Self> {
            Arc::new(Upstream {
                calls: AtomicUsize::new(0),
                lifetime: Mutex::new(lifetime),
                fail_with: Mutex::new(None),
                delay: Duration::from_millis(20),
            })
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        fn fail(&self, e: Option<Error>) {
            *self.fail_with.lock().unwrap() = e;
        }

        /// A fetch as the cache sees it: the token's clock is the cache's clock.
        fn fetch(
            self: &Arc<Self>,
            cache: &Cache,
        ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<Token>> + Send>>
        {
            let up = self.clone();
            let sent_at = cache.clock.now();
            move || {
                Box::pin(async move {
                    let n = up.calls.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(up.delay).await;
                    if let Some(e) = up.fail_with.lock().unwrap().clone() {
                        return Err(e);
                    }
                    let lifetime = *up.lifetime.lock().unwrap();
                    Ok(Token::new(format!("t1.token{n}"), sent_at, 0.0, lifetime))
                })
            }
        }
    }

    fn key() -> CacheKey {
        CacheKey::Metadata {
            endpoint: "http://md".into(),
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    async fn get(cache: &Cache, up: &Arc<Upstream>) -> Result<Cached> {
        cache
            .get(
                key(),
                up.fetch(cache),
                CallStart::now(),
                Duration::from_secs(5),
            )
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_call_is_answered_from_memory() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        let first = get(&cache, &up).await.unwrap();
        let second = get(&cache, &up).await.unwrap();
        assert_eq!(up.calls(), 1);
        assert_eq!(first.token.access_token, second.token.access_token);
        assert!(second.fresh_for > Duration::from_secs(3500));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_first_calls_share_one_request_and_its_failure() {
        let (cache, up) = (
            Arc::new(Cache::new(Clock::detached())),
            Upstream::new(12 * HOUR),
        );
        up.fail(Some(Error::unavailable("down")));
        let calls = (0..1000).map(|_| {
            let (cache, up) = (cache.clone(), up.clone());
            tokio::spawn(async move { get(&cache, &up).await })
        });
        let results = futures_join(calls).await;
        assert_eq!(up.calls(), 1);
        assert!(results
            .iter()
            .all(|r| r.as_ref().unwrap_err().code == ErrorCode::Unavailable));
        up.fail(None);
        assert!(get(&cache, &up).await.is_ok(), "failures are not cached");
        assert_eq!(up.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_token_is_returned_at_once_and_refreshed_behind() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        let first = get(&cache, &up).await.unwrap();
        cache.clock.advance(HOUR + Duration::from_secs(1));
        let stale = get(&cache, &up).await.unwrap();
        assert_eq!(stale.token.access_token, first.token.access_token);
        assert_eq!(stale.fresh_for, Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(up.calls(), 2);
        let renewed = get(&cache, &up).await.unwrap();
        assert_ne!(renewed.token.access_token, first.token.access_token);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_background_refresh_keeps_the_old_token() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        let first = get(&cache, &up).await.unwrap();
        up.fail(Some(Error::unavailable("down")));
        cache.clock.advance(2 * HOUR);
        assert_eq!(
            get(&cache, &up).await.unwrap().token.access_token,
            first.token.access_token
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            get(&cache, &up).await.unwrap().token.access_token,
            first.token.access_token
        );
        assert_eq!(
            up.calls(),
            2,
            "the second call came within 10 s of the failed attempt"
        );
        cache.clock.advance(MIN_ATTEMPT_GAP);
        get(&cache, &up).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(up.calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expiring_token_waits_and_falls_back_while_iam_is_down() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        let first = get(&cache, &up).await.unwrap();
        up.fail(Some(Error::timeout("slow")));
        cache.clock.advance(12 * HOUR - Duration::from_secs(120));
        let got = get(&cache, &up).await.unwrap();
        assert_eq!(got.token.access_token, first.token.access_token);
        assert_eq!(up.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_runs_out_falls_back_to_the_old_token() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        let first = get(&cache, &up).await.unwrap();
        cache.clock.advance(12 * HOUR - Duration::from_secs(120));
        let hanging = || std::future::pending::<Result<Token>>();
        let got = cache
            .get(key(), hanging, CallStart::now(), Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(got.token.access_token, first.token.access_token);
        cache.clock.advance(Duration::from_secs(100));
        let e = cache
            .get(key(), hanging, CallStart::now(), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout, "20 s left: no fallback");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_token_is_never_returned() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        get(&cache, &up).await.unwrap();
        up.fail(Some(Error::unavailable("down")));
        cache.clock.advance(12 * HOUR - Duration::from_secs(20));
        assert_eq!(
            get(&cache, &up).await.unwrap_err().code,
            ErrorCode::Unavailable,
            "20 s left is under the 30 s floor"
        );
        cache.clock.advance(Duration::from_secs(60));
        assert_eq!(
            get(&cache, &up).await.unwrap_err().code,
            ErrorCode::Unavailable
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_key_evicts_the_entry() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        get(&cache, &up).await.unwrap();
        up.fail(Some(
            Error::new(ErrorCode::IamRejected, "deleted").with_status(401),
        ));
        cache.clock.advance(12 * HOUR - Duration::from_secs(200));
        assert_eq!(
            get(&cache, &up).await.unwrap_err().code,
            ErrorCode::IamRejected
        );
        cache.clock.advance(MIN_ATTEMPT_GAP);
        assert_eq!(
            get(&cache, &up).await.unwrap_err().code,
            ErrorCode::IamRejected
        );
        assert_eq!(up.calls(), 3, "evicted: the next call asked again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_that_keeps_a_near_expiry_token_is_not_hammered() {
        let (cache, up) = (
            Cache::new(Clock::detached()),
            Upstream::new(Duration::from_secs(200)),
        );
        for _ in 0..120 {
            let got = get(&cache, &up).await.unwrap();
            assert!(!got.token.remaining(cache.clock.now()).is_zero());
            cache.clock.advance(Duration::from_secs(1));
        }
        // 120 s of calls, one attempt per 10 s at most.
        assert!(up.calls() <= 13, "{}", up.calls());
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_started_during_a_failed_refresh_shares_its_failure() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        up.fail(Some(Error::unavailable("down")));
        let started = CallStart::now();
        assert!(get(&cache, &up).await.is_err());
        // Started before the failure, arrived after it (a key file read, say): the same error.
        let late = cache
            .get(key(), up.fetch(&cache), started, Duration::from_secs(5))
            .await;
        assert_eq!(late.unwrap_err().code, ErrorCode::Unavailable);
        assert_eq!(up.calls(), 1);
        // A call that starts after the failure tries afresh.
        up.fail(None);
        assert!(get(&cache, &up).await.is_ok());
        assert_eq!(up.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_holds_a_bounded_number_of_entries() {
        let (cache, up) = (Cache::new(Clock::detached()), Upstream::new(12 * HOUR));
        for i in 0..(4 * MAX_CACHE_ENTRIES) {
            let key = CacheKey::Metadata {
                endpoint: format!("http://md/{i}"),
            };
            let fetch = up.fetch(&cache);
            cache
                .get(key, fetch, CallStart::now(), Duration::from_secs(5))
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), MAX_CACHE_ENTRIES);
        // Once their tokens have expired, the entries go when a new one arrives.
        cache.clock.advance(13 * HOUR);
        get(&cache, &up).await.unwrap();
        assert_eq!(cache.len(), 1);
    }

    async fn futures_join<T: Send + 'static>(
        handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for h in handles.collect::<Vec<_>>() {
            out.push(h.await.unwrap());
        }
        out
    }
}
