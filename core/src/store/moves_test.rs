//! The store's conditional updates against the lifecycle table: from every status and link
//! state, each move changes the row exactly when [`Move::allowed`] says it may, and to what
//! [`Move::apply`] says. Runs on SQLite in a temporary file (the SQL is the same on PostgreSQL;
//! the integration tests run the flows on both).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

use super::operator::{self, FailureFilter};
use super::{order, product};
use crate::domain::{AmountCents, Currency, Email, LinkState, Move, Status};

const STATUSES: [Status; 3] = [Status::Pending, Status::Paid, Status::Cancelled];
const LINKS: [LinkState; 4] = [
    LinkState::Minting,
    LinkState::Active,
    LinkState::Failed,
    LinkState::Deactivated,
];
const LINK_ID: &str = "plink_current";

/// A new order put straight into `status` and `link`, holding the link `LINK_ID`.
async fn order_in(
    db: &DatabaseConnection,
    product_id: &str,
    n: usize,
    status: Status,
    link: LinkState,
) -> order::Model {
    let new = order::NewOrder {
        external_ref: format!("ref-{n}"),
        product_id: product_id.to_owned(),
        blast_id: None,
        payer_email: Email::parse("payer.email", "p@example.com").expect("valid"),
        payer_name: "P".into(),
        amount_cents: AmountCents::parse("amount_cents", 1000).expect("valid"),
        currency: Currency::parse("currency", "usd").expect("valid"),
    };
    let (stored, _) = order::insert_or_get(db, new).await.expect("inserted");
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(status))
        .col_expr(order::Column::LinkState, Expr::value(link))
        .col_expr(order::Column::StripePaymentLinkId, Expr::value(LINK_ID))
        .filter(order::Column::Id.eq(stored.id.clone()))
        .exec(db)
        .await
        .expect("state set");
    stored
}

/// Makes `m` through the store function that makes it; returns whether the store said it did.
async fn make(db: &DatabaseConnection, m: Move, o: &order::Model) -> bool {
    let id = o.id.as_str();
    let generation = o.link_generation;
    match m {
        Move::StoreLink => order::store_minted_link(db, id, generation, "plink_new", "url")
            .await
            .expect("stored"),
        Move::FailLink => {
            order::mark_link_failed(db, id, generation, "refused", order::LinkFailure::Refused)
                .await
                .expect("failed")
        }
        Move::RetryLink => {
            let filter = FailureFilter {
                order_id: Some(id.to_owned()),
                blast_id: None,
                error_contains: None,
            };
            operator::retry_failed(db, &filter).await.expect("retried") == 1
        }
        Move::NewGeneration => order::start_new_generation(db, id, generation, None)
            .await
            .expect("moved on"),
        Move::DeactivateLink => order::mark_link_deactivated(db, id, LINK_ID)
            .await
            .expect("deactivated"),
        Move::Pay => order::mark_paid(db, id, &order::Payment::default())
            .await
            .expect("paid"),
        Move::Cancel => operator::cancel(db, id).await.expect("cancelled").is_some(),
    }
}

#[tokio::test]
async fn every_move_changes_exactly_the_rows_the_lifecycle_allows() {
    let dir = std::env::temp_dir().join(format!("paylink_moves_{}", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}/paylink.db", dir.display());
    let db = super::connect(&url, 1).await.expect("connects");
    super::schema_lock::migrate(&db).await.expect("migrates");
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .expect("product");
    let mut n = 0;
    let mut checked = 0;
    for m in Move::ALL {
        for status in STATUSES {
            for link in LINKS {
                n += 1;
                let before = order_in(&db, &product.id, n, status, link).await;
                let made = make(&db, m, &before).await;
                let after = order::find(&db, &before.id)
                    .await
                    .expect("read")
                    .expect("still there");
                let expected = m.apply(status, link).unwrap_or((status, link));
                assert_eq!(
                    (made, (after.status, after.link_state)),
                    (m.allowed(status, link), expected),
                    "{m:?} from {status:?}/{link:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7 * 3 * 4);
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
}
