//! What the demo promises, judged from what it observed: paylink's database on one side, the
//! stand-in's Payment Links and counters on the other. Pure, so each promise is unit-tested
//! against the facts that would break it.

use std::collections::{HashMap, HashSet};

/// One order as paylink stored it, with what the demo did to it.
#[derive(Clone, Debug)]
pub struct OrderFact {
    pub id: String,
    pub category: String,
    pub amount_cents: i64,
    /// The demo paid this order through the stand-in's hosted page.
    pub paid_by_demo: bool,
    pub paid: bool,
    /// paylink's `link_state`: minting, active, failed or deactivated.
    pub link_state: String,
    pub link_id: Option<String>,
    pub last_error: Option<String>,
    /// Mails that reached the demo's mail sink for this order's payer, and how many of them
    /// hold the order's own pay URL in both their text and HTML parts.
    pub mails: usize,
    pub mails_with_own_pay_url: usize,
}

/// One Payment Link as the stand-in holds it.
#[derive(Clone, Debug)]
pub struct LinkFact {
    pub id: String,
    pub order_id: Option<String>,
    /// What the link charges (its one line item).
    pub amount_cents: Option<i64>,
    pub active: bool,
}

/// One delivery of paylink's own webhooks to the demo's receiver.
#[derive(Clone, Debug)]
pub struct Announcement {
    /// The `webhook-id` header: the event's id, the same on every try of it.
    pub webhook_id: String,
    /// `type`, e.g. `order.paid`.
    pub event_type: String,
    /// `data.id`: the order (or blast) the event is about.
    pub subject: Option<String>,
    /// The signature verified against the endpoint's secret.
    pub verified: bool,
}

/// Everything the promises are judged on.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub orders: Vec<OrderFact>,
    pub links: Vec<LinkFact>,
    /// Categories whose links close once paid.
    pub closing_categories: Vec<String>,
    /// Requests the stand-in refused with 429.
    pub rate_limited: u64,
    /// `POST /v1/payment_links` requests the stand-in received.
    pub create_requests: u64,
    /// Requests the stand-in failed on purpose (`--stripe-failure-rate`); each may cost a retry.
    pub injected_failures: u64,
    /// Webhook deliveries paylink did not answer with 2xx.
    pub delivery_failures: u64,
    /// Events the stand-in never delivered on purpose (`--drop-webhooks`): not a breach, as
    /// long as their payments were recorded all the same.
    pub dropped_webhooks: u64,
    /// What paylink's own webhooks told the demo's receiver, every delivery in the order they came.
    pub announcements: Vec<Announcement>,
}

/// A promise and whether it held.
#[derive(Clone, Debug)]
pub struct Check {
    pub promise: &'static str,
    pub held: bool,
    /// When broken: the first few cases that broke it.
    pub detail: String,
}

impl Facts {
    fn closes(&self, order: &OrderFact) -> bool {
        order.paid_by_demo && self.closing_categories.contains(&order.category)
    }

    fn links_by_order(&self) -> HashMap<&str, Vec<&LinkFact>> {
        let mut by_order: HashMap<&str, Vec<&LinkFact>> = HashMap::new();
        for link in &self.links {
            by_order
                .entry(link.order_id.as_deref().unwrap_or(""))
                .or_default()
                .push(link);
        }
        by_order
    }
}

