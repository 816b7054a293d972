//! One Stripe rate limit for every worker process together, kept in Redis (per-process limiters
//! multiply with the number of processes). GCRA in one Lua script, run atomically by Redis with
//! Redis's own clock: each request takes the next slot `1/rate` seconds after the previous one.
//! A 429 from Stripe pauses the whole fleet briefly through a second key.

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

/// The fleet-wide limiter.
#[derive(Clone)]
pub struct RateLimiter {
    conn: ConnectionManager,
    script: std::sync::Arc<redis::Script>,
    tat_key: String,
    pause_key: String,
    interval_us: u64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("key", &self.tat_key)
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `per_second` requests per second across every process sharing `namespace`.
    pub fn new(conn: ConnectionManager, namespace: &str, per_second: u32) -> Self {
        Self {
            conn,
            script: std::sync::Arc::new(redis::Script::new(GCRA)),
            tat_key: format!("{namespace}:stripe:rate"),
            pause_key: format!("{namespace}:stripe:pause"),
            interval_us: 1_000_000 / u64::from(per_second.max(1)),
        }
    }

    /// Waits for this process's turn. If Redis cannot be asked, waits one interval and goes on:
    /// Stripe's own 429s (which pause the fleet) then keep the rate in check.
    pub async fn acquire(&self) {
        loop {
            let mut conn = self.conn.clone();
            let wait_ms: Result<u64, _> = self
                .script
                .key(&self.tat_key)
                .key(&self.pause_key)
                .arg(self.interval_us)
                .invoke_async(&mut conn)
                .await;
            match wait_ms {
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

    /// Holds every process back for `pause` (after Stripe answered 429).
    pub async fn pause_fleet(&self, pause: Duration) {
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
