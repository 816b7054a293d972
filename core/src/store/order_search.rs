//! Finding orders for the organiser ("Pat says her link does not work"): one search box that
//! matches a payer's email or name or an external ref (contained, any case), or an order id, a
//! product id or any Stripe id exactly (a Payment Link of any generation, a Checkout Session, a PaymentIntent,
//! a Customer), narrowed by what state the money is in, a blast and a currency.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _, Func, Query};
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use super::operator::containing;
use super::{order, payment, payment_link};

/// Which orders, by the state of their money (the groups of [`super::money`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Standing {
    #[default]
    All,
    Paid,
    /// Pending, with a link being made or taking payment.
    Unpaid,
    /// Pending, with a failed link: needs an operator.
    Failed,
    Cancelled,
}

impl Standing {
    pub const ALL: [Standing; 5] = [
        Self::All,
        Self::Unpaid,
        Self::Paid,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Paid => "paid",
            Self::Unpaid => "unpaid",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named in a link; `None` for a name that is not one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn condition(self) -> Condition {
        use order::{Column, LinkState, Status};
        match self {
            Self::All => Condition::all(),
            Self::Paid => Condition::all().add(Column::Status.eq(Status::Paid)),
            Self::Cancelled => Condition::all().add(Column::Status.eq(Status::Cancelled)),
            Self::Failed => Condition::all()
                .add(Column::Status.eq(Status::Pending))
                .add(Column::LinkState.eq(LinkState::Failed)),
            Self::Unpaid => Condition::all()
                .add(Column::Status.eq(Status::Pending))
                .add(Column::LinkState.ne(LinkState::Failed)),
        }
    }
}

/// What the organiser asked for.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    /// Free text: see the module's doc. Empty: every order.
    pub text: String,
    pub standing: Standing,
    pub blast_id: Option<String>,
    /// Lower-case ISO code of the currency the money is in (see
    /// [`super::money::currency_of_money`]).
    pub currency: Option<String>,
}

impl OrderQuery {
    fn condition(&self) -> Condition {
        use order::Column;
        let mut all = Condition::all().add(self.standing.condition());
        if let Some(blast) = &self.blast_id {
            all = all.add(Column::BlastId.eq(blast.as_str()));
        }
        if let Some(currency) = &self.currency {
            // As the overview counts it: a payment in another currency is listed under that.
            all = all.add(super::money::currency_of_money().eq(currency.to_lowercase()));
        }
        let text = self.text.trim();
        if !text.is_empty() {
            let lower = text.to_lowercase();
            let contains =
                |c: Column| Expr::expr(Func::lower(Expr::col(c))).like(containing(&lower));
            all = all.add(
                Condition::any()
                    .add(contains(Column::PayerEmail))
                    .add(contains(Column::PayerName))
                    .add(contains(Column::ExternalRef))
                    .add(Column::Id.eq(text))
                    .add(Column::ProductId.eq(text))
                    .add(Column::StripePaymentLinkId.eq(text))
                    .add(Column::StripeCheckoutSessionId.eq(text))
                    .add(Column::StripePaymentIntentId.eq(text))
                    .add(Column::StripeCustomerId.eq(text))
                    .add(
                        Column::Id.in_subquery(
                            Query::select()
                                .column(payment_link::Column::OrderId)
                                .from(payment_link::Entity)
                                .and_where(payment_link::Column::Id.eq(text))
                                .to_owned(),
                        ),
                    )
                    .add(
                        Column::Id.in_subquery(
                            Query::select()
                                .column(payment::Column::OrderId)
                                .from(payment::Entity)
                                .cond_where(
                                    Condition::any()
                                        .add(payment::Column::CheckoutSessionId.eq(text))
                                        .add(payment::Column::PaymentIntentId.eq(text)),
                                )
                                .to_owned(),
                        ),
                    ),
            );
        }
        all
    }
}

/// One page of the orders matching `query`, newest first, and whether more follow.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    query: &OrderQuery,
    offset: u64,
    limit: u64,
) -> Result<(Vec<order::Model>, bool), DbErr> {
    if i64::try_from(offset).is_err() {
        return Ok((Vec::new(), false));
    }
    let limit = limit.clamp(1, 10_000);
    let mut rows = order::Entity::find()
        .filter(query.condition())
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .offset(offset)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
