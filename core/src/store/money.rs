//! Where the money stands, per currency, for the organiser (docs/dashboard.md):
//! every order in exactly one of four groups, so the groups add up to the orders:
//!
//! - **paid**: what Stripe took (the payment's own amount and currency where known);
//! - **unpaid**: pending orders whose link is being made or is taking payment (outstanding);
//! - **needs attention**: pending orders whose link failed (nobody can pay them until an
//!   operator acts);
//! - **cancelled**: no money expected.
//!
//! Payments with an issue (a wrong amount, a second payment) are counted beside them, in the
//! currency Stripe took: they belong to paid orders, already in **paid**, but an operator must
//! look at them, so the dashboard shows them with **needs attention**.

use std::collections::BTreeMap;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QuerySelect};

use super::{order, payment};

/// A count of orders and their amount in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    pub orders: i64,
    pub cents: i64,
}

impl Sum {
    fn add(&mut self, orders: i64, cents: i64) {
        self.orders += orders;
        self.cents += cents;
    }
}

/// The four groups in one currency, and the payments in it that an operator must check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    pub paid: Sum,
    pub unpaid: Sum,
    pub needs_attention: Sum,
    pub cancelled: Sum,
    /// Payments with an issue taken in this currency (not an order group: see the module).
    pub payment_issues: u64,
}

impl Standing {
    pub fn orders(&self) -> i64 {
        self.paid.orders + self.unpaid.orders + self.needs_attention.orders + self.cancelled.orders
    }
}

/// Where the money stands, by currency (lower-case ISO code).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Money {
    pub by_currency: BTreeMap<String, Standing>,
}

/// The currency an order's money is counted in: the one Stripe took it in once paid (a
/// payment can come in another currency than the order asked), else the order's own; lower
/// case. The groups here and the orders list's `currency=` filter (`order_search.rs`) both use
/// it, so a card's link lists exactly the orders the card counts.
pub fn currency_of_money() -> Expr {
    Expr::cust("LOWER(COALESCE(paid_currency, currency))")
}

/// The standing of every order, or of one blast's.
pub async fn standing<C: ConnectionTrait>(db: &C, blast_id: Option<&str>) -> Result<Money, DbErr> {
    let mut query = order::Entity::find()
        .select_only()
        .column(order::Column::Status)
        .column(order::Column::LinkState)
        .column_as(currency_of_money(), "money_currency")
        .column_as(order::Column::Id.count(), "n")
        // SUM of a BIGINT is NUMERIC in PostgreSQL: cast it back.
        .column_as(
            Expr::cust("CAST(SUM(COALESCE(paid_amount_cents, amount_cents)) AS BIGINT)"),
            "cents",
        );
    if let Some(id) = blast_id {
        query = query.filter(order::Column::BlastId.eq(id));
    }
    let rows: Vec<(order::Status, order::LinkState, String, i64, i64)> = query
        .group_by(order::Column::Status)
        .group_by(order::Column::LinkState)
        .group_by(currency_of_money())
        .into_tuple()
        .all(db)
        .await?;
    let mut money = Money::default();
    for (status, link_state, currency, n, cents) in rows {
        let standing = money.by_currency.entry(currency).or_default();
        match (status, link_state) {
            (order::Status::Paid, _) => standing.paid.add(n, cents),
            (order::Status::Cancelled, _) => standing.cancelled.add(n, cents),
            (order::Status::Pending, order::LinkState::Failed) => {
                standing.needs_attention.add(n, cents)
            }
            (order::Status::Pending, _) => standing.unpaid.add(n, cents),
        }
    }
    // A payment Stripe sent without its currency counts in its order's.
    let issue_currency = || {
        Expr::cust(
            "LOWER(COALESCE(payments.currency, \
             (SELECT o.currency FROM orders o WHERE o.id = payments.order_id)))",
        )
    };
    let mut issues = payment::Entity::find()
        .select_only()
        .column_as(issue_currency(), "issue_currency")
        .column_as(payment::Column::OrderId.count(), "n")
        .filter(payment::Column::Issue.is_not_null());
    if let Some(id) = blast_id {
        issues = issues.filter(
            payment::Column::OrderId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(order::Column::Id)
                    .from(order::Entity)
                    .and_where(order::Column::BlastId.eq(id))
                    .to_owned(),
            ),
        );
    }
    let issues: Vec<(Option<String>, i64)> = issues
        .group_by(issue_currency())
        .into_tuple()
        .all(db)
        .await?;
    for (currency, n) in issues {
        if let Some(c) = currency {
            money.by_currency.entry(c).or_default().payment_issues += n.unsigned_abs();
        }
    }
    Ok(money)
}
