//! A profile (stacks and their sample counts) in the file formats other profilers read:
//! speedscope's JSON (<https://www.speedscope.app/file-format-schema.json>, which
//! speedscope.app opens from a URL) and pprof's gzip'd protobuf (`profile.proto`, which
//! `go tool pprof`, Grafana/Pyroscope and many other tools read). Pure conversions: callers
//! hand in aggregated stacks (root frame first, frames separated by `;`) and get bytes.

use std::collections::HashMap;

use prost::Message;
use serde::Serialize;

use crate::store::compress;

/// A format a profile can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// speedscope's JSON file format: one sampled profile.
    Speedscope,
    /// pprof: a gzip'd `perftools.profiles.Profile` protobuf.
    Pprof,
}

impl ExportFormat {
    /// Every format, for listing links.
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Speedscope, ExportFormat::Pprof];

    /// The end of a file name in this format (after the window's `window.channel.entry`).
    pub fn suffix(self) -> &'static str {
        match self {
            ExportFormat::Speedscope => "speedscope.json",
            ExportFormat::Pprof => "pb.gz",
        }
    }

    /// The format a file name ends in, and the name without it (and its dot).
    pub fn split_file_name(file: &str) -> Option<(&str, ExportFormat)> {
        ExportFormat::ALL.into_iter().find_map(|format| {
            let stem = file.strip_suffix(format.suffix())?.strip_suffix('.')?;
            Some((stem, format))
        })
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Speedscope => "application/json",
            ExportFormat::Pprof => "application/octet-stream",
        }
    }

    /// The profile `stacks` in this format, named `name` (speedscope shows the name).
    pub fn export(self, name: &str, stacks: &[(&[u8], u64)]) -> Vec<u8> {
        match self {
            ExportFormat::Speedscope => speedscope(name, stacks),
            ExportFormat::Pprof => pprof(stacks),
        }
    }
}

/// Frame names numbered in order of first appearance.
#[derive(Default)]
struct Names<'a> {
    ids: HashMap<&'a [u8], usize>,
    names: Vec<&'a [u8]>,
}

impl<'a> Names<'a> {
    fn id(&mut self, name: &'a [u8]) -> usize {
        *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.names.len() - 1
        })
    }
}

fn frames(stack: &[u8]) -> impl Iterator<Item = &[u8]> {
    stack.split(|&b| b == b';').filter(|f| !f.is_empty())
}

#[derive(Serialize)]
struct SpeedscopeFile<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    name: &'a str,
    exporter: &'static str,
    shared: Shared,
    profiles: Vec<SampledProfile<'a>>,
}

#[derive(Serialize)]
struct Shared {
    frames: Vec<FrameName>,
}

#[derive(Serialize)]
struct FrameName {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SampledProfile<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    unit: &'static str,
    start_value: u64,
    end_value: u64,
    samples: Vec<Vec<usize>>,
    weights: Vec<u64>,
}

/// speedscope's file format: one "sampled" profile whose samples are the stacks (root
/// first, as frame indices) weighted by their counts.
pub fn speedscope(name: &str, stacks: &[(&[u8], u64)]) -> Vec<u8> {
    speedscope_profiles(name, &[(name, stacks)])
}

/// Aggregated stacks: (stack, samples).
pub type Stacks<'a> = [(&'a [u8], u64)];

