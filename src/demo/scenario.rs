//! The demo's story, told through paylink's HTTP API and the stand-in's hosted pages as an
//! organiser and their payers would: products, a blast, links minted, a third of the payers
//! paying. Then what happened is gathered from both sides for the promises.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use paylink_core::store::{order, payment};
use sea_orm::{
    ActiveEnum as _, ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _,
};
use serde_json::{Value, json};

use super::promises::{Facts, LinkFact, OrderFact};
use super::receiver::Receiver;
use crate::fake_stripe::FakeStripeClient;

/// The categories the demo sells, with a base price in cents.
const CATEGORIES: [(&str, i64); 5] = [
    ("monthly", 4500),
    ("tournament", 8000),
    ("jersey", 3500),
    ("tryout", 2000),
    ("generic", 1500),
];

/// Every `PAYER_EVERY`-th order is paid.
const PAYER_EVERY: usize = 3;

/// How long the demo waits for paylink's `order.paid` webhooks once every payment is recorded.
const ANNOUNCEMENT_WAIT: Duration = Duration::from_secs(30);

/// Clients of the running intake and stand-in.
pub struct Scenario {
    pub base_url: String,
    pub fake_url: String,
    /// The stand-in's own client: its controls and its objects read back.
    pub stripe: FakeStripeClient,
    pub admin_token: String,
    pub db: DatabaseConnection,
    pub closing_categories: Arc<Vec<String>>,
    pub http: reqwest::Client,
    /// For payers who pay and close the tab (Stripe's redirect back is not followed).
    pub http_no_redirect: reqwest::Client,
    /// The demo's own endpoint for paylink's webhooks, registered before the orders are made.
    pub receiver: Receiver,
    /// The demo's mail server: the payers' inboxes.
    pub mail: mail_sink::SinkControl,
}

/// What the demo saw, for the summary and the promises.
pub struct Observed {
    pub facts: Facts,
    /// The stand-in's request counts by endpoint, taken before the demo inspected it.
    pub stripe_requests: BTreeMap<String, u64>,
    pub blast_id: String,
    /// How paylink learned of the payments: by webhook, the event sweep, the return page.
    pub learned: Vec<(payment::LearnedVia, i64)>,
    /// Pay tokens to show: an order nobody paid, and one paid whose link was switched off.
    pub unpaid_pay_token: Option<String>,
    pub closed_pay_token: Option<String>,
}

