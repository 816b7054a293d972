//! Property tests on everything that parses outside input, over HTTP: webhook deliveries, order
//! and blast bodies, and the stand-in's form bodies. Whatever arrives, the answer is never a 5xx
//! (nor a dropped connection, which is what a panicking handler gives), and a refused request
//! stores nothing. Each test runs one app and a bounded number of generated cases in it;
//! proptest shrinks a failure to a minimal input and shows it.

use std::future::Future;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use paylink_testkit::{AppOptions, TestApp, WEBHOOK_SECRET, WEBHOOK_SECRET_2, spawn_app_with};

/// Cases per property: enough to reach every branch of the parsers, few enough for CI.
const CASES: u32 = 64;

// --- the harness: proptest's runner is synchronous, the app is async ---

/// One app on a runtime of its own, so that each case can `block_on` its requests while the
/// app's tasks keep running on the runtime's workers.
struct Harness {
    app: Option<TestApp>,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = runtime.block_on(spawn_app_with(AppOptions {
            workers: false,
            ..AppOptions::default()
        }));
        Self {
            app: Some(app),
            runtime,
        }
    }

    fn app(&self) -> &TestApp {
        self.app.as_ref().unwrap()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs `property` on `CASES` inputs drawn from `strategy`; fails with the shrunk input.
    fn check<S>(
        &self,
        strategy: S,
        property: impl AsyncFn(&TestApp, S::Value) -> Result<(), TestCaseError>,
    ) where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            // Shrinking sends requests too: bound it, and write no regression files into the tree.
            max_shrink_iters: 2048,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |input| {
            self.block_on(property(self.app(), input))
        });
        if let Err(error) = result {
            panic!("{error}");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // The app's connections and tasks are torn down inside the runtime they belong to.
        let _inside = self.runtime.enter();
        self.app.take();
    }
}

/// Sends `request`; a request with no answer (a panicking handler drops the connection) fails.
async fn answer(request: reqwest::RequestBuilder) -> Result<(u16, Value), TestCaseError> {
    let response = request
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("no answer (did the server panic?): {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| TestCaseError::fail(format!("the answer broke off: {e}")))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

fn post_api(app: &TestApp, path: &str, body: &Body) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(path))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.bytes())
}

// --- generators ---

/// A request body: JSON, or raw text that may not be JSON at all.
#[derive(Clone, Debug)]
enum Body {
    Json(Value),
    Raw(String),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Raw(s) => s.clone().into_bytes(),
        }
    }

    fn json(&self) -> &Value {
        match self {
            Body::Json(v) => v,
            Body::Raw(_) => &Value::Null,
        }
    }
}

/// Strings that trip validators: empty, blank, control characters (NUL too), non-ASCII, long.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        1 => Just(String::new()),
        1 => "[ \t\r\n]{1,4}",
        1 => "[a-z0-9@._-]{1,12}",
        2 => "[a-z]{0,4}\\x00[a-z]{0,4}",
        1 => "[^\\x00-\\x7F]{1,6}",
        1 => "[a-z]{240,300}",
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Builds an object from optional fields (a `None` field is left out).
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    Value::Object(map)
}

/// Usually `valid`, otherwise some other string or any JSON value; sometimes missing.
fn field(valid: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            4 => valid,
            1 => text().prop_map(Value::from),
            1 => json_value(),
        ],
    )
    .boxed()
}

fn amount() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (1i64..=99_999_999).prop_map(Value::from),
        1 => prop::sample::select(vec![
            0i64, -1, 49, 50, 99_999_999, 100_000_000, i64::MAX, i64::MIN, i32::MAX as i64 + 1,
        ])
        .prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => (i64::MAX as u64..=u64::MAX).prop_map(Value::from),
        1 => prop::sample::select(vec![json!(1.5), json!(100.0), json!(1e30), json!("4500"), json!(-0.0)]),
    ]
    .boxed()
}

fn valid_email() -> BoxedStrategy<Value> {
    "[a-z0-9.+]{1,10}@[a-z]{1,8}\\.[a-z]{2,3}"
        .prop_map(Value::from)
        .boxed()
}