/// speedscope's file format with several profiles sharing one frame table (a diff's
/// before and after), each (name, stacks): speedscope shows one at a time and switches
/// between them.
pub fn speedscope_profiles(name: &str, profiles: &[(&str, &Stacks<'_>)]) -> Vec<u8> {
    let mut names = Names::default();
    let mut sampled = Vec::with_capacity(profiles.len());
    for &(profile_name, stacks) in profiles {
        let mut samples = Vec::with_capacity(stacks.len());
        let mut weights = Vec::with_capacity(stacks.len());
        let mut total: u64 = 0;
        for &(stack, count) in stacks {
            if count == 0 {
                continue;
            }
            samples.push(frames(stack).map(|f| names.id(f)).collect());
            weights.push(count);
            total = total.saturating_add(count);
        }
        sampled.push(SampledProfile {
            kind: "sampled",
            name: profile_name,
            unit: "none",
            start_value: 0,
            end_value: total,
            samples,
            weights,
        });
    }
    let file = SpeedscopeFile {
        schema: "https://www.speedscope.app/file-format-schema.json",
        name,
        exporter: concat!("arclamp ", env!("CARGO_PKG_VERSION")),
        shared: Shared {
            frames: names
                .names
                .iter()
                .map(|n| FrameName {
                    name: String::from_utf8_lossy(n).into_owned(),
                })
                .collect(),
        },
        profiles: sampled,
    };
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    serde_json::to_vec(&file).unwrap_or_default()
}

/// The folded diff of two windows, `STACK BEFORE AFTER` per stack in either, sorted: the
/// input of flamegraph.pl's and inferno's differential graphs (`difffolded.pl`'s output).
pub fn folded_diff(before: &[(&[u8], u64)], after: &[(&[u8], u64)]) -> Vec<u8> {
    let mut both: std::collections::BTreeMap<&[u8], (u64, u64)> = std::collections::BTreeMap::new();
    for &(stack, count) in before {
        let entry = both.entry(stack).or_default();
        entry.0 = entry.0.saturating_add(count);
    }
    for &(stack, count) in after {
        let entry = both.entry(stack).or_default();
        entry.1 = entry.1.saturating_add(count);
    }
    let mut out = Vec::new();
    for (stack, (a, b)) in both {
        out.extend_from_slice(stack);
        out.extend_from_slice(format!(" {a} {b}\n").as_bytes());
    }
    out
}

/// pprof's `Profile` message (the fields arclamp fills; field numbers from
/// `profile.proto`).
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    /// What each sample's values measure.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// One per distinct stack.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// One per frame name (arclamp has no addresses).
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// One per frame name.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string; index 0 is the empty string.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
}

/// A measure: its type and unit, as indices into the string table.
#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    /// e.g. "samples".
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// e.g. "count".
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// A stack and its values.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Locations, leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per sample type.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
}

