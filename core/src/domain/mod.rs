//! The domain: values that are valid by construction, and the one set of checks that makes them
//! for every way an order comes in (the API, a blast, a CSV file). A failed check names the field
//! and says why, as a [`FieldError`]; the intake turns that into its 422 and the CLI into a line
//! per row. The order's lifecycle (its status, its link's state and the moves between them) is
//! [`Move`]: the store's conditional updates take their guards from it.

mod field_error;
mod ids;
mod lifecycle;
mod mail_state;
mod money;
mod order_input;
mod page;
mod values;

pub use field_error::FieldError;
pub use ids::{EventId, OrderId, PaymentLinkId, could_be_key};
pub use lifecycle::{LinkFailure, LinkState, Move, StartsFrom, Status};
pub use mail_state::{MailState, MailTry, after_try};
pub use money::{format_money, minimum_charge, minor_digits, plain_amount};
pub use order_input::{NewOrder, OrderInput, Payer, ProductNamed};
pub use page::{MAX_PAGE, PageRequest, whole_number};
pub use values::{AmountCents, Currency, Email, MAX_AMOUNT_CENTS, text};
