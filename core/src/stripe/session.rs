//! A Checkout Session as paylink reads it, from an event or from `GET /v1/checkout/sessions/…`.

use std::collections::HashMap;

use serde_json::Value;

/// The part of a Checkout Session paylink reads. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: Option<String>,
    pub payment_link: Option<String>,
    pub payment_intent: Option<String>,
    pub customer: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub metadata: HashMap<String, String>,
}

impl CheckoutSession {
    /// Reads each field on its own. Stripe's schema makes most of them nullable (`metadata`
    /// among them) and lets `customer`, `payment_intent` and `payment_link` arrive expanded as
    /// objects; read as one struct, a single field of another shape made the whole session
    /// unreadable, and a payment with `metadata: null` was recorded against no order.
    pub fn read(object: &Value) -> Self {
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let id_of = |key: &str| match object.get(key) {
            Some(Value::Object(expanded)) => expanded
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => text(key),
        };
        let metadata = object
            .get("metadata")
            .and_then(Value::as_object)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: text("id"),
            payment_link: id_of("payment_link"),
            payment_intent: id_of("payment_intent"),
            customer: id_of("customer"),
            payment_status: text("payment_status"),
            status: text("status"),
            amount_total: object.get("amount_total").and_then(Value::as_i64),
            currency: text("currency").map(|c| c.to_ascii_lowercase()),
            metadata,
        }
    }

    /// The order named in the metadata paylink put on the link (Stripe copies it here).
    pub fn order_id(&self) -> Option<&str> {
        self.metadata.get("order_id").map(String::as_str)
    }

    /// Money has been taken: the session completed, and paid (or needed no payment).
    pub fn is_paid(&self) -> bool {
        self.status.as_deref() != Some("open")
            && self.status.as_deref() != Some("expired")
            && matches!(
                self.payment_status.as_deref(),
                Some("paid" | "no_payment_required")
            )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::CheckoutSession;

    #[test]
    fn null_and_expanded_fields_are_read_on_their_own() {
        let session = CheckoutSession::read(&json!({
            "id": "cs_1",
            "metadata": null,
            "customer": {"id": "cus_1", "object": "customer"},
            "payment_link": "plink_1",
            "payment_status": "paid",
            "status": "complete",
            "amount_total": 5000,
            "currency": "USD"
        }));
        assert_eq!(session.id.as_deref(), Some("cs_1"));
        assert!(session.metadata.is_empty());
        assert_eq!(session.customer.as_deref(), Some("cus_1"));
        assert_eq!(session.payment_link.as_deref(), Some("plink_1"));
        assert_eq!(session.amount_total, Some(5000));
        assert_eq!(session.currency.as_deref(), Some("usd"));
        assert!(session.is_paid());
    }

    #[test]
    fn an_open_or_unpaid_session_is_not_paid() {
        let open = CheckoutSession::read(&json!({"status": "open", "payment_status": "unpaid"}));
        assert!(!open.is_paid());
        let unpaid =
            CheckoutSession::read(&json!({"status": "complete", "payment_status": "unpaid"}));
        assert!(!unpaid.is_paid());
    }
}
