//! The webhooks page (issue 16): the operator sees where paylink's own webhooks go and how
//! each delivery fared, resends a failed one and replays an endpoint since a time; both forms
//! need the dashboard's CSRF token, bad input changes nothing, and no secret reaches the page.

use std::time::Duration;

use chrono::{DateTime, Utc};
use paylink_core::store::{outbound_delivery, outbound_event};
use paylink_testkit::{AppOptions, TestApp, eventually, spawn_app_with};
use serde_json::{Value, json};

/// An endpoint nothing listens on: every try is refused.
const DEAD_URL: &str = "http://127.0.0.1:9/hook";

/// An app whose deliveries get one try (an empty retry schedule), with an endpoint at
/// [`DEAD_URL`] and one minted order whose `order.link_ready` delivery has failed. Answers the
/// endpoint as created (with its one-time secret), the order and the failed delivery.
async fn failed_delivery() -> (TestApp, Value, Value, outbound_delivery::Model) {
    let app = spawn_app_with(AppOptions {
        settings: vec![("outbound.retry_schedule_secs", json!(""))],
        ..AppOptions::default()
    })
    .await;
    let response = app
        .post_json("/v1/webhook_endpoints", &json!({ "url": DEAD_URL }))
        .await;
    assert_eq!(response.status(), 201, "endpoint created");
    let endpoint: Value = response.json().await.unwrap();
    let order = app.minted_order("generic", 2500).await;
    let failed = eventually(Duration::from_secs(20), || async {
        let failed = outbound_delivery::recent(&app.db, Some(outbound_delivery::State::Failed), 10)
            .await
            .unwrap();
        failed.into_iter().next()
    })
    .await
    .expect("the delivery to the dead endpoint fails");
    (app, endpoint, order, failed)
}

/// Every delivery, to compare before and after something that must change nothing.
async fn deliveries(app: &TestApp) -> Vec<outbound_delivery::Model> {
    outbound_delivery::recent(&app.db, None, 1000)
        .await
        .unwrap()
}

/// POSTs a dashboard form as the admin without going through `admin_press` (so with the
/// fields given, and no CSRF token unless one is among them); answers the status.
async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> u16 {
    crate::admin::admin_post(app, path, form)
        .await
        .status()
        .as_u16()
}

/// The text maud writes for `value` (escaped).
fn escaped(value: &str) -> String {
    maud::html! { (value) }.into_string()
}

/// Whether a make-due reached the delivery: pending again, or already tried again since
/// `before` (the dispatcher is quick with a refused connection).
fn made_due(after: &outbound_delivery::Model, before: &outbound_delivery::Model) -> bool {
    after.state == outbound_delivery::State::Pending
        || after.last_attempt_at > before.last_attempt_at
}

