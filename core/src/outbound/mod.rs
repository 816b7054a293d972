//! Outbound webhooks: telling the host application of every change it cares about
//! (docs/webhooks.md).
//!
//! - [`outbox`]: writes an event inside the transaction of the state change that causes it;
//!   [`fan_out`] then writes its deliveries, one per endpoint that takes it, outside it.
//! - [`endpoints`]: registering, rotating, deleting and replaying endpoints (the API and the
//!   dashboard call these); [`replays`] does a replay's work in the background.
//! - [`dispatch`]: the workers' loop that sends due deliveries, signed as Standard Webhooks
//!   defines ([`sign`]), retrying on [`OutboundSettings::retry_schedule`], sharing its slots
//!   between endpoints ([`slots`]).
//! - [`target`] and [`resolve`]: which addresses deliveries may reach (public ones, unless
//!   `outbound.allow_private_networks`), and what an operator is shown of a URL and a failure.

pub mod dispatch;
pub mod endpoints;
mod event_type;
pub mod fan_out;
pub mod outbox;
pub mod replays;
pub mod resolve;
mod settings;
pub mod sign;
mod slots;
pub mod target;

pub use event_type::EventType;
pub use settings::{DEFAULT_RETRY_SCHEDULE_SECS, OutboundSettings};