/// Usually `valid`, otherwise an odd string.
fn string_field(valid: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![3 => valid, 1 => text()]
        .prop_map(Value::from)
        .boxed()
}

/// An order body of the right shape with odd values, so that it gets past deserializing to
/// validation and the database.
fn well_typed_order(product_id: String) -> BoxedStrategy<Value> {
    let integer = prop_oneof![
        4 => 1i64..=99_999_999,
        1 => prop::sample::select(vec![
            0i64, -1, 49, 50, 99_999_999, 100_000_000, i64::MAX, i64::MIN,
        ]),
        1 => any::<i64>(),
    ];
    let currency = prop::option::weighted(
        0.5,
        prop_oneof![
            Just("usd".to_owned()),
            Just("EUR".to_owned()),
            "[a-zA-Z]{3}",
            "[^\\x00-\\x7F]{1,3}",
            text(),
        ],
    );
    (
        string_field("ref-[a-z0-9]{12}"),
        string_field(Just(product_id)),
        integer,
        currency,
        string_field("[a-z0-9.+]{1,10}@[a-z]{1,8}\\.[a-z]{2,3}"),
        string_field("[A-Z][a-z]{1,10}( [A-Z][a-z]{1,10})?"),
    )
        .prop_map(
            |(external_ref, product_id, amount, currency, email, name)| {
                object(vec![
                    ("external_ref", Some(external_ref)),
                    ("product_id", Some(product_id)),
                    ("amount_cents", Some(json!(amount))),
                    ("currency", currency.map(Value::from)),
                    ("payer", Some(json!({"email": email, "name": name}))),
                ])
            },
        )
        .boxed()
}

/// An order body as a caller might get it wrong: each field valid, mistyped, odd or missing.
fn loosely_typed_order(product_id: String) -> BoxedStrategy<Value> {
    let payer = prop_oneof![
        4 => (
            field(valid_email()),
            field("[A-Z][a-z]{1,10}".prop_map(Value::from)),
            prop::option::weighted(0.1, json_value()),
        )
            .prop_map(|(email, name, extra)| object(vec![
                ("email", email),
                ("name", name),
                ("nickname", extra),
            ])),
        1 => json_value(),
    ];
    (
        field("ref-[a-z0-9]{12}".prop_map(Value::from)),
        field(Just(Value::from(product_id))),
        field(amount()),
        prop::option::weighted(0.5, prop_oneof![Just(json!("usd")), json_value()]),
        field(payer),
        prop::option::weighted(0.1, json_value()),
    )
        .prop_map(
            |(external_ref, product_id, amount, currency, payer, extra)| {
                object(vec![
                    ("external_ref", external_ref),
                    ("product_id", product_id),
                    ("amount_cents", amount),
                    ("currency", currency),
                    ("payer", payer),
                    ("colour", extra),
                ])
            },
        )
        .boxed()
}

fn order_body(product_id: String) -> BoxedStrategy<Body> {
    prop_oneof![
        4 => well_typed_order(product_id.clone()).prop_map(Body::Json),
        2 => loosely_typed_order(product_id).prop_map(Body::Json),
        1 => json_value().prop_map(Body::Json),
        1 => any::<String>().prop_map(Body::Raw),
    ]
    .boxed()
}

fn blast_body(product_id: String) -> BoxedStrategy<Body> {
    let row = prop_oneof![
        16 => well_typed_order(product_id.clone()),
        1 => loosely_typed_order(product_id),
        1 => json_value(),
    ];
    let shaped = (
        field("Blast [a-z]{1,12}".prop_map(Value::from)),
        field(prop::collection::vec(row, 0..6).prop_map(Value::Array)),
        prop::option::weighted(0.1, json_value()),
    )
        .prop_map(|(name, orders, extra)| {
            object(vec![("name", name), ("orders", orders), ("colour", extra)])
        });
    prop_oneof![
        6 => shaped.prop_map(Body::Json),
        1 => json_value().prop_map(Body::Json),
        1 => any::<String>().prop_map(Body::Raw),
    ]
    .boxed()
}

