//! The label selector: parsing, matching and canonical text.

use std::fmt;

use serde_json::{Map, Value};

use super::parser;
use super::requirement::{Operator, Requirement};
use crate::SelectorError;

/// A parsed label selector (the `labelSelector` query string syntax of
/// kube-apiserver, or a `metav1.LabelSelector` object).
///
/// Requirements are ANDed. Two selectors match no requirement at all:
/// [`LabelSelector::everything`] (matches every object) and the "nothing"
/// selector a `null` `metav1.LabelSelector` converts to (matches none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h` (also `==`, `>`, `<`),
    /// validating keys and values like upstream `labels.Parse`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        parser::parse(s)
            .map(|requirements| LabelSelector {
                requirements,
                nothing: false,
            })
            .map_err(|message| SelectorError::LabelSelector { message })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches no object (a nil `metav1.LabelSelector`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Build from requirements already validated, sorting them by key.
    pub(crate) fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key().cmp(b.key()));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// A selector matching exactly the given `key: value` map, as upstream
    /// `SelectorFromSet` (used for ReplicationController and Service
    /// `spec.selector`): no validation, and an empty map selects everything.
    /// Non-string values are skipped.
    pub fn from_set(set: &Map<String, Value>) -> Self {
        let requirements = set
            .iter()
            .filter_map(|(k, v)| {
                v.as_str()
                    .map(|v| Requirement::unchecked(k, Operator::Equals, vec![v.to_string()]))
            })
            .collect();
        Self::from_requirements(requirements)
    }

    /// True when the selector does not restrict anything (not true for "nothing").
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches no object.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the labels (an object's `metadata.labels`, or `None`) match.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// If the selector pins `label` to one value (`=`, `==` or a one-value
    /// `in`), that value. Like upstream, only the first requirement on the
    /// key is consulted.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key() == label)?;
        match (r.operator(), r.values()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v.as_str()),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream `Selector.String()`: requirements joined by `,` (empty for
    /// both "everything" and "nothing").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
