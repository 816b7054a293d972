//! paylink's narrow window onto Stripe: the few calls it makes, with errors classified by what
//! a retry can do about them.

mod client;
mod error;
mod http;
mod inspect;
mod mode;
mod permissions;
mod rate_limit;
mod reads;
mod session;
mod tally;
mod version;

pub use client::{LinkRequest, MintedLink, StripeApi, StripeSettings};
pub use error::StripeFailure;
pub use http::{HttpError, StripeHttp};
pub use mode::{key_is_live, mode_name};
pub use permissions::{PERMISSIONS, Permission};
pub use rate_limit::RateLimiter;
pub use reads::{CHECKOUT_EVENT_TYPES, ListedEvent, ListedLink, Page, ReadNow};
pub use session::CheckoutSession;
pub use tally::Tally;
pub use version::api_version;
