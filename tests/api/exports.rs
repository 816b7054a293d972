//! Exports a treasurer opens in Excel: UTF-8 with a byte-order mark (names with accents read as
//! written), the amount in the currency's units beside `amount_cents`, the product's name and
//! the paid date; the columns scripts read stay where they were (docs/api.md, "Billing blasts").

use serde_json::{Value, json};

use paylink_testkit::{ADMIN_TOKEN, TestApp};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The CSV after its byte-order mark, as header → value maps, one per row.
fn rows(csv: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    assert!(csv.starts_with(BOM), "{:?}", &csv[..csv.len().min(20)]);
    let mut reader = csv::Reader::from_reader(&csv[BOM.len()..]);
    let headers = reader.headers().unwrap().clone();
    let first: Vec<&str> = headers.iter().take(5).collect();
    assert_eq!(
        first,
        [
            "external_ref",
            "id",
            "payer_email",
            "payer_name",
            "amount_cents"
        ],
        "the first columns stay where scripts read them"
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

async fn product(app: &TestApp, name: &str, currency: &str) -> String {
    let created: Value = app
        .post_json(
            "/v1/products",
            &json!({"name": name, "category": "generic", "currency": currency}),
        )
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blast_export_opens_in_excel_with_amounts_product_names_and_the_paid_date() {
    let app = paylink_testkit::spawn_app().await;
    let dues = product(&app, "September dues", "usd").await;
    let camp = product(&app, "Tokyo camp", "jpy").await;
    let order = |r: &str, name: &str, product: &str| {
        json!({"external_ref": r, "product_id": product, "amount_cents": 4500,
               "payer": {"email": format!("{r}@example.com"), "name": name}})
    };
    let blast = crate::blasts::post_blast(
        &app,
        "September",
        vec![
            order("zoe", "Zoë Müller", &dues),
            order("ken", "Ken Sato", &camp),
        ],
    )
    .await;
    let blast_id = blast["id"].as_str().unwrap();
    crate::blasts::wait_for_blast(&app, blast_id, std::time::Duration::from_secs(30)).await;
    let listed: Value = app
        .get_json(&format!("/v1/blasts/{blast_id}/orders?page=1"))
        .await
        .json()
        .await
        .unwrap();
    let zoe = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["external_ref"] == "zoe")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = app.get_order(&zoe).await["stripe_payment_link_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.complete_checkout(&link, "paid").await;
    let paid = app
        .wait_for_order(&zoe, "paid", |o| o["status"] == "paid")
        .await;
    let paid_day = &paid["paid_at"].as_str().unwrap()[..10];

    let csv = app.blast_csv(blast_id).await.bytes().await.unwrap();
    let exported = rows(&csv);
    let row = |r: &str| {
        exported
            .iter()
            .find(|row| row["external_ref"] == r)
            .unwrap()
    };
    let zoe = row("zoe");
    assert_eq!(zoe["payer_name"], "Zoë Müller");
    assert_eq!(zoe["amount_cents"], "4500");
    assert_eq!(zoe["amount"], "45.00");
    assert_eq!(zoe["product_name"], "September dues");
    assert!(zoe["paid_at"].starts_with(paid_day), "{zoe:?}");
    let ken = row("ken");
    assert_eq!(ken["amount"], "4500", "yen have no decimals");
    assert_eq!(ken["product_name"], "Tokyo camp");
    assert_eq!(ken["paid_at"], "", "not paid");

    // The dashboard's orders download has the same columns and mark.
    let download = app
        .client
        .get(app.url(&format!("/admin/orders.csv?blast={blast_id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let zoe = rows(&download)
        .into_iter()
        .find(|r| r["external_ref"] == "zoe")
        .unwrap();
    assert_eq!(
        (zoe["amount"].as_str(), zoe["product_name"].as_str()),
        ("45.00", "September dues")
    );
}
