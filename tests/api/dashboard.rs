//! The dashboard as the league's treasurer reads it (docs/dashboard.md): where
//! the money stands, finding anyone, the story of an order, and fixing a link Stripe refused.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::blasts::{post_blast, wait_for_blast};
use paylink_testkit::{
    AppOptions, Stack, TestApp, eventually, order_body, spawn_app, spawn_app_with,
};

/// The card `label` of the first currency's row, as text without tags.
pub(crate) fn card(page: &str, label: &str) -> String {
    let label_at = page
        .find(&format!("data-label=\"{label}\""))
        .unwrap_or_else(|| panic!("a {label} card in {page}"));
    let start = label_at + page[label_at..].find('>').expect("the tag ends") + 1;
    let end = start + page[start..].find("</a>").expect("the card ends");
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn order_row(product: &str, external_ref: &str, cents: i64) -> Value {
    json!({
        "external_ref": external_ref,
        "product_id": product,
        "amount_cents": cents,
        "payer": {"email": format!("{external_ref}@example.com"), "name": format!("Payer {external_ref}")}
    })
}

/// The order behind a row of a blast's result (found by the token in its pay URL).
async fn order_of(app: &TestApp, row: &Value) -> Value {
    let token = row["pay_url"].as_str().unwrap().rsplit('/').next().unwrap();
    let found = paylink_core::store::order::find_by_pay_token(&app.db, token)
        .await
        .unwrap()
        .expect("the row's order");
    app.get_order(&found.id).await
}

/// The ids of the orders a list page shows (each row is `<tr data-order="…">`).
fn listed(page: &str) -> BTreeSet<String> {
    page.split("data-order=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').expect("the attribute ends")].to_owned())
        .collect()
}

fn ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    ids.into_iter().map(str::to_owned).collect()
}

/// A CSV download's header row and its rows, sorted (the orders page lists newest first, a
/// blast's export in the blast's order).
async fn csv_of(response: reqwest::Response) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    assert_eq!(response.status(), 200, "{}", response.url());
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    rows.sort_by(|a, b| a.iter().cmp(b.iter()));
    (headers, rows)
}

