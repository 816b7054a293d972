//! The dashboard's sessions, the brute-force throttle (and its one log line) and the browser
//! headers (docs/security.md), over HTTP against a real intake.

use serde_json::json;

use paylink_testkit::{ADMIN_TOKEN, AppOptions, TestApp, spawn_app, spawn_app_with};

/// Logs in through the form; answers the whole `Set-Cookie` header.
async fn login(app: &TestApp) -> String {
    let response = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the login is accepted");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

async fn page_with(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The CSRF token of the page's logout form.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let page = page_with(app, cookie, "/admin").await.text().await.unwrap();
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[start..start + 64].to_owned()
}

async fn logout(app: &TestApp, cookie: &str, csrf: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/logout"))
        .header("cookie", cookie)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_login_is_its_own_session_with_its_own_csrf_token_and_logout_ends_it_at_the_server() {
    let app = spawn_app().await;
    let first = login(&app).await;
    let second = login(&app).await;
    for attribute in [
        "Max-Age=86400",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
    ] {
        assert!(first.contains(attribute), "{first}");
    }
    assert_ne!(pair(&first), pair(&second), "two logins, two sessions");
    let (csrf_1, csrf_2) = (
        csrf_of(&app, pair(&first)).await,
        csrf_of(&app, pair(&second)).await,
    );
    assert_ne!(csrf_1, csrf_2, "the CSRF token belongs to the session");

    // One session's token does not pass for the other.
    let crossed = logout(&app, pair(&first), &csrf_2).await;
    assert_eq!(crossed.status(), 403);
    assert_eq!(page_with(&app, pair(&first), "/admin").await.status(), 200);

    let out = logout(&app, pair(&first), &csrf_1).await;
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // A copy of the cookie kept from before the logout no longer works...
    let replayed = page_with(&app, pair(&first), "/admin").await;
    assert_eq!(replayed.status(), 401, "the session ended at the server");
    // ...while the other login goes on.
    assert_eq!(page_with(&app, pair(&second), "/admin").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_past_twelve_hours_or_older_than_a_day_is_over() {
    use paylink_core::store::admin_session::{Column, Entity};
    use sea_orm::sea_query::Expr;
    use sea_orm::{EntityTrait, QueryFilter};

    let app = spawn_app().await;
    let idle = login(&app).await;
    let old = login(&app).await;
    assert_eq!(page_with(&app, pair(&idle), "/admin").await.status(), 200);
    // Age the sessions as the clock would: no request for 12 h and a minute; a login 24 h and
    // a minute ago with a request a minute ago.
    let now = chrono::Utc::now();
    let hash = |cookie: &str| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(
            pair(cookie).split_once('=').unwrap().1.as_bytes(),
        ))
    };
    Entity::update_many()
        .col_expr(
            Column::LastSeenAt,
            Expr::value(now - chrono::Duration::minutes(12 * 60 + 1)),
        )
        .filter(sea_orm::ColumnTrait::eq(&Column::IdHash, hash(&idle)))
        .exec(&app.db)
        .await
        .unwrap();
    Entity::update_many()
        .col_expr(
            Column::CreatedAt,
            Expr::value(now - chrono::Duration::minutes(24 * 60 + 1)),
        )
        .col_expr(
            Column::LastSeenAt,
            Expr::value(now - chrono::Duration::minutes(1)),
        )
        .filter(sea_orm::ColumnTrait::eq(&Column::IdHash, hash(&old)))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(page_with(&app, pair(&idle), "/admin").await.status(), 401);
    assert_eq!(page_with(&app, pair(&old), "/admin").await.status(), 401);
    // The next login sweeps both rows away.
    login(&app).await;
    assert_eq!(Entity::find().all(&app.db).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_https_the_cookie_is_host_prefixed_and_secure() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("public_base_url", json!("https://pay.example.org"))],
        ..AppOptions::default()
    })
    .await;
    let cookie = login(&app).await;
    assert!(cookie.starts_with("__Host-paylink_admin="), "{cookie}");
    for attribute in [
        "Secure",
        "Path=/;",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(page_with(&app, pair(&cookie), "/admin").await.status(), 200);
    // The unprefixed name is not read under https.
    let unprefixed = pair(&cookie).replacen("__Host-", "", 1);
    assert_eq!(page_with(&app, &unprefixed, "/admin").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_answer_is_no_store_and_html_pages_carry_the_security_headers() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    for path in ["/admin/login", "/admin", "/admin/failures", "/admin/blasts"] {
        let response = page_with(&app, pair(&cookie), path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    // The payer's pages too (an unknown token's page is HTML).
    let pay = app.client.get(app.url("/pay/nope")).send().await.unwrap();
    assert!(pay.headers().contains_key("content-security-policy"));
    assert_eq!(pay.headers()["referrer-policy"], "no-referrer");
    // JSON is not sniffed either.
    let api = app
        .client
        .get(app.url("/v1/orders/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}

/// Posts the login form with `token`.
async fn login_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// The seconds a 429 asks to wait, checked to be within the minute.
fn retry_after(response: &reqwest::Response) -> u64 {
    let secs: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    secs
}

/// Behind a proxy without `client_ip_header` every client is one address: one client's
/// guesses must not lock out the operator. Twenty wrong logins (ten 401s, then 429s), then the
/// right token still logs in; a wrong one after it is still refused with 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_failed_logins_then_the_right_token_logs_in_and_wrong_ones_stay_throttled() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(login_with(&app, "guess").await.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");

    let right = login_with(&app, ADMIN_TOKEN).await;
    assert_eq!(right.status(), 303, "the right token is never throttled");
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert_eq!(page_with(&app, pair(&cookie), "/admin").await.status(), 200);

    let wrong = login_with(&app, "guess").await;
    assert_eq!(wrong.status(), 429, "a wrong one is still refused");
    retry_after(&wrong);
    assert!(wrong.headers().get("set-cookie").is_none());
    // A bearer token on the dashboard: the wrong one 429, the right one served.
    let bearer = |token: &'static str| app.client.get(app.url("/admin")).bearer_auth(token).send();
    assert_eq!(bearer("guess").await.unwrap().status(), 429);
    assert_eq!(bearer(ADMIN_TOKEN).await.unwrap().status(), 200);
    let text = app.metrics_text().await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("paylink_auth_throttled_total")),
        "the throttle is counted"
    );
}

/// The host application's API calls go on while someone behind the same address guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_bearer_tokens_then_the_right_one_is_served_and_wrong_ones_get_429() {
    let app = spawn_app().await;
    let call = |token: String| {
        app.client
            .get(app.url("/v1/products"))
            .bearer_auth(token)
            .send()
    };
    let mut statuses = Vec::new();
    for attempt in 1..=20 {
        statuses.push(
            call(format!("guess-{attempt}"))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");

    let right = call(ADMIN_TOKEN.to_owned()).await.unwrap();
    assert_eq!(right.status(), 200, "the right token is never throttled");

    let refused = call("guess-21".to_owned()).await.unwrap();
    assert_eq!(refused.status(), 429);
    retry_after(&refused);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // No token at all counts as a wrong one.
    let none = app
        .client
        .get(app.url("/v1/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_throttle_counts_the_forwarded_client_not_the_proxy() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.client_ip_header", json!("X-Forwarded-For"))],
        ..AppOptions::default()
    })
    .await;
    let attempt = |client: &'static str, token: &'static str| {
        app.client
            .get(app.url("/v1/products"))
            .bearer_auth(token)
            .header("x-forwarded-for", format!("198.51.100.7, {client}"))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(attempt("203.0.113.9", "guess").await.unwrap().status(), 401);
    }
    assert_eq!(attempt("203.0.113.9", "guess").await.unwrap().status(), 429);
    assert_eq!(
        attempt("203.0.113.9", ADMIN_TOKEN).await.unwrap().status(),
        200,
        "the right token passes even from the throttled client"
    );
    // Another client behind the same proxy is not counted with it.
    assert_eq!(
        attempt("203.0.113.10", "guess").await.unwrap().status(),
        401
    );
}

/// A header value paylink cannot read (`unknown`, garbage, absent) is counted under the
/// connection's peer, the proxy: those wrong tokens share one count, the right token passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_client_ip_header_is_counted_under_the_peer_and_never_blocks_the_token() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.client_ip_header", json!("X-Forwarded-For"))],
        ..AppOptions::default()
    })
    .await;
    let attempt = |forwarded: Option<&'static str>, token: &'static str| {
        let request = app.client.get(app.url("/v1/products")).bearer_auth(token);
        match forwarded {
            Some(value) => request.header("x-forwarded-for", value),
            None => request,
        }
        .send()
    };
    for value in ["unknown", "garbage", "203.0.113.9, _hidden", "", "1.2.3"] {
        assert_eq!(attempt(Some(value), "guess").await.unwrap().status(), 401);
    }
    for _ in 0..5 {
        assert_eq!(attempt(None, "guess").await.unwrap().status(), 401);
    }
    assert_eq!(
        attempt(Some("unknown"), "guess").await.unwrap().status(),
        429,
        "ten unreadable or absent values: one count, the peer's"
    );
    assert_eq!(attempt(None, ADMIN_TOKEN).await.unwrap().status(), 200);
    assert_eq!(
        attempt(Some("203.0.113.9"), "guess")
            .await
            .unwrap()
            .status(),
        401,
        "a readable client is counted as itself"
    );
}

