//! Which parameters each stand-in endpoint accepts, and their types, so that a request Stripe
//! would refuse (an unknown parameter, a bad integer, a value outside an enum) is refused here too
//! with Stripe's `invalid_request_error`.

use serde_json::Value;

use super::catalogue::{API_VERSIONS, EVENT_TYPES};

/// The shape of one parameter.
pub enum Spec {
    Str,
    Int,
    /// An integer within these bounds (inclusive).
    IntIn(i64, i64),
    Bool,
    /// String keys to string values (`metadata`), within Stripe's metadata limits.
    Map,
    Enum(&'static [&'static str]),
    List(&'static Spec),
    /// A list of at most this many items.
    ListUpTo(usize, &'static Spec),
    /// A timestamp filter: an integer, or `[gt]`, `[gte]`, `[lt]`, `[lte]` integers.
    Range,
    Obj(&'static [(&'static str, Spec)]),
}

/// Stripe's metadata limits: keys per object, characters per key and per value.
const METADATA_KEYS: usize = 50;
const METADATA_KEY_CHARS: usize = 40;
const METADATA_VALUE_CHARS: usize = 500;

const RANGE_BOUNDS: Spec = Spec::Obj(&[
    ("gt", Spec::Int),
    ("gte", Spec::Int),
    ("lt", Spec::Int),
    ("lte", Spec::Int),
]);

/// A parameter Stripe would refuse: the message and the parameter's bracket name.
#[derive(Debug)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
    pub param: String,
}

impl Spec {
    /// Checks `value` (from the form parser) against this spec; `name` is the bracket path so far.
    pub fn check(&self, value: &Value, name: &str) -> Result<(), Invalid> {
        let invalid = |code: &'static str, message: String| Invalid {
            code,
            message,
            param: name.to_owned(),
        };
        match (self, value) {
            (Spec::Str, Value::String(_)) => Ok(()),
            (Spec::Int, Value::String(s)) => s
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| invalid("parameter_invalid_integer", format!("Invalid integer: {s}"))),
            (Spec::IntIn(low, high), Value::String(s)) => {
                Spec::Int.check(value, name)?;
                match s.parse::<i64>() {
                    Ok(n) if n < *low => Err(invalid(
                        "parameter_invalid_integer",
                        format!("This value must be greater than or equal to {low}."),
                    )),
                    Ok(n) if n > *high => Err(invalid(
                        "parameter_invalid_integer",
                        format!("This value must be less than or equal to {high}."),
                    )),
                    _ => Ok(()),
                }
            }
            (Spec::Range, Value::String(_)) => Spec::Int.check(value, name),
            (Spec::Range, Value::Object(_)) => RANGE_BOUNDS.check(value, name),
            (Spec::Bool, Value::String(s)) => match s.as_str() {
                "true" | "false" => Ok(()),
                _ => Err(invalid(
                    "parameter_invalid_boolean",
                    format!("Invalid boolean: {s}"),
                )),
            },
            (Spec::Enum(options), Value::String(s)) => {
                if options.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(invalid(
                        "parameter_invalid_string",
                        format!("Invalid {name}: must be one of {}", options.join(", ")),
                    ))
                }
            }
            (Spec::Map, Value::Object(map)) => {
                if map.len() > METADATA_KEYS {
                    return Err(invalid(
                        "parameter_invalid",
                        format!(
                            "Invalid {name}: it can have at most {METADATA_KEYS} keys, not {}.",
                            map.len()
                        ),
                    ));
                }
                for (key, value) in map {
                    let Value::String(value) = value else {
                        return Err(invalid(
                            "parameter_invalid",
                            format!(
                                "Invalid value for {name}[{key}]: metadata values must be strings"
                            ),
                        ));
                    };
                    if key.chars().count() > METADATA_KEY_CHARS {
                        return Err(invalid(
                            "parameter_invalid",
                            format!(
                                "Invalid {name}: keys can be at most {METADATA_KEY_CHARS} characters long ({key} is longer)."
                            ),
                        ));
                    }
                    if value.chars().count() > METADATA_VALUE_CHARS {
                        return Err(Invalid {
                            code: "parameter_invalid",
                            message: format!(
                                "Invalid {name}[{key}]: values can be at most {METADATA_VALUE_CHARS} characters long."
                            ),
                            param: format!("{name}[{key}]"),
                        });
                    }
                }
                Ok(())
            }
            // `metadata=` (empty) clears metadata at Stripe.
            (Spec::Map, Value::String(s)) if s.is_empty() => Ok(()),
            // An empty value unsets a parameter at Stripe; a list cannot be unset.
            (Spec::List(_) | Spec::ListUpTo(..), Value::String(s)) if s.is_empty() => {
                Err(invalid("parameter_invalid_empty", empty_message(name)))
            }
            (Spec::List(item), Value::Array(items)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| item.check(v, &format!("{name}[{i}]"))),
            (Spec::ListUpTo(most, item), Value::Array(items)) => {
                if items.len() > *most {
                    return Err(invalid(
                        "parameter_invalid",
                        format!(
                            "You may only specify up to {most} {name}; {} were given.",
                            items.len()
                        ),
                    ));
                }
                Spec::List(item).check(value, name)
            }
            (Spec::Obj(fields), Value::Object(map)) => {
                for (key, value) in map {
                    let child = if name.is_empty() {
                        key.clone()
                    } else {
                        format!("{name}[{key}]")
                    };
                    match fields.iter().find(|(field, _)| field == key) {
                        Some((_, spec)) => spec.check(value, &child)?,
                        None => {
                            return Err(Invalid {
                                code: "parameter_unknown",
                                message: format!("Received unknown parameter: {child}"),
                                param: child,
                            });
                        }
                    }
                }
                Ok(())
            }
            _ => Err(invalid(
                "parameter_invalid",
                format!("Invalid value for {name}: wrong type"),
            )),
        }
    }
}