/// Judges every promise.
pub fn judge(facts: &Facts) -> Vec<Check> {
    let by_order = facts.links_by_order();
    let links_of = |o: &OrderFact| by_order.get(o.id.as_str()).cloned().unwrap_or_default();
    vec![
        check(
            "every order got its Payment Link",
            facts
                .orders
                .iter()
                .filter(|o| !matches!(o.link_state.as_str(), "active" | "deactivated"))
                .map(|o| {
                    format!(
                        "{} is {}{}",
                        o.id,
                        o.link_state,
                        o.last_error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )
                }),
        ),
        check(
            "no order has a second link, and no create request was wasted",
            facts
                .orders
                .iter()
                .filter_map(|o| {
                    let n = links_of(o).len();
                    (n > 1).then(|| format!("{} has {n} links at Stripe", o.id))
                })
                .chain(
                    (facts.create_requests > facts.orders.len() as u64 + facts.injected_failures)
                        .then(|| {
                            format!(
                                "{} create requests for {} orders and {} injected failures",
                                facts.create_requests,
                                facts.orders.len(),
                                facts.injected_failures
                            )
                        }),
                ),
        ),
        check(
            "each link charges its order's own amount",
            facts.orders.iter().flat_map(|o| {
                links_of(o)
                    .into_iter()
                    .filter(move |l| l.amount_cents != Some(o.amount_cents))
                    .map(move |l| {
                        format!(
                            "{} charges {:?} for {} (order {})",
                            l.id, l.amount_cents, o.amount_cents, o.id
                        )
                    })
            }),
        ),
        check(
            "every payment was recorded, and nothing else counts as paid",
            facts
                .orders
                .iter()
                .filter(|o| o.paid != o.paid_by_demo)
                .map(|o| {
                    format!(
                        "{}: paid by the demo {}, paid in paylink {}",
                        o.id, o.paid_by_demo, o.paid
                    )
                }),
        ),
        check(
            "paid links of closing categories were switched off, and only those",
            facts.orders.iter().filter_map(|o| {
                let should_close = facts.closes(o);
                let stripe_open = links_of(o).iter().any(|l| l.active);
                let closed_here = o.link_state == "deactivated";
                (stripe_open == should_close || closed_here != should_close).then(|| {
                    format!(
                        "{} ({}, paid {}): open at Stripe {stripe_open}, paylink says {}",
                        o.id, o.category, o.paid_by_demo, o.link_state
                    )
                })
            }),
        ),
        check(
            "Stripe's rate limit was never exceeded",
            (facts.rate_limited > 0)
                .then(|| format!("{} requests answered 429", facts.rate_limited)),
        ),
        check(
            "every webhook delivery was accepted",
            (facts.delivery_failures > 0)
                .then(|| format!("{} deliveries refused", facts.delivery_failures)),
        ),
        check(
            "every paid order was announced by order.paid exactly once (by webhook-id), every announcement verified, and no unpaid order was announced paid",
            announcement_breaches(facts),
        ),
        check(
            "every payer got exactly one mail, holding their own pay URL",
            facts
                .orders
                .iter()
                .filter(|o| o.mails != 1 || o.mails_with_own_pay_url != 1)
                .map(|o| {
                    format!(
                        "{} got {} mail(s), {} with its pay URL",
                        o.id, o.mails, o.mails_with_own_pay_url
                    )
                }),
        ),
    ]
}

/// What breaks the announcement promise: deliveries whose signature did not verify, paid orders
/// announced by no `order.paid` or by several distinct events (tries of one event share their
/// `webhook-id`, so a retry is not a second announcement), and `order.paid` for an order that is
/// not paid.
fn announcement_breaches(facts: &Facts) -> Vec<String> {
    let unverified: Vec<&Announcement> =
        facts.announcements.iter().filter(|a| !a.verified).collect();
    let mut paid_events: HashMap<&str, HashSet<&str>> = HashMap::new();
    for a in facts
        .announcements
        .iter()
        .filter(|a| a.verified && a.event_type == "order.paid")
    {
        paid_events
            .entry(a.subject.as_deref().unwrap_or(""))
            .or_default()
            .insert(a.webhook_id.as_str());
    }
    let paid: HashSet<&str> = facts
        .orders
        .iter()
        .filter(|o| o.paid)
        .map(|o| o.id.as_str())
        .collect();
    let mut breaches: Vec<String> = unverified
        .iter()
        .map(|a| format!("{} ({}) did not verify", a.webhook_id, a.event_type))
        .collect();
    breaches.extend(facts.orders.iter().filter(|o| o.paid).filter_map(|o| {
        match paid_events.get(o.id.as_str()).map_or(0, HashSet::len) {
            1 => None,
            0 => Some(format!("{} is paid but was never announced", o.id)),
            n => Some(format!(
                "{} was announced paid by {n} distinct events",
                o.id
            )),
        }
    }));
    let mut unpaid: Vec<&str> = paid_events
        .keys()
        .copied()
        .filter(|id| !paid.contains(id))
        .collect();
    unpaid.sort_unstable();
    breaches.extend(
        unpaid
            .into_iter()
            .map(|id| format!("{id} was announced paid but is not")),
    );
    breaches
}

