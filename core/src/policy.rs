//! Category policy, from configuration rather than code.

use serde::Deserialize;

/// Which product categories get which treatment.
#[derive(Clone, Debug, Deserialize)]
pub struct Policy {
    /// Minted with `payment_intent_data.setup_future_usage=off_session`.
    pub save_card_categories: Vec<String>,
    /// Links limited to one completed payment and switched off once paid.
    pub deactivate_on_paid_categories: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            save_card_categories: vec!["monthly".into()],
            deactivate_on_paid_categories: vec!["monthly".into(), "tournament".into()],
        }
    }
}

impl Policy {
    pub(crate) fn saves_card(&self, category: &str) -> bool {
        self.save_card_categories.iter().any(|c| c == category)
    }

    pub(crate) fn deactivates_on_paid(&self, category: &str) -> bool {
        self.deactivate_on_paid_categories
            .iter()
            .any(|c| c == category)
    }
}
