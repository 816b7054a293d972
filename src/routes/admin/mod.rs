//! `/admin`: the operator's dashboard. Pages read the tables (so they show every process's
//! work); actions are conditional updates that put work back through the backlog, the feeder
//! and the Stripe limit, never around them.

mod blast_upload;
mod form;
mod notice;
mod order_page;
mod orders;
mod products;
mod session;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use paylink_core::domain::PageRequest;
use paylink_core::jobs;
use paylink_core::store::operator::{self, FailureFilter};
use paylink_core::store::{admin_session, blast, dashboard, money, order, payment, stripe_minute};
use serde::Deserialize;

use crate::routes::auth;
use crate::startup::AppState;
use form::{AdminForm, AdminQuery};
use notice::Notice;
use session::{Admin, Csrf};
use views::{Filter, Overview, QueueDepth};

/// A blast's file, uploaded or carried back by the confirm form (base64 and form-encoded, so
/// larger than the file): the API's limit for a blast's body, with room for the encoding.
const UPLOAD_BYTES: usize = crate::routes::blasts::MAX_BODY_BYTES * 2;

pub fn router(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/admin", get(overview))
        .route("/admin/blasts", get(blasts))
        .route(
            "/admin/products",
            get(products::page).post(products::create),
        )
        .route("/admin/blasts/new", get(blast_upload::new_page))
        .route(
            "/admin/blasts/preview",
            post(blast_upload::preview).layer(DefaultBodyLimit::max(UPLOAD_BYTES)),
        )
        .route(
            "/admin/blasts/create",
            post(blast_upload::create).layer(DefaultBodyLimit::max(UPLOAD_BYTES)),
        )
        .route("/admin/blasts/{id}", get(blast_page))
        .route("/admin/blasts/{id}/links.csv", get(blast_upload::links))
        .route("/admin/failures", get(failures))
        .route("/admin/failures/retry", post(retry_matching))
        .route("/admin/orders", get(orders::search))
        .route("/admin/orders.csv", get(orders::export))
        .route("/admin/orders/{id}", get(order_page::page))
        .route("/admin/orders/{id}/amount", post(order_page::change_amount))
        .route("/admin/orders/{id}/retry", post(retry_one))
        .route("/admin/orders/{id}/cancel", post(cancel))
        .route("/admin/events/{id}/replay", post(replay))
        .route("/admin/webhooks", get(webhooks::page))
        .route(
            "/admin/webhooks/deliveries/{id}/resend",
            post(webhooks::resend),
        )
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay))
        .route("/admin/logout", post(logout))
        .route_layer(from_fn_with_state(state, session::require_admin));
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .merge(guarded)
}

/// A page that could not be built: the database (or queue) failed.
struct AdminError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for AdminError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        tracing::error!(error = %format!("{:#}", self.0), "admin page failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Html("<h1>Unavailable</h1><p>The database did not answer. Try again in a moment.</p>"),
        )
            .into_response()
    }
}

type Page = Result<Response, AdminError>;

fn html(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn refused_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<h1>Refused</h1><p>This form did not come from the dashboard (missing or invalid CSRF token). Reload the page and try again.</p>"),
    )
        .into_response()
}

