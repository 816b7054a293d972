//! One file per job: the payload and its handler side by side.

pub mod deactivate_link;
pub mod mint_link;
pub mod stripe_event;
