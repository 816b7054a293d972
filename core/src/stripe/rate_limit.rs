//! Stripe's rate limit, honoured by everything that calls Stripe.
//!
//! With Redis, one limit for every worker process together (per-process limiters would multiply
//! with the number of processes): GCRA in one Lua script, run atomically by Redis with Redis's
//! own clock, each request taking the next slot `1/rate` seconds after the previous one, and a
//! 429 pausing the whole fleet through a second key. With the embedded queue there is one
//! process, and governor keeps the same GCRA in memory.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis_redis::ConnectionManager;

/// Returns 0 when the caller may send now, else the milliseconds to wait before asking again.
/// KEYS[1]: theoretical arrival time (µs); KEYS[2]: fleet pause. ARGV[1]: interval (µs).
const GCRA: &str = r"
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return pause end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now >= interval then
  return math.max(1, math.floor((tat - now - interval) / 1000) + 1)
end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.floor(interval / 1000) + 1000)
return 0
";

/// Paces Stripe requests; a 429 holds everyone back.
#[derive(Clone, Debug)]
pub enum RateLimiter {
    /// Shared through Redis by every process of the deployment.
    Fleet(FleetLimiter),
    /// This process only (the embedded queue).
    Local(LocalLimiter),
}

impl RateLimiter {
    /// `per_second` requests per second across every process sharing `namespace` in Redis.
    pub fn fleet(conn: ConnectionManager, namespace: &str, per_second: u32) -> Self {
        Self::fleet_named(conn, namespace, "stripe", per_second)
    }

    /// A limit of its own (`name`) shared the same way: the mail server's (`email.rate_per_sec`).
    pub fn fleet_named(
        conn: ConnectionManager,
        namespace: &str,
        name: &str,
        per_second: u32,
    ) -> Self {
        Self::Fleet(FleetLimiter::new(
            conn,
            &format!("{namespace}:{name}"),
            per_second,
        ))
    }

    /// `per_second` requests per second in this process.
    pub fn local(per_second: u32) -> Self {
        Self::Local(LocalLimiter::new(per_second))
    }

    /// Waits for this caller's turn.
    pub async fn acquire(&self) {
        match self {
            Self::Fleet(l) => l.acquire().await,
            Self::Local(l) => l.acquire().await,
        }
    }

    /// Takes a turn only if one is free now: for callers that must not wait (a request a
    /// payer's browser is holding open). `false` when none is, or Redis cannot be asked.
    pub async fn try_acquire(&self) -> bool {
        match self {
            Self::Fleet(l) => l.try_acquire().await,
            Self::Local(l) => l.try_acquire(),
        }
    }

    /// Holds every caller back for `pause` (after Stripe answered 429).
    pub(crate) async fn pause_fleet(&self, pause: Duration) {
        match self {
            Self::Fleet(l) => l.pause_fleet(pause).await,
            Self::Local(l) => l.pause(pause),
        }
    }
}

type Governor = governor::DefaultDirectRateLimiter;

/// GCRA in memory (governor), with the same pause after a 429.
#[derive(Clone)]
pub struct LocalLimiter {
    governor: Arc<Governor>,
    paused_until: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter").finish_non_exhaustive()
    }
}

impl LocalLimiter {
    fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        // A burst of one: requests are spaced evenly, as the Redis limiter spaces them.
        let quota = governor::Quota::per_second(rate).allow_burst(NonZeroU32::MIN);
        Self {
            governor: Arc::new(governor::RateLimiter::direct(quota)),
            paused_until: Arc::default(),
        }
    }

    /// When the pause after a 429 ends, while it lasts.
    fn paused_until(&self) -> Option<tokio::time::Instant> {
        self.paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .filter(|until| *until > tokio::time::Instant::now())
    }

    async fn acquire(&self) {
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
        self.governor.until_ready().await;
    }

    fn try_acquire(&self) -> bool {
        self.paused_until().is_none() && self.governor.check().is_ok()
    }

    fn pause(&self, pause: Duration) {
        let until = tokio::time::Instant::now() + pause;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }
}

/// The fleet-wide limiter in Redis.
#[derive(Clone)]
pub struct FleetLimiter {
    conn: ConnectionManager,
    script: std::sync::Arc<redis::Script>,
    tat_key: String,
    pause_key: String,
    interval_us: u64,
}

impl std::fmt::Debug for FleetLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetLimiter")
            .field("key", &self.tat_key)
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}

impl FleetLimiter {
    /// Keys `{prefix}:rate` and `{prefix}:pause` (`paylink:stripe:rate`).
    fn new(conn: ConnectionManager, prefix: &str, per_second: u32) -> Self {
        Self {
            conn,
            script: std::sync::Arc::new(redis::Script::new(GCRA)),
            tat_key: format!("{prefix}:rate"),
            pause_key: format!("{prefix}:pause"),
            interval_us: 1_000_000 / u64::from(per_second.max(1)),
        }
    }

    /// Waits for this process's turn. If Redis cannot be asked, waits one interval and goes on:
    /// Stripe's own 429s (which pause the fleet) then keep the rate in check.
    /// Runs the GCRA script once: 0 when the turn was taken, else the milliseconds to wait.
    async fn ask(&self) -> redis::RedisResult<u64> {
        let mut conn = self.conn.clone();
        self.script
            .key(&self.tat_key)
            .key(&self.pause_key)
            .arg(self.interval_us)
            .invoke_async(&mut conn)
            .await
    }

    async fn acquire(&self) {
        loop {
            match self.ask().await {
                Ok(0) => return,
                Ok(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "rate limiter unavailable; pacing locally");
                    tokio::time::sleep(Duration::from_micros(self.interval_us)).await;
                    return;
                }
            }
        }
    }

    /// One look at the limit: the turn is taken when it is free now, never waited for.
    async fn try_acquire(&self) -> bool {
        match self.ask().await {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; not reading Stripe now");
                false
            }
        }
    }

    async fn pause_fleet(&self, pause: Duration) {
        let mut conn = self.conn.clone();
        let ms = pause.as_millis().max(1) as u64;
        let result: Result<(), _> = redis::cmd("SET")
            .arg(&self.pause_key)
            .arg(1)
            .arg("PX")
            .arg(ms)
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "failed to pause the fleet after a 429");
        }
    }
}
