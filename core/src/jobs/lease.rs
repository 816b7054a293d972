//! A job's hold on the row it works on ([`crate::store::lease`]): a `mint_link` job's on its
//! order, a `send_email` job's on its mail.
//! Taken before the first outside request (Stripe, the mail server), renewed by a task of its
//! own while the job runs, given up at the end. A job whose worker is killed or frozen stops
//! renewing, so its row is free for another job [`LEASE_TTL`] after the last renewal.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

pub use crate::store::lease::Leased;
use crate::store::order;

/// How long a lease lasts unless renewed: how soon a killed or frozen worker's row is free.
/// About the time apalis-redis takes to hand a dead worker's jobs to another (heartbeat 2 s ×
/// 3), so the lease adds little to that recovery. Three renewals fit in it, so one delayed by a
/// slow database does not lose it. Clocks of the machines running workers should agree to well
/// within it.
pub const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often a running job renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How often a job waiting for another job's lease looks again.
const WAIT_STEP: Duration = Duration::from_millis(500);

/// The lease, held until [`Lease::release`]; dropping it stops the renewals, so it runs out.
pub struct Lease {
    db: DatabaseConnection,
    rows: Leased,
    id: String,
    owner: String,
    lost: Arc<AtomicBool>,
    keeper: tokio::task::JoinHandle<()>,
}

/// A `mint_link` job's lease on its order.
pub type MintLease = Lease;

fn until() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(LEASE_TTL).unwrap_or(chrono::Duration::MAX)
}

impl Lease {
    /// Takes the order's lease, waiting while another live job holds it. Returns `None` when,
    /// while waiting, the order stops needing this job (`needed` says no: the other job minted
    /// it, say).
    pub async fn take(
        db: &DatabaseConnection,
        order_id: &str,
        needed: impl Fn(&order::Model) -> bool,
    ) -> anyhow::Result<Option<Self>> {
        Self::take_row(db, Leased::Order, order_id, || async {
            Ok(order::find(db, order_id).await?.is_some_and(|o| needed(&o)))
        })
        .await
    }

    /// Takes the row's lease, waiting while another live job holds it (that job renews it; one
    /// that died stops, and its lease runs out). Returns `None` when, while waiting, `needed`
    /// says the row no longer needs this job.
    pub async fn take_row<F, Fut>(
        db: &DatabaseConnection,
        rows: Leased,
        id: &str,
        needed: F,
    ) -> anyhow::Result<Option<Self>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<bool, DbErr>>,
    {
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let mut waited = false;
        loop {
            if rows.take(db, id, &owner, Utc::now(), until()).await? {
                if waited {
                    tracing::info!(%id, "took over the lease of another job {}", rows.work());
                }
                return Ok(Some(Self::keep(db.clone(), rows, id.to_owned(), owner)));
            }
            if !needed().await? {
                return Ok(None);
            }
            if !waited {
                tracing::info!(%id, "another job is {}; waiting for it", rows.work());
                waited = true;
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    fn keep(db: DatabaseConnection, rows: Leased, id: String, owner: String) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let keeper = tokio::spawn({
            let (db, id, owner, lost) = (db.clone(), id.clone(), owner.clone(), lost.clone());
            async move {
                let mut tick = tokio::time::interval(RENEW_EVERY);
                tick.tick().await; // the first tick is now: just taken
                loop {
                    tick.tick().await;
                    match rows.renew(&db, &id, &owner, until()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!(%id, "the lease is no longer this job's: the work was done, or the lease ran out and another job took it");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // The database may be back before the lease runs out: keep trying.
                        Err(e) => tracing::warn!(%id, error = %e, "failed to renew the lease"),
                    }
                }
            }
        });
        Self {
            db,
            rows,
            id,
            owner,
            lost,
            keeper,
        }
    }

    /// The holder's name, as the row records it.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether another job has taken the row over (this one was frozen past its lease).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and frees the row for the next job at once.
    pub async fn release(self) {
        self.keeper.abort();
        if let Err(e) = self.rows.release(&self.db, &self.id, &self.owner).await {
            tracing::warn!(id = %self.id, error = %e, "failed to release the lease; it runs out by itself");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}
