//! One file per job: the payload and its handler side by side.

pub mod mint_link;
