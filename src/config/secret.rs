//! Reading secret settings: whatever scalar a source hands over (a string, or a number or bool
//! a provider guessed from the text) is the secret's text, and a value that is no scalar is
//! refused without being quoted, so a secret can never appear in a configuration error.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A secret's text, from any scalar.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

/// The error for a value that is no scalar. Only its kind is named, never its content.
fn not_a_scalar<E: de::Error>(kind: &str) -> E {
    E::custom(format!(
        "expected a string, found {kind} (the value is a secret, so it is not shown)"
    ))
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(v))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Scalar, E> {
        String::from_utf8(v.to_vec())
            .map(Scalar)
            .map_err(|_| not_a_scalar("bytes that are not UTF-8"))
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Err(not_a_scalar("nothing"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Err(not_a_scalar("nothing"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Err(not_a_scalar("a list"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Err(not_a_scalar("a table"))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Err(not_a_scalar("an enum"))
    }
}

/// `stripe.secret_key`, `admin.token`: one secret, if set. Empty counts as unset, as a
/// compose file's `${VAR:-}` passes an unset variable on.
pub fn optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let Scalar(text) = Scalar::deserialize(deserializer)?;
    Ok((!text.trim().is_empty()).then(|| SecretString::from(text)))
}

/// `stripe.webhook_secrets`: `"a,b"` (an environment variable) or a list of scalars.
pub fn comma_separated<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SecretString>, D::Error> {
    struct Secrets;

    impl<'de> Visitor<'de> for Secrets {
        type Value = Vec<SecretString>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("comma-separated secrets or a list of them")
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut secrets = Vec::new();
            while let Some(Scalar(secret)) = seq.next_element()? {
                secrets.extend(split(&secret));
            }
            Ok(secrets)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(not_a_scalar("a table"))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(split(v))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_char<E: de::Error>(self, v: char) -> Result<Self::Value, E> {
            Ok(split(&v.to_string()))
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            ScalarVisitor.visit_bytes(v).map(|Scalar(s)| split(&s))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(not_a_scalar("an enum"))
        }
    }

    deserializer.deserialize_any(Secrets)
}

/// The non-empty, trimmed pieces between commas.
fn split(secrets: &str) -> Vec<SecretString> {
    secrets
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use secrecy::ExposeSecret as _;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Secrets {
        #[serde(default, deserialize_with = "super::optional")]
        token: Option<secrecy::SecretString>,
        #[serde(default, deserialize_with = "super::comma_separated")]
        list: Vec<secrecy::SecretString>,
    }

    fn read(figment: Figment) -> Result<Secrets, String> {
        figment.extract::<Secrets>().map_err(|e| e.to_string())
    }

    #[test]
    fn any_scalar_is_read_as_the_secrets_text() {
        let secrets = read(
            Figment::new()
                .merge(("token", 123_456_u64))
                .merge(("list", 987_654_i64)),
        )
        .expect("numbers are secrets too");
        assert_eq!(secrets.token.expect("set").expose_secret(), "123456");
        assert_eq!(secrets.list[0].expose_secret(), "987654");
        let secrets = read(
            Figment::new()
                .merge(("token", true))
                .merge(("list", vec!["a, b".to_owned(), "c".to_owned()])),
        )
        .expect("read");
        assert_eq!(secrets.token.expect("set").expose_secret(), "true");
        let list: Vec<&str> = secrets.list.iter().map(|s| s.expose_secret()).collect();
        assert_eq!(list, ["a", "b", "c"]);
        let none = read(Figment::new()).expect("read");
        assert!(none.token.is_none() && none.list.is_empty());
        let empty = read(Figment::new().merge(("token", " ")).merge(("list", ""))).expect("read");
        assert!(
            empty.token.is_none() && empty.list.is_empty(),
            "empty is unset"
        );
    }

    #[test]
    fn a_secret_that_is_no_scalar_is_refused_without_its_content() {
        for figment in [
            Figment::new().merge(("token", vec!["s3cr3t-one", "s3cr3t-two"])),
            Figment::new().merge(("token.s3cr3t-one", "s3cr3t-two")),
            Figment::new().merge(("list.s3cr3t-one", "s3cr3t-two")),
        ] {
            let error = read(figment).expect_err("refused");
            assert!(!error.contains("s3cr3t"), "{error}");
            assert!(error.contains("not shown"), "{error}");
        }
    }
}