/// Stripe's answer to an empty value for a parameter that cannot be unset.
pub fn empty_message(name: &str) -> String {
    format!(
        "You passed an empty string for '{name}'. We assume empty values are an attempt to unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or supply a non-empty value."
    )
}

const METADATA: (&str, Spec) = ("metadata", Spec::Map);
const EXPAND: (&str, Spec) = ("expand", Spec::List(&Spec::Str));

const PRODUCT_DATA: Spec = Spec::Obj(&[
    ("name", Spec::Str),
    ("description", Spec::Str),
    ("tax_code", Spec::Str),
    ("unit_label", Spec::Str),
    ("images", Spec::List(&Spec::Str)),
    METADATA,
]);

const RECURRING: Spec = Spec::Obj(&[
    ("interval", Spec::Enum(&["day", "week", "month", "year"])),
    ("interval_count", Spec::Int),
]);

const TAX_BEHAVIOR: Spec = Spec::Enum(&["inclusive", "exclusive", "unspecified"]);

const PRICE_DATA: Spec = Spec::Obj(&[
    ("currency", Spec::Str),
    ("product", Spec::Str),
    ("product_data", PRODUCT_DATA),
    ("unit_amount", Spec::Int),
    ("unit_amount_decimal", Spec::Str),
    ("recurring", RECURRING),
    ("tax_behavior", TAX_BEHAVIOR),
]);

const LINE_ITEM: Spec = Spec::Obj(&[
    ("price", Spec::Str),
    ("price_data", PRICE_DATA),
    ("quantity", Spec::Int),
    (
        "adjustable_quantity",
        Spec::Obj(&[
            ("enabled", Spec::Bool),
            ("maximum", Spec::Int),
            ("minimum", Spec::Int),
        ]),
    ),
]);

const AFTER_COMPLETION: Spec = Spec::Obj(&[
    ("type", Spec::Enum(&["redirect", "hosted_confirmation"])),
    ("redirect", Spec::Obj(&[("url", Spec::Str)])),
    (
        "hosted_confirmation",
        Spec::Obj(&[("custom_message", Spec::Str)]),
    ),
]);

