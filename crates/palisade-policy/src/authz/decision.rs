//! What the engine answers: [`Decision`] (allow or deny, and which policies made it),
//! [`PolicySummary`] (what a loaded set holds) and [`PolicyError`] (why a set was
//! refused), plus the rendering of Cedar diagnostics into complete, located messages.

use cedar_policy::ffi::DetailedError;
use serde::Serialize;

/// The answer to one authorization question, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The determining policies: the permits that allowed, or the forbids that denied.
    /// Empty when nothing matched (default deny). Each is named by its `@id("...")`
    /// annotation, else by Cedar's generated id (`policy0`, `policy1`, ...). Sorted.
    pub policies: Vec<String>,
    /// Policies that failed to evaluate (they are skipped, as Cedar does), and any
    /// failure to build the request itself (which denies).
    pub errors: Vec<String>,
    /// The names of the policies in `errors`.
    pub failed: Vec<String>,
}

impl Decision {
    /// Whether to let the request through: allowed, and no policy failed to evaluate.
    /// Cedar skips a policy that errors, so an erroring `forbid` would not deny; callers
    /// fail closed on any error instead.
    pub fn permits(&self) -> bool {
        self.allowed && self.errors.is_empty()
    }

    /// The policies a refusal, a record or an explanation should name as deciding: the
    /// permits when it [`Decision::permits`]; the forbids that matched, when one did;
    /// otherwise the policies that failed to evaluate (a permit matched, but an erroring
    /// policy denied — naming the permit would blame the wrong one).
    pub fn deciding(&self) -> &[String] {
        if self.permits() || (!self.allowed && !self.policies.is_empty()) {
            &self.policies
        } else {
            &self.failed
        }
    }

    /// A deny that names no policy: used when the request itself could not be built.
    pub(crate) fn failed(error: String) -> Self {
        Decision {
            allowed: false,
            policies: Vec::new(),
            failed: Vec::new(),
            errors: vec![error],
        }
    }
}

/// What a policy set holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    /// Number of policies.
    pub policies: usize,
    /// Every policy's name (its `@id`, else Cedar's id), in source order.
    pub ids: Vec<String>,
    /// Validator warnings (the set is still accepted), rendered like errors.
    pub warnings: Vec<String>,
}

/// Why a policy set was refused. Each message is complete: every problem Cedar reports,
/// one per line, with its line and column in the source and the policy it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not Cedar.
    #[error("{0}")]
    Parse(String),
    /// The policies do not type-check against the Palisade schema (strict validation).
    #[error("{0}")]
    Validation(String),
    /// Two policies share a name (an `@id`, or an `@id` equal to a generated id).
    #[error("{0}")]
    DuplicateId(String),
    /// An `@id` annotation is empty.
    #[error("{0}")]
    InvalidId(String),
    /// Valid Cedar that Palisade does not accept (policy templates).
    #[error("{0}")]
    Unsupported(String),
    /// The embedded schema failed to load (a build defect, never the operator's input).
    #[error("the built-in Palisade schema failed to load: {0}")]
    Schema(String),
}

impl PolicyError {
    /// A stable short code for APIs: `parse`, `validation`, `duplicate_id`,
    /// `invalid_id`, `unsupported` or `schema`.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Parse(_) => "parse",
            PolicyError::Validation(_) => "validation",
            PolicyError::DuplicateId(_) => "duplicate_id",
            PolicyError::InvalidId(_) => "invalid_id",
            PolicyError::Unsupported(_) => "unsupported",
            PolicyError::Schema(_) => "schema",
        }
    }
}

/// 1-based line and column (in characters) of a byte offset in `source`.
pub(crate) fn position(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = source.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// One Cedar diagnostic as a single line: `line L, column C: message (label); help: ...`.
pub(crate) fn render<'a, E>(source: &str, err: &'a E) -> String
where
    DetailedError: From<&'a E>,
{
    render_detail(source, &DetailedError::from(err))
}

fn render_detail(source: &str, d: &DetailedError) -> String {
    let mut out = String::new();
    if let Some(first) = d.source_locations.first() {
        let (line, column) = position(source, first.loc.start);
        out.push_str(&format!("line {line}, column {column}: "));
    }
    out.push_str(&d.message);
    let labels: Vec<&str> = d
        .source_locations
        .iter()
        .filter_map(|l| l.label.as_deref())
        .filter(|l| !l.is_empty())
        .collect();
    if !labels.is_empty() {
        out.push_str(&format!(" ({})", labels.join("; ")));
    }
    if let Some(help) = d.help.as_deref().filter(|h| !h.is_empty()) {
        out.push_str("; help: ");
        out.push_str(help);
    }
    for related in &d.related {
        out.push_str("; ");
        out.push_str(&render_detail(source, related));
    }
    out
}

/// `"<headline> (N problems):\n  - first\n  - second"`.
pub(crate) fn report(headline: &str, problems: &[String]) -> String {
    let noun = if problems.len() == 1 {
        "problem"
    } else {
        "problems"
    };
    let mut out = format!("{headline} ({} {noun}):", problems.len());
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_char_columns() {
        let src = "ab\ncdé\nf";
        assert_eq!(position(src, 0), (1, 1));
        assert_eq!(position(src, 3), (2, 1));
        assert_eq!(position(src, 5), (2, 3));
        assert_eq!(position(src, 8), (3, 1));
        assert_eq!(position(src, 99), (3, 2));
    }

    #[test]
    fn reports_count_their_problems() {
        let one = report("policy set does not parse", &["x".into()]);
        assert_eq!(one, "policy set does not parse (1 problem):\n  - x");
        let two = report("h", &["a".into(), "b".into()]);
        assert_eq!(two, "h (2 problems):\n  - a\n  - b");
    }
}
