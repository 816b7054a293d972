//! The sink's shared state: the controls a test changes while it runs, and the records it reads
//! back. [`SinkControl`] is the handle to both; the sessions reach the same state.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::records::{Deferral, Received, Refusal, SinkStats};

/// A cloneable handle on a running sink's controls and records.
#[derive(Clone)]
pub struct SinkControl {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// How many messages are recorded, for [`SinkControl::wait_for`].
    count: watch::Sender<usize>,
}

#[derive(Default)]
struct State {
    refused: BTreeSet<String>,
    defer_next: usize,
    drop_next: usize,
    delay: Duration,
    next_id: u64,
    messages: Vec<Received>,
    refusals: Vec<Refusal>,
    deferrals: Vec<Deferral>,
    stats: SinkStats,
}

/// What to do with a message once its final dot has arrived.
pub(crate) struct AfterData {
    pub id: u64,
    pub delay: Duration,
    pub drop_connection: bool,
}

impl SinkControl {
    pub(crate) fn new() -> SinkControl {
        SinkControl {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                count: watch::Sender::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves records, not invariants, half-done: keep going.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // The controls.

    /// RCPT TO `address` (ASCII case ignored) is answered `550 5.1.1 <address>: mailbox
    /// unavailable` until [`Self::accept_recipient`]. The rest of the transaction goes on.
    pub fn refuse_recipient(&self, address: &str) {
        self.lock().refused.insert(address.to_ascii_lowercase());
    }

    /// Undoes [`Self::refuse_recipient`].
    pub fn accept_recipient(&self, address: &str) {
        self.lock().refused.remove(&address.to_ascii_lowercase());
    }

    /// The next `n` transactions are answered `421 4.7.0 try again later` at MAIL FROM, and
    /// their connections closed, as RFC 5321 says a server does after 421; later ones go
    /// through. Replaces any count still pending.
    pub fn defer_next(&self, n: usize) {
        self.lock().defer_next = n;
    }

    /// The next `n` messages are recorded when their final dot arrives and then the connection
    /// is closed without a reply: the message was delivered but the sender cannot know, so a
    /// resend shows up as a duplicate. Replaces any count still pending.
    pub fn drop_after_data_next(&self, n: usize) {
        self.lock().drop_next = n;
    }

    /// Each message's reply (or drop) waits this long after its final dot; zero for none.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Forgets the recorded messages, refusals and deferrals (the counters and the controls
    /// stay), so that [`Self::count`] starts again from 0.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.messages.clear();
        state.refusals.clear();
        state.deferrals.clear();
        self.shared.count.send_replace(0);
    }

    // The records.

    /// Every message recorded, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.lock().messages.clone()
    }

    /// The messages whose envelope names `address` as a recipient (ASCII case ignored).
    pub fn messages_to(&self, address: &str) -> Vec<Received> {
        self.lock()
            .messages
            .iter()
            .filter(|message| message.is_to(address))
            .cloned()
            .collect()
    }

    /// How many messages are recorded.
    pub fn count(&self) -> usize {
        self.lock().messages.len()
    }

    /// Waits until at least `count` messages are recorded and returns them all; an error
    /// naming what did arrive after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> anyhow::Result<Vec<Received>> {
        let mut recorded = self.shared.count.subscribe();
        let reached = tokio::time::timeout(timeout, recorded.wait_for(|n| *n >= count)).await;
        if matches!(reached, Ok(Ok(_))) {
            return Ok(self.messages());
        }
        let arrived: Vec<String> = self
            .messages()
            .iter()
            .map(|m| {
                format!(
                    "#{} to {} ({})",
                    m.id,
                    m.rcpt_to.join(", "),
                    m.parsed.subject.as_deref().unwrap_or("no subject")
                )
            })
            .collect();
        anyhow::bail!(
            "the mail sink expected {count} message(s) within {timeout:?}; {} arrived: [{}]",
            arrived.len(),
            arrived.join("; ")
        )
    }

    /// Every recipient refused with 550, oldest first.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.lock().refusals.clone()
    }

    /// Every transaction answered 421, oldest first.
    pub fn deferrals(&self) -> Vec<Deferral> {
        self.lock().deferrals.clone()
    }

    /// The messages recorded whose reply was dropped.
    pub fn dropped(&self) -> Vec<Received> {
        self.lock()
            .messages
            .iter()
            .filter(|message| message.reply_lost)
            .cloned()
            .collect()
    }

    pub fn stats(&self) -> SinkStats {
        self.lock().stats
    }

    // For the sessions.

    pub(crate) fn connection_opened(&self) {
        self.lock().stats.connections += 1;
    }

    pub(crate) fn authenticated(&self) {
        self.lock().stats.authentications += 1;
    }

    pub(crate) fn oversized(&self) {
        self.lock().stats.oversized_messages += 1;
    }

    /// Whether this transaction is to be answered 421 (and if so, recorded as such).
    pub(crate) fn take_deferral(&self, mail_from: &str) -> bool {
        let mut state = self.lock();
        if state.defer_next == 0 {
            return false;
        }
        state.defer_next -= 1;
        state.stats.deferred_transactions += 1;
        state.deferrals.push(Deferral {
            mail_from: mail_from.to_owned(),
            at: Utc::now(),
        });
        true
    }

    /// Whether `rcpt` is refused (and if so, recorded as such).
    pub(crate) fn refuses(&self, mail_from: &str, rcpt: &str) -> bool {
        let mut state = self.lock();
        if !state.refused.contains(&rcpt.to_ascii_lowercase()) {
            return false;
        }
        state.stats.refused_recipients += 1;
        state.refusals.push(Refusal {
            mail_from: mail_from.to_owned(),
            rcpt: rcpt.to_owned(),
            at: Utc::now(),
        });
        true
    }

    /// Records a message whose final dot has arrived (giving it its id), and says what to do
    /// before replying.
    pub(crate) fn record(&self, mut message: Received) -> AfterData {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        message.id = id;
        let drop_connection = state.drop_next > 0;
        if drop_connection {
            state.drop_next -= 1;
            state.stats.dropped_after_data += 1;
            message.reply_lost = true;
        }
        let delay = state.delay;
        if !delay.is_zero() {
            state.stats.delayed_messages += 1;
        }
        state.stats.messages += 1;
        state.messages.push(message);
        self.shared.count.send_replace(state.messages.len());
        AfterData {
            id,
            delay,
            drop_connection,
        }
    }
}
