//! Typed ids for what the jobs and the core's entry points pass around, so that an order's id
//! cannot go where a Payment Link's is expected. On the wire (the queue's JSON, the API) each is
//! the plain string it wraps.

use serde::{Deserialize, Serialize};

/// Whether `key` could name a row: ids, tokens and refs are short and never hold NUL, which
/// PostgreSQL refuses in text outright (a lookup with one fails instead of finding nothing).
/// Finders answer "not found" for anything else without asking the database.
pub fn could_be_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && !key.contains('\0')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `value` as an id, if it could name a stored row (not empty, at most 255 bytes,
            /// no NUL); anything else names nothing, and the caller answers "not found".
            pub fn parse(value: &str) -> Option<Self> {
                could_be_key(value).then(|| Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Ids read back from the database (or Stripe) are taken as they are.
        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An order's id (`ord_…`).
    OrderId
);
id_type!(
    /// A Stripe Payment Link's id (`plink_…`).
    PaymentLinkId
);
id_type!(
    /// A Stripe event's id (`evt_…`), which is also our dedupe key.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_what_could_be_stored_and_travel_as_plain_strings() {
        assert_eq!(
            OrderId::parse("ord_1").map(|i| i.to_string()),
            Some("ord_1".into())
        );
        assert_eq!(OrderId::parse(""), None);
        assert_eq!(OrderId::parse("a\0b"), None);
        assert_eq!(OrderId::parse(&"x".repeat(256)), None);
        let id = PaymentLinkId::from("plink_1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"plink_1\"");
        let back: EventId = serde_json::from_str("\"evt_1\"").unwrap();
        assert_eq!(back.as_str(), "evt_1");
    }
}
