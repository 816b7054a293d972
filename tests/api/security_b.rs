//! Issue 14, "Hardened for the open internet": absurd pages, oversized bodies, dashboard
//! notices, `LIKE` filters, ids in dashboard URLs, and the cost of a `/metrics` scrape. Each
//! test sends what a careless or hostile client would and checks the answer.

use paylink_core::domain::{AmountCents, Currency, Email};
use paylink_core::store::operator::{self, FailureFilter};
use paylink_core::store::{self, order, product};
use sea_orm::DatabaseConnection;

use paylink_testkit::{Db, TestDatabase};

async fn migrated(kind: Db) -> (TestDatabase, DatabaseConnection) {
    let database = TestDatabase::create(kind).await;
    let db = store::connect(&database.url, 5).await.expect("connects");
    store::schema_lock::migrate(&db).await.expect("migrates");
    (database, db)
}

fn new_order(product_id: &str, external_ref: &str) -> order::NewOrder {
    order::NewOrder {
        external_ref: external_ref.into(),
        product_id: product_id.into(),
        blast_id: None,
        payer_email: Email::parse("payer.email", "p@example.com").unwrap(),
        payer_name: "P".into(),
        amount_cents: AmountCents::parse("amount_cents", 100).unwrap(),
        currency: Currency::parse("currency", "usd").unwrap(),
    }
}

fn error_contains(text: &str) -> FailureFilter {
    FailureFilter {
        error_contains: Some(text.into()),
        ..FailureFilter::default()
    }
}

/// `%`, `_` and `\` in the failures filter are the characters themselves, not wildcards: a
/// filter of `%` must not select (and "Retry all matching" must not retry) every failed order.
async fn security_b_like_filter_matches_wildcards_literally(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();
    let mut refs = std::collections::HashMap::new();
    for (external_ref, error) in [
        ("percent", "100% refused"),
        ("underscore", "card_declined"),
        ("backslash", r"C:\stripe"),
        ("plain", "HTTP 500"),
    ] {
        let (o, _) = order::insert_or_get(&db, new_order(&product.id, external_ref))
            .await
            .unwrap();
        assert!(
            order::mark_link_failed(&db, &o.id, o.link_generation, error)
                .await
                .unwrap()
        );
        refs.insert(o.id, external_ref);
    }

    for (filter, expected) in [
        ("%", vec!["percent"]),
        ("_", vec!["underscore"]),
        (r"\", vec!["backslash"]),
        ("0% r", vec!["percent"]),
        ("1_0", vec![]),
        ("HTTP", vec!["plain"]),
    ] {
        let found = operator::failures(&db, &error_contains(filter), 100)
            .await
            .unwrap();
        let mut found: Vec<&str> = found.iter().map(|o| refs[&o.id]).collect();
        found.sort_unstable();
        assert_eq!(found, expected, "error contains {filter:?}");
    }

    let retried = operator::retry_failed(&db, &error_contains("%"))
        .await
        .unwrap();
    assert_eq!(
        retried, 1,
        "a filter of % retries only the order whose error holds a %"
    );
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(paylink_testkit::Db::Postgres).await }
            )*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(paylink_testkit::Db::Sqlite).await }
            )*
        }
    };
}

on_both_databases!(security_b_like_filter_matches_wildcards_literally);
