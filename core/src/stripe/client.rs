//! The async-stripe client, configured once, and the requests paylink builds with it.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;
use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_payment::payment_link::{
    AfterCompletionRedirectParams, CompletedSessionsParams, CreatePaymentLink,
    CreatePaymentLinkAfterCompletion, CreatePaymentLinkAfterCompletionType,
    CreatePaymentLinkCustomerCreation, CreatePaymentLinkLineItems,
    CreatePaymentLinkLineItemsPriceData, CreatePaymentLinkLineItemsPriceDataProductData,
    CreatePaymentLinkPaymentIntentData, CreatePaymentLinkPaymentIntentDataSetupFutureUsage,
    RestrictionsParams, RetrievePaymentLink, UpdatePaymentLink,
};

use super::{RateLimiter, StripeFailure, StripeHttp, Tally};

/// How to reach Stripe. The secret key is held as a secret and never logged.
#[derive(Clone, Debug)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    /// `https://api.stripe.com/` or the stand-in's address (with a trailing slash).
    pub api_base: String,
    /// How long one request may take before it counts as unanswered.
    pub request_timeout: Duration,
}

/// Stripe as paylink uses it.
#[derive(Clone, Debug)]
pub struct StripeApi {
    client: StripeHttp,
    limiter: Option<RateLimiter>,
    /// The share of the limit background reads (the sweeps) may take, on top of `limiter`, so a
    /// sweep never slows a blast by more than that share.
    background: Option<RateLimiter>,
    tally: Tally,
}

/// How long the fleet holds back after a 429 that carried no `Retry-After` (Stripe's general
/// advice: back off about a second).
const PAUSE_AFTER_429: Duration = Duration::from_secs(1);

/// Everything that decides what a Payment Link looks like for one order.
#[derive(Clone, Debug)]
pub struct LinkRequest {
    pub order_id: String,
    /// The order's link generation, kept in the link's metadata so that a link found at Stripe
    /// (an orphan) says which generation it was minted for.
    pub generation: i32,
    pub amount_cents: i64,
    pub currency: String,
    pub product_name: String,
    /// Save the card for later off-session charges: `setup_future_usage=off_session`, and
    /// `customer_creation=always` (in payment mode Stripe creates a Customer only when asked;
    /// without one the card is attached to nobody and cannot be charged next month).
    pub save_card: bool,
    /// Allow one completed payment only, and say so when the link is switched off.
    pub single_payment: bool,
    /// Where Stripe sends the payer after paying.
    pub redirect_url: String,
}

/// A Payment Link as Stripe created it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintedLink {
    pub id: String,
    pub url: String,
}

/// Shown by Stripe on a link switched off after its payment.
pub const INACTIVE_MESSAGE: &str = "This payment has already been made. Thank you! If you think this is a mistake, contact the organiser.";

