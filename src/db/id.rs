//! Row ids of the platform's tables. Their type is the platform's (SPEC §8): integer,
//! bigint, uuid or text, read from the catalog; an [`Id`] is the value, an [`IdKind`]
//! says how to read, validate and bind it.

use std::fmt;

use serde::{Serialize, Serializer};
use uuid::Uuid;

/// The type of an id column, as the catalog gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    Integer,
    BigInt,
    Uuid,
    Text,
}

/// The longest text id accepted from an operator.
pub const MAX_TEXT_ID_CHARS: usize = 200;

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Integer => "integer",
            IdKind::BigInt => "bigint",
            IdKind::Uuid => "uuid",
            IdKind::Text => "text",
        }
    }

    /// Reads an id as typed by a person or a script; `Err` says what was expected.
    pub fn parse(self, text: &str) -> Result<Id, String> {
        let text = text.trim();
        match self {
            IdKind::Integer => text
                .parse::<i32>()
                .map(|n| Id::Int(i64::from(n)))
                .map_err(|_| "an integer".to_string()),
            IdKind::BigInt => text
                .parse::<i64>()
                .map(Id::Int)
                .map_err(|_| "an integer".to_string()),
            IdKind::Uuid => Uuid::parse_str(text)
                .map(Id::from)
                .map_err(|_| "a uuid".to_string()),
            IdKind::Text => {
                if text.is_empty() {
                    Err("a non-empty text id".to_string())
                } else if text.chars().count() > MAX_TEXT_ID_CHARS {
                    Err(format!(
                        "a text id of at most {MAX_TEXT_ID_CHARS} characters"
                    ))
                } else if text.chars().any(char::is_control) {
                    Err("a text id without control characters".to_string())
                } else {
                    Ok(Id::Text(text.to_string()))
                }
            }
        }
    }

    /// True for ids that compare as numbers.
    pub fn is_integer(self) -> bool {
        matches!(self, IdKind::Integer | IdKind::BigInt)
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row's id. Uuids are kept in their lowercase hyphenated text form, so an id read
/// from PostgreSQL's `uuid` and from SQLite's `text` compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    Int(i64),
    Text(String),
}

impl Id {
    /// The id as a uuid, if it is one.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Id::Text(text) => Uuid::parse_str(text).ok(),
            Id::Int(_) => None,
        }
    }

    /// A new random id of the given kind; integers are not made here (the caller
    /// allocates them from the table).
    pub fn random_text() -> Id {
        Id::from(Uuid::new_v4())
    }

    /// True if `prefix` starts the id's text form (`:goto` by prefix).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.to_string().starts_with(prefix)
    }
}

impl From<Uuid> for Id {
    fn from(id: Uuid) -> Self {
        Id::Text(id.hyphenated().to_string())
    }
}

impl From<i64> for Id {
    fn from(id: i64) -> Self {
        Id::Int(id)
    }
}

impl From<&str> for Id {
    fn from(id: &str) -> Self {
        Id::Text(id.to_string())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Int(n) => write!(f, "{n}"),
            Id::Text(text) => f.write_str(text),
        }
    }
}

/// Integers as JSON numbers (the design notes' `"user_ids": [1, 5, 12]`), the rest as
/// strings.
impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Int(n) => serializer.serialize_i64(*n),
            Id::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Int(n) => Id::Int(n),
            Raw::Text(text) => Id::Text(text),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_by_their_column_type_and_say_what_was_expected() {
        assert_eq!(IdKind::Integer.parse(" 10 ").unwrap(), Id::Int(10));
        assert_eq!(
            IdKind::Integer.parse("3000000000").unwrap_err(),
            "an integer"
        );
        assert_eq!(
            IdKind::BigInt.parse("3000000000").unwrap(),
            Id::Int(3_000_000_000)
        );
        let u = Uuid::new_v4();
        assert_eq!(
            IdKind::Uuid.parse(&u.to_string().to_uppercase()).unwrap(),
            Id::from(u)
        );
        assert_eq!(IdKind::Uuid.parse("12").unwrap_err(), "a uuid");
        assert_eq!(IdKind::Text.parse("g-abc").unwrap(), Id::from("g-abc"));
        assert!(IdKind::Text.parse("").is_err());
        assert!(IdKind::Text.parse("a\u{1b}b").is_err());
        assert!(IdKind::Text.parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn integer_ids_serialise_as_numbers_and_the_rest_as_strings() {
        let json = serde_json::to_string(&vec![Id::Int(10), Id::from("g-1")]).unwrap();
        assert_eq!(json, r#"[10,"g-1"]"#);
        let back: Vec<Id> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![Id::Int(10), Id::from("g-1")]);
    }
}