fn check(promise: &'static str, breaches: impl IntoIterator<Item = String>) -> Check {
    let breaches: Vec<String> = breaches.into_iter().collect();
    let mut detail = breaches
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if breaches.len() > 3 {
        detail.push_str(&format!("; and {} more", breaches.len() - 3));
    }
    Check {
        promise,
        held: breaches.is_empty(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two orders, both minted once at their amount; the monthly one paid and closed.
    fn good() -> Facts {
        let order = |id: &str, category: &str, paid: bool, state: &str| OrderFact {
            id: id.into(),
            category: category.into(),
            amount_cents: 4500,
            paid_by_demo: paid,
            paid,
            link_state: state.into(),
            link_id: Some(format!("plink_{id}")),
            last_error: None,
            mails: 1,
            mails_with_own_pay_url: 1,
        };
        let link = |id: &str, active: bool| LinkFact {
            id: format!("plink_{id}"),
            order_id: Some(id.into()),
            amount_cents: Some(4500),
            active,
        };
        Facts {
            orders: vec![
                order("a", "monthly", true, "deactivated"),
                order("b", "jersey", false, "active"),
            ],
            links: vec![link("a", false), link("b", true)],
            closing_categories: vec!["monthly".into(), "tournament".into()],
            rate_limited: 0,
            create_requests: 2,
            injected_failures: 0,
            delivery_failures: 0,
            dropped_webhooks: 0,
            announcements: vec![
                announced("msg_1", "order.link_ready", "a"),
                announced("msg_2", "order.link_ready", "b"),
                announced("msg_3", "order.paid", "a"),
            ],
        }
    }

    fn announced(webhook_id: &str, event_type: &str, order: &str) -> Announcement {
        Announcement {
            webhook_id: webhook_id.into(),
            event_type: event_type.into(),
            subject: Some(order.into()),
            verified: true,
        }
    }

    const ANNOUNCED: &str = "every paid order was announced by order.paid exactly once (by webhook-id), every announcement verified, and no unpaid order was announced paid";

    #[test]
    fn a_retry_is_one_announcement_and_a_second_event_is_two() {
        let mut facts = good();
        facts
            .announcements
            .push(announced("msg_3", "order.paid", "a"));
        assert!(broken(&facts).is_empty(), "{:?}", judge(&facts));
        facts
            .announcements
            .push(announced("msg_4", "order.paid", "a"));
        assert_eq!(broken(&facts), [ANNOUNCED]);
    }

    #[test]
    fn a_missing_unverified_or_false_announcement_breaks_the_promise() {
        let mut facts = good();
        facts.announcements.retain(|a| a.event_type != "order.paid");
        assert_eq!(broken(&facts), [ANNOUNCED]);
        let mut facts = good();
        facts.announcements[0].verified = false;
        assert_eq!(broken(&facts), [ANNOUNCED]);
        let mut facts = good();
        facts
            .announcements
            .push(announced("msg_5", "order.paid", "b"));
        assert_eq!(broken(&facts), [ANNOUNCED]);
        let detail = judge(&facts)
            .into_iter()
            .find(|c| c.promise == ANNOUNCED)
            .unwrap()
            .detail;
        assert_eq!(detail, "b was announced paid but is not");
    }

    fn broken(facts: &Facts) -> Vec<&'static str> {
        judge(facts)
            .into_iter()
            .filter(|c| !c.held)
            .map(|c| c.promise)
            .collect()
    }

    #[test]
    fn a_clean_run_keeps_every_promise() {
        assert!(broken(&good()).is_empty(), "{:?}", judge(&good()));
    }

    #[test]
    fn a_payer_mailed_twice_none_or_without_their_url_breaks_the_mail_promise() {
        const MAILED: &str = "every payer got exactly one mail, holding their own pay URL";
        for (mails, with_url) in [(2, 2), (0, 0), (1, 0)] {
            let mut facts = good();
            facts.orders[0].mails = mails;
            facts.orders[0].mails_with_own_pay_url = with_url;
            assert_eq!(
                broken(&facts),
                [MAILED],
                "{mails} mails, {with_url} with the URL"
            );
        }
    }

    #[test]
    fn a_failed_order_breaks_the_first_promise() {
        let mut facts = good();
        facts.orders[1].link_state = "failed".into();
        assert_eq!(broken(&facts), ["every order got its Payment Link"]);
    }

    #[test]
    fn a_second_link_or_an_extra_create_breaks_the_once_promise() {
        let mut facts = good();
        let mut extra = facts.links[1].clone();
        extra.id = "plink_b2".into();
        facts.links.push(extra);
        assert!(
            broken(&facts)
                .contains(&"no order has a second link, and no create request was wasted")
        );
        let mut facts = good();
        facts.create_requests = 3;
        facts.injected_failures = 1;
        assert!(
            broken(&facts).is_empty(),
            "a retry after an injected 500 is not waste"
        );
        facts.injected_failures = 0;
        assert_eq!(
            broken(&facts),
            ["no order has a second link, and no create request was wasted"]
        );
    }

    #[test]
    fn a_wrong_amount_breaks_the_amount_promise() {
        let mut facts = good();
        facts.links[0].amount_cents = Some(5000);
        assert_eq!(broken(&facts), ["each link charges its order's own amount"]);
    }

    #[test]
    fn a_lost_payment_or_a_link_left_open_is_caught() {
        let mut facts = good();
        facts.orders[0].paid = false;
        assert!(
            broken(&facts).contains(&"every payment was recorded, and nothing else counts as paid")
        );
        let mut facts = good();
        facts.links[0].active = true;
        assert_eq!(
            broken(&facts),
            ["paid links of closing categories were switched off, and only those"]
        );
        let mut facts = good();
        facts.orders[1].link_state = "deactivated".into();
        assert_eq!(
            broken(&facts),
            ["paid links of closing categories were switched off, and only those"]
        );
    }

    #[test]
    fn a_429_or_a_refused_delivery_is_a_broken_promise() {
        let mut facts = good();
        facts.rate_limited = 1;
        facts.delivery_failures = 2;
        assert_eq!(
            broken(&facts),
            [
                "Stripe's rate limit was never exceeded",
                "every webhook delivery was accepted"
            ]
        );
    }
}