/// A wrong token distinctive enough to find in a log.
const WRONG_TOKEN: &str = "wrong-token-3f9c2e7a";

/// The throttle's "one log line per throttled address" (docs/security.md), as an operator
/// reads it: `paylink serve`'s own output, in JSON lines. Fifteen wrong bearer tokens from
/// 127.0.0.1 give exactly one warning, naming the address, and never the token tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_address_is_logged_once_by_address_and_never_with_the_token_tried() {
    use crate::safe_defaults::{scratch_dir, serve_command, start};
    let dir = scratch_dir();
    let (mut command, base) = serve_command(
        &dir,
        &[
            ("PAYLINK__ADMIN__TOKEN", ADMIN_TOKEN),
            ("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/"),
            ("PAYLINK__LOG__FORMAT", "json"),
            ("PAYLINK__LOG__LEVEL", "info"),
        ],
    );
    command.env_remove("RUST_LOG");
    let started = start(command);
    let client = reqwest::Client::new();

    let mut statuses = Vec::new();
    for _ in 0..15 {
        let answer = client
            .get(format!("{base}/v1/orders/ord_x"))
            .bearer_auth(WRONG_TOKEN)
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    let printed = started.stop();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 5], "{statuses:?}");
    let warnings: Vec<serde_json::Value> = printed
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too many failed admin-token attempts"))
        })
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one line per throttled address: {printed}"
    );
    let warning = &warnings[0];
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert_eq!(warning["fields"]["client"], "127.0.0.1", "{warning}");
    assert_eq!(warning["fields"]["failures"], 10, "{warning}");
    assert!(
        !printed.contains(WRONG_TOKEN),
        "the token tried is never logged: {printed}"
    );
}