#[tokio::test]
async fn the_page_shows_endpoints_and_deliveries_and_resend_sends_a_failed_one_again() {
    let (app, endpoint, order, failed) = failed_delivery().await;
    let secret = endpoint["secret"].as_str().unwrap();
    let order_id = order["id"].as_str().unwrap();

    let page = app.admin_page("/admin").await;
    assert!(
        page.contains(r#"href="/admin/webhooks""#),
        "Webhooks is in the nav"
    );

    let page = app.admin_page("/admin/webhooks").await;
    assert!(
        page.contains(&escaped(DEAD_URL)),
        "the endpoint's URL: {page}"
    );
    assert!(
        page.contains("<td>all</td>"),
        "it takes every event type: {page}"
    );
    assert!(
        page.contains("Failing since"),
        "the endpoint is failing: {page}"
    );
    assert!(page.contains("UTC"), "times are said to be UTC");
    assert!(
        page.contains("order.link_ready"),
        "the event's type: {page}"
    );
    assert!(
        page.contains(&format!(r#"href="/admin/orders/{order_id}""#)),
        "the order links to its page: {page}"
    );
    let failed_table = &page[page
        .find(r#"id="failed-deliveries""#)
        .expect("a failed section")..];
    assert!(failed_table.contains(&format!(r#"data-delivery="{}""#, failed.id)));
    assert!(
        failed_table.contains("Gave up after 1 try"),
        "{failed_table}"
    );
    let error = failed
        .last_error
        .as_deref()
        .expect("the refusal is recorded");
    assert!(
        failed_table.contains(&escaped(error)),
        "the error {error:?}: {failed_table}"
    );
    let resend = format!("/admin/webhooks/deliveries/{}/resend", failed.id);
    assert!(
        failed_table.contains(&format!(r#"action="{resend}""#)),
        "a Resend button"
    );
    assert!(!page.contains(secret), "the secret is nowhere on the page");
    assert!(!page.contains("whsec_"), "no secret is on the page");

    // Without the token, or with a wrong one: refused, and nothing changes.
    let before = deliveries(&app).await;
    assert_eq!(post_form(&app, &resend, &[]).await, 403);
    assert_eq!(
        post_form(&app, &resend, &[("csrf", "0".repeat(64).as_str())]).await,
        403
    );
    assert_eq!(
        deliveries(&app).await,
        before,
        "a refused Resend changes nothing"
    );

    // An unknown delivery, or one that is no number: a notice, and nothing changes.
    for unknown in ["999999", "abc", "-1", "99999999999999999999"] {
        let to = app
            .admin_press(&format!("/admin/webhooks/deliveries/{unknown}/resend"), &[])
            .await;
        assert!(to.contains("notice=delivery_unknown"), "{unknown}: {to}");
        let page = app.admin_page(&to).await;
        assert!(
            page.contains("No such delivery; nothing was resent."),
            "{page}"
        );
    }
    assert_eq!(
        deliveries(&app).await,
        before,
        "an unknown delivery changes nothing"
    );

    let to = app.admin_press(&resend, &[]).await;
    assert!(to.contains("notice=delivery_resent"), "{to}");
    let after = outbound_delivery::find(&app.db, failed.id)
        .await
        .unwrap()
        .unwrap();
    assert!(made_due(&after, &failed), "resent: {after:?}");
    let page = app.admin_page(&to).await;
    assert!(
        page.contains(&format!(
            "Delivery #{}: The delivery will be sent again now",
            failed.id
        )),
        "{page}"
    );
}

#[tokio::test]
async fn replay_since_a_time_queues_the_endpoint_s_events_and_bad_input_changes_nothing() {
    let started: DateTime<Utc> = Utc::now() - chrono::Duration::minutes(1);
    let (app, endpoint, _order, failed) = failed_delivery().await;
    let id = endpoint["id"].as_str().unwrap();
    let replay = format!("/admin/webhooks/{id}/replay");
    let since = started.format("%Y-%m-%dT%H:%M").to_string();

    let page = app.admin_page("/admin/webhooks").await;
    assert!(
        page.contains(&format!(r#"action="{replay}""#)),
        "a Replay form: {page}"
    );
    assert!(
        page.contains(r#"type="datetime-local" name="since""#),
        "{page}"
    );

    let before = deliveries(&app).await;
    assert_eq!(
        post_form(&app, &replay, &[("since", since.as_str())]).await,
        403
    );
    for bad in [
        "",
        "yesterday",
        "2026-13-40T25:61",
        "<script>alert(1)</script>",
    ] {
        let to = app.admin_press(&replay, &[("since", bad)]).await;
        assert!(to.contains("notice=replay_bad_time"), "{bad:?}: {to}");
        let page = app.admin_page(&to).await;
        assert!(page.contains("That time could not be read"), "{page}");
        assert!(
            !page.contains("<script>alert"),
            "nothing of the input is echoed"
        );
    }
    for unknown in ["we_nope", "..%2F..", "%3Cb%3E"] {
        let to = app
            .admin_press(
                &format!("/admin/webhooks/{unknown}/replay"),
                &[("since", since.as_str())],
            )
            .await;
        assert!(to.contains("notice=endpoint_unknown"), "{unknown}: {to}");
        let page = app.admin_page(&to).await;
        assert!(
            page.contains("No such webhook endpoint; nothing was replayed."),
            "{page}"
        );
    }
    assert_eq!(
        deliveries(&app).await,
        before,
        "refused and bad replays change nothing"
    );

    // A time after every event: nothing to queue.
    let later = (Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let to = app.admin_press(&replay, &[("since", later.as_str())]).await;
    assert!(
        to.contains("notice=endpoint_replayed") && to.contains("count=0"),
        "{to}"
    );
    assert_eq!(
        deliveries(&app).await,
        before,
        "a replay of nothing changes nothing"
    );

    let expected = outbound_event::since(
        &app.db,
        started.with_timezone(&Utc) - chrono::Duration::minutes(1),
    )
    .await
    .unwrap()
    .len();
    assert!(expected >= 1, "the order's events");
    let to = app.admin_press(&replay, &[("since", since.as_str())]).await;
    assert!(
        to.contains(&format!("count={expected}")),
        "{expected} queued: {to}"
    );
    // The replay is done in the background, by the dispatcher (core/src/outbound/replays.rs).
    let after = eventually(Duration::from_secs(10), || async {
        let after = outbound_delivery::find(&app.db, failed.id)
            .await
            .unwrap()
            .unwrap();
        made_due(&after, &failed).then_some(after)
    })
    .await;
    assert!(after.is_some(), "replayed within 10 s");
    let page = app.admin_page(&to).await;
    assert!(
        page.contains(&format!(
            "Endpoint {}: {expected} event(s) queued to be sent again.",
            escaped(DEAD_URL)
        )),
        "{page}"
    );
    assert!(!page.contains(endpoint["secret"].as_str().unwrap()));
}
