//! A blast's progress in plain counts that add up: links ready to pay, paid, cancelled and not
//! made, each order in one of them, on the dashboard and in `GET /v1/blasts/{id}`.

use serde_json::Value;

use crate::dashboard::mixed_blast;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blasts_progress_counts_each_order_once_and_adds_up_to_its_size() {
    let app = paylink_testkit::spawn_app().await;
    // Five orders: two paid (their generic links stay on at Stripe), one payable, one
    // cancelled (its link switched off), one Stripe refused.
    let (blast_id, _) = mixed_blast(&app).await;

    let blast: Value = app.get_blast(&blast_id).await;
    let progress = &blast["progress"];
    let count = |bucket: &str| progress[bucket].as_i64().unwrap();
    assert_eq!(
        (
            count("ready"),
            count("paid"),
            count("cancelled"),
            count("failed"),
            count("not_yet")
        ),
        (1, 2, 1, 1, 0),
        "{blast}"
    );
    let buckets = ["ready", "paid", "cancelled", "failed", "not_yet"];
    assert_eq!(
        buckets.map(count).iter().sum::<i64>(),
        blast["size"].as_i64().unwrap()
    );

    let words =
        "1 links ready to pay · 2 paid · 1 cancelled · 1 not made (1 failed, 0 not yet) of 5";
    let page = app.admin_page(&format!("/admin/blasts/{blast_id}")).await;
    assert!(page.contains(words), "{page}");
    let list = app.admin_page("/admin/blasts").await;
    assert!(list.contains(words), "{list}");
}