/// The same deployment restarted with `token` as its admin token: a second intake on the
/// app's database and engine (the settings as the app's, the token changed); its base URL.
async fn restarted_with_token(app: &TestApp, token: &str) -> String {
    let mut settings = app.settings.clone();
    settings.admin.token = Some(secrecy::SecretString::from(token.to_owned()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let intake = paylink::startup::Application::build_on(listener, &settings, &app.engine)
        .await
        .unwrap();
    let base = format!("http://{}", intake.local_addr().unwrap());
    tokio::spawn(intake.run_until_stopped(std::future::pending()));
    base
}

/// Rotating the admin token (a leak, an operator who left) logs every browser out: a session
/// remembers the token that opened it, and is refused under another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_under_the_old_token_is_refused_after_the_token_changes() {
    const NEW_TOKEN: &str = "the-new-admin-token-after-rotation";
    let app = spawn_app().await;
    let old = login(&app).await;
    assert_eq!(page_with(&app, pair(&old), "/admin").await.status(), 200);

    let rotated = restarted_with_token(&app, NEW_TOKEN).await;
    let at = |base: &str, cookie: &str| {
        app.client
            .get(format!("{base}/admin"))
            .header("cookie", pair(cookie).to_owned())
            .send()
    };
    let refused = at(&rotated, &old).await.unwrap();
    assert_eq!(refused.status(), 401, "the old token's session is over");
    assert!(
        refused.text().await.unwrap().contains("name=\"token\""),
        "the answer is the login page"
    );

    // The new token logs in there; its session is its own, and not good under the old token.
    let fresh = app
        .client
        .post(format!("{rotated}/admin/login"))
        .form(&[("token", NEW_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 303);
    let fresh = fresh.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert_eq!(at(&rotated, &fresh).await.unwrap().status(), 200);
    assert_eq!(at(&app.address, &fresh).await.unwrap().status(), 401);
    // The table holds no token, only fingerprints, one per session.
    use paylink_core::store::admin_session::Entity;
    use sea_orm::EntityTrait as _;
    let rows = Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row.token_fingerprint.len(), 64, "{row:?}");
        assert!(!row.token_fingerprint.contains(ADMIN_TOKEN));
        assert!(!row.token_fingerprint.contains(NEW_TOKEN));
    }
    assert_ne!(rows[0].token_fingerprint, rows[1].token_fingerprint);
}

/// Warnings in `printed` (JSON log lines) whose message contains `text`.
fn warnings_with(printed: &str, text: &str) -> Vec<serde_json::Value> {
    printed
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["level"] == "WARN"
                && line["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
        })
        .collect()
}

