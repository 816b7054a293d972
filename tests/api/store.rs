//! The store's queries, run on both SQLite and PostgreSQL.

use paylink_core::domain::{AmountCents, Currency, Email};
use paylink_core::store::{self, order, product};
use sea_orm::DatabaseConnection;

use paylink_testkit::{Db, TestDatabase};

async fn migrated(kind: Db) -> (TestDatabase, DatabaseConnection) {
    let database = TestDatabase::create(kind).await;
    let db = store::connect(&database.url, 5).await.expect("connects");
    store::schema_lock::migrate(&db).await.expect("migrates");
    (database, db)
}

fn new_order(product_id: &str, external_ref: &str, amount: i64) -> order::NewOrder {
    order::NewOrder {
        external_ref: external_ref.into(),
        product_id: product_id.into(),
        blast_id: None,
        payer_email: Email::parse("payer.email", "p@example.com").unwrap(),
        payer_name: "P".into(),
        amount_cents: AmountCents::parse("amount_cents", amount).unwrap(),
        currency: Currency::parse("currency", "usd").unwrap(),
    }
}

async fn insert_is_idempotent_on_external_ref(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();

    let (first, created_first) = order::insert_or_get(&db, new_order(&product.id, "r1", 100))
        .await
        .unwrap();
    let (second, created_second) = order::insert_or_get(&db, new_order(&product.id, "r1", 100))
        .await
        .unwrap();

    assert!(created_first);
    assert!(!created_second);
    assert_eq!(first.id, second.id);
    assert_eq!(first.pay_token, second.pay_token);
    assert_eq!(
        order::find_by_pay_token(&db, &first.pay_token)
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
}

async fn a_minted_link_is_stored_once_and_only_for_its_generation(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();
    let (o, _) = order::insert_or_get(&db, new_order(&product.id, "r1", 100))
        .await
        .unwrap();

    assert!(
        !order::store_minted_link(&db, &o.id, 1, "plink_other_gen", "u")
            .await
            .unwrap()
    );
    assert!(
        order::store_minted_link(&db, &o.id, 0, "plink_1", "https://x/1")
            .await
            .unwrap()
    );
    assert!(
        !order::store_minted_link(&db, &o.id, 0, "plink_2", "https://x/2")
            .await
            .unwrap()
    );

    let stored = order::find(&db, &o.id).await.unwrap().unwrap();
    assert_eq!(stored.link_state, order::LinkState::Active);
    assert_eq!(stored.stripe_payment_link_id.as_deref(), Some("plink_1"));
    assert!(
        !order::mark_link_failed(&db, &o.id, 0, "too late", order::LinkFailure::GaveUp)
            .await
            .unwrap(),
        "an active link does not fail"
    );
}

async fn concurrent_stores_have_exactly_one_winner(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();
    let (o, _) = order::insert_or_get(&db, new_order(&product.id, "r1", 100))
        .await
        .unwrap();

    let attempts = (0..8).map(|i| {
        let db = db.clone();
        let id = o.id.clone();
        tokio::spawn(async move {
            order::store_minted_link(&db, &id, 0, &format!("plink_{i}"), "u")
                .await
                .unwrap()
        })
    });
    let winners = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();

    assert_eq!(winners, 1);
}

async fn the_retry_epoch_moves_once_per_observed_500(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();
    let (o, _) = order::insert_or_get(&db, new_order(&product.id, "r1", 100))
        .await
        .unwrap();

    assert!(order::bump_retry_epoch(&db, &o.id, 0).await.unwrap());
    assert!(
        !order::bump_retry_epoch(&db, &o.id, 0).await.unwrap(),
        "a second job that saw the same 500"
    );
    order::record_attempt(&db, &o.id, Some("Stripe failed (HTTP 500)"))
        .await
        .unwrap();

    let stored = order::find(&db, &o.id).await.unwrap().unwrap();
    assert_eq!(stored.retry_epoch, 1);
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        stored.last_error.as_deref(),
        Some("Stripe failed (HTTP 500)")
    );
    assert!(
        order::mark_link_failed(&db, &o.id, 0, "refused", order::LinkFailure::Refused)
            .await
            .unwrap()
    );
    let stale_before = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert!(
        order::backlog(&db, 10, Some(stale_before))
            .await
            .unwrap()
            .is_empty(),
        "a failed order is not mint work for the feeder"
    );
}

paylink_testkit::on_every_database!(
    insert_is_idempotent_on_external_ref,
    a_minted_link_is_stored_once_and_only_for_its_generation,
    concurrent_stores_have_exactly_one_winner,
    the_retry_epoch_moves_once_per_observed_500,
);
