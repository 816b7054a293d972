//! Test or live: Stripe keeps the two apart (keys, objects, events, webhook endpoints), and so
//! must paylink. An event from the other mode can reach the intake only through a webhook
//! secret of the other mode's endpoint left in the settings; it settles nothing
//! (`Outcome::WrongMode`, docs/stripe.md).

/// Whether `key` is a live one (`sk_live_…` or `rk_live_…`): real money.
pub fn key_is_live(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("rk_live_")
}

/// The mode's name as Stripe's Dashboard shows it.
pub fn mode_name(live: bool) -> &'static str {
    if live { "live" } else { "test" }
}

#[cfg(test)]
mod tests {
    use super::key_is_live;

    #[test]
    fn secret_and_restricted_live_keys_are_live() {
        assert!(key_is_live("sk_live_x") && key_is_live("rk_live_x"));
        assert!(!key_is_live("sk_test_x") && !key_is_live("rk_test_x") && !key_is_live(""));
    }
}
