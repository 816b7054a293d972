//! Every paid Checkout Session, once: the session id is the key, so the webhook, the sweep of
//! Stripe's events and the payer's return page can all report the same payment and only the
//! first counts. What was paid is kept beside whether it matched the order.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

/// How paylink learned of the payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum LearnedVia {
    /// Stripe delivered the event to `/webhooks/stripe`.
    #[sea_orm(string_value = "webhook")]
    Webhook,
    /// The sweep of `GET /v1/events` found an event no delivery brought.
    #[sea_orm(string_value = "event_sweep")]
    EventSweep,
    /// The payer came back to `/pay/{token}/thanks` with the session id, before any event.
    #[sea_orm(string_value = "return_page")]
    ReturnPage,
}

/// A payment that does not match its order. Recorded and shown, never silently accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Issue {
    /// Stripe's `amount_total` or `currency` differs from the order's (a link of an older
    /// amount paid after the amount changed).
    #[sea_orm(string_value = "amount_mismatch")]
    AmountMismatch,
    /// Money arrived for an order already cancelled.
    #[sea_orm(string_value = "paid_after_cancel")]
    PaidAfterCancel,
    /// A second, distinct Checkout Session paid an order already paid.
    #[sea_orm(string_value = "paid_twice")]
    PaidTwice,
}

impl Issue {
    pub fn as_str(self) -> &'static str {
        match self {
            Issue::AmountMismatch => "amount_mismatch",
            Issue::PaidAfterCancel => "paid_after_cancel",
            Issue::PaidTwice => "paid_twice",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub checkout_session_id: String,
    pub order_id: String,
    pub payment_link_id: Option<String>,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    pub payment_intent_id: Option<String>,
    pub customer_id: Option<String>,
    pub learned_via: LearnedVia,
    pub issue: Option<Issue>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stores the payment unless its session is stored already. True when this call stored it.
pub async fn record<C: ConnectionTrait>(db: &C, payment: Model) -> Result<bool, DbErr> {
    let row = ActiveModel {
        checkout_session_id: Set(payment.checkout_session_id),
        order_id: Set(payment.order_id),
        payment_link_id: Set(payment.payment_link_id),
        amount_cents: Set(payment.amount_cents),
        currency: Set(payment.currency),
        payment_intent_id: Set(payment.payment_intent_id),
        customer_id: Set(payment.customer_id),
        learned_via: Set(payment.learned_via),
        issue: Set(payment.issue),
        recorded_at: Set(payment.recorded_at),
    };
    match Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::CheckoutSessionId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
    {
        Ok(n) => Ok(n == 1),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) async fn set_issue<C: ConnectionTrait>(
    db: &C,
    checkout_session_id: &str,
    issue: Issue,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Issue, Expr::value(issue.to_value()))
        .filter(Column::CheckoutSessionId.eq(checkout_session_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    checkout_session_id: &str,
) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(checkout_session_id) {
        return Ok(None);
    }
    Entity::find_by_id(checkout_session_id.to_owned())
        .one(db)
        .await
}

/// Payments with an issue, newest first: the dashboard's "Payments needing attention".
pub async fn needing_attention<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Issue.is_not_null())
        .order_by_desc(Column::RecordedAt)
        .limit(limit)
        .all(db)
        .await
}

/// How many payments each way of learning found.
pub async fn count_by_via<C: ConnectionTrait>(db: &C) -> Result<Vec<(LearnedVia, i64)>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::LearnedVia)
        .column_as(Column::CheckoutSessionId.count(), "n")
        .group_by(Column::LearnedVia)
        .into_tuple()
        .all(db)
        .await
}
