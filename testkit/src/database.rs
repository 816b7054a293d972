//! A fresh, empty database per test (PostgreSQL or SQLite), dropped again when the guard goes,
//! and the local ports a test needs.

use sea_orm::ConnectionTrait;

/// Where the tests find PostgreSQL (override with `PAYLINK_TEST_POSTGRES_URL`).
pub fn postgres_url() -> String {
    std::env::var("PAYLINK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Postgres,
    Sqlite,
}

/// A fresh, empty database of the given kind, dropped again when the guard goes.
pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
    sqlite_dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    pub async fn create(kind: Db) -> Self {
        let name = format!("paylink_test_{}", uuid::Uuid::new_v4().simple());
        match kind {
            Db::Postgres => {
                let admin = sea_orm::Database::connect(format!("{}/postgres", postgres_url()))
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {} ({e}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", postgres_url()));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("failed to create the test database");
                Self {
                    url: format!("{}/{name}", postgres_url()),
                    pg_name: Some(name),
                    sqlite_dir: None,
                }
            }
            Db::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("failed to create a temp dir");
                Self {
                    url: format!("sqlite://{}/paylink.db", dir.display()),
                    pg_name: None,
                    sqlite_dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            let url = format!("{}/postgres", postgres_url());
            // Drop runs inside the test's runtime: clean up from a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let admin = sea_orm::Database::connect(url)
                        .await
                        .map_err(std::io::Error::other)?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<(), std::io::Error>(())
                })
            })
            .join();
        }
    }
}

/// A local port nothing listens on right now (for a server the test starts next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// `url` with the port of its host replaced (`postgres://u@127.0.0.1:5432/db` → `…:port/db`).
pub fn through_port(url: &str, port: u16) -> String {
    let host_start = url
        .rfind('@')
        .map_or_else(|| url.find("://").map_or(0, |i| i + 3), |i| i + 1);
    let rest = &url[host_start..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = rest[..host_end].split(':').next().unwrap_or("127.0.0.1");
    format!("{}{host}:{port}{}", &url[..host_start], &rest[host_end..])
}
