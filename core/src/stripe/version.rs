//! Which version of Stripe's API paylink speaks.

/// The Stripe API version paylink speaks (async-stripe's): what it sends as `Stripe-Version`,
/// and the version a webhook endpoint should be pinned to so events come in the shape paylink
/// reads.
pub fn api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}