/// Behind a proxy nobody told paylink about, it says so: at start when the public URL is https
/// (paylink speaks plain HTTP, so a TLS proxy is in front), and once when requests arrive
/// carrying a proxy's forwarding headers, each naming the setting to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_without_client_ip_header_paylink_says_so_at_start_and_once_in_use() {
    use crate::safe_defaults::{scratch_dir, serve_command, start};
    let dir = scratch_dir();
    let (mut command, base) = serve_command(
        &dir,
        &[
            ("PAYLINK__ADMIN__TOKEN", ADMIN_TOKEN),
            ("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/"),
            ("PAYLINK__PUBLIC_BASE_URL", "https://pay.example.org"),
            ("PAYLINK__LOG__FORMAT", "json"),
            ("PAYLINK__LOG__LEVEL", "info"),
        ],
    );
    command.env_remove("RUST_LOG");
    let started = start(command);
    let client = reqwest::Client::new();
    for header in ["x-forwarded-for", "forwarded", "x-forwarded-for"] {
        let answer = client
            .get(format!("{base}/healthz"))
            .header(header, "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let printed = started.stop();
    let _ = std::fs::remove_dir_all(&dir);

    let at_start = warnings_with(&printed, "the public URL is https");
    assert_eq!(at_start.len(), 1, "{printed}");
    let in_use = warnings_with(&printed, "requests arrive with a x-forwarded-for header");
    assert_eq!(in_use.len(), 1, "once, however many requests: {printed}");
    for warning in at_start.iter().chain(&in_use) {
        let message = warning["fields"]["message"].as_str().unwrap();
        assert!(
            message.contains("PAYLINK__HTTP__CLIENT_IP_HEADER"),
            "{message}"
        );
    }
}
