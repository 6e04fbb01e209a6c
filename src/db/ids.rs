//! Validation of what a request names: target ids and the operator's reason.

use std::collections::HashSet;

use super::{DataError, Id, IdKind};

/// One request acts on at most this many targets (SPEC §4.3).
pub const MAX_TARGETS: usize = 100;
/// The longest reason an operator may give, in characters.
pub const MAX_REASON_CHARS: usize = 512;

/// A non-empty list of at most [`MAX_TARGETS`] distinct ids, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct TargetIds(Vec<Id>);

impl TargetIds {
    pub fn new(ids: Vec<Id>) -> Result<Self, DataError> {
        if ids.is_empty() {
            return Err(DataError::invalid("no ids given"));
        }
        if ids.len() > MAX_TARGETS {
            return Err(DataError::invalid(format!(
                "{} ids given; one request takes at most {MAX_TARGETS}",
                ids.len()
            )));
        }
        let mut seen = HashSet::with_capacity(ids.len());
        for id in &ids {
            if !seen.insert(id) {
                return Err(DataError::invalid(format!("id {id} is given twice")));
            }
        }
        Ok(TargetIds(ids))
    }

    pub fn one(id: Id) -> Self {
        TargetIds(vec![id])
    }

    /// Parses ids as typed by a person or a script, for a column of type `kind`; every
    /// malformed one is named.
    pub fn parse<S: AsRef<str>>(texts: &[S], kind: IdKind) -> Result<Self, DataError> {
        let ids = parse_ids(texts, kind)?;
        TargetIds::new(ids)
    }

    pub fn as_slice(&self) -> &[Id] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses ids for a column of type `kind`, reporting every malformed one at once.
pub fn parse_ids<S: AsRef<str>>(texts: &[S], kind: IdKind) -> Result<Vec<Id>, DataError> {
    let mut ids = Vec::with_capacity(texts.len());
    let mut bad = Vec::new();
    let mut expected = String::new();
    for text in texts {
        let text = text.as_ref().trim();
        match kind.parse(text) {
            Ok(id) => ids.push(id),
            Err(what) => {
                expected = what;
                bad.push(shorten(text));
            }
        }
    }
    if !bad.is_empty() {
        return Err(DataError::invalid(format!(
            "malformed id{} (expected {expected}): {}",
            if bad.len() == 1 { "" } else { "s" },
            bad.join(", ")
        )));
    }
    Ok(ids)
}

/// Quotes a bad value for an error message without echoing control bytes or megabytes.
fn shorten(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(40)
        .collect();
    if text.chars().count() > 40 {
        format!("'{clean}…'")
    } else {
        format!("'{clean}'")
    }
}

/// The operator's optional reason for a change, trimmed, at most [`MAX_REASON_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    /// `None` for no reason or only white space.
    pub fn new(text: Option<&str>) -> Result<Option<Reason>, DataError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let chars = text.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(DataError::invalid(format!(
                "the reason is {chars} characters; at most {MAX_REASON_CHARS} are allowed"
            )));
        }
        Ok(Some(Reason(text.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn target_ids_refuse_empty_oversized_and_duplicate_lists() {
        assert!(matches!(TargetIds::new(vec![]), Err(DataError::Invalid(_))));
        let many: Vec<Id> = (0..101).map(Id::Int).collect();
        let err = TargetIds::new(many.clone()).unwrap_err().to_string();
        assert!(err.contains("101 ids given"), "{err}");
        assert!(TargetIds::new(many[..100].to_vec()).is_ok());
        let id = Id::Int(7);
        let err = TargetIds::new(vec![id.clone(), id])
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn malformed_ids_are_all_named_without_control_bytes() {
        let uuid = uuid::Uuid::new_v4().to_string();
        let err = TargetIds::parse(&["12", "\x1b]0;pwn\x07", &uuid], IdKind::Uuid)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'12'") && err.contains("expected a uuid"),
            "{err}"
        );
        let err = TargetIds::parse(&["10", "x"], IdKind::Integer)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'x'") && err.contains("expected an integer"),
            "{err}"
        );
        assert!(!err.contains('\x1b'), "{err}");
    }

    #[test]
    fn reasons_are_trimmed_and_limited_to_512_characters() {
        assert_eq!(Reason::new(Some("   ")).unwrap(), None);
        assert_eq!(Reason::new(None).unwrap(), None);
        assert_eq!(
            Reason::new(Some(" spam ")).unwrap().unwrap().as_str(),
            "spam"
        );
        assert!(Reason::new(Some(&"é".repeat(512))).unwrap().is_some());
        assert!(matches!(
            Reason::new(Some(&"é".repeat(513))),
            Err(DataError::Invalid(_))
        ));
    }
}
