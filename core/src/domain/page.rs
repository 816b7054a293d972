//! A page of a listing as a client asks for it (`?page=`), checked before any arithmetic: an
//! absurd page (`18446744073709551615`) is a [`FieldError`] naming the field, never an
//! overflow in `(page - 1) × size` or an offset the database cannot take.

use super::FieldError;

/// The highest page anyone may ask for. A blast holds at most a few tens of thousands of
/// orders, so no listing has nearly this many pages.
pub const MAX_PAGE: u64 = 1_000_000;

/// A page number (1 or more) and size, and the offset they make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    number: u64,
    size: u64,
    offset: u64,
}

impl PageRequest {
    /// Page `raw` (the first page when absent) of `size` rows (at least one). The offset is
    /// computed with checked arithmetic and fits the databases' signed 64-bit `OFFSET`.
    pub fn parse(field: &str, raw: Option<&str>, size: u64) -> Result<Self, FieldError> {
        let size = size.max(1);
        let number = match raw {
            None => 1,
            Some(raw) => whole_number(field, raw)
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    FieldError::new(
                        field,
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    )
                })?,
        };
        let offset = (number - 1)
            .checked_mul(size)
            .filter(|offset| i64::try_from(*offset).is_ok())
            .ok_or_else(|| FieldError::new(field, "is beyond the last page that can exist"))?;
        Ok(Self {
            number,
            size,
            offset,
        })
    }

    pub fn number(self) -> u64 {
        self.number
    }

    pub fn size(self) -> u64 {
        self.size
    }

    /// Rows before this page.
    pub fn offset(self) -> u64 {
        self.offset
    }

    /// How many rows to read for this page: one more than it holds, so that the extra row
    /// says whether another page follows.
    pub fn fetch(self) -> u64 {
        self.size.saturating_add(1)
    }

    /// This page's rows out of the [`PageRequest::fetch`] rows read, and whether another page
    /// follows.
    pub fn split<T>(self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let has_more = rows.len() as u64 > self.size;
        rows.truncate(usize::try_from(self.size).unwrap_or(usize::MAX));
        (rows, has_more)
    }

    /// `page` and `per_page` as an API listing takes them: `per_page` a whole number, clamped to
    /// 1…`max_size`, `default_size` when absent.
    pub fn parse_sized(
        page: Option<&str>,
        per_page: Option<&str>,
        default_size: u64,
        max_size: u64,
    ) -> Result<Self, FieldError> {
        let size = match per_page {
            Some(raw) => whole_number("per_page", raw)?.clamp(1, max_size),
            None => default_size,
        };
        Self::parse("page", page, size)
    }
}

/// A count as a query string spells it: ASCII digits only (no sign, no spaces, no other
/// scripts' digits), at most what a `u64` holds.
pub fn whole_number(field: &str, raw: &str) -> Result<u64, FieldError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, "must be a whole number"));
    }
    raw.parse::<u64>()
        .map_err(|_| FieldError::new(field, "is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_the_offset_of_the_pages_before_it() {
        let third = PageRequest::parse("page", Some("3"), 100).unwrap();
        assert_eq!(
            (third.number(), third.size(), third.offset()),
            (3, 100, 200)
        );
        let first = PageRequest::parse("page", None, 100).unwrap();
        assert_eq!((first.number(), first.offset()), (1, 0));
        let last = PageRequest::parse("page", Some("1000000"), 1000).unwrap();
        assert_eq!(last.offset(), 999_999_000);
    }

    #[test]
    fn absurd_pages_are_refused_naming_the_field() {
        for raw in [
            "0",
            "18446744073709551615",
            "18446744073709551616",
            "1000001",
            "-1",
            "+1",
            "1.5",
            "",
            " 1",
            "abc",
            "\u{0661}",
        ] {
            let error = PageRequest::parse("page", Some(raw), 100).unwrap_err();
            assert_eq!(error.field, "page", "{raw:?}");
            assert!(
                error.message.starts_with("page: "),
                "{raw:?}: {}",
                error.message
            );
        }
    }

    #[test]
    fn an_offset_past_what_the_database_takes_is_refused() {
        let error = PageRequest::parse("page", Some("3"), u64::MAX / 2).unwrap_err();
        assert_eq!(error.field, "page");
        assert!(PageRequest::parse("page", Some("2"), i64::MAX as u64 + 1).is_err());
        assert!(PageRequest::parse("page", Some("2"), i64::MAX as u64).is_ok());
    }
}