impl StripeApi {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = StripeHttp::new(
            &settings.api_base,
            settings.secret_key.clone(),
            settings.request_timeout,
        )?;
        Ok(Self {
            client,
            limiter: None,
            background: None,
            tally: Tally::default(),
        })
    }

    /// Paces every request through the fleet-wide limiter.
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Holds background reads (the sweeps) to `limiter` as well as to the shared limit.
    pub fn with_background_limiter(mut self, limiter: RateLimiter) -> Self {
        self.background = Some(limiter);
        self
    }

    pub(super) fn background_limiter(&self) -> Option<&RateLimiter> {
        self.background.as_ref()
    }

    pub(super) fn http(&self) -> &StripeHttp {
        &self.client
    }

    /// The counts of this process's Stripe requests (flushed to the database by its owner).
    /// Whether paylink's key is a live one (Stripe's live mode).
    pub fn live(&self) -> bool {
        self.client.live()
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Runs one Stripe request within the shared rate limit; a 429 pauses the whole fleet.
    pub(super) async fn paced<T, F>(
        &self,
        endpoint: &'static str,
        request: F,
    ) -> Result<T, StripeFailure>
    where
        F: std::future::Future<Output = Result<T, super::HttpError>>,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        self.send(endpoint, request).await
    }

    /// Sends one request whose turn was taken, counts it, and pauses the fleet on a 429.
    async fn send<T, F>(&self, endpoint: &'static str, request: F) -> Result<T, StripeFailure>
    where
        F: std::future::Future<Output = Result<T, super::HttpError>>,
    {
        let started = std::time::Instant::now();
        let result = request.await.map_err(StripeFailure::from);
        self.tally.record(endpoint, &result, started.elapsed());
        if let (
            Err(StripeFailure::RetryLater {
                status: 429,
                retry_after,
                ..
            }),
            Some(limiter),
        ) = (&result, &self.limiter)
        {
            limiter
                .pause_fleet(retry_after.unwrap_or(PAUSE_AFTER_429))
                .await;
        }
        result
    }

    /// [`Self::paced`] for a caller that must not wait: `Ok(None)`, and nothing sent, when the
    /// shared limit has no turn free now.
    pub(super) async fn paced_now<T, F>(
        &self,
        endpoint: &'static str,
        request: F,
    ) -> Result<Option<T>, StripeFailure>
    where
        F: std::future::Future<Output = Result<T, super::HttpError>>,
    {
        if let Some(limiter) = &self.limiter
            && !limiter.try_acquire().await
        {
            return Ok(None);
        }
        self.send(endpoint, request).await.map(Some)
    }

    /// Creates the order's Payment Link in one request (inline `price_data` at the order's own
    /// amount), under the caller's idempotency key so a retry can never create a second one.
    pub async fn create_payment_link(
        &self,
        link: &LinkRequest,
        idempotency_key: &str,
    ) -> Result<MintedLink, StripeFailure> {
        let metadata = HashMap::from([
            ("order_id".to_owned(), link.order_id.clone()),
            ("link_generation".to_owned(), link.generation.to_string()),
        ]);
        let mut price_data = CreatePaymentLinkLineItemsPriceData::new(
            link.currency
                .parse::<stripe_types::Currency>()
                .map_err(|_| StripeFailure::Refused {
                    status: 0,
                    message: format!("unknown currency {:?}", link.currency),
                })?,
        );
        price_data.unit_amount = Some(link.amount_cents);
        price_data.product_data = Some(CreatePaymentLinkLineItemsPriceDataProductData::new(
            link.product_name.clone(),
        ));
        let mut item = CreatePaymentLinkLineItems::new(1u64);
        item.price_data = Some(price_data);

        let mut intent = CreatePaymentLinkPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        if link.save_card {
            intent.setup_future_usage =
                Some(CreatePaymentLinkPaymentIntentDataSetupFutureUsage::OffSession);
        }
        let mut after =
            CreatePaymentLinkAfterCompletion::new(CreatePaymentLinkAfterCompletionType::Redirect);
        after.redirect = Some(AfterCompletionRedirectParams {
            url: link.redirect_url.clone(),
        });

        let mut request = CreatePaymentLink::new(vec![item])
            .metadata(metadata)
            .payment_intent_data(intent)
            .after_completion(after);
        if link.save_card {
            request = request.customer_creation(CreatePaymentLinkCustomerCreation::Always);
        }
        if link.single_payment {
            request = request
                .restrictions(RestrictionsParams::new(CompletedSessionsParams::new(1)))
                .inactive_message(INACTIVE_MESSAGE);
        }
        let strategy = strategy(idempotency_key)?;
        let created = self
            .paced(
                "create_payment_link",
                request
                    .customize()
                    .request_strategy(strategy)
                    .send(&self.client),
            )
            .await?;
        Ok(MintedLink {
            id: created.id.to_string(),
            url: created.url,
        })
    }

    /// Switches a Payment Link off. Setting `active=false` is idempotent by nature (an already
    /// inactive link accepts it again), so no idempotency key is needed and any retry is safe.
    pub async fn deactivate_payment_link(&self, link_id: &str) -> Result<(), StripeFailure> {
        let request = UpdatePaymentLink::new(link_id).active(false);
        self.paced("update_payment_link", request.send(&self.client))
            .await?;
        Ok(())
    }

    /// Whether a Payment Link can still take a payment: active, and under its completed-sessions
    /// limit when it has one.
    pub(crate) async fn payment_link_open(&self, link_id: &str) -> Result<bool, StripeFailure> {
        let request = RetrievePaymentLink::new(link_id);
        let link = self
            .paced("retrieve_payment_link", request.send(&self.client))
            .await?;
        let under_limit = link.restrictions.is_none_or(|r| {
            i64::try_from(r.completed_sessions.count).unwrap_or(i64::MAX)
                < r.completed_sessions.limit
        });
        Ok(link.active && under_limit)
    }
}

fn strategy(key: &str) -> Result<RequestStrategy, StripeFailure> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| StripeFailure::Refused {
            status: 0,
            message: format!("invalid idempotency key {key:?}: {e:?}"),
        })
}
