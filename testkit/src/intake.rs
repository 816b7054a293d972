//! The typed calls tests make to the intake, as the host application or the admin would, and
//! direct counts from the test's database.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::ADMIN_TOKEN;
use crate::app::TestApp;
use crate::wait::eventually;

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `PATCH /v1/orders/{id}` with `body`, as the admin.
    pub async fn patch_order(&self, id: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(&format!("/v1/orders/{id}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `GET /metrics` on the intake's public port (with the admin token, as it requires there
    /// unless `http.metrics_addr` is set), as text.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
            .text()
            .await
            .expect("text")
    }

    /// An admin page's HTML, fetched with the admin token.
    pub async fn admin_page(&self, path: &str) -> String {
        self.get_json(path).await.text().await.expect("html")
    }

    /// The dashboard's CSRF token for the admin token, read from a page as a browser would.
    pub async fn admin_csrf(&self) -> String {
        let page = self.admin_page("/admin").await;
        let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page[start..start + 64].to_owned()
    }

    /// POSTs a dashboard form (with the CSRF token) and answers where it redirects to.
    pub async fn admin_press(&self, path: &str, form: &[(&str, &str)]) -> String {
        let csrf = self.admin_csrf().await;
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(crate::ADMIN_TOKEN)
            .form(&form)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 303, "POST {path}");
        response.headers()["location"]
            .to_str()
            .expect("a location")
            .to_owned()
    }

    /// `GET /v1/blasts/{id}/orders` as CSV (the export `paylink blast --out` also writes).
    pub async fn blast_csv(&self, blast_id: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/v1/blasts/{blast_id}/orders")))
            .bearer_auth(ADMIN_TOKEN)
            .header("accept", "text/csv")
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a product and returns its id (named `{category} fee N`, N counting up, since a
    /// second product of the same name and category is refused).
    pub async fn create_product(&self, category: &str) -> String {
        self.create_named_product(&format!("{category} fee {}", next_product()), category)
            .await
    }

    /// Creates a product of this name and returns its id.
    pub async fn create_named_product(&self, name: &str, category: &str) -> String {
        let response = self
            .post_json(
                "/v1/products",
                &json!({"name": name, "category": category, "currency": "usd"}),
            )
            .await;
        assert_eq!(response.status(), 201, "product {name:?} created");
        response.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.post_json("/v1/orders", body).await
    }

    /// Creates an order for `product_id` at `amount_cents` and returns it.
    pub async fn create_order(&self, product_id: &str, amount_cents: i64) -> Value {
        let response = self.post_order(&order_body(product_id, amount_cents)).await;
        assert_eq!(response.status(), 201, "order created");
        response.json().await.expect("json")
    }

    /// `GET /v1/blasts/{id}`: the blast with its counts and progress.
    pub async fn get_blast(&self, id: &str) -> Value {
        let response = self.get_json(&format!("/v1/blasts/{id}")).await;
        assert_eq!(response.status(), 200, "blast {id}");
        response.json().await.expect("json")
    }

    /// `GET /v1/webhook_endpoints`, as JSON.
    pub async fn webhook_endpoints(&self) -> Value {
        let response = self.get_json("/v1/webhook_endpoints").await;
        assert_eq!(response.status(), 200, "webhook endpoints listed");
        response.json().await.expect("json")
    }

    pub async fn get_order(&self, id: &str) -> Value {
        let response = self.get_json(&format!("/v1/orders/{id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    /// Waits (up to 20 s) until the order's link state is no longer `minting`, and returns it.
    pub async fn wait_until_settled(&self, id: &str) -> Value {
        eventually(Duration::from_secs(20), || async {
            let order = self.get_order(id).await;
            (order["link_state"] != "minting").then_some(order)
        })
        .await
        .unwrap_or_else(|| panic!("order {id} still minting after 20 s"))
    }

    pub async fn click_pay(&self, pay_url: &str) -> reqwest::Response {
        self.client.get(pay_url).send().await.expect("click sent")
    }

    pub async fn count_orders(&self) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM orders",
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// Mints an order of a `category` product at `amount` and waits for its link.
    pub async fn minted_order(&self, category: &str, amount: i64) -> Value {
        let product = self.create_product(category).await;
        let order = self.create_order(&product, amount).await;
        let order = self
            .wait_until_settled(order["id"].as_str().expect("id"))
            .await;
        assert_eq!(order["link_state"], "active", "{order}");
        order
    }

    /// Rows in a table (`orders`, `stripe_events`).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// The stored event's outcome, once processed (None while unprocessed or absent).
    pub async fn event_outcome(&self, event_id: &str) -> Option<String> {
        paylink_core::store::stripe_event::find(&self.db, event_id)
            .await
            .expect("query")
            .and_then(|e| e.outcome)
            .map(|o| sea_orm::ActiveEnum::to_value(&o))
    }
}

/// A number for each product the tests create, so that their names differ: paylink refuses a
/// second product of the same name and category.
fn next_product() -> usize {
    static PRODUCTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    PRODUCTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub fn order_body(product_id: &str, amount_cents: i64) -> Value {
    json!({
        "external_ref": format!("ref-{}", uuid::Uuid::new_v4().simple()),
        "product_id": product_id,
        "amount_cents": amount_cents,
        "payer": {"email": "parent@example.com", "name": "Pat Parent"}
    })
}