const PAYMENT_INTENT_DATA: Spec = Spec::Obj(&[
    (
        "capture_method",
        Spec::Enum(&["automatic", "automatic_async", "manual"]),
    ),
    ("description", Spec::Str),
    METADATA,
    (
        "setup_future_usage",
        Spec::Enum(&["on_session", "off_session"]),
    ),
    ("statement_descriptor", Spec::Str),
    ("statement_descriptor_suffix", Spec::Str),
    ("transfer_group", Spec::Str),
]);

const RESTRICTIONS: Spec = Spec::Obj(&[(
    "completed_sessions",
    Spec::Obj(&[("limit", Spec::IntIn(1, i64::MAX))]),
)]);

/// Line items per Payment Link.
const MAX_LINE_ITEMS: usize = 20;

/// `POST /v1/products`.
pub const CREATE_PRODUCT: Spec = Spec::Obj(&[
    ("name", Spec::Str),
    ("description", Spec::Str),
    ("active", Spec::Bool),
    ("id", Spec::Str),
    ("tax_code", Spec::Str),
    ("unit_label", Spec::Str),
    ("url", Spec::Str),
    ("images", Spec::List(&Spec::Str)),
    METADATA,
    EXPAND,
]);

/// `POST /v1/prices`.
pub const CREATE_PRICE: Spec = Spec::Obj(&[
    ("currency", Spec::Str),
    ("product", Spec::Str),
    ("product_data", PRODUCT_DATA),
    ("unit_amount", Spec::Int),
    ("unit_amount_decimal", Spec::Str),
    ("recurring", RECURRING),
    ("tax_behavior", TAX_BEHAVIOR),
    ("active", Spec::Bool),
    ("nickname", Spec::Str),
    ("lookup_key", Spec::Str),
    METADATA,
    EXPAND,
]);

/// `POST /v1/payment_links`.
pub const CREATE_PAYMENT_LINK: Spec = Spec::Obj(&[
    ("line_items", Spec::ListUpTo(MAX_LINE_ITEMS, &LINE_ITEM)),
    METADATA,
    ("payment_intent_data", PAYMENT_INTENT_DATA),
    ("after_completion", AFTER_COMPLETION),
    ("restrictions", RESTRICTIONS),
    ("inactive_message", Spec::Str),
    ("currency", Spec::Str),
    ("allow_promotion_codes", Spec::Bool),
    (
        "billing_address_collection",
        Spec::Enum(&["auto", "required"]),
    ),
    ("customer_creation", Spec::Enum(&["always", "if_required"])),
    (
        "submit_type",
        Spec::Enum(&["auto", "book", "donate", "pay", "subscribe"]),
    ),
    ("payment_method_types", Spec::List(&Spec::Str)),
    EXPAND,
]);

/// `POST /v1/payment_links/{id}`.
pub const UPDATE_PAYMENT_LINK: Spec = Spec::Obj(&[
    ("active", Spec::Bool),
    METADATA,
    ("payment_intent_data", PAYMENT_INTENT_DATA),
    ("after_completion", AFTER_COMPLETION),
    ("restrictions", RESTRICTIONS),
    ("inactive_message", Spec::Str),
    ("allow_promotion_codes", Spec::Bool),
    EXPAND,
]);

/// `limit` of every list endpoint: 1 to 100 objects a page.
const LIMIT: (&str, Spec) = ("limit", Spec::IntIn(1, 100));
const STARTING_AFTER: (&str, Spec) = ("starting_after", Spec::Str);
const ENDING_BEFORE: (&str, Spec) = ("ending_before", Spec::Str);

/// Query of `GET /v1/payment_links` and of list endpoints in general.
pub const LIST: Spec = Spec::Obj(&[
    LIMIT,
    STARTING_AFTER,
    ENDING_BEFORE,
    ("active", Spec::Bool),
    EXPAND,
]);