async fn login_page() -> Response {
    html(views::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
}

/// A login: the right token always opens a session; a wrong one is counted against the
/// address like a wrong bearer token, and refused with 429 once it has failed too often.
async fn login(
    State(state): State<AppState>,
    ConnectInfoParts(addr): ConnectInfoParts,
    AdminForm(form): AdminForm<LoginForm>,
) -> Page {
    if !auth::is_admin_token(&state, &form.token) {
        return Ok(match auth::refuse(&state, addr) {
            auth::Refusal::Throttled(t) => session::throttled(t.retry_after_secs),
            auth::Refusal::Wrong => (
                StatusCode::UNAUTHORIZED,
                Html(views::login(Some("That is not the admin token.")).into_string()),
            )
                .into_response(),
        });
    }
    let secret = admin_session::open(
        &state.db,
        &session::token_fingerprint(&state),
        state.sessions,
    )
    .await?;
    tracing::info!(client = ?addr, "admin logged in to the dashboard");
    let cookie = session::set_cookie(&state, Some(&secret));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin")).into_response())
}

/// The client address of a request, as the throttle sees it.
struct ConnectInfoParts(Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ConnectInfoParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(auth::client(state, parts)))
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session at the server (the cookie stops working, wherever a copy of it is) and in
/// the browser.
async fn logout(
    State(state): State<AppState>,
    csrf: Csrf,
    admin: axum::Extension<Admin>,
    AdminForm(form): AdminForm<CsrfForm>,
) -> Page {
    if !csrf.accepts(&form.csrf) {
        return Ok(refused_csrf());
    }
    if let Admin::Session(secret) = &admin.0 {
        admin_session::close(&state.db, secret).await?;
    }
    let cookie = session::set_cookie(&state, None);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin/login")).into_response())
}

async fn overview(State(state): State<AppState>, csrf: Csrf) -> Page {
    let db = &state.db;
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let stripe = stripe_minute::since(db, hour_ago).await?;
    let (failed_orders, failed_events) = dashboard::failures_since(db, hour_ago).await?;
    let minted = dashboard::minted_per_minute(db, hour_ago).await?;
    let queue = queue_depth(&state).await;
    let queue_backlog = queue.as_ref().map(|q| q.backlog);
    let overview = Overview {
        money: money::standing(db, None).await?,
        stripe_per_minute: per_minute(stripe.iter().map(|m| (m.minute, m.requests))),
        rate_limited_last_hour: stripe.iter().map(|m| m.rate_limited).sum(),
        queue,
        failed_orders_last_hour: failed_orders,
        failed_events_last_hour: failed_events,
        minted_per_minute: per_minute(minted.into_iter()),
        blasts: recent_blasts(&state, 10).await?,
        setup: setup(&state, queue_backlog).await?,
    };
    Ok(html(views::overview(csrf.token(), &overview)))
}

/// What the overview's banners say is wrong with the setup. `backlog` is the orders waiting
/// for a job as the overview's queue figures already counted them (`None` when those could
/// not be read).
async fn setup(state: &AppState, backlog: Option<u64>) -> Result<views::Setup, sea_orm::DbErr> {
    let key_refusal = paylink_core::stripe_key::refusal(&state.db).await?;
    let orders_waiting = match (&key_refusal, backlog) {
        (None, _) => 0,
        (Some(_), Some(counted)) => counted,
        (Some(_), None) => dashboard::backlog(&state.db).await?,
    };
    Ok(views::Setup {
        key_refusal,
        orders_waiting,
        webhook_secret_missing: state.webhooks.secrets.is_empty(),
    })
}

/// Sixty one-minute buckets ending with the current minute, from (minute, count) pairs.
fn per_minute(values: impl Iterator<Item = (chrono::DateTime<Utc>, i64)>) -> Vec<i64> {
    let now = stripe_minute::minute_of(Utc::now());
    let mut buckets = vec![0; 60];
    for (minute, n) in values {
        let ago = (now - stripe_minute::minute_of(minute)).num_minutes();
        if (0..60).contains(&ago) {
            buckets[59 - ago as usize] += n;
        }
    }
    buckets
}

/// Jobs due per queue and the database backlog; `None` when the queue does not answer.
async fn queue_depth(state: &AppState) -> Option<QueueDepth> {
    let mut due = Vec::new();
    for (queue, depth) in jobs::queue_depths(&state.queue).await {
        due.push((queue, depth.ok()?));
    }
    Some(QueueDepth {
        due,
        backlog: dashboard::backlog(&state.db).await.ok()?,
    })
}

async fn recent_blasts(
    state: &AppState,
    limit: u64,
) -> anyhow::Result<Vec<(blast::Model, blast::Counts)>> {
    let mut rows = Vec::new();
    for b in blast::recent(&state.db, limit).await? {
        let counts = blast::counts(&state.db, &b.id).await?;
        rows.push((b, counts));
    }
    Ok(rows)
}

async fn blasts(State(state): State<AppState>, csrf: Csrf) -> Page {
    let rows = recent_blasts(&state, 100).await?;
    Ok(html(views::blasts(csrf.token(), &rows)))
}

/// Orders on one page of a blast's page.
const ORDERS_PER_PAGE: u64 = 200;

async fn blast_page(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let page = match PageRequest::parse(
        "page",
        param(query.as_deref(), "page").as_deref(),
        ORDERS_PER_PAGE,
    ) {
        Ok(page) => page,
        Err(e) => return Ok(unprocessable(&e.message)),
    };
    let Some(found) = blast::find(&state.db, &id).await? else {
        return Ok(not_found("blast"));
    };
    let counts = blast::counts(&state.db, &id).await?;
    let standing = money::standing(&state.db, Some(&id)).await?;
    let (orders, has_more) =
        page.split(order::list_for_blast(&state.db, &id, page.offset(), page.fetch()).await?);
    Ok(html(views::blast_page(
        csrf.token(),
        &found,
        &counts,
        &standing,
        views::OrdersPage {
            orders: &orders,
            page,
            has_more,
        },
        &|o: &order::Model| state.jobs.pay_url(&o.pay_token),
    )))
}

/// The first value of `name` in a query string (none, rather than a refusal, when the query
/// string holds something else).
fn param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// 422 with a page that says which parameter was wrong.
fn unprocessable(message: &str) -> Response {
    problem_response(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", message)
}

/// A dashboard page that refuses what was sent: `status`, a title and what was wrong.
fn problem_response(status: StatusCode, title: &str, message: &str) -> Response {
    (status, Html(views::problem(title, message).into_string())).into_response()
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(format!("<h1>Not found</h1><p>No such {what}.</p>")),
    )
        .into_response()
}

#[derive(Deserialize)]
struct FailuresQuery {
    #[serde(flatten)]
    filter: Filter,
    /// A [`Notice`]'s code; anything else shows nothing.
    #[serde(default)]
    notice: String,
    /// The notice's count, where it has one.
    count: Option<String>,
    /// The order the notice is about: shown by its stored external ref.
    order: Option<String>,
}

fn failure_filter(filter: &Filter) -> FailureFilter {
    FailureFilter {
        order_id: None,
        blast_id: Some(filter.blast.trim().to_owned()).filter(|b| !b.is_empty()),
        error_contains: Some(filter.error.trim().to_owned()).filter(|e| !e.is_empty()),
    }
}

async fn failures(
    State(state): State<AppState>,
    csrf: Csrf,
    AdminQuery(query): AdminQuery<FailuresQuery>,
) -> Page {
    let orders = operator::failures(&state.db, &failure_filter(&query.filter), 500).await?;
    let events = operator::failed_events(&state.db, 200).await?;
    let payments = payment::needing_attention(&state.db, 200).await?;
    let notice = Notice::from_code(&query.notice).map(|n| n.message(query.count.as_deref()));
    // The order an action was about, named by its external ref as stored (never by the link).
    let subject = match query.order.as_deref() {
        Some(id) if notice.is_some() => order::find(&state.db, id).await?.map(|o| o.external_ref),
        _ => None,
    };
    let notice = notice.map(|n| match subject {
        Some(external_ref) => format!("Order {external_ref}: {n}"),
        None => n,
    });
    Ok(html(views::failures(
        csrf.token(),
        &query.filter,
        views::Failures {
            orders: &orders,
            events: &events,
            payments: &payments,
        },
        notice.as_deref(),
    )))
}

/// Back to the failures page, keeping the filter, with a notice (and its count, or the order it
/// is about, if any).
fn back_to_failures(
    filter: &Filter,
    notice: Notice,
    count: Option<u64>,
    order_id: Option<&str>,
) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("blast", &filter.blast)
        .append_pair("error", &filter.error)
        .append_pair("notice", notice.code());
    if let Some(count) = count {
        query.append_pair("count", &count.to_string());
    }
    if let Some(id) = order_id {
        query.append_pair("order", id);
    }
    Redirect::to(&format!("/admin/failures?{}", query.finish())).into_response()
}

