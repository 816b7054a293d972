//! paylink's narrow window onto Stripe: the few calls it makes, with errors classified by what
//! a retry can do about them.

mod client;
mod error;
mod http;
mod inspect;
mod rate_limit;
mod reads;
mod session;
mod tally;

pub use client::{LinkRequest, MintedLink, StripeApi, StripeSettings};
pub use error::StripeFailure;
pub use http::{HttpError, StripeHttp};
pub use rate_limit::RateLimiter;
pub use reads::{CHECKOUT_EVENT_TYPES, ListedEvent, ListedLink, Page, ReadNow};
pub use session::CheckoutSession;
pub use tally::Tally;

/// The Stripe API version paylink speaks (async-stripe's): what it sends as `Stripe-Version`,
/// and the version a webhook endpoint should be pinned to so events come in the shape paylink
/// reads.
pub fn api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}
