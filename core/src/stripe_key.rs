//! When Stripe refuses paylink's API key, link-making pauses for the whole fleet instead of
//! failing order after order.
//!
//! A 401 (unknown, rolled or expired key) or 403 (a restricted key without Payment Links
//! write) is a setting, not the order's fault: the same request succeeds once the key is
//! fixed. So the refusal is recorded once, in the `deployment` table every process reads
//! (`stripe_key_refused`), and:
//! - mint jobs leave their orders waiting in the backlog, unfailed and without a Stripe call,
//!   and the feeders hand out no mint jobs while the refusal stands;
//! - every [`RECHECK_EVERY`], each worker process's feeder tries again with one waiting order
//!   (a real mint, so a key that may read but not write is tested for what it must do), or,
//!   with none waiting, with a read; the first success clears the refusal and the backlog
//!   mints by itself;
//! - `serve`, `run` and `work` try the key at start ([`check_at_start`]) and say what Stripe
//!   said; a restart with a fixed key clears the refusal at once;
//! - the dashboard shows the refusal as a banner, with what to change.
//!
//! A key of the wrong mode for the deployment (a test key with `PAYLINK_ENV=production`)
//! pauses the same way; only a start with the right key clears it.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr};

use crate::context::JobContext;
use crate::store::deployment;
use crate::stripe::StripeFailure;

mod pause;
pub use pause::{KeyPause, KeyRefusal, WRONG_MODE};

/// Where the refusal is recorded, in `deployment`.
const KEY: &str = "stripe_key_refused";

/// How often a paused fleet tries the key again (per worker process).
pub const RECHECK_EVERY: Duration = Duration::from_secs(15);

/// The standing refusal, if any.
pub async fn refusal<C: ConnectionTrait>(db: &C) -> Result<Option<KeyRefusal>, DbErr> {
    Ok(deployment::get(db, KEY).await?.map(|row| {
        serde_json::from_str(&row.value).unwrap_or(KeyRefusal {
            status: 401,
            message: row.value,
            since: row.updated_at,
        })
    }))
}

/// Records that Stripe refused the key (keeping when it first did), and pauses this process.
pub(crate) async fn record(ctx: &JobContext, status: u16, message: &str) -> Result<(), DbErr> {
    let since = match refusal(&ctx.db).await? {
        Some(standing) => standing.since,
        None => {
            tracing::error!(
                status,
                %message,
                "Stripe refused paylink's API key: link-making is paused until it accepts it; \
                 orders wait, none fails for this"
            );
            Utc::now()
        }
    };
    let refusal = KeyRefusal {
        status,
        message: message.to_owned(),
        since,
    };
    let value = serde_json::to_string(&refusal).map_err(|e| DbErr::Custom(e.to_string()))?;
    deployment::record(&ctx.db, KEY, &value).await?;
    ctx.key_pause.set(Some(&refusal));
    Ok(())
}

/// Stripe took the key: clears a standing refusal (answering whether there was one), unless
/// it is one of the key's mode, which Stripe taking the key says nothing about: only a start
/// with a key of the right mode clears that ([`check_at_start`]).
pub(crate) async fn accepted(ctx: &JobContext) -> Result<bool, DbErr> {
    match refusal(&ctx.db).await? {
        Some(standing) if standing.status == WRONG_MODE => {
            ctx.key_pause.set(Some(&standing));
            Ok(false)
        }
        Some(_) => clear(ctx).await,
        None => {
            ctx.key_pause.set(None);
            Ok(false)
        }
    }
}

async fn clear(ctx: &JobContext) -> Result<bool, DbErr> {
    ctx.key_pause.set(None);
    let cleared = deployment::forget(&ctx.db, KEY).await?;
    if cleared {
        tracing::info!("Stripe accepts paylink's API key again: link-making resumes");
    }
    Ok(cleared)
}

/// Reads the standing refusal into this process's [`KeyPause`]; answers it.
pub(crate) async fn refresh(ctx: &JobContext) -> Result<Option<KeyRefusal>, DbErr> {
    let standing = refusal(&ctx.db).await?;
    ctx.key_pause.set(standing.as_ref());
    Ok(standing)
}

/// Records a failure that is the key's; answers whether it was.
pub(crate) async fn note_failure(ctx: &JobContext, failure: &StripeFailure) -> Result<bool, DbErr> {
    match failure {
        StripeFailure::KeyRefused { status, message } => {
            record(ctx, *status, message).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// What [`check_at_start`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Accepted,
    /// Stripe refused it, or its mode is wrong: link-making is paused.
    Refused(KeyRefusal),
    /// Stripe did not answer; nothing was recorded.
    Unknown(String),
}

/// Tries the key with a read (a feeder's retry when no order waits): clears the refusal when
/// Stripe takes it, records it when Stripe refuses it. Answers whether the key was taken.
pub(crate) async fn read_check(ctx: &JobContext) -> Result<bool, DbErr> {
    match ctx.stripe.check_key().await {
        Ok(()) => {
            accepted(ctx).await?;
            Ok(true)
        }
        Err(failure) => {
            if !note_failure(ctx, &failure).await? {
                tracing::warn!(error = %failure, "trying paylink's API key again did not tell");
            }
            Ok(false)
        }
    }
}

/// Tries the key once at start. `wrong_mode` is the caller's word when the key's mode does not
/// fit the deployment (then Stripe is not asked). Records or clears the refusal accordingly.
pub async fn check_at_start(ctx: &JobContext, wrong_mode: Option<String>) -> KeyCheck {
    let outcome = match wrong_mode {
        Some(message) => Err(StripeFailure::KeyRefused {
            status: WRONG_MODE,
            message,
        }),
        None => ctx.stripe.check_key().await,
    };
    let recorded = async {
        Ok::<_, DbErr>(match outcome {
            Ok(()) => {
                clear(ctx).await?;
                KeyCheck::Accepted
            }
            Err(StripeFailure::KeyRefused { status, message }) => {
                record(ctx, status, &message).await?;
                KeyCheck::Refused(refusal(&ctx.db).await?.unwrap_or(KeyRefusal {
                    status,
                    message,
                    since: Utc::now(),
                }))
            }
            Err(other) => KeyCheck::Unknown(other.to_string()),
        })
    };
    recorded
        .await
        .unwrap_or_else(|e| KeyCheck::Unknown(format!("the database did not answer: {e}")))
}
