//! `paylink work` as a child process beside the test's app: same database, queue and
//! stand-in, its settings in one file.

use std::path::PathBuf;

use serde_json::json;

use crate::app::TestApp;

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

/// The `paylink` binary cargo built beside the running test binary (`target/<profile>/deps/…`
/// → `target/<profile>/paylink`).
pub fn paylink_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("paylink{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run the tests through cargo, which builds it",
        binary.display()
    );
    binary
}

impl TestApp {
    /// Starts a `paylink work` process sharing this app's database, queue and stand-in.
    pub fn spawn_worker_process(&self) -> Running {
        self.spawn_worker_process_with(&[])
    }

    /// As [`Self::spawn_worker_process`], with extra environment variables (which override the
    /// settings file, as they would in production).
    pub fn spawn_worker_process_with(&self, env: &[(&str, &str)]) -> Running {
        let file = self.worker_settings_file();
        std::fs::write(&file, self.worker_settings_toml()).expect("the settings file is written");
        let mut command = std::process::Command::new(paylink_binary());
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAYLINK")) {
            command.env_remove(key);
        }
        command
            .arg("work")
            .env("PAYLINK_ENV", "test")
            .env("PAYLINK_CONFIG", &file)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null());
        Running(command.spawn().expect("paylink work starts"))
    }

    /// Where this app's worker processes find their settings; removed with the app.
    pub(crate) fn worker_settings_file(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}.work.toml", self.namespace))
    }

    /// The settings a worker process shares with this app, as one TOML file (no secrets: a
    /// worker needs none the test profile does not give it).
    fn worker_settings_toml(&self) -> String {
        let s = &self.settings;
        let settings = json!({
            "public_base_url": s.public_base_url,
            "database": {"url": s.database.url, "migrate_on_start": false},
            "queue": {"url": s.queue.url.clone().unwrap_or_default(), "namespace": self.namespace},
            "stripe": {
                "api_base": self.fake_url,
                "rate_limit_per_sec": s.stripe.rate_limit_per_sec,
                "request_timeout_ms": s.stripe.request_timeout_ms,
            },
            "workers": {
                "window": s.workers.window,
                "feed_interval_ms": s.workers.feed_interval_ms,
                "max_attempts": s.workers.max_attempts,
                "base_backoff_ms": s.workers.base_backoff_ms,
                "max_backoff_ms": s.workers.max_backoff_ms,
            },
            "reconcile": {
                "stale_after_secs": s.reconcile.stale_after_secs,
                "interval_secs": s.reconcile.interval_secs,
            },
            "outbound": {"allow_private_networks": s.outbound.allow_private_networks},
            "log": {
                "level": std::env::var("PAYLINK_TEST_LOG").unwrap_or_else(|_| "error".into()),
            },
        });
        let table = toml::Value::try_from(settings).expect("the settings are TOML");
        toml::to_string(&table).expect("the settings are TOML")
    }
}
