//! What Stripe said of paylink's key, and this process's view of it: what the job context
//! carries, below the module that records and clears the refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `status` of a refusal paylink made itself: the key's mode is wrong for the deployment.
pub const WRONG_MODE: u16 = 0;

/// What Stripe said of the key, and since when.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRefusal {
    /// 401, 403, or [`WRONG_MODE`].
    pub status: u16,
    pub message: String,
    pub since: DateTime<Utc>,
}

impl KeyRefusal {
    /// What the operator changes, in words.
    pub fn fix(&self) -> &'static str {
        match self.status {
            403 => {
                "The key is a restricted key without the permissions paylink needs: give it \
                 Payment Links write, Checkout Sessions read and Events read (Stripe Dashboard → \
                 Developers → API keys), or set PAYLINK__STRIPE__SECRET_KEY to the account's \
                 secret key, and restart paylink."
            }
            WRONG_MODE => {
                "Set PAYLINK__STRIPE__SECRET_KEY to the account's live secret key (sk_live_…) \
                 and restart paylink."
            }
            _ => {
                "Set PAYLINK__STRIPE__SECRET_KEY to the account's secret key (Stripe Dashboard → \
                 Developers → API keys; a rolled key stops working) and restart paylink."
            }
        }
    }
}

/// This process's view of the refusal: set when it records or reads one, so a mint job can
/// step aside without asking the database. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct KeyPause(Arc<AtomicU8>);

const NOT_PAUSED: u8 = 0;
const REFUSED: u8 = 1;
const MODE: u8 = 2;

impl KeyPause {
    /// Whether link-making is paused for the key, whatever the reason.
    pub fn is_paused(&self) -> bool {
        self.0.load(Ordering::Relaxed) != NOT_PAUSED
    }

    /// Whether the key's mode is wrong for the deployment: no Stripe request may be made with it
    /// (a payer's click included), since Stripe would take it and make a link in the wrong mode.
    pub fn wrong_mode(&self) -> bool {
        self.0.load(Ordering::Relaxed) == MODE
    }

    pub(super) fn set(&self, refusal: Option<&KeyRefusal>) {
        let state = match refusal {
            None => NOT_PAUSED,
            Some(r) if r.status == WRONG_MODE => MODE,
            Some(_) => REFUSED,
        };
        self.0.store(state, Ordering::Relaxed);
    }
}
