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

/// Segments one key may have. Stripe's deepest parameter
/// (`line_items[0][price_data][product_data][metadata][key]`) has six; the tree is built and
/// walked recursively, so a key nested thousands deep would overflow the stack and abort the
/// process.
const MAX_SEGMENTS: usize = 16;

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
        if path.len() == MAX_SEGMENTS {
            return Err(format!(
                "Invalid parameter name: {key} (nested more than {MAX_SEGMENTS} levels deep)"
            ));
        }
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

/// Properties over arbitrary input: the stand-in parses whatever a client sends.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A parameter tree as a client means it.
    #[derive(Clone, Debug)]
    enum Tree {
        Leaf(String),
        Obj(BTreeMap<String, Tree>),
        List(Vec<Tree>),
    }

    impl Tree {
        fn to_json(&self) -> Value {
            match self {
                Tree::Leaf(s) => Value::String(s.clone()),
                Tree::Obj(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
                }
                Tree::List(items) => Value::Array(items.iter().map(Tree::to_json).collect()),
            }
        }

        /// The form pairs for this subtree under `prefix`; lists of plain values use `[]` when
        /// `append` (the order of those pairs then matters).
        fn pairs(&self, prefix: &str, append: bool, out: &mut Vec<(String, String)>) {
            match self {
                Tree::Leaf(s) => out.push((prefix.to_owned(), s.clone())),
                Tree::Obj(map) => {
                    for (k, v) in map {
                        v.pairs(&format!("{prefix}[{k}]"), append, out);
                    }
                }
                Tree::List(items) => {
                    let leaves = items.iter().all(|i| matches!(i, Tree::Leaf(_)));
                    for (i, v) in items.iter().enumerate() {
                        let index = if append && leaves {
                            String::new()
                        } else {
                            i.to_string()
                        };
                        v.pairs(&format!("{prefix}[{index}]"), append, out);
                    }
                }
            }
        }
    }

    /// A field name: anything but brackets, and not all digits (digits are list indices).
    fn name() -> impl Strategy<Value = String> {
        "[^\\[\\]]{1,8}".prop_filter("digits name list items", |k| {
            !k.bytes().all(|b| b.is_ascii_digit())
        })
    }

    fn tree() -> impl Strategy<Value = BTreeMap<String, Tree>> {
        let leaf = any::<String>().prop_map(Tree::Leaf);
        let node = leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::btree_map(name(), inner.clone(), 1..4).prop_map(Tree::Obj),
                prop::collection::vec(inner, 1..12).prop_map(Tree::List),
            ]
        });
        prop::collection::btree_map(name(), node, 1..5)
    }

    /// A tree and its form pairs, shuffled unless `[]` appends (then their order matters).
    fn encoded_tree() -> impl Strategy<Value = (Value, Vec<(String, String)>)> {
        (tree(), any::<bool>()).prop_flat_map(|(root, append)| {
            let mut pairs = Vec::new();
            for (k, v) in &root {
                v.pairs(k, append, &mut pairs);
            }
            let expected = Tree::Obj(root).to_json();
            let pairs = if append {
                Just(pairs).boxed()
            } else {
                Just(pairs).prop_shuffle().boxed()
            };
            (Just(expected), pairs)
        })
    }

    fn encode(pairs: &[(String, String)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    /// Bodies that look like forms: bracket-heavy keys, separators, percent escapes.
    fn form_like() -> impl Strategy<Value = String> {
        "([a-z0-9\\[\\]]{0,12}(=[a-z0-9%\\[\\]+]{0,6})?&?){0,8}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any text parses to a tree or a named error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(body in prop_oneof![any::<String>(), form_like()]) {
            if let Err(message) = parse(&body) {
                prop_assert!(message.starts_with("Invalid parameter") || message.starts_with("Duplicate parameter"), "{}", message);
            }
        }

        /// Any bytes, percent-encoded or raw (lossily decoded, as a String body would be),
        /// never panic either.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
            let _ = parse(&escaped);
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        /// Keys nested arbitrarily deep are refused, not a stack overflow.
        #[test]
        fn deep_nesting_is_an_error_not_a_crash(
            depth in prop_oneof![0usize..40, 1_000usize..200_000],
            segment in prop_oneof![Just(String::new()), Just("0".to_owned()), "[a-z]{1,3}"],
        ) {
            let body = format!("a{}=1", format!("[{segment}]").repeat(depth));
            prop_assert_eq!(parse(&body).is_ok(), depth < MAX_SEGMENTS);
        }

        /// A tree encoded the way Stripe's clients encode it (`a[b][0]=…`, values and names
        /// percent-encoded, pairs in any order) parses back to the same tree.
        #[test]
        fn bracketed_keys_round_trip((expected, pairs) in encoded_tree()) {
            prop_assert_eq!(parse(&encode(&pairs)), Ok(expected));
        }
    }
}
