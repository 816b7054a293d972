//! The API versions Stripe has published, which `Stripe-Version` may name: the catalogue's
//! list (`catalogue::API_VERSIONS`, which a webhook endpoint's `api_version` is checked against
//! too).

use super::catalogue::API_VERSIONS;

/// Whether `version` is one Stripe would take.
pub fn known(version: &str) -> bool {
    API_VERSIONS.contains(&version)
}

#[cfg(test)]
mod tests {
    use super::known;

    #[test]
    fn published_versions_are_known_and_made_up_ones_are_not() {
        assert!(known("2026-09-30.endive"));
        assert!(known("2011-01-01"));
        assert!(!known("2019-2-19"), "the date written without its zero");
        assert!(
            !known("2025-09-30.acacia"),
            "a date and name that never went together"
        );
        assert!(!known(""));
    }
}
