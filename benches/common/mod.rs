//! What the benchmarks share: command-line numbers, a scratch database and Redis namespace
//! (created fresh, removed afterwards), and percentiles.

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// `--name N` from the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value at fraction `p` of an ascending list (0 when empty).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A fresh PostgreSQL database and Redis namespace for one benchmark run.
pub struct Scratch {
    pub name: String,
    pub db_url: String,
    pub redis_url: String,
    admin: DatabaseConnection,
}

impl Scratch {
    pub async fn create() -> anyhow::Result<Self> {
        let pg = std::env::var("PAYLINK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let redis_url = std::env::var("PAYLINK_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let name = format!("paylink_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(format!("{pg}/postgres")).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        Ok(Self {
            db_url: format!("{pg}/{name}"),
            name,
            redis_url,
            admin,
        })
    }

    /// Drops the database and every Redis key of the namespace.
    pub async fn remove(self) -> anyhow::Result<()> {
        let name = &self.name;
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        let redis = redis::Client::open(self.redis_url.as_str())?;
        let mut conn = redis.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{name}:*"))
            .query_async(&mut conn)
            .await?;
        for chunk in keys.chunks(1000) {
            redis::cmd("DEL").arg(chunk).exec_async(&mut conn).await?;
        }
        Ok(())
    }
}
