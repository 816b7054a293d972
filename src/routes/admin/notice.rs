//! What the failures and webhooks pages say after an action. A redirect names a [`Notice`] by its code (and,
//! for a retry, a count in its own parameter); the page shows that notice's fixed message. An
//! unknown code shows nothing, so no link can make the dashboard say something it did not.

use paylink_core::domain::whole_number;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// "Retry all matching": `count` orders put back to minting.
    RetriedMatching,
    /// One order's Retry put it back to minting.
    Retried,
    /// One order's Retry found it not failed.
    NotFailed,
    Cancelled,
    /// Cancel found no such order.
    CancelUnknown,
    /// Cancel found the order paid or cancelled.
    CancelNotPending,
    /// Cancel lost a race with another change (or a payment).
    CancelRaced,
    Replayed,
    /// Replay found no such event.
    ReplayUnknown,
    /// "Change amount": a new link at the new amount is being made.
    AmountChanged,
    /// "Change amount" found the order paid or cancelled.
    AmountNotPending,
    /// "Change amount" lost a race with another change (or a payment).
    AmountRaced,
    /// A webhook delivery's Resend made it pending again.
    DeliveryResent,
    /// Resend found no such delivery.
    DeliveryUnknown,
    /// "Replay since…": `count` events queued again for the endpoint.
    EndpointReplayed,
    /// Replay found no such endpoint.
    EndpointUnknown,
    /// Replay was given a time it cannot read.
    ReplayBadTime,
    /// "Send again": the pay-link mail is queued (or goes once the link is active).
    MailQueued,
    /// "Send again" found the order paid or cancelled.
    MailNotPending,
    /// "Send again" while sending is off.
    MailOff,
    /// "Fix and resend": the payer's address changed.
    AddressChanged,
    /// "Fix and resend" lost a race with another change (or a payment).
    AddressRaced,
}

impl Notice {
    const ALL: [Self; 22] = [
        Self::RetriedMatching,
        Self::Retried,
        Self::NotFailed,
        Self::Cancelled,
        Self::CancelUnknown,
        Self::CancelNotPending,
        Self::CancelRaced,
        Self::Replayed,
        Self::ReplayUnknown,
        Self::AmountChanged,
        Self::AmountNotPending,
        Self::AmountRaced,
        Self::DeliveryResent,
        Self::DeliveryUnknown,
        Self::EndpointReplayed,
        Self::EndpointUnknown,
        Self::ReplayBadTime,
        Self::MailQueued,
        Self::MailNotPending,
        Self::MailOff,
        Self::AddressChanged,
        Self::AddressRaced,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::RetriedMatching => "retried_matching",
            Self::Retried => "retried",
            Self::NotFailed => "not_failed",
            Self::Cancelled => "cancelled",
            Self::CancelUnknown => "cancel_unknown",
            Self::CancelNotPending => "cancel_not_pending",
            Self::CancelRaced => "cancel_raced",
            Self::Replayed => "replayed",
            Self::ReplayUnknown => "replay_unknown",
            Self::AmountChanged => "amount_changed",
            Self::AmountNotPending => "amount_not_pending",
            Self::AmountRaced => "amount_raced",
            Self::DeliveryResent => "delivery_resent",
            Self::DeliveryUnknown => "delivery_unknown",
            Self::EndpointReplayed => "endpoint_replayed",
            Self::EndpointUnknown => "endpoint_unknown",
            Self::ReplayBadTime => "replay_bad_time",
            Self::MailQueued => "mail_queued",
            Self::MailNotPending => "mail_not_pending",
            Self::MailOff => "mail_off",
            Self::AddressChanged => "address_changed",
            Self::AddressRaced => "address_raced",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.code() == code)
    }

    /// The message, with `count` (the `count` parameter, checked) where the notice has one.
    pub fn message(self, count: Option<&str>) -> String {
        match self {
            Self::RetriedMatching => match count.and_then(|c| whole_number("count", c).ok()) {
                Some(n) => format!("{n} order(s) will have a pay link made again."),
                None => "The matching orders will have a pay link made again.".into(),
            },
            Self::Retried => "The order will have a pay link made again.".into(),
            Self::NotFailed => "The order was not failed; nothing to retry.".into(),
            Self::Cancelled => "The order was cancelled.".into(),
            Self::CancelUnknown => "No such order; nothing was cancelled.".into(),
            Self::CancelNotPending => {
                "The order is paid or cancelled already; only a pending order can be cancelled."
                    .into()
            }
            Self::CancelRaced => {
                "The order changed meanwhile (another change or a payment); nothing was cancelled."
                    .into()
            }
            Self::Replayed => "The event will be processed again.".into(),
            Self::ReplayUnknown => "No such event; nothing to replay.".into(),
            Self::AmountChanged => {
                "The amount was changed; a new pay link at the new amount is being made (the pay URL stays the same).".into()
            }
            Self::AmountNotPending => {
                "The order is paid or cancelled already; its amount cannot change.".into()
            }
            Self::AmountRaced => {
                "The order changed meanwhile (another change or a payment); the amount was not changed."
                    .into()
            }
            Self::DeliveryResent => {
                "The delivery will be sent again now, starting over from its first try.".into()
            }
            Self::DeliveryUnknown => "No such delivery; nothing was resent.".into(),
            Self::EndpointReplayed => match count.and_then(|c| whole_number("count", c).ok()) {
                Some(n) => format!("{n} event(s) queued to be sent again."),
                None => "The events were queued to be sent again.".into(),
            },
            Self::EndpointUnknown => "No such webhook endpoint; nothing was replayed.".into(),
            Self::ReplayBadTime => {
                "That time could not be read (use the date and time picker, in UTC); nothing was replayed."
                    .into()
            }
            Self::MailQueued => {
                "The pay-link mail will be sent to the payer again (once the link is active).".into()
            }
            Self::MailNotPending => {
                "The order is paid or cancelled already; it is mailed nothing.".into()
            }
            Self::AddressChanged => {
                "The payer's address was changed; when the order asked for mail, the pay link goes to the new address.".into()
            }
            Self::AddressRaced => {
                "The order changed meanwhile (another change or a payment); the address was not changed."
                    .into()
            }
            Self::MailOff => {
                "Sending is off: set PAYLINK__EMAIL__SMTP_URL (docs/email.md); nothing was sent."
                    .into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_names_its_notice_and_nothing_else_names_one() {
        for notice in Notice::ALL {
            assert_eq!(Notice::from_code(notice.code()), Some(notice));
        }
        for unknown in [
            "",
            "<script>alert(1)</script>",
            "Retried",
            "retried ",
            "order x",
        ] {
            assert_eq!(Notice::from_code(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn only_a_whole_count_is_shown() {
        let n = Notice::RetriedMatching;
        assert_eq!(
            n.message(Some("500")),
            "500 order(s) will have a pay link made again."
        );
        for bad in [None, Some("<b>9</b>"), Some("-1"), Some("1e3"), Some("")] {
            assert_eq!(
                n.message(bad),
                "The matching orders will have a pay link made again."
            );
        }
    }
}
