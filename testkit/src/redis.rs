//! The shared Redis, and the namespace of keys each test's queue lives under.

use std::time::Duration;

/// Where the tests find Redis (override with `PAYLINK_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("PAYLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Removes every Redis key under `namespace:` (a test's queue keys). Runs twice, a moment
/// apart, because a stopping worker may still acknowledge its last job.
pub fn clean_redis_namespace(namespace: String) {
    let _ = std::thread::spawn(move || {
        let client = redis::Client::open(redis_url())?;
        let mut conn = client.get_connection()?;
        for pass in 0..2 {
            if pass > 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{namespace}:*"))
                .query(&mut conn)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).exec(&mut conn)?;
            }
        }
        Ok::<(), redis::RedisError>(())
    })
    .join();
}
