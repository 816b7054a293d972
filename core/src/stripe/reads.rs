//! What paylink reads back from Stripe to stay in step with it: events (what webhooks missed),
//! Checkout Sessions (the payer's return) and Payment Links (orphans). Read as plain JSON, field
//! by field (see [`super::CheckoutSession::read`]).

use serde_json::Value;

use super::{CheckoutSession, StripeApi, StripeFailure};

/// Event types about Checkout Sessions that paylink processes.
pub const CHECKOUT_EVENT_TYPES: [&str; 3] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
];

/// One event from `GET /v1/events`.
#[derive(Clone, Debug)]
pub struct ListedEvent {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    /// The event as Stripe sent it, stored as a delivery's body would be.
    pub payload: String,
}

/// A read made only if the rate limit had a turn free at once.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadNow<T> {
    Done(T),
    /// No turn was free: nothing was sent.
    Busy,
}

/// One page of a Stripe list.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
    /// The id to pass as `starting_after` for the next page.
    pub last_id: Option<String>,
}

/// A Payment Link as listed at Stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedLink {
    pub id: String,
    pub url: String,
    pub active: bool,
    /// `metadata.order_id` and `metadata.link_generation`, as paylink set them.
    pub order_id: Option<String>,
    pub generation: Option<i32>,
}

impl StripeApi {
    /// One page (≤ 100, newest first) of checkout-session events created at or after
    /// `created_gte`, continuing after `starting_after`. Background work: it takes no more than
    /// its share of the rate limit.
    pub(crate) async fn list_checkout_events(
        &self,
        created_gte: i64,
        starting_after: Option<&str>,
    ) -> Result<Page<ListedEvent>, StripeFailure> {
        let mut query: Vec<(&str, String)> = CHECKOUT_EVENT_TYPES
            .iter()
            .map(|t| ("types[]", (*t).to_owned()))
            .collect();
        query.push(("created[gte]", created_gte.to_string()));
        query.push(("limit", "100".to_owned()));
        if let Some(after) = starting_after {
            query.push(("starting_after", after.to_owned()));
        }
        let list = self
            .background_get("list_events", "/events", &query)
            .await?;
        Ok(page(&list, |event| {
            Some(ListedEvent {
                id: event.get("id")?.as_str()?.to_owned(),
                event_type: event.get("type")?.as_str()?.to_owned(),
                created: event.get("created").and_then(Value::as_i64).unwrap_or(0),
                payload: event.to_string(),
            })
        }))
    }

    /// One page (≤ 100, newest first) of Payment Links, continuing after `starting_after`.
    /// Background work, like [`Self::list_checkout_events`].
    pub(crate) async fn list_payment_links(
        &self,
        active: Option<bool>,
        starting_after: Option<&str>,
    ) -> Result<Page<ListedLink>, StripeFailure> {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(active) = active {
            query.push(("active", active.to_string()));
        }
        if let Some(after) = starting_after {
            query.push(("starting_after", after.to_owned()));
        }
        let list = self
            .background_get("list_payment_links", "/payment_links", &query)
            .await?;
        Ok(page(&list, |link| {
            let metadata = link.get("metadata");
            let meta = |key: &str| {
                metadata
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            Some(ListedLink {
                id: link.get("id")?.as_str()?.to_owned(),
                url: link
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                active: link.get("active").and_then(Value::as_bool).unwrap_or(true),
                order_id: meta("order_id"),
                generation: meta("link_generation").and_then(|g| g.parse().ok()),
            })
        }))
    }

    /// `GET /v1/checkout/sessions/{id}`, only if the rate limit has a turn free now, on the
    /// background share too: the return page calls it for anyone holding a pay URL, so it must
    /// never wait for a turn (a flood of returns would hold connections open while it waited),
    /// nor slow a blast. `Busy` when no turn is free; `Done(None)` when Stripe has no such
    /// session.
    pub async fn retrieve_checkout_session_now(
        &self,
        id: &str,
    ) -> Result<ReadNow<Option<CheckoutSession>>, StripeFailure> {
        if let Some(share) = self.background_limiter()
            && !share.try_acquire().await
        {
            return Ok(ReadNow::Busy);
        }
        let path = format!(
            "/checkout/sessions/{}",
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let fetched = self
            .paced_now(
                "retrieve_checkout_session",
                self.http().get_json(&path, &[]),
            )
            .await;
        match fetched {
            Ok(None) => Ok(ReadNow::Busy),
            Ok(Some(object)) => Ok(ReadNow::Done(Some(CheckoutSession::read(&object)))),
            Err(StripeFailure::Refused { status: 404, .. }) => Ok(ReadNow::Done(None)),
            Err(e) => Err(e),
        }
    }

    /// Whether Stripe takes paylink's key: one Payment Link listed (`GET /v1/payment_links`,
    /// which a restricted key with Payment Links access may read). Background work.
    pub(crate) async fn check_key(&self) -> Result<(), StripeFailure> {
        self.background_get(
            "list_payment_links",
            "/payment_links",
            &[("limit", "1".into())],
        )
        .await
        .map(drop)
    }

    async fn background_get(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, StripeFailure> {
        if let Some(share) = self.background_limiter() {
            share.acquire().await;
        }
        self.paced(endpoint, self.http().get_json(path, query))
            .await
    }
}

pub(super) fn page<T>(list: &Value, read: impl Fn(&Value) -> Option<T>) -> Page<T> {
    let data = list
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Page {
        items: data.iter().filter_map(&read).collect(),
        has_more: list
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        last_id: data
            .last()
            .and_then(|item| item.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}
