//! The child processes the end-to-end benchmarks start (`paylink fake-stripe`, `paylink work`),
//! killed when dropped, and their peak memory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A child process, killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak resident memory of a process, in MB (VmHWM).
pub fn peak_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// `paylink fake-stripe` on a free loopback port, `rate` requests/s per endpoint (0: no limit),
/// no account-wide limit: the process and its base URL.
pub fn stand_in(bin: &str, rate: u64) -> anyhow::Result<(Killed, String)> {
    let mut fake = Killed(
        Command::new(bin)
            .args([
                "fake-stripe",
                "--addr",
                "127.0.0.1:0",
                "--rate-limit-per-sec",
                &rate.to_string(),
                "--account-rate-limit-per-sec=0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut lines = BufReader::new(fake.0.stdout.take().expect("piped")).lines();
    let url = loop {
        let line = lines.next().expect("the stand-in printed its address")?;
        if line.contains("listening on") {
            break line.rsplit(' ').next().unwrap_or_default().to_owned();
        }
    };
    Ok((fake, url))
}
