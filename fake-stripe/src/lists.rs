//! Stripe's list endpoints: newest first, `limit` objects a page (10 unless asked), and cursors
//! by object id (`starting_after` the last id of a page for the next one, `ending_before` the
//! first id for the previous one), with `has_more` saying whether the list goes on that way.

use serde_json::Value;

use super::error::StripeError;
use super::objects;

/// Objects a page when the request names no `limit`.
const DEFAULT_LIMIT: usize = 10;

/// One page of a list object at `url`. `stored` holds every object of the kind, oldest first;
/// `keep` filters them. A cursor must name a stored object (of kind `kind`, for the error), even
/// one the filter leaves out: Stripe pages by position, not by the filter.
pub fn page<'a>(
    url: &str,
    kind: &str,
    stored: impl Iterator<Item = &'a Value>,
    p: &Value,
    keep: impl Fn(&Value) -> bool,
) -> Result<Value, StripeError> {
    // `limit` was checked against 1..=100 by the endpoint's spec.
    let limit = p["limit"]
        .as_str()
        .and_then(|l| l.parse().ok())
        .unwrap_or(DEFAULT_LIMIT);
    let stored: Vec<&Value> = stored.collect();
    let position = |param: &str, id: &str| {
        stored
            .iter()
            .position(|o| o["id"] == id)
            .ok_or_else(|| StripeError::no_such(kind, id, param))
    };
    let (data, has_more) = match (p["starting_after"].as_str(), p["ending_before"].as_str()) {
        (Some(_), Some(_)) => {
            return Err(StripeError::one_of(&["starting_after", "ending_before"]));
        }
        (Some(after), None) => {
            // Older than the cursor, newest first.
            let older = &stored[..position("starting_after", after)?];
            take(older.iter().rev().copied(), &keep, limit)
        }
        (None, Some(before)) => {
            // Newer than the cursor: the `limit` nearest to it, then newest first.
            let newer = &stored[position("ending_before", before)? + 1..];
            let (mut data, has_more) = take(newer.iter().copied(), &keep, limit);
            data.reverse();
            (data, has_more)
        }
        (None, None) => take(stored.iter().rev().copied(), &keep, limit),
    };
    Ok(objects::list(url, data, has_more))
}

/// The first `limit` objects `keep` accepts, and whether there were more.
fn take<'a>(
    objects: impl Iterator<Item = &'a Value>,
    keep: &impl Fn(&Value) -> bool,
    limit: usize,
) -> (Vec<Value>, bool) {
    let mut kept = objects.filter(|o| keep(o));
    let data: Vec<Value> = kept.by_ref().take(limit).cloned().collect();
    let has_more = kept.next().is_some();
    (data, has_more)
}

/// Whether `created` meets a `created` filter: an exact timestamp or `gt`/`gte`/`lt`/`lte`
/// bounds (already checked to be integers by the endpoint's spec).
pub fn created_matches(filter: &Value, created: i64) -> bool {
    let bound = |key: &str| filter[key].as_str().and_then(|v| v.parse::<i64>().ok());
    match filter {
        Value::Null => true,
        Value::String(exact) => exact.parse::<i64>().is_ok_and(|t| t == created),
        _ => {
            bound("gt").is_none_or(|t| created > t)
                && bound("gte").is_none_or(|t| created >= t)
                && bound("lt").is_none_or(|t| created < t)
                && bound("lte").is_none_or(|t| created <= t)
        }
    }
}

/// Whether `object[field]` equals the string parameter `p[field]`, or the parameter is absent.
pub fn field_matches(p: &Value, object: &Value, field: &str) -> bool {
    p[field]
        .as_str()
        .is_none_or(|wanted| object[field] == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(list: &Value) -> Vec<&str> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_run_newest_first_both_ways() {
        let stored: Vec<Value> = (1..=5).map(|i| json!({"id": format!("o{i}")})).collect();
        let all = |_: &Value| true;
        let first = page("/v1/x", "x", stored.iter(), &json!({"limit": "2"}), all).unwrap();
        assert_eq!(ids(&first), ["o5", "o4"]);
        assert_eq!(first["has_more"], true);
        let next = json!({"limit": "2", "starting_after": "o4"});
        let second = page("/v1/x", "x", stored.iter(), &next, all).unwrap();
        assert_eq!(ids(&second), ["o3", "o2"]);
        let back = json!({"limit": "2", "ending_before": "o3"});
        let previous = page("/v1/x", "x", stored.iter(), &back, all).unwrap();
        assert_eq!(ids(&previous), ["o5", "o4"]);
        assert_eq!(previous["has_more"], false);
        let missing = json!({"starting_after": "o9"});
        let error = page("/v1/x", "x", stored.iter(), &missing, all).unwrap_err();
        assert_eq!(error.body["error"]["param"], "starting_after");
    }

    #[test]
    fn created_filters_take_exact_values_and_bounds() {
        assert!(created_matches(&Value::Null, 5));
        assert!(created_matches(&json!("5"), 5));
        assert!(!created_matches(&json!("4"), 5));
        assert!(created_matches(&json!({"gt": "4", "lte": "5"}), 5));
        assert!(!created_matches(&json!({"lt": "5"}), 5));
    }
}
