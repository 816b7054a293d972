//! Stripe's form encoding with brackets, parsed on its own (the stand-in shares no code with
//! paylink's Stripe client): `line_items[0][price_data][unit_amount]=500` becomes
//! `{"line_items": [{"price_data": {"unit_amount": "500"}}]}`. Values stay strings; the
//! parameter specs decide their types.

use serde_json::{Map, Value};

/// Parses an `application/x-www-form-urlencoded` body (or query string) into a tree.
/// Errors name the offending key, as Stripe's `parameter_invalid` messages do.
pub fn parse(body: &str) -> Result<Value, String> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        let path = split_key(&key)?;
        insert(&mut root, &path, value.into_owned(), &key)?;
    }
    Ok(normalize(root))
}

/// `a[b][0][]` → ["a", "b", "0", ""].
fn split_key(key: &str) -> Result<Vec<String>, String> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(format!("Invalid parameter name: {key}"));
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let close = rest
            .find(']')
            .filter(|_| rest.starts_with('['))
            .ok_or_else(|| format!("Invalid parameter name: {key}"))?;
        path.push(rest[1..close].to_owned());
        rest = &rest[close + 1..];
    }
    Ok(path)
}

fn insert(node: &mut Value, path: &[String], value: String, key: &str) -> Result<(), String> {
    let Value::Object(map) = node else {
        return Err(format!(
            "Invalid parameter: {key} mixes a value and nested fields"
        ));
    };
    let (first, rest) = path.split_first().ok_or_else(|| key.to_owned())?;
    // `expand[]=a&expand[]=b`: an empty segment appends, so give it the next free index.
    let segment = if first.is_empty() {
        map.len().to_string()
    } else {
        first.clone()
    };
    if rest.is_empty() {
        if map.contains_key(&segment) {
            return Err(format!("Duplicate parameter: {key}"));
        }
        map.insert(segment, Value::String(value));
        return Ok(());
    }
    let child = map
        .entry(segment)
        .or_insert_with(|| Value::Object(Map::new()));
    insert(child, rest, value, key)
}

/// Objects whose keys are all 0..n become arrays, in index order.
fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_list =
                !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
            if is_list {
                let mut map = map;
                Value::Array(
                    (0..map.len())
                        .map(|i| normalize(map.remove(&i.to_string()).unwrap_or(Value::Null)))
                        .collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_brackets_become_objects_and_arrays() {
        let body = "line_items[0][price_data][unit_amount]=500&line_items[0][quantity]=1\
                    &metadata[order_id]=ord_1&expand[]=a&expand[]=b&inactive_message=Paid+already";
        assert_eq!(
            parse(body).unwrap(),
            json!({
                "line_items": [{"price_data": {"unit_amount": "500"}, "quantity": "1"}],
                "metadata": {"order_id": "ord_1"},
                "expand": ["a", "b"],
                "inactive_message": "Paid already"
            })
        );
    }

    #[test]
    fn malformed_keys_are_errors_not_panics() {
        assert!(parse("a[b=1").is_err());
        assert!(parse("[x]=1").is_err());
        assert!(parse("a=1&a[b]=2").is_err());
        assert!(parse("a=1&a=2").is_err());
    }
}
