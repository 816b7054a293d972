//! What an operator does from the dashboard: retry failed orders, cancel an order, replay a
//! Stripe event. Each is a conditional update, so pressing a button twice (or two operators
//! at once) changes a row once; the work itself then goes through the usual backlog, feeder
//! and rate limit.

use chrono::Utc;
use sea_orm::ConnectionTrait;
use sea_orm::ExprTrait as _;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, LikeExpr};

use super::{order, stripe_event};
use crate::domain::Move;

/// Which failed orders an operator means.
#[derive(Clone, Debug, Default)]
pub struct FailureFilter {
    /// One order.
    pub order_id: Option<String>,
    pub blast_id: Option<String>,
    /// Orders whose error contains this text.
    pub error_contains: Option<String>,
}

impl FailureFilter {
    fn apply<Q: QueryFilter>(&self, mut query: Q) -> Q {
        query = query.filter(needs_operator());
        // A key that cannot exist matches nothing (it must never widen the filter to all).
        for (column, key) in [
            (order::Column::Id, &self.order_id),
            (order::Column::BlastId, &self.blast_id),
        ] {
            match key.as_deref() {
                Some(key) if super::could_be_key(key) => query = query.filter(column.eq(key)),
                Some(_) => query = query.filter(Expr::value(false)),
                None => {}
            }
        }
        if let Some(text) = self.error_contains.as_deref().filter(|t| !t.is_empty()) {
            query = query.filter(
                Expr::col(order::Column::LastError).like(containing(&text.replace('\0', ""))),
            );
        }
        query
    }
}

/// An order whose link failed and that is still pending: a failure an operator must see to.
/// A cancelled (or paid) order needs no link, so its failed one is no failure; the failures
/// list, the overview's count and a blast's `failed` all take this one condition.
pub fn needs_operator() -> sea_orm::sea_query::Condition {
    sea_orm::sea_query::Condition::all()
        .add(order::Column::LinkState.eq(order::LinkState::Failed))
        .add(order::Column::Status.eq(order::Status::Pending))
}

/// The character that makes the next one literal in [`containing`]'s pattern.
const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern matching values that contain `text` literally: `%`, `_` and the escape
/// character are escaped and the escape is named in an `ESCAPE` clause, which SQLite needs (it
/// has no default escape) and PostgreSQL honours alike. Unescaped, a filter of `%` would match
/// every failed order and "Retry all matching" would retry them all.
pub(crate) fn containing(text: &str) -> LikeExpr {
    LikeExpr::new(containing_pattern(text)).escape(LIKE_ESCAPE)
}

fn containing_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Failed orders matching `filter`, most recently tried first.
pub async fn failures<C: ConnectionTrait>(
    db: &C,
    filter: &FailureFilter,
    limit: u64,
) -> Result<Vec<order::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    filter
        .apply(order::Entity::find())
        .order_by_desc(order::Column::LastAttemptAt)
        .order_by_asc(order::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Puts failed orders matching `filter` back to minting, into the backlog: the feeder enqueues
/// them within the window and the Stripe limit. The idempotency key stays the order's own
/// (same generation and retry epoch), so a link Stripe made during a try that timed out is
/// returned, not made twice. A link Stripe refused (4xx) is left alone. Returns how many orders
/// were put back.
pub async fn retry_failed<C: ConnectionTrait>(
    db: &C,
    filter: &FailureFilter,
) -> Result<u64, DbErr> {
    // A link Stripe refused fails the same way again: its fix is a new amount, not a retry.
    let transient = sea_orm::sea_query::Condition::any()
        .add(order::Column::LinkFailure.is_null())
        .add(order::Column::LinkFailure.ne(order::LinkFailure::Refused));
    let result = filter
        .apply(order::guarded(Move::RetryLink))
        .filter(transient)
        .col_expr(
            order::Column::EnqueuedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Cancels a pending order. Returns the order as it was when cancelled (the caller switches off
/// its link if it had an active one), or `None` when it was not pending.
pub async fn cancel<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<order::Model>, DbErr> {
    let Some(found) = order::find(db, id).await? else {
        return Ok(None);
    };
    let result = order::guarded(Move::Cancel)
        .col_expr(order::Column::CancelledAt, Expr::value(Utc::now()))
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok((result.rows_affected == 1).then_some(found))
}

/// Events whose processing failed (an error), or found nothing to act on.
pub async fn failed_events<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<stripe_event::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    stripe_event::Entity::find()
        .filter(event_failed())
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await
}

/// An event whose processing failed (an error kept on it), or found nothing to act on.
pub(crate) fn event_failed() -> sea_orm::sea_query::Condition {
    sea_orm::sea_query::Condition::any()
        .add(stripe_event::Column::Error.is_not_null())
        .add(stripe_event::Column::Outcome.is_in(stripe_event::Outcome::NEED_AN_OPERATOR))
}

/// Processes a stored event again: its outcome is cleared and it goes back to the backlog,
/// where the feeder enqueues it. Returns false for an unknown event.
pub async fn replay_event<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, DbErr> {
    if !super::could_be_key(id) {
        return Ok(false);
    }
    let none = Option::<chrono::DateTime<Utc>>::None;
    let result = stripe_event::Entity::update_many()
        .col_expr(stripe_event::Column::ProcessedAt, Expr::value(none))
        .col_expr(stripe_event::Column::EnqueuedAt, Expr::value(none))
        .col_expr(
            stripe_event::Column::Outcome,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            stripe_event::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .filter(stripe_event::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};

    use super::*;

    #[test]
    fn like_wildcards_and_the_escape_character_are_escaped() {
        for (text, pattern) in [
            ("%", r"%\%%"),
            ("_", r"%\_%"),
            (r"\", r"%\\%"),
            (r"50%_\x", r"%50\%\_\\x%"),
            ("HTTP 500", "%HTTP 500%"),
        ] {
            assert_eq!(containing_pattern(text), pattern, "{text:?}");
        }
    }

    #[test]
    fn the_pattern_carries_an_escape_clause_on_both_databases() {
        let mut query = Query::select();
        query
            .column(order::Column::Id)
            .from(order::Entity)
            .and_where(Expr::col(order::Column::LastError).like(containing("%")));
        for (sql, _) in [
            query.build(PostgresQueryBuilder),
            query.build(SqliteQueryBuilder),
        ] {
            assert!(sql.contains("ESCAPE"), "{sql}");
        }
    }
}
