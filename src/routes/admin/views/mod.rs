//! The dashboard's HTML (maud): server-rendered pages with a little hand-written CSS and no
//! script. Every form that changes something carries the CSRF token.

mod blast_upload;
mod blasts;
mod failures;
mod layout;
mod order;
mod orders;
mod overview;
mod products;
mod setup;
mod standing;
mod webhooks;

pub(super) use paylink_core::domain::format_money;

pub use blast_upload::{Carried, preview_page, problems_page, upload_page};
pub use blasts::{OrdersPage, blast_page, blasts};
pub use failures::{Failures, Filter, failures};
pub use layout::{card, layout, login, path_segment, problem, query_pair, when};
pub use order::{OrderView, order_page};
pub use orders::{OrdersView, copyable, order_table, orders_page, state_words};
pub use overview::{Overview, QueueDepth, overview};
pub use products::{Outcome as ProductOutcome, products};
pub use setup::Setup;
pub use webhooks::{Webhooks, webhooks};