fn query(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

async fn wait_paid(app: &TestApp, id: &str) {
    eventually(Duration::from_secs(20), || async {
        (app.get_order(id).await["status"] == "paid").then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("order {id} paid"));
}

/// A blast of five: `a` and `b` paid ($10 + $20), `c` unpaid ($30), `d` cancelled ($40), `e`
/// refused by Stripe ($0.30, under its minimum). Answers the blast's id and its orders by ref.
pub(crate) async fn mixed_blast(
    app: &TestApp,
) -> (String, std::collections::HashMap<String, Value>) {
    let product = app.create_product("generic").await;
    let rows: Vec<Value> = [
        ("a", 1000),
        ("b", 2000),
        ("c", 3000),
        ("d", 4000),
        ("e", 30),
    ]
    .into_iter()
    .map(|(r, cents)| order_row(&product, r, cents))
    .collect();
    let blast = post_blast(app, "September dues", rows).await;
    let blast_id = blast["id"].as_str().unwrap().to_owned();
    wait_for_blast(app, &blast_id, Duration::from_secs(60)).await;
    let result: Value = app
        .get_json(&format!("/v1/blasts/{blast_id}/orders?page=1"))
        .await
        .json()
        .await
        .unwrap();
    let mut orders = std::collections::HashMap::new();
    for row in result["data"].as_array().unwrap() {
        let order = order_of(app, row).await;
        orders.insert(row["external_ref"].as_str().unwrap().to_owned(), order);
    }
    for r in ["a", "b"] {
        let link = orders[r]["stripe_payment_link_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.complete_checkout(&link, "paid").await;
        wait_paid(app, orders[r]["id"].as_str().unwrap()).await;
    }
    let cancelled = app
        .post_json(
            &format!("/v1/orders/{}/cancel", orders["d"]["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    (blast_id, orders)
}

/// A blast of five: two paid ($10 + $20), one unpaid ($30), one cancelled ($40), one Stripe
/// refused ($0.30, under its minimum). Every figure on the overview and the blast page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_and_blast_page_show_paid_outstanding_and_attention_for_a_mixed_blast() {
    let app = spawn_app().await;
    let (blast_id, _) = mixed_blast(&app).await;
    for page in ["/admin".to_owned(), format!("/admin/blasts/{blast_id}")] {
        let html = app.admin_page(&page).await;
        assert_eq!(card(&html, "paid"), "Paid $30.00 2 orders", "{page}");
        assert_eq!(card(&html, "unpaid"), "Unpaid $30.00 1 order", "{page}");
        assert_eq!(
            card(&html, "attention"),
            "Needs attention $0.30 1 order",
            "{page}"
        );
        assert_eq!(
            card(&html, "cancelled"),
            "Cancelled $40.00 1 order",
            "{page}"
        );
        assert!(html.contains("What these mean"), "a legend on {page}");
    }
    // Each figure opens the orders behind it.
    let overview = app.admin_page("/admin").await;
    assert!(overview.contains("href=\"/admin/orders?state=unpaid&amp;currency=usd\""));
    let unpaid = app
        .admin_page("/admin/orders?state=unpaid&currency=usd")
        .await;
    assert!(unpaid.contains(">c<"), "the unpaid order is listed");
    for other in [">a<", ">b<", ">d<", ">e<"] {
        assert!(!unpaid.contains(other), "{other} is not unpaid");
    }
    // The engine's figures are in plain words, under System; no engine words on either page.
    assert!(overview.contains("System"));
    let blast_page = app.admin_page(&format!("/admin/blasts/{blast_id}")).await;
    for html in [&overview, &blast_page] {
        let lower = html.to_lowercase();
        for word in ["mint", "backlog", "jobs due", "queue"] {
            assert!(!lower.contains(word), "{word:?} on a treasurer's page");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_by_email_name_or_stripe_id_finds_an_order_made_one_at_a_time() {
    let app = spawn_app().await;
    let product = app.create_product("jersey").await;
    let mut body = order_body(&product, 4500);
    body["payer"] = json!({"email": "Pat.Smith@Example.com", "name": "Pat Smith"});
    let created: Value = app.post_order(&body).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let minted = app.wait_until_settled(id).await;
    let external_ref = created["external_ref"].as_str().unwrap();
    let link = minted["stripe_payment_link_id"].as_str().unwrap();
    for q in ["pat.smith@example", "PAT SMITH", external_ref, id, link] {
        let page = app
            .admin_page(&format!("/admin/orders?{}", query("q", q)))
            .await;
        assert!(page.contains(external_ref), "{q:?} finds the order");
        assert!(
            page.contains(minted["pay_url"].as_str().unwrap()),
            "with its pay URL to copy"
        );
    }
    let none = app.admin_page("/admin/orders?q=nobody%40example.com").await;
    assert!(none.contains("No orders match."));
    let paid_only = app.admin_page("/admin/orders?q=pat&state=paid").await;
    assert!(paid_only.contains("No orders match."), "it is unpaid");
    // `%` is a character, not a wildcard.
    let percent = app.admin_page("/admin/orders?q=%25").await;
    assert!(percent.contains("No orders match."));
    let bad = app.get_json("/admin/orders?state=owing").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("state"));
    // The order page has the pay URL to copy and resend.
    let order_page = app.admin_page(&format!("/admin/orders/{id}")).await;
    assert!(order_page.contains(minted["pay_url"].as_str().unwrap()));
}

/// Each filter of the orders page lists exactly the orders in that state, across blasts and
/// orders made one at a time; `blast=` lists that blast's alone. The page's CSV has the columns
/// of the blast's own export, and the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_page_filters_by_state_and_by_blast() {
    let app = spawn_app().await;
    let (blast_id, orders) = mixed_blast(&app).await;
    let product = app.create_product("jersey").await;
    let lone: Value = app
        .post_order(&order_body(&product, 2500))
        .await
        .json()
        .await
        .unwrap();
    let lone = lone["id"].as_str().unwrap();
    assert_eq!(app.wait_until_settled(lone).await["link_state"], "active");
    let id = |r: &str| orders[r]["id"].as_str().unwrap();

    let in_blast = query("blast", &blast_id);
    for (filter, expected) in [
        ("state=failed".to_owned(), ids([id("e")])),
        ("state=cancelled".to_owned(), ids([id("d")])),
        ("state=paid".to_owned(), ids([id("a"), id("b")])),
        ("state=unpaid".to_owned(), ids([id("c"), lone])),
        (
            "state=all".to_owned(),
            ids([id("a"), id("b"), id("c"), id("d"), id("e"), lone]),
        ),
        (
            in_blast.clone(),
            ids([id("a"), id("b"), id("c"), id("d"), id("e")]),
        ),
        (format!("state=unpaid&{in_blast}"), ids([id("c")])),
    ] {
        let page = app.admin_page(&format!("/admin/orders?{filter}")).await;
        assert_eq!(listed(&page), expected, "{filter}");
    }

    let (page_headers, page_rows) =
        csv_of(app.get_json(&format!("/admin/orders.csv?{in_blast}")).await).await;
    let export = app.blast_csv(&blast_id).await;
    let (blast_headers, blast_rows) = csv_of(export).await;
    assert_eq!(page_headers, blast_headers, "the blast export's columns");
    assert_eq!(
        page_rows, blast_rows,
        "the blast's orders, as its export has them"
    );
}

/// The link behind "Next page", as a path to fetch.
fn next_page(page: &str) -> Option<String> {
    let at = page.find(">Next page<")?;
    let start = page[..at].rfind("href=\"").expect("the link's href") + 6;
    let end = start + page[start..].find('"').expect("the href ends");
    Some(page[start..end].replace("&amp;", "&"))
}

/// More orders than a page holds (`PER_PAGE` in `src/routes/admin/orders.rs`): the first page
/// is full and links to the next, which holds the rest; together they list every order once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_page_pages_through_every_order_once() {
    const PER_PAGE: usize = 50;
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("generic").await;
    let blast = post_blast(
        &app,
        "big",
        crate::blasts::rows(&product, PER_PAGE + 3, "big"),
    )
    .await;
    let all: BTreeSet<String> =
        paylink_core::store::order::list_for_blast(&app.db, blast["id"].as_str().unwrap(), 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
    assert_eq!(all.len(), PER_PAGE + 3);

    let first = app.admin_page("/admin/orders?state=unpaid").await;
    let first_ids = listed(&first);
    assert_eq!(first_ids.len(), PER_PAGE, "a full first page");
    let next = next_page(&first).unwrap_or_else(|| panic!("a Next page link: {first}"));
    assert!(next.contains("state=unpaid"), "the filter is kept: {next}");
    let second = app.admin_page(&next).await;
    let second_ids = listed(&second);
    assert_eq!(second_ids.len(), 3, "the rest: {second}");
    assert!(next_page(&second).is_none(), "no page after the last");
    assert!(second.contains("Previous page"));
    assert!(first_ids.is_disjoint(&second_ids), "no order on both pages");
    let together: BTreeSet<String> = first_ids.union(&second_ids).cloned().collect();
    assert_eq!(together, all);
}

/// Pat's payment as the Stripe dashboard shows it (a Checkout Session, a PaymentIntent, a
/// Customer): any of its ids finds her order, and only hers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_by_the_session_payment_intent_or_customer_finds_the_paid_order() {
    let app = spawn_app().await;
    // A monthly link saves the card, so Stripe makes a Customer.
    let order = app.minted_order("monthly", 4500).await;
    let other = app.minted_order("monthly", 4600).await;
    let id = order["id"].as_str().unwrap();
    let link = order["stripe_payment_link_id"].as_str().unwrap();
    let session = app.complete_checkout(link, "paid").await;
    let paid = app
        .wait_for_order(id, "paid", |o| o["status"] == "paid")
        .await;
    assert_eq!(paid["stripe_checkout_session_id"], session.as_str());
    for field in [
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "stripe_customer_id",
    ] {
        let stripe_id = paid[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {paid}"));
        let page = app
            .admin_page(&format!("/admin/orders?{}", query("q", stripe_id)))
            .await;
        assert_eq!(listed(&page), ids([id]), "{field} {stripe_id}");
    }
    let page = app.admin_page("/admin/orders?q=cs_test_nosuch").await;
    assert!(page.contains("No orders match."));
    let all = app.admin_page("/admin/orders").await;
    assert_eq!(listed(&all), ids([id, other["id"].as_str().unwrap()]));
}

/// Stripe took a payment in another currency than the order asked (an amount mismatch): the
/// overview counts it under the currency it was paid in, and that card's link lists it there,
/// not under the currency asked. On every stack: the grouping is SQL of its own.
async fn a_payment_in_another_currency_is_listed_under_the_card_that_counts_it(stack: Stack) {
    let app = spawn_app_with(AppOptions::on(stack)).await;
    let order = app.minted_order("jersey", 2500).await;
    let unpaid = app.minted_order("jersey", 3000).await;
    let id = order["id"].as_str().unwrap();
    let unpaid_id = unpaid["id"].as_str().unwrap();
    let mut event = crate::webhooks::completed_event(&order, "paid");
    event["data"]["object"]["amount_total"] = json!(2300);
    event["data"]["object"]["currency"] = json!("eur");
    assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    let paid = app
        .wait_for_order(id, "paid", |o| o["status"] == "paid")
        .await;
    assert_eq!(
        (paid["currency"].as_str(), paid["paid_currency"].as_str()),
        (Some("usd"), Some("eur"))
    );

    let overview = app.admin_page("/admin").await;
    assert!(overview.contains("href=\"/admin/orders?state=paid&amp;currency=eur\""));
    let eur = app
        .admin_page("/admin/orders?state=paid&currency=eur")
        .await;
    assert_eq!(listed(&eur), ids([id]), "the EUR card's order");
    let usd = app.admin_page("/admin/orders?currency=usd").await;
    assert_eq!(listed(&usd), ids([unpaid_id]), "only what USD counts");
    let (_, rows) = csv_of(app.get_json("/admin/orders.csv?currency=EUR").await).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
}

paylink_testkit::on_every_stack!(
    a_payment_in_another_currency_is_listed_under_the_card_that_counts_it
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_csv_is_what_the_search_shows_with_formulas_defused() {
    let app = spawn_app().await;
    let product = app.create_product("generic").await;
    let mut body = order_body(&product, 1200);
    body["payer"] = json!({"email": "eve@example.com", "name": "=HYPERLINK(\"http://x\",\"y\")"});
    app.post_order(&body).await;
    app.post_order(&order_body(&product, 1300)).await;
    let response = app.get_json("/admin/orders.csv?q=eve%40example.com").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let name = headers.iter().position(|h| h == "payer_name").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "only what the search finds: {text}");
    assert_eq!(&rows[0][name], "'=HYPERLINK(\"http://x\",\"y\")");
}

/// An amount under Stripe's minimum: Stripe refuses the link, so the dashboard offers Change
/// amount instead of a Retry that would fail the same way; the new amount is minted, and the
/// order's story tells it, with who asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_stripe_refused_offers_change_amount_which_remints_at_the_new_amount() {
    let app = spawn_app().await;
    let product = app.create_product("tournament").await;
    let order = app.create_order(&product, 30).await;
    let id = order["id"].as_str().unwrap();
    let failed = app.wait_until_settled(id).await;
    assert_eq!(failed["link_state"], "failed");

    let failures = app.admin_page("/admin/failures").await;
    let row = &failures[failures.find(&format!("data-order=\"{id}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Change amount"), "{row}");
    assert!(!row.contains(">Retry<"), "no Retry that cannot work: {row}");

    // "Retry all matching" leaves it alone: a retry would be refused the same way.
    let location = app
        .admin_press("/admin/failures/retry", &[("blast", ""), ("error", "")])
        .await;
    assert!(location.contains("count=0"), "{location}");
    assert_eq!(app.get_order(id).await["link_state"], "failed");

    // An amount that is not one changes nothing.
    let csrf = app.admin_csrf().await;
    let bad = app
        .client
        .post(app.url(&format!("/admin/orders/{id}/amount")))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .form(&[("csrf", csrf.as_str()), ("amount", "five dollars")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("amount"));
    assert_eq!(app.get_order(id).await["amount_cents"], 30);

    let location = app
        .admin_press(&format!("/admin/orders/{id}/amount"), &[("amount", "5.00")])
        .await;
    assert_eq!(
        location,
        format!("/admin/orders/{id}?notice=amount_changed")
    );
    let minted = app.wait_until_settled(id).await;
    assert_eq!(minted["link_state"], "active", "{minted}");
    assert_eq!(minted["amount_cents"], 500);
    assert_eq!(
        minted["pay_url"], order["pay_url"],
        "the pay URL stays the same"
    );
    let links = app.stripe_links_for(id).await;
    assert_eq!(links.len(), 1, "one link, at the new amount: {links:?}");

    let page = app.admin_page(&location).await;
    let external_ref = order["external_ref"].as_str().unwrap();
    assert!(page.contains(&format!("Order {external_ref}: The amount was changed")));
    let mut last = 0;
    for (step, by) in [
        ("Order created for $0.30", "the API"),
        (
            "No pay link could be made",
            "Stripe, which refused the link",
        ),
        (
            "Amount changed from $0.30 to $5.00",
            "an operator (dashboard)",
        ),
        ("Pay link made for $5.00", "a worker, at Stripe"),
    ] {
        let at = page
            .find(step)
            .unwrap_or_else(|| panic!("the story has {step:?}: {page}"));
        assert!(at > last, "{step:?} in time order");
        assert!(page[at..].contains(by), "{step:?} by {by:?}");
        last = at;
    }
    // Cancelling through the API is told as such.
    app.post_json(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    let page = app.admin_page(&format!("/admin/orders/{id}")).await;
    let at = page
        .find("Order cancelled")
        .expect("the cancel is in the story");
    assert!(page[at..].contains("the host application (API)"));
}

/// A lost product id is looked up on the products page, not made again; the intake's own
/// address leads to the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_products_page_lists_every_product_with_its_id_and_its_orders() {
    let app = spawn_app().await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 2500).await;
    let page = app.admin_page("/admin/products").await;
    assert!(page.contains(&format!("value=\"{product}\"")), "{page}");
    assert!(page.contains("monthly"));
    let orders = app
        .admin_page(&format!("/admin/orders?{}", query("q", &product)))
        .await;
    assert!(orders.contains(order["external_ref"].as_str().unwrap()));

    let root = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/admin");
}
