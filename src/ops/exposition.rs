//! Reading the Prometheus text exposition back into series, so that `/status` and
//! `/readyz` show exactly the numbers `/metrics` exports (one source of truth: the metrics
//! registry), without a second set of counters kept beside it.

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metric name (`arclamp_samples_received_total`).
    pub name: String,
    /// Label pairs in exposition order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Series {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample line of `text`; comments and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Series> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Series> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches([',', ' ']);
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"")?;
            let (value, after) = unescape_until_quote(after)?;
            labels.push((key.trim().to_owned(), value));
            rest = after;
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Series {
        name,
        labels,
        value,
    })
}

/// A label value up to its closing quote, with `\\`, `\"` and `\n` unescaped.
fn unescape_until_quote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_and_values() {
        let text = "# TYPE x counter\n\
                    arclamp_redis_connected 1\n\
                    arclamp_samples_rejected_total{channel=\"ex\\\"c\",reason=\"no_count\"} 12\n\
                    arclamp_x_bucket{le=\"+Inf\"} 3\n\
                    arclamp_oldest_window_timestamp_seconds{period=\"daily\"} NaN\n\
                    garbage{\n";
        let series = parse(text);
        assert_eq!(series.len(), 4);
        assert_eq!(series[0].name, "arclamp_redis_connected");
        assert_eq!(series[0].value, 1.0);
        assert_eq!(series[1].label("channel"), Some("ex\"c"));
        assert_eq!(series[1].label("reason"), Some("no_count"));
        assert_eq!(series[1].value, 12.0);
        assert_eq!(series[2].label("le"), Some("+Inf"));
        assert!(series[3].value.is_nan());
    }
}