#[derive(Deserialize)]
struct RetryMatching {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    filter: Filter,
}

async fn retry_matching(
    State(state): State<AppState>,
    csrf: Csrf,
    AdminForm(form): AdminForm<RetryMatching>,
) -> Page {
    if !csrf.accepts(&form.csrf) {
        return Ok(refused_csrf());
    }
    let n = operator::retry_failed(&state.db, &failure_filter(&form.filter)).await?;
    tracing::info!(orders = n, "operator retried failed orders");
    Ok(back_to_failures(
        &form.filter,
        Notice::RetriedMatching,
        Some(n),
        None,
    ))
}

async fn retry_one(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<String>,
    AdminForm(form): AdminForm<CsrfForm>,
) -> Page {
    if !csrf.accepts(&form.csrf) {
        return Ok(refused_csrf());
    }
    let filter = FailureFilter {
        order_id: Some(id.clone()),
        ..FailureFilter::default()
    };
    let n = operator::retry_failed(&state.db, &filter).await?;
    tracing::info!(order_id = %id, retried = n, "operator retried an order");
    let notice = if n == 1 {
        Notice::Retried
    } else {
        Notice::NotFailed
    };
    Ok(back_to_failures(
        &Filter::default(),
        notice,
        None,
        Some(&id),
    ))
}

async fn cancel(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<paylink_core::domain::OrderId>,
    AdminForm(form): AdminForm<CsrfForm>,
) -> Page {
    if !csrf.accepts(&form.csrf) {
        return Ok(refused_csrf());
    }
    use paylink_core::orders::ChangeError;
    let notice = match paylink_core::orders::cancel(
        &state.db,
        &state.queue,
        &state.jobs.public_base_url,
        &id,
        paylink_core::orders::ChangedBy::Dashboard,
    )
    .await
    {
        Ok(_) => Notice::Cancelled,
        Err(ChangeError::NotFound(_)) => Notice::CancelUnknown,
        Err(ChangeError::NotPending(..)) => Notice::CancelNotPending,
        Err(ChangeError::Raced(_)) => Notice::CancelRaced,
        Err(ChangeError::Database(e)) => return Err(e.into()),
    };
    Ok(back_to_failures(
        &Filter::default(),
        notice,
        None,
        Some(id.as_str()),
    ))
}

async fn replay(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<String>,
    AdminForm(form): AdminForm<CsrfForm>,
) -> Page {
    if !csrf.accepts(&form.csrf) {
        return Ok(refused_csrf());
    }
    let replayed = operator::replay_event(&state.db, &id).await?;
    let notice = if replayed {
        Notice::Replayed
    } else {
        Notice::ReplayUnknown
    };
    Ok(back_to_failures(&Filter::default(), notice, None, None))
}
