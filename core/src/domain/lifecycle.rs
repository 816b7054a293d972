//! The order's lifecycle: whether the payer still owes the money ([`Status`]), where its
//! Payment Link stands ([`LinkState`]), and every move between them ([`Move`]) with the states
//! it may start from and what it changes.
//!
//! This table is the one place the rules live. The store's conditional updates take both their
//! `WHERE` and their `SET` for these two columns from it (`store::order::guarded`), so a row
//! the rules do not allow to move is left alone and the caller learns that it lost. Generation,
//! retry epoch and the enqueued stamp narrow a move further (a job for an old generation, a
//! retry epoch two jobs both saw); the store documents those beside each update.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Whether the payer still owes the money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// Where the order's Stripe Payment Link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Accepted; the link is being (or waiting to be) created.
    #[sea_orm(string_value = "minting")]
    Minting,
    /// The link exists and takes payments.
    #[sea_orm(string_value = "active")]
    Active,
    /// Stripe refused the link, or retries ran out; `last_error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The link was switched off at Stripe.
    #[sea_orm(string_value = "deactivated")]
    Deactivated,
}

/// Why a failed link failed, which decides what an operator can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum LinkFailure {
    /// Stripe answered 4xx (an amount under its minimum, a currency it does not take): the
    /// same request fails the same way, so the fix is a different amount, not a retry.
    #[sea_orm(string_value = "refused")]
    Refused,
    /// Every attempt met a timeout, a 5xx or a 429: a retry later may work.
    #[sea_orm(string_value = "gave_up")]
    GaveUp,
    /// Stripe refused paylink's API key (401/403), under a version from before such a refusal
    /// paused link-making instead (migration 16 files those here): a retry works once the key
    /// is fixed.
    #[sea_orm(string_value = "stripe_key")]
    KeyRefused,
}

/// Every way an order's status or link state changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// A minted link is stored on the order, which now takes payments through it.
    StoreLink,
    /// Stripe refused the link, or the retries ran out; the operator sees why.
    FailLink,
    /// The operator retries a failed link (under the same idempotency key).
    RetryLink,
    /// A new link generation: the amount changed, or a failed payment needs a fresh link.
    NewGeneration,
    /// The order's stored link was switched off at Stripe.
    DeactivateLink,
    /// A payment settles the order.
    Pay,
    /// The order is cancelled; its link is switched off next.
    Cancel,
}

const ANY_STATUS: &[Status] = &[Status::Pending, Status::Paid, Status::Cancelled];
const ANY_LINK: &[LinkState] = &[
    LinkState::Minting,
    LinkState::Active,
    LinkState::Failed,
    LinkState::Deactivated,
];

/// The states a move may start from: any of `statuses` with any of `links`.
#[derive(Clone, Copy, Debug)]
pub struct StartsFrom {
    pub statuses: &'static [Status],
    pub links: &'static [LinkState],
}

impl Move {
    pub const ALL: [Move; 7] = [
        Move::StoreLink,
        Move::FailLink,
        Move::RetryLink,
        Move::NewGeneration,
        Move::DeactivateLink,
        Move::Pay,
        Move::Cancel,
    ];

    /// Where the move may start.
    pub fn starts_from(self) -> StartsFrom {
        let (statuses, links): (&'static [Status], &'static [LinkState]) = match self {
            // Only a pending order takes a new link; a paid or cancelled one keeps none.
            Move::StoreLink => (&[Status::Pending], &[LinkState::Minting]),
            // A mint that gives up fails its link whatever happened to the order meanwhile.
            Move::FailLink => (ANY_STATUS, &[LinkState::Minting]),
            Move::RetryLink => (&[Status::Pending], &[LinkState::Failed]),
            Move::NewGeneration => (&[Status::Pending], ANY_LINK),
            // A paid or cancelled order's link is switched off too: that is why it closes.
            Move::DeactivateLink => (ANY_STATUS, &[LinkState::Active]),
            // Exactly one payment wins; a second one is flagged, never applied.
            Move::Pay => (&[Status::Pending], ANY_LINK),
            Move::Cancel => (&[Status::Pending], ANY_LINK),
        };
        StartsFrom { statuses, links }
    }

    /// What the move sets: a new status, a new link state, or both (`None` keeps it).
    pub fn sets(self) -> (Option<Status>, Option<LinkState>) {
        match self {
            Move::StoreLink => (None, Some(LinkState::Active)),
            Move::FailLink => (None, Some(LinkState::Failed)),
            Move::RetryLink | Move::NewGeneration => (None, Some(LinkState::Minting)),
            Move::DeactivateLink => (None, Some(LinkState::Deactivated)),
            Move::Pay => (Some(Status::Paid), None),
            Move::Cancel => (Some(Status::Cancelled), None),
        }
    }

    /// Whether an order in `status` with its link in `link` may make this move.
    pub fn allowed(self, status: Status, link: LinkState) -> bool {
        let from = self.starts_from();
        from.statuses.contains(&status) && from.links.contains(&link)
    }

    /// The state after the move, or `None` when it is not allowed from this one.
    pub fn apply(self, status: Status, link: LinkState) -> Option<(Status, LinkState)> {
        let (new_status, new_link) = self.sets();
        self.allowed(status, link)
            .then(|| (new_status.unwrap_or(status), new_link.unwrap_or(link)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_order_never_goes_back_to_pending_or_takes_a_new_link() {
        for status in [Status::Paid, Status::Cancelled] {
            for link in ANY_LINK.iter().copied() {
                for m in Move::ALL {
                    if let Some((after, _)) = m.apply(status, link) {
                        assert_eq!(after, status, "{m:?} from {status:?}/{link:?}");
                    }
                }
                assert!(!Move::StoreLink.allowed(status, link));
                assert!(!Move::NewGeneration.allowed(status, link));
                assert!(!Move::Pay.allowed(status, link));
            }
        }
    }

    #[test]
    fn the_link_of_a_paid_or_cancelled_order_can_still_be_switched_off() {
        for status in ANY_STATUS.iter().copied() {
            assert_eq!(
                Move::DeactivateLink.apply(status, LinkState::Active),
                Some((status, LinkState::Deactivated))
            );
        }
        assert_eq!(
            Move::DeactivateLink.apply(Status::Paid, LinkState::Minting),
            None
        );
    }

    #[test]
    fn a_link_is_stored_only_while_it_is_being_minted_for_a_pending_order() {
        assert_eq!(
            Move::StoreLink.apply(Status::Pending, LinkState::Minting),
            Some((Status::Pending, LinkState::Active))
        );
        for link in [LinkState::Active, LinkState::Failed, LinkState::Deactivated] {
            assert_eq!(Move::StoreLink.apply(Status::Pending, link), None);
        }
    }

    #[test]
    fn only_a_failed_link_is_retried_and_every_move_lands_in_a_known_state() {
        for status in ANY_STATUS.iter().copied() {
            for link in ANY_LINK.iter().copied() {
                assert_eq!(
                    Move::RetryLink.allowed(status, link),
                    status == Status::Pending && link == LinkState::Failed
                );
                for m in Move::ALL {
                    if let Some((s, l)) = m.apply(status, link) {
                        assert!(ANY_STATUS.contains(&s) && ANY_LINK.contains(&l));
                    }
                }
            }
        }
    }
}