impl Scenario {
    /// Runs the story with `orders` orders; errors only when an API call fails outright (the
    /// promises judge everything else).
    pub async fn play(&self, orders: usize, started: Instant) -> anyhow::Result<Observed> {
        self.register_receiver().await?;
        let products = self.create_products().await?;
        let blast_id = self.create_blast(&products, orders).await?;
        println!(
            "blast {blast_id}: {orders} orders across {} categories, created in {:.1} s",
            products.len(),
            started.elapsed().as_secs_f64()
        );
        let mint_budget = Duration::from_secs(60 + orders as u64 / 5);
        if tokio::time::timeout(
            mint_budget,
            crate::blast_cli::wait(&self.db, &blast_id, orders as u64),
        )
        .await
        .is_err()
        {
            println!("links still being made after {} s", mint_budget.as_secs());
        }
        let minted = self.orders(&blast_id).await?;
        // The payers pay from their mail: wait for it to arrive.
        let mail_budget = Duration::from_secs(30 + orders as u64 / 10);
        if self.mail.wait_for(orders, mail_budget).await.is_err() {
            println!(
                "{} of {orders} mails arrived within {} s",
                self.mail.count(),
                mail_budget.as_secs()
            );
        }
        let payers: Vec<&order::Model> = minted
            .iter()
            .enumerate()
            .filter(|(i, o)| i % PAYER_EVERY == 0 && o.stripe_payment_link_id.is_some())
            .map(|(_, o)| o)
            .collect();
        self.pay(&payers).await;
        let paid_ids: Vec<String> = payers.iter().map(|o| o.id.clone()).collect();
        self.wait_for_the_loop_to_close(&paid_ids, &products)
            .await?;
        let paid_here: Vec<String> = self
            .orders(&blast_id)
            .await?
            .into_iter()
            .filter(|o| o.status == order::Status::Paid)
            .map(|o| o.id)
            .collect();
        if !self
            .receiver
            .wait_for_paid(&paid_here, ANNOUNCEMENT_WAIT)
            .await
        {
            println!(
                "order.paid webhooks still missing after {} s",
                ANNOUNCEMENT_WAIT.as_secs()
            );
        }
        let learned = payment::count_by_via(&self.db).await?;
        let stats = self.stripe.stats().await?;
        let stripe_requests = serde_json::from_value(stats["requests"].clone()).unwrap_or_default();
        // Inspection is not paylink's traffic: no limit and no injected failures for it.
        self.stripe
            .config(&json!({"rate_limit_per_sec": 0, "account_rate_limit_per_sec": 0, "fail_rate": 0.0}))
            .await?;
        let links = self.links().await?;
        let orders = self.orders(&blast_id).await?;
        let token_where = |f: &dyn Fn(&order::Model) -> bool| {
            orders.iter().find(|o| f(o)).map(|o| o.pay_token.clone())
        };
        let unpaid_pay_token = token_where(&|o| {
            o.status == order::Status::Pending && o.link_state == order::LinkState::Active
        });
        let closed_pay_token = token_where(&|o| o.link_state == order::LinkState::Deactivated);
        let facts = Facts {
            orders: orders
                .into_iter()
                .map(|o| OrderFact {
                    mails: self.mail.messages_to(&o.payer_email).len(),
                    mails_with_own_pay_url: {
                        let own = format!("{}/pay/{}", self.base_url, o.pay_token);
                        self.mail
                            .messages_to(&o.payer_email)
                            .iter()
                            .filter(|m| {
                                m.parsed.text.as_deref().is_some_and(|t| t.contains(&own))
                                    && m.parsed.html.as_deref().is_some_and(|h| h.contains(&own))
                            })
                            .count()
                    },
                    category: products.get(&o.product_id).cloned().unwrap_or_default(),
                    paid_by_demo: paid_ids.contains(&o.id),
                    paid: o.status == order::Status::Paid,
                    link_state: o.link_state.to_value(),
                    link_id: o.stripe_payment_link_id,
                    last_error: o.last_error,
                    amount_cents: o.amount_cents,
                    id: o.id,
                })
                .collect(),
            links,
            closing_categories: self.closing_categories.to_vec(),
            rate_limited: stats["rate_limited"].as_u64().unwrap_or(0),
            create_requests: stats["requests"]["POST /v1/payment_links"]
                .as_u64()
                .unwrap_or(0),
            injected_failures: stats["injected_failures"].as_u64().unwrap_or(0),
            delivery_failures: stats["event_delivery_failures"].as_u64().unwrap_or(0),
            dropped_webhooks: stats["events_dropped"].as_u64().unwrap_or(0),
            announcements: self.receiver.received(),
        };
        Ok(Observed {
            facts,
            learned,
            stripe_requests,
            blast_id,
            unpaid_pay_token,
            closed_pay_token,
        })
    }

    /// Registers the demo's receiver for every event type, as a host application would.
    async fn register_receiver(&self) -> anyhow::Result<()> {
        let endpoint = self
            .api_post("/v1/webhook_endpoints", &json!({"url": self.receiver.url}))
            .await?;
        let secret = endpoint["secret"]
            .as_str()
            .context("a webhook endpoint without its secret")?;
        self.receiver.set_secret(secret)
    }

    /// One product per category; returns product id → category.
    async fn create_products(&self) -> anyhow::Result<HashMap<String, String>> {
        let mut products = HashMap::new();
        for (category, _) in CATEGORIES {
            let product = self
                .api_post(
                    "/v1/products",
                    &json!({"name": format!("Demo {category}"), "category": category, "currency": "usd"}),
                )
                .await?;
            let id = product["id"].as_str().context("product without an id")?;
            products.insert(id.to_owned(), category.to_owned());
        }
        Ok(products)
    }

    async fn create_blast(
        &self,
        products: &HashMap<String, String>,
        orders: usize,
    ) -> anyhow::Result<String> {
        let by_category: HashMap<&str, &str> = products
            .iter()
            .map(|(id, category)| (category.as_str(), id.as_str()))
            .collect();
        let rows: Vec<Value> = (0..orders)
            .map(|i| {
                let (category, base) = CATEGORIES[i % CATEGORIES.len()];
                json!({
                    "external_ref": format!("demo-{i:05}"),
                    "product_id": by_category.get(category),
                    "amount_cents": base + (i % 7) as i64 * 100,
                    "payer": {"email": payer_email(i), "name": format!("Payer {i}")}
                })
            })
            .collect();
        let blast = self
            .api_post(
                "/v1/blasts",
                &json!({
                    "name": format!("demo {}", chrono::Utc::now().to_rfc3339()),
                    "orders": rows,
                    "send_email": true,
                    "email_message": "This month's dues for the Riverside Youth League.",
                }),
            )
            .await?;
        Ok(blast["id"]
            .as_str()
            .context("blast without an id")?
            .to_owned())
    }