/// A place in the program: here, one function.
#[derive(Clone, PartialEq, Message)]
pub struct Location {
    /// Non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The function at this location.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// A function at a location.
#[derive(Clone, PartialEq, Message)]
pub struct Line {
    /// The function's id.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
}

/// A function.
#[derive(Clone, PartialEq, Message)]
pub struct Function {
    /// Non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its name, as an index into the string table.
    #[prost(int64, tag = "2")]
    pub name: i64,
}

/// pprof's gzip'd protobuf: one sample type ("samples", "count"), a function and a
/// location per frame name, a sample per stack (leaf first, as pprof orders them).
pub fn pprof(stacks: &[(&[u8], u64)]) -> Vec<u8> {
    let mut names = Names::default();
    let mut samples = Vec::with_capacity(stacks.len());
    for &(stack, count) in stacks {
        if count == 0 {
            continue;
        }
        let mut ids: Vec<u64> = frames(stack).map(|f| names.id(f) as u64 + 1).collect();
        ids.reverse();
        samples.push(Sample {
            location_id: ids,
            value: vec![i64::try_from(count).unwrap_or(i64::MAX)],
        });
    }
    // Strings: "", "samples", "count", then the frame names (function n is string n + 2).
    let mut string_table = vec![String::new(), "samples".to_owned(), "count".to_owned()];
    string_table.extend(
        names
            .names
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned()),
    );
    let count = names.names.len() as u64;
    let profile = Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: samples,
        location: (1..=count)
            .map(|id| Location {
                id,
                line: vec![Line { function_id: id }],
            })
            .collect(),
        function: (1..=count)
            .map(|id| Function {
                id,
                name: id as i64 + 2,
            })
            .collect(),
        string_table,
    };
    compress::gzip(&profile.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACKS: [(&[u8], u64); 3] = [
        (b"index.php;MediaWiki::run;Parser::parse", 5),
        (b"index.php;MediaWiki::run;OutputPage::output", 2),
        (b"api.php;ApiMain::execute;Parser::parse", 3),
    ];

    #[test]
    fn speedscope_files_hold_every_stack_root_first_with_its_weight() {
        let json: serde_json::Value =
            serde_json::from_slice(&speedscope("excimer all", &STACKS)).unwrap();
        assert_eq!(
            json["$schema"],
            "https://www.speedscope.app/file-format-schema.json"
        );
        let frames: Vec<&str> = json["shared"]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        // Each name once, shared between stacks.
        assert_eq!(frames.len(), 6);
        let profile = &json["profiles"][0];
        assert_eq!(profile["type"], "sampled");
        assert_eq!(profile["endValue"], 10);
        assert_eq!(profile["weights"], serde_json::json!([5, 2, 3]));
        let third: Vec<&str> = profile["samples"][2]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| frames[i.as_u64().unwrap() as usize])
            .collect();
        assert_eq!(third, ["api.php", "ApiMain::execute", "Parser::parse"]);
    }

    #[test]
    fn pprof_profiles_decode_with_leaf_first_locations_and_counts() {
        let bytes = compress::maybe_gunzip(&pprof(&STACKS))
            .unwrap()
            .into_owned();
        let profile = Profile::decode(bytes.as_slice()).unwrap();
        let string = |i: i64| profile.string_table[i as usize].as_str();
        assert_eq!(string(0), "");
        assert_eq!(string(profile.sample_type[0].r#type), "samples");
        let name_of_location = |id: u64| {
            let location = profile.location.iter().find(|l| l.id == id).unwrap();
            let function = profile
                .function
                .iter()
                .find(|f| f.id == location.line[0].function_id)
                .unwrap();
            string(function.name)
        };
        let decoded: Vec<(String, i64)> = profile
            .sample
            .iter()
            .map(|s| {
                let mut names: Vec<&str> = s
                    .location_id
                    .iter()
                    .map(|&id| name_of_location(id))
                    .collect();
                names.reverse();
                (names.join(";"), s.value[0])
            })
            .collect();
        let expected: Vec<(String, i64)> = STACKS
            .iter()
            .map(|(s, n)| (String::from_utf8(s.to_vec()).unwrap(), *n as i64))
            .collect();
        assert_eq!(decoded, expected);
        // Parser::parse is one function for both stacks.
        assert_eq!(profile.function.len(), 6);
    }

    #[test]
    fn a_diff_exports_both_sides_once_each() {
        let after: [(&[u8], u64); 2] = [
            (b"index.php;MediaWiki::run;Parser::parse", 9),
            (b"load.php;ResourceLoader::respond", 1),
        ];
        let folded = String::from_utf8(folded_diff(&STACKS, &after)).unwrap();
        assert_eq!(
            folded,
            "api.php;ApiMain::execute;Parser::parse 3 0\n\
             index.php;MediaWiki::run;OutputPage::output 2 0\n\
             index.php;MediaWiki::run;Parser::parse 5 9\n\
             load.php;ResourceLoader::respond 0 1\n"
        );
        let json: serde_json::Value = serde_json::from_slice(&speedscope_profiles(
            "diff",
            &[("before", &STACKS), ("after", &after)],
        ))
        .unwrap();
        let profiles = json["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 2);
        assert_eq!(profiles[0]["name"], "before");
        assert_eq!(profiles[0]["endValue"], 10);
        assert_eq!(profiles[1]["endValue"], 10);
        // One frame table: Parser::parse is the same index in both.
        let frames = json["shared"]["frames"].as_array().unwrap();
        assert_eq!(
            frames
                .iter()
                .filter(|f| f["name"] == "Parser::parse")
                .count(),
            1
        );
    }

    #[test]
    fn file_names_say_their_format() {
        assert_eq!(
            ExportFormat::split_file_name("2026-11-24.excimer.all.speedscope.json"),
            Some(("2026-11-24.excimer.all", ExportFormat::Speedscope))
        );
        assert_eq!(
            ExportFormat::split_file_name("2026-11-24.excimer.all.pb.gz"),
            Some(("2026-11-24.excimer.all", ExportFormat::Pprof))
        );
        assert_eq!(
            ExportFormat::split_file_name("2026-11-24.excimer.all.log.gz"),
            None
        );
    }
}
