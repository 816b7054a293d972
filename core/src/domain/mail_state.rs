//! Where a mail to a payer stands, and what an SMTP server's answer makes of it. The job only
//! carries the decision out ([`after_try`]): a 250 is `sent`; a 5xx is final (`rejected`, and
//! the address is not mailed again for that order); a 4xx or a lost connection is `deferred`
//! and tried again after a backoff, until the tries run out (`failed`).

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A mail's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    /// Written, waiting for its job.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// A job is talking to the server. A worker killed here leaves the row to the next job once
    /// its lease runs out, which sends the same message again (same Message-ID).
    #[sea_orm(string_value = "sending")]
    Sending,
    /// The server took it (250).
    #[sea_orm(string_value = "sent")]
    Sent,
    /// A 4xx reply or a lost connection: tried again after a backoff.
    #[sea_orm(string_value = "deferred")]
    Deferred,
    /// A 5xx reply: final. The reply is kept; the address gets no more mail for the order.
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Not sent on purpose: the address was rejected before, or the order no longer owes
    /// (paid, cancelled) or has another address now.
    #[sea_orm(string_value = "suppressed")]
    Suppressed,
    /// Every try allowed met a temporary failure.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl MailState {
    /// A state no job moves on from.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Sent | Self::Rejected | Self::Suppressed | Self::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Deferred => "deferred",
            Self::Rejected => "rejected",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
        }
    }
}

/// What one try at the SMTP server came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTry {
    /// 250: the server took the message; its reply.
    Accepted(String),
    /// A 5xx reply (to MAIL, RCPT or DATA): the server will not take it.
    Permanent(String),
    /// A 4xx reply, or no reply at all (refused connection, dropped after DATA, a timeout).
    Temporary(String),
}

/// The state a try leaves the mail in, given that it was try number `attempts` (from 1) of
/// `max_attempts`.
pub fn after_try(outcome: &MailTry, attempts: u32, max_attempts: u32) -> MailState {
    match outcome {
        MailTry::Accepted(_) => MailState::Sent,
        MailTry::Permanent(_) => MailState::Rejected,
        MailTry::Temporary(_) if attempts >= max_attempts => MailState::Failed,
        MailTry::Temporary(_) => MailState::Deferred,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_5xx_is_final_a_4xx_is_tried_again_until_the_tries_run_out() {
        let ok = MailTry::Accepted("250 2.0.0 queued".into());
        let no = MailTry::Permanent("550 5.1.1 mailbox unavailable".into());
        let later = MailTry::Temporary("421 4.7.0 try again later".into());
        assert_eq!(after_try(&ok, 1, 8), MailState::Sent);
        assert_eq!(after_try(&no, 1, 8), MailState::Rejected);
        assert_eq!(after_try(&later, 1, 8), MailState::Deferred);
        assert_eq!(after_try(&later, 7, 8), MailState::Deferred);
        assert_eq!(after_try(&later, 8, 8), MailState::Failed);
        assert!(MailState::Rejected.is_final() && !MailState::Deferred.is_final());
    }
}
