//! The database and queue combinations paylink runs on, and a macro that runs a test on each.

use crate::database::Db;

/// The database and queue a test runs paylink on. The core flows run on all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// PostgreSQL and Redis: the deployment for a fleet.
    PostgresRedis,
    /// SQLite and Redis.
    SqliteRedis,
    /// SQLite with the embedded queue in the same file: `paylink run` with no services.
    Embedded,
}

impl Stack {
    pub fn db(self) -> Db {
        match self {
            Self::PostgresRedis => Db::Postgres,
            Self::SqliteRedis | Self::Embedded => Db::Sqlite,
        }
    }

    pub fn uses_redis(self) -> bool {
        self != Self::Embedded
    }
}

/// Runs each named `async fn(Stack)` test on every stack, as `<name>::<stack>`.
#[macro_export]
macro_rules! on_every_stack {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() { super::$name($crate::Stack::PostgresRedis).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_redis() { super::$name($crate::Stack::SqliteRedis).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() { super::$name($crate::Stack::Embedded).await }
        })*
    };
}

/// Runs each named `async fn(Db)` test on both databases, as `<name>::<database>`.
#[macro_export]
macro_rules! on_every_database {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::Db::Postgres).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::Db::Sqlite).await }
        })*
    };
}