/// `len` letters and digits that do not compress (ids near PostgreSQL's b-tree entry limit of
/// 2704 bytes); shrinks by length, unlike a long regex string.
fn noise(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// An event envelope with its fields present, missing or of the wrong type.
fn envelope() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        4 => "evt_[a-zA-Z0-9]{1,24}".prop_map(Value::from),
        1 => (2_000usize..6_000, any::<u64>()).prop_map(|(len, seed)| Value::from(noise(len, seed))),
        2 => text().prop_map(Value::from),
    ];
    let event_type = prop::sample::select(vec![
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "customer.created",
    ])
    .prop_map(Value::from);
    (
        field(id),
        field(event_type),
        prop::option::weighted(0.8, json_value()),
        prop::option::weighted(0.1, json_value()),
    )
        .prop_map(|(id, event_type, data, extra)| {
            object(vec![
                ("id", id),
                ("object", Some(json!("event"))),
                ("type", event_type),
                ("data", data.map(|object| json!({ "object": object }))),
                ("livemode", extra),
            ])
        })
        .boxed()
}

/// Raw bytes, shown as text (the start of it, if long) when a case fails.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 240;
        let text = String::from_utf8_lossy(&self.0);
        match text.char_indices().nth(SHOWN) {
            Some((end, _)) => write!(f, "{:?}… ({} bytes)", &text[..end], self.0.len()),
            None => write!(f, "{text:?}"),
        }
    }
}

/// A delivery's body: anything at all, any JSON, or an envelope (also with repeated keys).
fn webhook_body() -> BoxedStrategy<Bytes> {
    let repeated_keys = (json_value(), json_value(), json_value())
        .prop_map(|(a, b, c)| format!(r#"{{"id":{a},"type":{b},"id":{c}}}"#).into_bytes());
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => text().prop_map(String::into_bytes),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        4 => envelope().prop_map(|v| v.to_string().into_bytes()),
        1 => repeated_keys,
    ]
    .prop_map(Bytes)
    .boxed()
}

/// A `Stripe-Signature` header that must be refused, built against the time of sending.
#[derive(Clone, Debug)]
enum BadSignature {
    Missing,
    /// Any bytes a header may carry (visible ASCII, space, tab, obs-text).
    Raw(Vec<u8>),
    /// Well formed around the current time, with made-up signatures.
    Forged {
        skew: i64,
        v1: Vec<String>,
    },
    /// A correct signature, too old or too far in the future.
    Stale {
        skew: i64,
    },
    /// Signed with a secret paylink does not have.
    OtherSecret(String),
    /// Signed correctly over another body.
    OtherBody(Vec<u8>),
}

impl BadSignature {
    fn header(&self, body: &[u8], now: i64) -> Option<Vec<u8>> {
        let sign = |secret: &str, timestamp: i64, payload: &[u8]| {
            paylink::webhook_signature::sign(&SecretString::from(secret), timestamp, payload)
                .into_bytes()
        };
        match self {
            BadSignature::Missing => None,
            BadSignature::Raw(bytes) => Some(bytes.clone()),
            BadSignature::Forged { skew, v1 } => Some(
                std::iter::once(format!("t={}", now + skew))
                    .chain(v1.iter().map(|s| format!("v1={s}")))
                    .collect::<Vec<_>>()
                    .join(",")
                    .into_bytes(),
            ),
            BadSignature::Stale { skew } => Some(sign(WEBHOOK_SECRET, now + skew, body)),
            BadSignature::OtherSecret(secret) => Some(sign(secret, now, body)),
            BadSignature::OtherBody(other) => Some(sign(WEBHOOK_SECRET, now, other)),
        }
    }
}

fn bad_signature() -> BoxedStrategy<BadSignature> {
    let header_byte = prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff];
    let tolerance = 300i64;
    // Past the tolerance with room for the clock to move while the request travels.
    let stale = prop_oneof![
        (tolerance + 10)..=i64::from(u32::MAX),
        -i64::from(u32::MAX)..=-(tolerance + 10),
    ];
    prop_oneof![
        Just(BadSignature::Missing),
        prop::collection::vec(header_byte, 0..96).prop_map(BadSignature::Raw),
        (
            -tolerance..=tolerance,
            prop::collection::vec("[0-9a-f]{64}|[0-9a-f]{0,70}", 0..3)
        )
            .prop_map(|(skew, v1)| BadSignature::Forged { skew, v1 }),
        stale.prop_map(|skew| BadSignature::Stale { skew }),
        ".{0,40}"
            .prop_filter("a secret paylink has", |s| {
                let key = s.trim_end_matches('\0');
                key != WEBHOOK_SECRET && key != WEBHOOK_SECRET_2
            })
            .prop_map(BadSignature::OtherSecret),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(BadSignature::OtherBody),
    ]
    .boxed()
}

