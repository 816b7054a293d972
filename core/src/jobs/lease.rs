//! A `mint_link` job's hold on its order (see [`crate::store::mint_lease`]): taken before the
//! first Stripe request, renewed by a task of its own while the job runs, given up at the end.
//! A job whose worker is killed or frozen stops renewing, so its order is free for another job
//! [`LEASE_TTL`] after the last renewal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::store::{mint_lease, order};

/// How long a lease lasts unless renewed: how soon a killed or frozen worker's order is free.
/// About the time apalis-redis takes to hand a dead worker's jobs to another (heartbeat 2 s ×
/// 3), so the lease adds little to that recovery. Three renewals fit in it, so one delayed by a
/// slow database does not lose it. Clocks of the machines running workers should agree to well
/// within it.
pub const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often a running job renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How often a job waiting for another job's lease looks again.
const WAIT_STEP: Duration = Duration::from_millis(500);

/// The lease, held until [`MintLease::release`]; dropping it stops the renewals, so it runs out.
pub struct MintLease {
    db: DatabaseConnection,
    order_id: String,
    owner: String,
    lost: Arc<AtomicBool>,
    keeper: tokio::task::JoinHandle<()>,
}

fn until() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::from_std(LEASE_TTL).unwrap_or(chrono::Duration::MAX)
}

impl MintLease {
    /// Takes the order's lease, waiting while another live job holds it (that job renews it;
    /// one that died stops, and its lease runs out). Returns `None` when, while waiting, the
    /// order stops needing this job (`needed` says no: the other job minted it, say).
    pub async fn take(
        db: &DatabaseConnection,
        order_id: &str,
        needed: impl Fn(&order::Model) -> bool,
    ) -> anyhow::Result<Option<Self>> {
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let mut waited = false;
        loop {
            if mint_lease::take(db, order_id, &owner, chrono::Utc::now(), until()).await? {
                if waited {
                    tracing::info!(%order_id, "took over the mint lease of another job");
                }
                return Ok(Some(Self::keep(db.clone(), order_id.to_owned(), owner)));
            }
            match order::find(db, order_id).await? {
                Some(current) if needed(&current) => {}
                _ => return Ok(None),
            }
            if !waited {
                tracing::info!(%order_id, "another job is minting this order; waiting for it");
                waited = true;
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    fn keep(db: DatabaseConnection, order_id: String, owner: String) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let keeper = tokio::spawn({
            let (db, order_id, owner, lost) =
                (db.clone(), order_id.clone(), owner.clone(), lost.clone());
            async move {
                let mut tick = tokio::time::interval(RENEW_EVERY);
                tick.tick().await; // the first tick is now: just taken
                loop {
                    tick.tick().await;
                    match mint_lease::renew(&db, &order_id, &owner, until()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!(%order_id, "the mint lease is no longer this job's: the order was minted, or the lease ran out and another job took it");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // The database may be back before the lease runs out: keep trying.
                        Err(e) => {
                            tracing::warn!(%order_id, error = %e, "failed to renew the mint lease")
                        }
                    }
                }
            }
        });
        Self {
            db,
            order_id,
            owner,
            lost,
            keeper,
        }
    }

    /// Whether another job has taken the order over (this one was frozen past its lease).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and frees the order for the next job at once.
    pub async fn release(self) {
        self.keeper.abort();
        if let Err(e) = mint_lease::release(&self.db, &self.order_id, &self.owner).await {
            tracing::warn!(order_id = %self.order_id, error = %e, "failed to release the mint lease; it runs out by itself");
        }
    }
}

impl Drop for MintLease {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}
