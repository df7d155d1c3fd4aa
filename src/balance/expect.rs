//! What a balance test expects of one stat ([`Expect`]): read from a TOML value, checked
//! against a value, and written back as the text a designer would write.

/// The expectation of one stat's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// A number: the same double (`==`, so `0` and `-0` are equal). The shortest text that
    /// `actorc run` prints reads back as the same double, so it can be copied.
    Exact(f64),
    /// `{ value = V, tolerance = T }`: within `T` of `V`, inclusive.
    Near { value: f64, tolerance: f64 },
    /// `"between A and B"`: from `A` to `B`, both included.
    Between(f64, f64),
    /// `"at least A"`.
    AtLeast(f64),
    /// `"at most B"`.
    AtMost(f64),
    /// `"absent"`: the stat has no value (no contribution, formula or default).
    Absent,
}

/// What the forms are, for messages.
pub const FORMS: &str = "an expectation is a number, `{ value = V, tolerance = T }`, or text: `between A and B`, `at least A`, `at most B` or `absent`";

impl Expect {
    /// Whether `got` (the stat's value, `None` when it has none) meets the expectation.
    pub fn holds(&self, got: Option<f64>) -> bool {
        let Some(v) = got else { return *self == Expect::Absent };
        match *self {
            Expect::Exact(x) => v == x,
            Expect::Near { value, tolerance } => (v - value).abs() <= tolerance,
            Expect::Between(lo, hi) => lo <= v && v <= hi,
            Expect::AtLeast(lo) => v >= lo,
            Expect::AtMost(hi) => v <= hi,
            Expect::Absent => false,
        }
    }

    /// The expectation from its TOML value, or what is wrong with it.
    pub fn from_toml(value: &toml::Value) -> Result<Expect, String> {
        match value {
            toml::Value::Integer(_) | toml::Value::Float(_) => number(value, "the expected value").map(Expect::Exact),
            toml::Value::String(text) => from_text(text),
            toml::Value::Table(t) => {
                if let Some(k) = t.keys().find(|k| !matches!(k.as_str(), "value" | "tolerance")) {
                    let hint = crate::diag::did_you_mean_suffix(crate::diag::did_you_mean(k, ["value", "tolerance"]));
                    return Err(format!(
                        "unknown key `{k}` in an expectation{hint}: a table is `{{ value = V, tolerance = T }}`"
                    ));
                }
                let field = |k: &str| t.get(k).ok_or_else(|| format!("an expectation table needs `{k}`"));
                let value = number(field("value")?, "`value`")?;
                let tolerance = number(field("tolerance")?, "`tolerance`")?;
                if tolerance < 0.0 {
                    return Err(format!("the tolerance {tolerance} is negative"));
                }
                Ok(Expect::Near { value, tolerance })
            }
            _ => Err(format!("a {} is no expectation", value.type_str())),
        }
    }
}

/// A finite number (an integer becomes the nearest double).
fn number(value: &toml::Value, what: &str) -> Result<f64, String> {
    let v = match value {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        other => return Err(format!("{what} must be a number, not a {}", other.type_str())),
    };
    if v.is_finite() { Ok(v) } else { Err(format!("{what} must be a finite number, not {v}")) }
}

/// `between A and B`, `at least A`, `at most B` or `absent`.
fn from_text(text: &str) -> Result<Expect, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let num = |w: &str| match w.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{w}` is not a finite number (in \"{text}\")")),
    };
    match words[..] {
        ["between", a, "and", b] => {
            let (lo, hi) = (num(a)?, num(b)?);
            if lo > hi {
                return Err(format!("empty range: {lo} is greater than {hi}"));
            }
            Ok(Expect::Between(lo, hi))
        }
        ["at", "least", a] => Ok(Expect::AtLeast(num(a)?)),
        ["at", "most", b] => Ok(Expect::AtMost(num(b)?)),
        ["absent"] => Ok(Expect::Absent),
        _ => Err(format!("cannot read \"{}\"", text.escape_debug())),
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Exact(v) => write!(f, "{v}"),
            Expect::Near { value, tolerance } => write!(f, "{value} ± {tolerance}"),
            Expect::Between(lo, hi) => write!(f, "between {lo} and {hi}"),
            Expect::AtLeast(lo) => write!(f, "at least {lo}"),
            Expect::AtMost(hi) => write!(f, "at most {hi}"),
            Expect::Absent => f.write_str("absent"),
        }
    }
}

/// Written as its text, as in a report.
impl serde::Serialize for Expect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Expect;

    fn parse(toml_value: &str) -> Result<Expect, String> {
        let doc: toml::Table = toml::from_str(&format!("x = {toml_value}")).unwrap();
        Expect::from_toml(&doc["x"])
    }

    #[test]
    fn every_form_reads_and_checks() {
        assert_eq!(parse("0.25"), Ok(Expect::Exact(0.25)));
        assert_eq!(parse("400"), Ok(Expect::Exact(400.0)));
        assert_eq!(parse("{ value = 1, tolerance = 0.5 }"), Ok(Expect::Near { value: 1.0, tolerance: 0.5 }));
        assert_eq!(parse("\"between 1 and 2\""), Ok(Expect::Between(1.0, 2.0)));
        assert_eq!(parse("\"at  least -3\""), Ok(Expect::AtLeast(-3.0)));
        assert_eq!(parse("\"at most 1e3\""), Ok(Expect::AtMost(1000.0)));
        assert_eq!(parse("\"absent\""), Ok(Expect::Absent));
        assert!(Expect::Exact(0.0).holds(Some(-0.0)));
        assert!(!Expect::Exact(0.1).holds(Some(0.1 + f64::EPSILON)));
        assert!(Expect::Near { value: 1.0, tolerance: 0.5 }.holds(Some(1.5)));
        assert!(Expect::Between(1.0, 2.0).holds(Some(2.0)) && !Expect::Between(1.0, 2.0).holds(None));
        assert!(Expect::Absent.holds(None) && !Expect::Absent.holds(Some(0.0)));
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        let err = |v: &str| parse(v).unwrap_err();
        assert_eq!(err("\"between 2 and 1\""), "empty range: 2 is greater than 1");
        assert_eq!(err("\"between 1 and x\""), "`x` is not a finite number (in \"between 1 and x\")");
        assert_eq!(err("nan"), "the expected value must be a finite number, not NaN");
        assert_eq!(err("\"about 3\""), "cannot read \"about 3\"");
        assert_eq!(
            err("{ value = 1, tolerence = 1 }").split(':').next(),
            Some("unknown key `tolerence` in an expectation (did you mean `tolerance`?)")
        );
        assert_eq!(err("{ value = 1, tolerance = -1 }"), "the tolerance -1 is negative");
        assert_eq!(err("true"), "a boolean is no expectation");
    }
}