/// Stand-in form bodies: free text, bracket soup, and Payment Link requests with odd values.
/// Integers as a form carries them: plain, at and past i64's ends, or not integers at all.
fn int_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0i64..10_000).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            "9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999",
            "100000000", "-1", "0", "1e3", "", " 1",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
    .boxed()
}

fn form_body() -> BoxedStrategy<String> {
    let currency = prop_oneof![
        Just("usd".to_owned()),
        Just("jpy".to_owned()),
        Just("xxx".to_owned()),
        text()
    ];
    let line_item = (
        currency,
        int_text(),
        prop::option::weighted(0.2, "[0-9.eE+-]{0,24}"),
        text(),
        int_text(),
        prop::option::weighted(0.1, "price_[a-z0-9]{0,8}"),
    );
    let known_key = prop::sample::select(vec![
        "metadata[order_id]",
        "metadata",
        "inactive_message",
        "after_completion[type]",
        "after_completion[redirect][url]",
        "restrictions[completed_sessions][limit]",
        "payment_intent_data[setup_future_usage]",
        "allow_promotion_codes",
        "expand[]",
        "line_items",
        "line_items[]",
        "line_items[0]",
        "line_items[0][price_data]",
        "colour",
    ]);
    let extra = prop::collection::vec(
        (
            prop_oneof![known_key.prop_map(str::to_owned), "[a-z\\[\\]0-9]{1,24}"],
            text(),
        ),
        0..4,
    );
    let link = (prop::collection::vec(line_item, 0..3), extra).prop_map(|(items, extra)| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (i, (currency, amount, decimal, name, quantity, price)) in items.iter().enumerate() {
            let p = format!("line_items[{i}]");
            form.append_pair(&format!("{p}[price_data][currency]"), currency);
            match decimal {
                Some(d) => form.append_pair(&format!("{p}[price_data][unit_amount_decimal]"), d),
                None => form.append_pair(&format!("{p}[price_data][unit_amount]"), amount),
            };
            form.append_pair(&format!("{p}[price_data][product_data][name]"), name);
            form.append_pair(&format!("{p}[quantity]"), quantity);
            if let Some(price) = price {
                form.append_pair(&format!("{p}[price]"), price);
            }
        }
        for (key, value) in &extra {
            form.append_pair(key, value);
        }
        form.finish()
    });
    prop_oneof![
        1 => any::<String>(),
        1 => "([a-z_]{0,8}(\\[[a-z0-9_]{0,6}\\]){0,4}(=[a-z0-9%+]{0,6})?&?){0,6}",
        4 => link,
    ]
    .boxed()
}

// --- the properties ---

#[test]
fn correctly_signed_deliveries_of_any_body_are_answered_200_or_4xx_and_refusals_store_nothing() {
    let harness = Harness::new();
    harness.check(webhook_body(), async |app, Bytes(body)| {
        let before = app.count_rows("stripe_events").await;
        let signature = paylink::webhook_signature::sign(
            &SecretString::from(WEBHOOK_SECRET),
            chrono::Utc::now().timestamp(),
            &body,
        );
        let (status, answer) = answer(
            app.client
                .post(app.url("/webhooks/stripe"))
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(body),
        )
        .await?;
        let after = app.count_rows("stripe_events").await;
        prop_assert!(status < 500, "answered {status}: {answer}");
        if status == 200 {
            let stored = i64::from(answer["duplicate"] == json!(false));
            prop_assert_eq!(answer["received"].clone(), json!(true));
            prop_assert_eq!(after, before + stored, "stored rows vs {}", answer);
        } else {
            prop_assert!((400..500).contains(&status));
            prop_assert_eq!(
                after,
                before,
                "a refused delivery ({}) stored a row",
                status
            );
        }
        Ok(())
    });
}

