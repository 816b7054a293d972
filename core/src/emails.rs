//! What the intake asks of mail to payers: mail an order's (or a blast's) payers their pay link
//! once it is active, send it again now, and the organiser's message checked. The sending is
//! the `send_email` job's (`crate::jobs::send_email`); the mails are `crate::store::email`'s.

use sea_orm::DatabaseConnection;

use crate::domain::{FieldError, LinkState, OrderId, Status};
use crate::mailer::Mailer;
use crate::store::{email, order};

/// The longest organiser's message a mail carries, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Why mail cannot be asked for.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No `email.smtp_url`: sending is off.
    #[error("send_email: sending is off; set PAYLINK__EMAIL__SMTP_URL (docs/email.md)")]
    Off,
    #[error("no order {:?}", .0.as_str())]
    NotFound(OrderId),
    /// A paid or cancelled order is mailed nothing.
    #[error("order {0} is {1}; only a pending order is mailed its pay link")]
    NotPending(String, String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// The organiser's message as a mail carries it: trimmed, blank as none, at most
/// [`MAX_MESSAGE_CHARS`].
pub fn checked_message(message: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(message) = message.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    let chars = message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(FieldError::new(
            "email_message",
            format!("is {chars} characters; at most {MAX_MESSAGE_CHARS}"),
        ));
    }
    Ok(Some(message.to_owned()))
}

/// Refuses when sending is off.
pub fn require(mailer: Option<&Mailer>) -> Result<&Mailer, MailError> {
    mailer.ok_or(MailError::Off)
}

/// `POST /v1/orders/{id}/send_email`: the pay-link mail to the order's address, again, now
/// (the automatic one too, when the order had not asked for it: it goes once the link is
/// active). Returns the mail queued, or `None` while the link is not active yet.
pub async fn send_again(
    db: &DatabaseConnection,
    mailer: Option<&Mailer>,
    id: &OrderId,
) -> Result<Option<email::Model>, MailError> {
    let mailer = require(mailer)?;
    let found = order::find(db, id.as_str())
        .await?
        .ok_or_else(|| MailError::NotFound(id.clone()))?;
    if found.status != Status::Pending {
        let status = match found.status {
            Status::Paid => "paid",
            _ => "cancelled",
        };
        return Err(MailError::NotPending(found.id, status.to_owned()));
    }
    // In one transaction, so that the feeder sees the order ask for mail together with this
    // mail, and does not write the automatic one beside it.
    let txn = crate::store::begin_write(db).await?;
    email::request_for_order(&txn, &found.id).await?;
    let queued = if found.link_state == LinkState::Active {
        Some(email::queue_again(&txn, &found, mailer.message_id()).await?)
    } else {
        None
    };
    txn.commit().await?;
    Ok(queued)
}