/// Query of `GET /v1/checkout/sessions`.
pub const LIST_SESSIONS: Spec = Spec::Obj(&[
    LIMIT,
    STARTING_AFTER,
    ENDING_BEFORE,
    ("created", Spec::Range),
    ("customer", Spec::Str),
    ("payment_intent", Spec::Str),
    ("payment_link", Spec::Str),
    ("status", Spec::Enum(&["complete", "expired", "open"])),
    EXPAND,
]);

/// Query of `GET /v1/events`.
pub const LIST_EVENTS: Spec = Spec::Obj(&[
    LIMIT,
    STARTING_AFTER,
    ENDING_BEFORE,
    ("created", Spec::Range),
    ("delivery_success", Spec::Bool),
    ("type", Spec::Str),
    ("types", Spec::ListUpTo(20, &Spec::Str)),
    EXPAND,
]);

/// `enabled_events[]` of a webhook endpoint: `*` or event types Stripe knows.
const ENABLED_EVENTS: (&str, Spec) = ("enabled_events", Spec::List(&Spec::Enum(EVENT_TYPES)));

/// `POST /v1/webhook_endpoints`.
pub const CREATE_WEBHOOK_ENDPOINT: Spec = Spec::Obj(&[
    ("url", Spec::Str),
    ENABLED_EVENTS,
    ("api_version", Spec::Enum(API_VERSIONS)),
    ("connect", Spec::Bool),
    ("description", Spec::Str),
    METADATA,
    EXPAND,
]);

/// `POST /v1/webhook_endpoints/{id}`.
pub const UPDATE_WEBHOOK_ENDPOINT: Spec = Spec::Obj(&[
    ("url", Spec::Str),
    ENABLED_EVENTS,
    ("disabled", Spec::Bool),
    ("description", Spec::Str),
    METADATA,
    EXPAND,
]);

/// Query of `GET /v1/webhook_endpoints`: the cursors and nothing to filter by.
pub const LIST_WEBHOOK_ENDPOINTS: Spec = Spec::Obj(&[LIMIT, STARTING_AFTER, ENDING_BEFORE, EXPAND]);

/// Delete endpoints take no parameters.
pub const NONE: Spec = Spec::Obj(&[]);

/// Query of retrieve endpoints.
pub const RETRIEVE: Spec = Spec::Obj(&[EXPAND]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form;

    #[test]
    fn unknown_parameters_are_named() {
        let body = form::parse(
            "line_items[0][price]=price_1&line_items[0][quantity]=1&line_items[0][colour]=red",
        )
        .unwrap();
        let err = CREATE_PAYMENT_LINK.check(&body, "").unwrap_err();
        assert_eq!(err.code, "parameter_unknown");
        assert_eq!(err.param, "line_items[0][colour]");
    }

    #[test]
    fn bad_integers_and_enums_are_refused() {
        let body = form::parse("line_items[0][quantity]=one").unwrap();
        assert_eq!(
            CREATE_PAYMENT_LINK.check(&body, "").unwrap_err().code,
            "parameter_invalid_integer"
        );
        let body = form::parse("payment_intent_data[setup_future_usage]=sometimes").unwrap();
        assert_eq!(
            CREATE_PAYMENT_LINK.check(&body, "").unwrap_err().param,
            "payment_intent_data[setup_future_usage]"
        );
    }

    #[test]
    fn webhook_endpoints_take_stripes_event_types_and_versions_only() {
        let ok = form::parse(
            "url=https://x.test&enabled_events[]=*&enabled_events[]=checkout.session.completed&api_version=2024-06-20",
        )
        .unwrap();
        CREATE_WEBHOOK_ENDPOINT.check(&ok, "").unwrap();
        let unknown = form::parse("enabled_events[]=checkout.session.paid").unwrap();
        let err = CREATE_WEBHOOK_ENDPOINT.check(&unknown, "").unwrap_err();
        assert_eq!(err.param, "enabled_events[0]");
        let empty = form::parse("enabled_events=").unwrap();
        let err = UPDATE_WEBHOOK_ENDPOINT.check(&empty, "").unwrap_err();
        assert_eq!(
            (err.code, err.param.as_str()),
            ("parameter_invalid_empty", "enabled_events")
        );
    }
}
