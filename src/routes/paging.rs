//! `page` and `per_page` of the API's listings (`GET /v1/products`, `GET /v1/blasts/{id}/orders`),
//! read one way everywhere: a bad value is a 422 naming it, an unknown parameter a 400.

use paylink_core::domain::PageRequest;
use serde::Deserialize;

use super::ApiError;

/// Rows of an API listing's page, unless `per_page` says otherwise, and the most it may say.
pub const DEFAULT_PER_PAGE: u64 = 100;
pub const MAX_PER_PAGE: u64 = 1000;

/// `page` and `per_page` as given: checked by [`PageQuery::request`], so that a bad value is a
/// 422 naming it rather than axum's plain-text 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl PageQuery {
    /// The page asked for: the first of [`DEFAULT_PER_PAGE`] rows when neither is given.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse_sized(
            self.page.as_deref(),
            self.per_page.as_deref(),
            DEFAULT_PER_PAGE,
            MAX_PER_PAGE,
        )?)
    }
}