    /// Every order of the blast as paylink stores it.
    async fn orders(&self, blast_id: &str) -> anyhow::Result<Vec<order::Model>> {
        let mut all = Vec::new();
        loop {
            let page = order::list_for_blast(&self.db, blast_id, all.len() as u64, 1000).await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Each payer clicks their pay URL, lands on the stand-in's hosted page and presses Pay;
    /// the stand-in then sends paylink the signed `checkout.session.completed`. Every other
    /// payer follows Stripe's redirect back to paylink's return page; the rest close the tab.
    async fn pay(&self, payers: &[&order::Model]) {
        let bar = bar(payers.len(), "paying");
        let progress = &bar;
        let failures: Vec<String> = futures::stream::iter(payers.iter().enumerate())
            .map(|(i, o)| async move {
                let result = match self.pay_url_in_mail(&o.payer_email) {
                    Some(url) => self.pay_one(&url, i % 2 == 0).await,
                    None => Err(anyhow::anyhow!(
                        "no mail with a pay URL reached {}",
                        o.payer_email
                    )),
                };
                progress.inc(1);
                result.err().map(|e| format!("{}: {e:#}", o.id))
            })
            .buffer_unordered(8)
            .filter_map(|e| async { e })
            .collect()
            .await;
        bar.finish();
        for failure in failures.iter().take(3) {
            println!("a payment did not go through: {failure}");
        }
    }

    /// The pay URL in the mail that reached `address`, as the payer would click it: the first
    /// link to paylink's `/pay/` in the text part.
    fn pay_url_in_mail(&self, address: &str) -> Option<String> {
        let prefix = format!("{}/pay/", self.base_url);
        self.mail.messages_to(address).iter().find_map(|mail| {
            let text = mail.parsed.text.as_deref()?;
            let start = text.find(&prefix)?;
            let url: String = text[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != ')')
                .collect();
            Some(url)
        })
    }

    async fn pay_one(&self, pay_url: &str, comes_back: bool) -> anyhow::Result<()> {
        let page = self.http.get(pay_url).send().await?.error_for_status()?;
        let hosted = page.url().clone();
        anyhow::ensure!(
            hosted.as_str().starts_with(&self.fake_url) && hosted.path().starts_with("/b/"),
            "the pay URL led to {hosted}, not to a Payment Link"
        );
        let client = if comes_back {
            &self.http
        } else {
            &self.http_no_redirect
        };
        client
            .post(format!("{hosted}/pay"))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Waits until every payment is recorded and every closing link is switched off.
    async fn wait_for_the_loop_to_close(
        &self,
        paid_ids: &[String],
        products: &HashMap<String, String>,
    ) -> anyhow::Result<()> {
        let bar = bar(paid_ids.len(), "recorded");
        let deadline = Instant::now() + Duration::from_secs(60 + paid_ids.len() as u64 / 5);
        loop {
            let settled = order::Entity::find()
                .filter(order::Column::Id.is_in(paid_ids))
                .all(&self.db)
                .await?
                .iter()
                .filter(|o| {
                    let closes = products
                        .get(&o.product_id)
                        .is_some_and(|c| self.closing_categories.contains(c));
                    o.status == order::Status::Paid
                        && (!closes || o.link_state == order::LinkState::Deactivated)
                })
                .count();
            bar.set_position(settled as u64);
            if settled == paid_ids.len() || Instant::now() > deadline {
                bar.finish();
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every Payment Link at the stand-in, with what its line item charges.
    async fn links(&self) -> anyhow::Result<Vec<LinkFact>> {
        let objects = self.stripe.links().await?;
        futures::stream::iter(objects)
            .map(|link| async move {
                let id = link["id"].as_str().unwrap_or_default().to_owned();
                let items = self
                    .stripe
                    .get(&format!("payment_links/{id}/line_items"))
                    .await?;
                Ok(LinkFact {
                    amount_cents: items["data"][0]["price"]["unit_amount"].as_i64(),
                    order_id: link["metadata"]["order_id"].as_str().map(str::to_owned),
                    active: link["active"] == Value::Bool(true),
                    id,
                })
            })
            .buffer_unordered(16)
            .collect::<Vec<anyhow::Result<LinkFact>>>()
            .await
            .into_iter()
            .collect()
    }

    /// Prints the URLs to look at while `--keep` holds the demo open.
    pub fn print_where_to_look(&self, observed: Option<&Observed>) {
        let pay_url = |token: &str| format!("{}/pay/{token}", self.base_url);
        println!();
        println!("look around (admin token: {}):", self.admin_token);
        println!(
            "  the operator dashboard:        {}/admin (log in with the admin token)",
            self.base_url
        );
        if let Some(observed) = observed {
            if let Some(token) = &observed.unpaid_pay_token {
                println!("  a pay URL to click (unpaid):   {}", pay_url(token));
            }
            if let Some(token) = &observed.closed_pay_token {
                println!("  a paid order's pay URL:        {}", pay_url(token));
            }
            println!(
                "  every order, as CSV:           curl -H 'Accept: text/csv' -H 'Authorization: Bearer {}' {}/v1/blasts/{}/orders",
                self.admin_token, self.base_url, observed.blast_id
            );
        }
        println!(
            "  the stand-in's counters:       {}_fake/stats",
            self.fake_url
        );
    }

    async fn api_post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path} did not answer"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path} answered {status}: {body}");
        Ok(body)
    }
}

impl Observed {
    /// The closing summary: counts by outcome and category, time, and Stripe traffic.
    pub fn summary(&self, elapsed: Duration) -> String {
        let orders = &self.facts.orders;
        let count = |f: &dyn Fn(&OrderFact) -> bool| orders.iter().filter(|o| f(o)).count();
        let minted = count(&|o| o.link_id.is_some());
        let paid = count(&|o| o.paid);
        let failed = count(&|o| o.link_state == "failed");
        let still_active = self.facts.links.iter().filter(|l| l.active).count();
        let mut deactivated: BTreeMap<&str, usize> = BTreeMap::new();
        for o in orders.iter().filter(|o| o.link_state == "deactivated") {
            *deactivated.entry(o.category.as_str()).or_default() += 1;
        }
        let deactivated = if deactivated.is_empty() {
            "none".to_owned()
        } else {
            deactivated
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let requests: u64 = self.stripe_requests.values().sum();
        let by_endpoint = self
            .stripe_requests
            .iter()
            .map(|(endpoint, n)| format!("{endpoint} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut announced: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &self.facts.announcements {
            *announced.entry(a.event_type.as_str()).or_default() += 1;
        }
        let announced = announced
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let refused = self
            .facts
            .announcements
            .iter()
            .filter(|a| !a.verified)
            .count();
        let learned = |via: payment::LearnedVia| {
            self.learned
                .iter()
                .find(|(v, _)| *v == via)
                .map_or(0, |(_, n)| *n)
        };
        format!(
            "blast {}: {} orders in {:.1} s\n  links made    {minted}\n  paid          {paid} ({} learned by webhook, {} by the sweep of Stripe's events, {} by the payer's return page; {} webhooks never delivered)\n  switched off  {deactivated} (paid links that must not be paid twice)\n  still on      {still_active}\n  not made      {failed}\n  mails         {} to the demo's mail sink ({} payers mailed)\n  webhooks out  {} deliveries to the demo's receiver ({announced}); {refused} refused\n  Stripe        {requests} requests ({by_endpoint}); {} answered 429; {} failed on purpose",
            self.blast_id,
            orders.len(),
            elapsed.as_secs_f64(),
            learned(payment::LearnedVia::Webhook),
            learned(payment::LearnedVia::EventSweep),
            learned(payment::LearnedVia::ReturnPage),
            self.facts.dropped_webhooks,
            orders.iter().map(|o| o.mails).sum::<usize>(),
            orders.iter().filter(|o| o.mails > 0).count(),
            self.facts.announcements.len(),
            self.facts.rate_limited,
            self.facts.injected_failures,
        )
    }
}

/// The demo's `i`-th payer's address.
fn payer_email(i: usize) -> String {
    format!("payer{i}@example.com")
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