#[test]
fn deliveries_without_a_valid_signature_are_answered_400_and_store_nothing() {
    let harness = Harness::new();
    harness.check(bad_signature(), async |app, signature| {
        let event = json!({
            "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": {"metadata": {"order_id": "ord_x"}}}
        });
        let body = event.to_string().into_bytes();
        let before = app.count_rows("stripe_events").await;
        let mut request = app
            .client
            .post(app.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(header) = signature.header(&body, chrono::Utc::now().timestamp()) {
            let value = reqwest::header::HeaderValue::from_bytes(&header)
                .map_err(|e| TestCaseError::reject(format!("not a header value: {e}")))?;
            request = request.header("stripe-signature", value);
        }
        let (status, answer) = answer(request).await?;
        prop_assert_eq!(status, 400, "answered {}", answer);
        prop_assert_eq!(app.count_rows("stripe_events").await, before);
        Ok(())
    });
}

#[test]
fn any_order_body_is_answered_without_5xx_and_only_a_created_order_is_stored() {
    let harness = Harness::new();
    let product = harness.block_on(harness.app().create_product("monthly"));
    harness.check(order_body(product), async |app, body| {
        let before = app.count_orders().await;
        let (status, answer) = answer(post_api(app, "/v1/orders", &body)).await?;
        let after = app.count_orders().await;
        prop_assert!(status < 500, "answered {status}: {answer}");
        match status {
            200 | 201 => {
                prop_assert_eq!(&answer["amount_cents"], &body.json()["amount_cents"]);
                prop_assert_eq!(after, before + i64::from(status == 201));
            }
            _ => prop_assert_eq!(after, before, "a refused order ({}) was stored", status),
        }
        Ok(())
    });
}

#[test]
fn any_blast_body_is_answered_without_5xx_and_a_refused_blast_stores_nothing() {
    let harness = Harness::new();
    let product = harness.block_on(harness.app().create_product("tournament"));
    harness.check(blast_body(product), async |app, body| {
        let (orders, blasts) = (app.count_orders().await, app.count_rows("blasts").await);
        let (status, answer) = answer(post_api(app, "/v1/blasts", &body)).await?;
        let (orders_after, blasts_after) =
            (app.count_orders().await, app.count_rows("blasts").await);
        prop_assert!(status < 500, "answered {status}: {answer}");
        if status == 202 || status == 200 {
            let created = answer["created"] == json!(true);
            let size = answer["size"].as_i64().unwrap_or(-1);
            prop_assert_eq!(blasts_after, blasts + i64::from(created));
            prop_assert!(orders_after >= orders && orders_after <= orders + size);
        } else {
            prop_assert!((400..500).contains(&status), "answered {status}: {answer}");
            prop_assert_eq!((orders_after, blasts_after), (orders, blasts));
        }
        Ok(())
    });
}

#[test]
fn the_stand_in_answers_any_form_body_without_5xx_and_only_a_success_creates_a_link() {
    let harness = Harness::new();
    harness.check(form_body(), async |app, body| {
        let links = |stats: Value| stats["payment_links"]["total"].as_u64();
        let before = links(app.fake_stats().await);
        let (status, answer) = answer(
            app.client
                .post(format!("{}v1/payment_links", app.fake_url))
                .bearer_auth("sk_test_x")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await?;
        let after = links(app.fake_stats().await);
        prop_assert!(status < 500, "answered {status}: {answer}");
        let created = u64::from(status == 200);
        prop_assert_eq!(after, before.map(|n| n + created), "answered {}", status);
        Ok(())
    });
}
