//! Reading back how a deployment is set up at Stripe, for `paylink doctor`: the webhook
//! endpoints, and a Payment Link with its line items as Stripe stored them. Plain JSON, read
//! field by field by the caller, so that a field Stripe left out shows as missing rather than
//! making the object unreadable.

use serde_json::Value;

use super::{StripeApi, StripeFailure};

impl StripeApi {
    /// Every webhook endpoint of the account (`GET /v1/webhook_endpoints`, paged through).
    pub async fn list_webhook_endpoints(&self) -> Result<Vec<Value>, StripeFailure> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let list = self
                .paced(
                    "list_webhook_endpoints",
                    self.http().get_json("/webhook_endpoints", &query),
                )
                .await?;
            let page = super::reads::page(&list, |e| Some(e.clone()));
            all.extend(page.items);
            after = page.last_id;
            if !page.has_more || after.is_none() {
                return Ok(all);
            }
        }
    }

    /// `GET /v1/payment_links/{id}` as Stripe returns it.
    pub async fn payment_link_json(&self, id: &str) -> Result<Value, StripeFailure> {
        self.paced(
            "retrieve_payment_link",
            self.http().get_json(&format!("/payment_links/{id}"), &[]),
        )
        .await
    }

    /// `GET /v1/payment_links/{id}/line_items` as Stripe returns it.
    pub async fn payment_link_line_items(&self, id: &str) -> Result<Value, StripeFailure> {
        self.paced(
            "payment_link_line_items",
            self.http()
                .get_json(&format!("/payment_links/{id}/line_items"), &[]),
        )
        .await
    }
}
