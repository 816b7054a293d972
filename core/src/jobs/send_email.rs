//! `send_email`: send one mail to a payer (a row of `emails`), at most one job at a time per
//! mail (its lease), at the fleet's pace.
//!
//! The job decides nothing itself: the order's standing says whether the mail may go
//! ([`hold`]), the server's answer what it comes to (`crate::domain::after_try`). A worker
//! killed between the server's 250 and the record leaves the row `sending`; the next job takes
//! it once the lease runs out and sends the same message again, Message-ID and all: SMTP cannot
//! be exactly-once, and receivers thread the repeat as one message (docs/email.md).

use apalis::prelude::BoxDynError;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::context::JobContext;
use crate::domain::{LinkState, MailState, MailTry, Status, after_try, format_money};
use crate::jobs::lease::{Lease, Leased};
use crate::mail::{PayLinkMail, pay_link_message};
use crate::mailer::Mailer;
use crate::outbound::{EventType, outbox};
use crate::queue::JobQueue;
use crate::store::{email, order, product};

/// Send the mail `email_id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendEmail {
    pub email_id: String,
}

impl crate::queue::Job for SendEmail {
    const QUEUE: &'static str = "send_email";
}

impl super::BackgroundJob for SendEmail {
    async fn run(self, ctx: &JobContext, _queue: &JobQueue) -> Result<(), BoxDynError> {
        let Some(mailer) = ctx.mail.as_deref() else {
            // Sending was switched off after the mail was queued: it waits, visibly queued.
            tracing::warn!(email_id = %self.email_id, "send_email: sending is off (no email.smtp_url); the mail stays queued");
            return Ok(());
        };
        let db = &ctx.db;
        let id = self.email_id.as_str();
        let Some(lease) = Lease::take_row(db, Leased::Email, id, || async {
            Ok(email::find(db, id)
                .await?
                .is_some_and(|m| !m.state.is_final()))
        })
        .await?
        else {
            return Ok(());
        };
        let done = send(ctx, mailer, id, lease.owner()).await;
        lease.release().await;
        done.map_err(|e| format!("send_email {id}: {e:#}").into())
    }
}

/// Why a mail must not go now, if it must not: suppressed for good, or postponed until the
/// order's link is active again.
enum Hold {
    Suppress(&'static str),
    Postpone(&'static str),
}

/// Whether the order, as it stands now, lets this mail go.
fn hold(mail: &email::Model, found: &order::Model, rejected_before: bool) -> Option<Hold> {
    if found.status != Status::Pending {
        return Some(Hold::Suppress(
            "not sent: the order no longer owes anything",
        ));
    }
    if !found.payer_email.eq_ignore_ascii_case(&mail.recipient) {
        return Some(Hold::Suppress("not sent: the order's address changed"));
    }
    if rejected_before {
        return Some(Hold::Suppress(
            "not sent: the mail server rejected this address before",
        ));
    }
    match found.link_state {
        LinkState::Active => None,
        // A new amount's link, or a failed one an operator may retry: the pay URL would lead
        // nowhere yet.
        _ => Some(Hold::Postpone("waiting for the order's link to be active")),
    }
}

/// How long a mail held for its link waits before looking again.
const POSTPONE: std::time::Duration = std::time::Duration::from_secs(30);

async fn send(ctx: &JobContext, mailer: &Mailer, id: &str, owner: &str) -> anyhow::Result<()> {
    let db = &ctx.db;
    let Some(mail) = email::find(db, id).await? else {
        return Ok(());
    };
    if mail.state.is_final() {
        return Ok(());
    }
    let Some(found) = order::find(db, &mail.order_id).await? else {
        return Ok(());
    };
    let rejected_before = email::was_rejected(db, &found.id, &mail.recipient).await?;
    match hold(&mail, &found, rejected_before) {
        Some(Hold::Suppress(why)) => {
            email::finish_try(db, id, owner, MailState::Suppressed, Some(why), None).await?;
            counted(MailState::Suppressed);
            return Ok(());
        }
        Some(Hold::Postpone(why)) => {
            let at = Utc::now() + chrono::Duration::from_std(POSTPONE)?;
            // Not a try: the attempts stay as they are.
            email::finish_try(db, id, owner, MailState::Deferred, Some(why), Some(at)).await?;
            return Ok(());
        }
        None => {}
    }
    let product_name = product::find(db, &found.product_id)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let rendered = mailer.templates.render_pay_link(&PayLinkMail {
        organisation: mailer.organisation(),
        payer_name: found.payer_name.clone(),
        product: product_name,
        amount: format_money(found.amount_cents, &found.currency),
        pay_url: ctx.pay_url(&found.pay_token),
        message: found.email_message.clone(),
    })?;
    let message = match pay_link_message(
        &mailer.from,
        mailer.reply_to.as_ref(),
        (&found.payer_name, &mail.recipient),
        &mail.message_id,
        &rendered,
    ) {
        Ok(message) => message,
        // An address lettre cannot write (the intake checked it, so this is rare): final.
        Err(e) => {
            let why = format!("not sent: {e}");
            email::finish_try(db, id, owner, MailState::Failed, Some(&why), None).await?;
            counted(MailState::Failed);
            return Ok(());
        }
    };
    let Some(mail) = email::begin_try(db, id, owner).await? else {
        return Ok(());
    };
    let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX);
    let outcome = mailer.smtp.send(message).await;
    let state = after_try(&outcome, attempts, mailer.max_attempts);
    let reply = match &outcome {
        MailTry::Accepted(r) | MailTry::Permanent(r) | MailTry::Temporary(r) => r.as_str(),
    };
    let next = (state == MailState::Deferred)
        .then(|| chrono::Duration::from_std(Mailer::backoff(attempts)))
        .transpose()?
        .map(|wait| Utc::now() + wait);
    let txn = crate::store::begin_write(db).await?;
    let recorded = email::finish_try(&txn, id, owner, state, Some(reply), next).await?;
    if recorded && state == MailState::Rejected {
        outbox::order_events(
            &txn,
            &ctx.public_base_url,
            &[EventType::EmailRejected],
            &found.id,
        )
        .await?;
    }
    txn.commit().await?;
    counted(state);
    tracing::info!(email_id = %id, order_id = %found.id, attempts, state = state.as_str(), %reply, "send_email done");
    Ok(())
}

fn counted(state: MailState) {
    metrics::counter!("paylink_emails_total", "state" => state.as_str()).increment(1);
}
