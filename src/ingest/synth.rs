//! Synthetic load: a deterministic generator of realistic MediaWiki-like collapsed stacks,
//! calibrated to real samples of a real MediaWiki under real traffic
//! (`../shared/data/mediawiki/`): `arclamp publish --stats --reference FILE` prints both
//! workloads' statistics side by side, and each is within 20 % of the real one (depth
//! median 22 and p90 36, ~0.3 distinct stacks per sample, the 10 hottest stacks ~16-19 % of
//! the samples, lines of ~820 bytes, neighbours sharing ~12 frames in time order and ~19
//! sorted, gzip ~14x as sent and ~25x sorted).
//!
//! A sample picks an entry point (`index`, `api`, `load`, `rest`, `RunJobs` in a 45/30/15/5/5
//! mix, Wikimedia's production mix) and a stack number, and the stack is re-derived from
//! `(seed, entry point, stack number)` by a walk over a fixed call graph of about 8,400
//! `Class::method` frames, so memory stays bounded and equal numbers always give equal
//! stacks. Numbers are nested the way code paths are: a *tribe* (one kind of request)
//! decides the route and the first part of the walk, its *clans* (one subsystem) the depth
//! and the rest of the walk but its last frames, a *family* one frame more, and each
//! member its own last frames; a sample may also stop a few frames short (self time in a
//! caller). So sorted stacks mostly differ from their neighbour in their last frame or two,
//! as real ones do. Tribes are drawn from a Zipf-like law, a few hot stacks take a large
//! share, and most samples come from the same request as the one before (another member of
//! its family, clan or tribe), which gives consecutive samples their shared prefixes.
//!
//! Everything is derived with PCG generators and integer or basic IEEE arithmetic (no
//! `powf`/`ln`, whose last bits may differ between platforms' math libraries), so a seed
//! produces the same byte stream on every run and platform.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rand::RngCore;
use rand_pcg::Pcg32;
use serde::ser::SerializeMap;

/// The entry points with their weight (percent of samples), in [`EntryPoint`] order.
pub const ENTRY_POINTS: [(&str, u32); 5] = [
    ("index", 45),
    ("api", 30),
    ("load", 15),
    ("rest", 5),
    ("RunJobs", 5),
];

/// The MediaWiki version in the entry file paths, as during a normal (non-train) day.
pub const MW_VERSION: &str = "php-1.45.0-wmf.5";

/// Fewest frames of a generated path, entry file included (a sample may stop a few frames
/// short of its path, see [`SELF_TIME_CUT_MAX`]).
pub const MIN_DEPTH: usize = 14;

/// Most frames in a generated stack, entry file included (the real samples' deepest).
pub const MAX_DEPTH: usize = 72;

/// Which PHP entry point a sample ran under; [`EntryPoint::name`] is what
/// [`crate::ingest::sample::entry_point`] reads back from the first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryPoint {
    /// `index.php`: page views, edits, history.
    Index,
    /// `api.php`: the action API.
    Api,
    /// `load.php`: ResourceLoader.
    Load,
    /// `rest.php`: the REST API.
    Rest,
    /// `RunJobs.php`: the job runners.
    RunJobs,
}

impl EntryPoint {
    /// Every entry point, in [`ENTRY_POINTS`] order.
    pub const ALL: [EntryPoint; 5] = [
        EntryPoint::Index,
        EntryPoint::Api,
        EntryPoint::Load,
        EntryPoint::Rest,
        EntryPoint::RunJobs,
    ];

    /// The name of the PHP file without `.php`, e.g. `index`.
    pub fn name(self) -> &'static str {
        ENTRY_POINTS[self as usize].0
    }

    /// The share of samples, in percent.
    pub fn weight(self) -> u32 {
        ENTRY_POINTS[self as usize].1
    }

    /// The entry point called `name` (as [`crate::ingest::sample::entry_point`] returns it), if any.
    pub fn from_name(name: &str) -> Option<EntryPoint> {
        EntryPoint::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// What [`Generator::next_sample`] produced, besides the line itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// The entry point named by the line's first frame.
    pub entry: EntryPoint,
    /// The count at the end of the line (1 ..= 3).
    pub count: u32,
}

/// Samples (sums of counts) per entry point, and in all: what a publisher sent or a
/// subscriber received, so the two can be compared exactly.
///
/// Serializes as a JSON object `{"all": S, "index": ..., "api": ..., ...}`, and reads the
/// same shape back, checking that `all` is the sum of the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    samples: [u64; 5],
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Tally::default()
    }

    /// Count `count` samples under `entry`.
    pub fn add(&mut self, entry: EntryPoint, count: u32) {
        self.samples[entry as usize] += u64::from(count);
    }

    /// Samples under `entry`.
    pub fn get(&self, entry: EntryPoint) -> u64 {
        self.samples[entry as usize]
    }

    /// Samples under every entry point.
    pub fn all(&self) -> u64 {
        self.samples.iter().sum()
    }

    /// `("all", total)` followed by `(name, samples)` for each entry point, in
    /// [`ENTRY_POINTS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        std::iter::once(("all", self.all()))
            .chain(EntryPoint::ALL.into_iter().map(|e| (e.name(), self.get(e))))
    }
}

impl serde::Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1 + EntryPoint::ALL.len()))?;
        for (name, samples) in self.iter() {
            map.serialize_entry(name, &samples)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Tally {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(deserializer)?;
        Tally::try_from(map).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<BTreeMap<String, u64>> for Tally {
    type Error = String;

    fn try_from(mut map: BTreeMap<String, u64>) -> Result<Self, String> {
        let all = map.remove("all");
        let mut tally = Tally::new();
        for (name, samples) in map {
            let entry = EntryPoint::from_name(&name)
                .ok_or_else(|| format!("unknown entry point {name:?} in sample tally"))?;
            tally.samples[entry as usize] = samples;
        }
        match all {
            Some(all) if all != tally.all() => Err(format!(
                "sample tally says all = {all} but its entry points sum to {}",
                tally.all()
            )),
            _ => Ok(tally),
        }
    }
}

/// A deterministic, endless source of synthetic samples.
///
/// Cheap to create (the call graph is built once per process and shared) and to clone.
#[derive(Clone)]
pub struct Generator {
    seed: u64,
    rng: Pcg32,
    graph: &'static CallGraph,
    /// The previous sample's entry point and stack: the next one may come from the same
    /// request (see [`SAME_REQUEST_PERCENT`]).
    last: Option<(EntryPoint, u64)>,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// A generator whose whole output is a function of `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            seed,
            rng: Pcg32::new(splitmix64(seed), splitmix64(!seed)),
            graph: CallGraph::shared(),
            last: None,
        }
    }

    /// Append one collapsed line `FRAME;...;FRAME COUNT` (no newline) to `out`, and say
    /// which entry point and count it has.
    pub fn next_sample(&mut self, out: &mut Vec<u8>) -> Produced {
        let pick = self.pick();
        self.graph
            .write_stack(self.seed, pick.entry, pick.stack, out);
        out.push(b' ');
        // Counts are 1 ..= 3, a single digit.
        out.push(b'0' + pick.count as u8);
        Produced {
            entry: pick.entry,
            count: pick.count,
        }
    }

    /// Draw the next sample without writing its text: what [`Generator::next_sample`]
    /// would have produced (the same sequence for the same seed), as a stack number that
    /// [`Generator::write_stack`] turns into text. Simulations that aggregate many samples
    /// count stack numbers and write each distinct stack's text once.
    pub fn next_draw(&mut self) -> Draw {
        let pick = self.pick();
        Draw {
            entry: pick.entry,
            stack: pick.stack,
            count: pick.count,
        }
    }

    /// Append the text of stack number `stack` of `entry` (without count) to `out`; equal
    /// arguments always give equal text.
    pub fn write_stack(&self, entry: EntryPoint, stack: u64, out: &mut Vec<u8>) {
        self.graph.write_stack(self.seed, entry, stack, out);
    }

    /// Draw the next sample's entry point, stack index and count, without writing it.
    fn pick(&mut self) -> Pick {
        let graph = self.graph;
        let roll = self.rng.next_u32() % 100;
        let (entry, stack) = match self.last {
            // One of the few hottest stacks (a lock wait, the autoloader, a DB round trip
            // seen from every request), the first ones most often.
            _ if roll < HOT_PERCENT => {
                let entry = EntryPoint::ALL[graph.entry_cdf.sample(self.rng.next_u32())];
                let hot = skewed(self.rng.next_u32(), HOT_STACKS) as u64;
                (entry, hot << TRIBE_BITS)
            }
            // Another member of the previous sample's family: most frames in common.
            Some((entry, last)) if roll < HOT_PERCENT + SAME_REQUEST_PERCENT => {
                // Still in the same code path (the family), elsewhere in the same
                // subsystem (the clan), or in another subsystem (the tribe), equally often.
                let draw = self.rng.next_u64();
                let stack = match draw % 3 {
                    0 => (last & !FAMILY_MASK) | ((draw >> 8) & FAMILY_MASK),
                    1 => (last & !CLAN_MASK) | ((draw >> 8) & CLAN_MASK),
                    _ => (last & !TRIBE_MASK) | clan_in_tribe(draw >> 8),
                };
                (entry, stack)
            }
            _ => {
                let entry = EntryPoint::ALL[graph.entry_cdf.sample(self.rng.next_u32())];
                let bucket = graph.bucket_cdf.sample(self.rng.next_u32());
                // Bucket b holds the 2^b stacks numbered 2^b - 1 ..= 2^(b+1) - 2, equally
                // likely.
                let offset = self.rng.next_u64() & ((1u64 << bucket) - 1);
                // That number is a tribe's; within it, a few clans are the common ones.
                let tribe = (1u64 << bucket) - 1 + offset;
                (
                    entry,
                    (tribe << TRIBE_BITS) | clan_in_tribe(self.rng.next_u64()),
                )
            }
        };
        self.last = Some((entry, stack));
        let count = 1 + graph.count_cdf.sample(self.rng.next_u32()) as u32;
        Pick {
            entry,
            stack,
            count,
        }
    }
}

/// A stack number within a tribe from the bits of `draw`: a clan (the first ones most
/// often: a kind of request mostly takes a few paths) and any member of it.
fn clan_in_tribe(draw: u64) -> u64 {
    let clans = 1usize << (TRIBE_BITS - CLAN_BITS);
    let clan = skewed(draw as u32, clans) as u64;
    (clan << CLAN_BITS) | ((draw >> 32) & CLAN_MASK)
}

/// One sample drawn by [`Generator::next_draw`], before its text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Draw {
    /// The entry point.
    pub entry: EntryPoint,
    /// The stack's number within its entry point: equal numbers give equal text.
    pub stack: u64,
    /// The count (1 ..= 3).
    pub count: u32,
}

/// One sample before it is written: equal `(entry, stack)` give equal stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Pick {
    entry: EntryPoint,
    stack: u64,
    count: u32,
}

/// Popularity: P(bucket b) is proportional to `BUCKET_RATIO^b` and bucket b holds 2^b
/// stacks, so stack k has probability about `k^-(1 + log2(1 / BUCKET_RATIO))` (Zipf with
/// s ≈ 1.15). Tuned so that per million samples the 10 hottest stacks take about 19% and
/// about 240,000 stacks are distinct.
const BUCKET_RATIO: f64 = 0.7;
const BUCKETS: usize = 32;

/// Mean of the geometric part of the depth, added to [`MIN_DEPTH`] (and cut at
/// [`MAX_DEPTH`]): with it, depths have the real samples' median and 90th percentile.
const DEPTH_MEAN_EXTRA: f64 = 11.5;

/// Stacks come in families of `2^FAMILY_BITS` consecutive stack numbers that share all
/// but their last few frames: one code path reaching different callees at its end.
const FAMILY_BITS: u32 = 4;
const FAMILY_MASK: u64 = (1 << FAMILY_BITS) - 1;

/// Families come in clans of `2^CLAN_BITS` stack numbers that share their walk but its
/// last few frames (one route into one subsystem).
const CLAN_BITS: u32 = 8;
const CLAN_MASK: u64 = (1 << CLAN_BITS) - 1;
/// Frames of a stack that are its family's own (between the clan's walk and the member's
/// own tail).
const FAMILY_OWN_FRAMES: usize = 1;
/// Clans come in tribes of `2^TRIBE_BITS` stack numbers that share the route and the
/// first half of their walk (one kind of request).
const TRIBE_BITS: u32 = 12;
const TRIBE_MASK: u64 = (1 << TRIBE_BITS) - 1;
/// Samples that are one of the [`HOT_STACKS`] hottest stacks: in the real samples the 10
/// hottest stacks take 19 % of the samples.
const HOT_PERCENT: u32 = 18;
const HOT_STACKS: usize = 4;

/// Keeps a tribe's walk apart from its first clan's.
const TRIBE_SALT: u64 = 0x7472_6962;
/// Keeps a clan's walk apart from its first family's.
const CLAN_SALT: u64 = 0x636c_616e;

/// Most frames at the end of a stack that are its own rather than its family's (none with
/// probability 1/2, 1 with 1/4, ...; its leaf builtin, when it has one, is always its own).
const OWN_TAIL_MAX: usize = 4;

/// Most frames a sample may stop short of its path's end (none with probability 1/2, 1
/// with 1/4, ...): real samples land in every function of a path, not only in its leaf,
/// so many stacks are another stack plus one frame.
const SELF_TIME_CUT_MAX: usize = 4;

/// Samples that come from the same request as the sample before (Excimer samples a
/// request many times in a row), as another member of its family: consecutive real samples
/// share about half their frames.
const SAME_REQUEST_PERCENT: u32 = 60;

/// Keeps the walk of a family member's own tail apart from its family's walk.
const OWN_TAIL_SALT: u64 = 0x7461_696c;

/// Share of stacks that end in a PHP builtin rather than in userland code.
const BUILTIN_LEAF_PERCENT: u32 = 70;

/// Samples with count 1, 2, 3, in percent.
const COUNT_WEIGHTS: [f64; 3] = [90.0, 8.0, 2.0];

/// A discrete distribution sampled from one `u32`: `thresholds[i]` is the cumulative
/// probability of outcomes `0..=i`, scaled to 2^32.
struct Cdf {
    thresholds: Vec<u64>,
}

impl Cdf {
    /// Quantize `weights` once; only `+` and `/` on f64 are used, which IEEE 754 defines
    /// exactly, so the table is the same everywhere.
    fn from_weights(weights: impl IntoIterator<Item = f64>) -> Cdf {
        let weights: Vec<f64> = weights.into_iter().collect();
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut thresholds: Vec<u64> = weights
            .iter()
            .map(|w| {
                cumulative += w;
                (cumulative / total * 4_294_967_296.0) as u64
            })
            .collect();
        // Rounding must never leave a draw without an outcome.
        if let Some(last) = thresholds.last_mut() {
            *last = 1 << 32;
        }
        Cdf { thresholds }
    }

    fn sample(&self, draw: u32) -> usize {
        let draw = u64::from(draw);
        self.thresholds.partition_point(|&t| t <= draw)
    }
}

/// The fixed vocabulary and call graph all generators walk.
struct CallGraph {
    /// Every frame name, concatenated; `spans[i]` locates frame i.
    names: String,
    spans: Vec<(u32, u32)>,
    /// Callees of frame i: `callees[callee_start[i] as usize..callee_start[i + 1] as usize]`,
    /// most likely first.
    callees: Vec<u32>,
    callee_start: Vec<u32>,
    /// Per entry point: the entry file and the fixed frames every request goes through,
    /// `;`-terminated, and how many frames that is.
    heads: [(Vec<u8>, usize); 5],
    /// Per entry point: the frames that head hands over to (actions, API modules, ...).
    routes: [Vec<u32>; 5],
    entry_cdf: Cdf,
    bucket_cdf: Cdf,
    count_cdf: Cdf,
    /// Extra frames beyond [`MIN_DEPTH`].
    depth_cdf: Cdf,
}

/// Class name stems, each living in one namespace (or none: many MediaWiki classes are
/// still global), so frames read like MediaWiki's.
const STEMS: [(&str, &str); 38] = [
    ("Revision", "MediaWiki\\Revision"),
    ("Slot", "MediaWiki\\Revision"),
    ("Page", "MediaWiki\\Page"),
    ("WikiPage", ""),
    ("User", ""),
    ("Title", ""),
    ("Link", ""),
    ("Parser", ""),
    ("Preprocessor", ""),
    ("Sanitizer", ""),
    ("Message", ""),
    ("Language", ""),
    ("Content", ""),
    ("Session", "MediaWiki\\Session"),
    ("Permission", "MediaWiki\\Permissions"),
    ("Block", "MediaWiki\\Block"),
    ("Hook", "MediaWiki\\HookContainer"),
    ("Output", ""),
    ("Skin", ""),
    ("Job", ""),
    ("Deferred", ""),
    ("Module", "MediaWiki\\ResourceLoader"),
    ("Rest", "MediaWiki\\Rest\\Handler"),
    ("Api", "MediaWiki\\Api"),
    ("Database", "Wikimedia\\Rdbms"),
    ("Load", "Wikimedia\\Rdbms"),
    ("Query", "Wikimedia\\Rdbms"),
    ("Cache", "Wikimedia\\ObjectCache"),
    ("Stats", "Wikimedia\\Stats"),
    ("Http", "MediaWiki\\Http"),
    ("Parsoid", "Wikimedia\\Parsoid\\Wt2Html"),
    ("Dom", "Wikimedia\\Parsoid\\Utils"),
    (
        "Lua",
        "MediaWiki\\Extension\\Scribunto\\Engines\\LuaSandbox",
    ),
    ("Entity", "Wikibase\\Lib\\Store"),
    ("Search", "CirrusSearch\\Search"),
    ("Echo", "MediaWiki\\Extension\\Notifications"),
    ("Config", "MediaWiki\\Config"),
    ("Service", "Wikimedia\\Services"),
];

const CLASS_SUFFIXES: [&str; 19] = [
    "Store",
    "Factory",
    "Lookup",
    "Manager",
    "Renderer",
    "Formatter",
    "Builder",
    "Handler",
    "Service",
    "Record",
    "Container",
    "Runner",
    "Queue",
    "Provider",
    "Validator",
    "Resolver",
    "Cache",
    "Updater",
    "Serializer",
];

const VERBS: [&str; 30] = [
    "get",
    "fetch",
    "load",
    "save",
    "build",
    "render",
    "format",
    "resolve",
    "lookup",
    "find",
    "run",
    "execute",
    "process",
    "handle",
    "parse",
    "expand",
    "validate",
    "newFrom",
    "create",
    "update",
    "invalidate",
    "do",
    "check",
    "compute",
    "prefetch",
    "normalize",
    "serialize",
    "getCached",
    "doQuery",
    "apply",
];

/// Method name endings; `{}` stands for the class stem (`getRevisionById`).
const NOUNS: [&str; 25] = [
    "{}",
    "{}ById",
    "{}s",
    "Row",
    "Rows",
    "Content",
    "Text",
    "Html",
    "Wikitext",
    "Slots",
    "Links",
    "Value",
    "Options",
    "Result",
    "Batch",
    "Key",
    "Status",
    "Data",
    "Info",
    "ForTitle",
    "ForUser",
    "FromCache",
    "Internal",
    "Recursive",
    "",
];

/// Where stacks end when they end in PHP itself.
const BUILTINS: [&str; 30] = [
    "strtr",
    "preg_match",
    "preg_replace",
    "preg_replace_callback",
    "str_replace",
    "strpos",
    "substr",
    "array_map",
    "array_merge",
    "in_array",
    "json_encode",
    "json_decode",
    "serialize",
    "unserialize",
    "htmlspecialchars",
    "hash",
    "md5",
    "mb_strtolower",
    "implode",
    "explode",
    "sprintf",
    "count",
    "is_array",
    "mysqli::query",
    "mysqli_result::fetch_object",
    "Memcached::getMulti",
    "Memcached::get",
    "LuaSandboxFunction::call",
    "curl_multi_exec",
    "DOMDocument::loadHTML",
];

/// The frames every request of an entry point goes through, in [`EntryPoint`] order.
const HEAD_FRAMES: [&[&str]; 5] = [
    &[
        "MediaWiki::run",
        "MediaWiki::main",
        "MediaWiki::performRequest",
        "MediaWiki::performAction",
    ],
    &[
        "ApiMain::execute",
        "ApiMain::executeActionWithErrorHandling",
        "ApiMain::executeAction",
    ],
    &[
        "MediaWiki\\ResourceLoader\\ResourceLoader::respond",
        "MediaWiki\\ResourceLoader\\ResourceLoader::makeModuleResponse",
    ],
    &[
        "MediaWiki\\Rest\\EntryPoint::execute",
        "MediaWiki\\Rest\\Router::execute",
        "MediaWiki\\Rest\\Router::executeHandler",
    ],
    &[
        "MediaWiki\\JobQueue\\JobRunner::executeJob",
        "MediaWiki\\JobQueue\\JobRunner::doExecuteJob",
    ],
];

/// Seed of the call graph: the graph is part of the generator's definition, the same for
/// every user seed.
const GRAPH_SEED: u64 = 0x4d65_6469_6157_696b;
const METHODS_PER_CLASS: std::ops::RangeInclusive<u32> = 8..=15;
const CALLEES_PER_FRAME: std::ops::RangeInclusive<u32> = 2..=6;
const ROUTES_PER_ENTRY: u32 = 12;
/// Frames most call sites lead to (hooks, caches, DB queries in real code).
const HUBS: u32 = 64;
/// How far a callee in the caller's own class may be from it in the pool (classes have
/// [`METHODS_PER_CLASS`] methods).
const CLASS_SPAN: u32 = 6;
/// How far a "local" callee may be from its caller in the pool, which is laid out stem by
/// stem, so most calls stay within a subsystem.
const LOCAL_SPAN: u32 = 300;

impl CallGraph {
    fn shared() -> &'static CallGraph {
        static GRAPH: OnceLock<CallGraph> = OnceLock::new();
        GRAPH.get_or_init(CallGraph::build)
    }

    fn build() -> CallGraph {
        let mut rng = Pcg32::new(splitmix64(GRAPH_SEED), splitmix64(!GRAPH_SEED));
        let (names, spans) = build_frame_names(&mut rng);
        let frames = spans.len() as u32;
        let (callees, callee_start) = build_callees(&mut rng, frames);
        let heads = std::array::from_fn(|e| head(EntryPoint::ALL[e]));
        let routes = std::array::from_fn(|_| {
            (0..ROUTES_PER_ENTRY)
                .map(|_| below(&mut rng, frames))
                .collect()
        });
        let q = 1.0 - 1.0 / DEPTH_MEAN_EXTRA;
        CallGraph {
            names,
            spans,
            callees,
            callee_start,
            heads,
            routes,
            entry_cdf: Cdf::from_weights(ENTRY_POINTS.map(|(_, w)| f64::from(w))),
            bucket_cdf: Cdf::from_weights(geometric(BUCKET_RATIO, BUCKETS)),
            count_cdf: Cdf::from_weights(COUNT_WEIGHTS),
            depth_cdf: Cdf::from_weights(geometric(q, MAX_DEPTH - MIN_DEPTH + 1)),
        }
    }

    fn name(&self, frame: u32) -> &[u8] {
        let (start, len) = self.spans[frame as usize];
        &self.names.as_bytes()[start as usize..(start + len) as usize]
    }

    fn next_frame(&self, frame: u32, rng: &mut Pcg32) -> u32 {
        let start = self.callee_start[frame as usize] as usize;
        let end = self.callee_start[frame as usize + 1] as usize;
        self.callees[start + skewed(rng.next_u32(), end - start)]
    }

    /// Write stack number `stack` of `entry` (without count) to `out`: a pure function of
    /// its arguments.
    fn write_stack(&self, seed: u64, entry: EntryPoint, stack: u64, out: &mut Vec<u8>) {
        // The tribe decides the route and the first half of the walk, the clan the depth and
        // the rest but its last frames, the family one frame more, the member the last ones.
        let mut tribe = stack_rng(seed ^ TRIBE_SALT, entry, stack & !TRIBE_MASK);
        let mut clan = stack_rng(seed ^ CLAN_SALT, entry, stack & !CLAN_MASK);
        let mut family = stack_rng(seed, entry, stack & !FAMILY_MASK);
        let mut own = stack_rng(seed ^ OWN_TAIL_SALT, entry, stack);
        let depth = MIN_DEPTH + self.depth_cdf.sample(clan.next_u32());
        let builtin_leaf = own.next_u32() % 100 < BUILTIN_LEAF_PERCENT;
        let (head, head_frames) = &self.heads[entry as usize];
        out.extend_from_slice(head);
        let routes = &self.routes[entry as usize];
        let mut frame = routes[skewed(tribe.next_u32(), routes.len())];
        let full = depth - head_frames - usize::from(builtin_leaf);
        let shared = full.saturating_sub(skewed(own.next_u32(), OWN_TAIL_MAX));
        // A sample may catch the path in a caller's own code, before its last calls.
        let userland = full
            .saturating_sub(skewed(own.next_u32(), SELF_TIME_CUT_MAX))
            .max(1);
        let clan_shared = shared.saturating_sub(FAMILY_OWN_FRAMES);
        let tribe_shared = clan_shared * 3 / 4;
        for i in 0..userland {
            if i > 0 {
                out.push(b';');
                let rng = if i < tribe_shared {
                    &mut tribe
                } else if i < clan_shared {
                    &mut clan
                } else if i < shared {
                    &mut family
                } else {
                    &mut own
                };
                frame = self.next_frame(frame, rng);
            }
            out.extend_from_slice(self.name(frame));
        }
        if builtin_leaf {
            out.push(b';');
            out.extend_from_slice(
                BUILTINS[below(&mut own, BUILTINS.len() as u32) as usize].as_bytes(),
            );
        }
    }
}

/// `/srv/mediawiki/.../index.php;MediaWiki::run;...;` and its number of frames.
fn head(entry: EntryPoint) -> (Vec<u8>, usize) {
    let file = match entry {
        // Job runners are served from the rpc directory, outside the versioned tree.
        EntryPoint::RunJobs => format!("/srv/mediawiki/rpc/{}.php", entry.name()),
        _ => format!("/srv/mediawiki/{MW_VERSION}/{}.php", entry.name()),
    };
    let frames = HEAD_FRAMES[entry as usize];
    let mut head = file.into_bytes();
    for frame in frames {
        head.push(b';');
        head.extend_from_slice(frame.as_bytes());
    }
    head.push(b';');
    (head, 1 + frames.len())
}

/// Every class (stem × suffix) with a few distinct methods; frames are laid out stem by stem.
fn build_frame_names(rng: &mut Pcg32) -> (String, Vec<(u32, u32)>) {
    let mut names = String::new();
    let mut spans = Vec::new();
    let mut methods: Vec<(usize, usize)> = Vec::new();
    for (stem, namespace) in STEMS {
        for suffix in CLASS_SUFFIXES {
            let wanted = in_range(rng, &METHODS_PER_CLASS) as usize;
            methods.clear();
            while methods.len() < wanted {
                let method = (
                    below(rng, VERBS.len() as u32) as usize,
                    below(rng, NOUNS.len() as u32) as usize,
                );
                if !methods.contains(&method) {
                    methods.push(method);
                }
            }
            for &(verb, noun) in &methods {
                let start = names.len() as u32;
                let noun = NOUNS[noun].replace("{}", stem);
                if !namespace.is_empty() {
                    names.push_str(namespace);
                    names.push('\\');
                }
                names.push_str(&format!("{stem}{suffix}::{}{noun}", VERBS[verb]));
                spans.push((start, names.len() as u32 - start));
            }
        }
    }
    (names, spans)
}

/// Each frame calls a few frames: mostly neighbours (same subsystem), else one of a few
/// hubs, else anything; cycles are allowed, as PHP recursion is common (parser, hooks).
fn build_callees(rng: &mut Pcg32, frames: u32) -> (Vec<u32>, Vec<u32>) {
    let hubs: Vec<u32> = (0..HUBS).map(|_| below(rng, frames)).collect();
    let mut callees = Vec::new();
    let mut callee_start = vec![0];
    for frame in 0..frames {
        for _ in 0..in_range(rng, &CALLEES_PER_FRAME) {
            let callee = match below(rng, 10) {
                // A method of the same class (classes are laid out method by method).
                0..=2 => (frame + frames - CLASS_SPAN + below(rng, 2 * CLASS_SPAN + 1)) % frames,
                3..=5 => (frame + frames - LOCAL_SPAN + below(rng, 2 * LOCAL_SPAN + 1)) % frames,
                6..=7 => hubs[below(rng, HUBS) as usize],
                _ => below(rng, frames),
            };
            callees.push(callee);
        }
        callee_start.push(callees.len() as u32);
    }
    (callees, callee_start)
}

/// Weights `ratio^0, ratio^1, ...`: products only, so platform-independent.
fn geometric(ratio: f64, len: usize) -> Vec<f64> {
    let mut weight = 1.0;
    (0..len)
        .map(|_| {
            let w = weight;
            weight *= ratio;
            w
        })
        .collect()
}

/// An index below `len` where 0 has probability 1/2, 1 has 1/4, ... and the last index
/// takes the remainder: callers' first callees are the common paths.
fn skewed(draw: u32, len: usize) -> usize {
    (draw.trailing_zeros() as usize).min(len - 1)
}

/// A uniform integer below `n` (Lemire's multiply-shift; the bias of at most n / 2^32 is
/// irrelevant here).
fn below(rng: &mut Pcg32, n: u32) -> u32 {
    ((u64::from(rng.next_u32()) * u64::from(n)) >> 32) as u32
}

fn in_range(rng: &mut Pcg32, range: &std::ops::RangeInclusive<u32>) -> u32 {
    range.start() + below(rng, range.end() - range.start() + 1)
}

/// The generator that derives one stack; distinct `(entry, stack)` get unrelated streams.
fn stack_rng(seed: u64, entry: EntryPoint, stack: u64) -> Pcg32 {
    // Stack indices stay below 2^32 (see BUCKETS), leaving the top bits for the entry.
    let key = stack ^ ((entry as u64) << 56);
    let state = splitmix64(seed ^ splitmix64(key));
    Pcg32::new(state, splitmix64(key.wrapping_add(seed)))
}

/// SplitMix64's finalizer: spreads nearby inputs over the whole range.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sample::{parse_line, Limits};
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    fn lines(seed: u64, n: usize) -> Vec<(Vec<u8>, Produced)> {
        let mut generator = Generator::new(seed);
        (0..n)
            .map(|_| {
                let mut line = Vec::new();
                let produced = generator.next_sample(&mut line);
                (line, produced)
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_lines_and_another_seed_others() {
        let a = lines(7, 2_000);
        assert_eq!(a, lines(7, 2_000));
        let b = lines(8, 2_000);
        let differing = a.iter().zip(&b).filter(|(x, y)| x.0 != y.0).count();
        assert!(differing > 1_900, "only {differing} of 2000 lines differ");
    }

    #[test]
    fn output_is_stable_across_releases_and_platforms() {
        // A change here changes every benchmark and demo baseline: bump it only on purpose.
        let mut generator = Generator::new(1);
        let mut out = Vec::new();
        for _ in 0..1_000 {
            generator.next_sample(&mut out);
            out.push(b'\n');
        }
        assert_eq!(
            (out.len(), fnv1a(&out)),
            (859_783, 17_995_769_014_444_821_340)
        );
    }

    /// FNV-1a: unlike the std or foldhash hashers, its value is fixed forever.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn every_line_parses_with_its_entry_point_and_count() {
        let limits = Limits::default();
        for (line, produced) in lines(3, 20_000) {
            let sample = parse_line(&line, &limits).expect("generated line parses");
            assert_eq!(sample.entry, Some(produced.entry.name()));
            assert_eq!(sample.count, produced.count);
            assert_eq!(sample.stack.len() + 2, line.len(), "one space, one digit");
            let mut sanitized = line.clone();
            crate::ingest::sample::sanitize_in_place(&mut sanitized);
            assert_eq!(sanitized, line, "printable ASCII only");
        }
    }

    #[test]
    fn entry_points_and_counts_follow_their_proportions() {
        let samples = lines(4, 20_000);
        let n = samples.len() as f64;
        for entry in EntryPoint::ALL {
            let seen = samples.iter().filter(|(_, p)| p.entry == entry).count() as f64;
            let expected = f64::from(entry.weight()) / 100.0;
            assert!(
                (seen / n - expected).abs() < 0.015,
                "{} has {:.3} of samples, wanted {expected}",
                entry.name(),
                seen / n
            );
        }
        let ones = samples.iter().filter(|(_, p)| p.count == 1).count() as f64 / n;
        assert!((0.85..0.95).contains(&ones), "{ones} of counts are 1");
        assert!(samples.iter().all(|(_, p)| (1..=3).contains(&p.count)));
        assert!(samples.iter().any(|(_, p)| p.count == 3));
    }

    #[test]
    fn the_frame_pool_has_thousands_of_distinct_namespaced_methods() {
        let graph = CallGraph::shared();
        let names: HashSet<&[u8]> = (0..graph.spans.len() as u32)
            .map(|f| graph.name(f))
            .collect();
        assert_eq!(names.len(), graph.spans.len(), "frame names are distinct");
        assert!(names.len() >= 5_000, "only {} frames", names.len());
        let mut namespaced = 0;
        for &name in &names {
            let name = std::str::from_utf8(name).expect("ASCII");
            let (class, method) = name.split_once("::").expect("Class::method");
            assert!(!class.is_empty() && !method.is_empty(), "{name}");
            namespaced += usize::from(class.contains('\\'));
        }
        // Most classes are namespaced, some global, as in MediaWiki.
        assert!(
            namespaced * 2 > names.len() && namespaced < names.len(),
            "{namespaced} of {} namespaced",
            names.len()
        );
    }

    #[test]
    fn stacks_and_lines_are_as_deep_and_long_as_real_samples() {
        let samples = lines(5, 20_000);
        let mut total_len = 0;
        let (mut shallowest, mut deepest) = (usize::MAX, 0);
        for (line, _) in &samples {
            let depth = line.iter().filter(|&&b| b == b';').count() + 1;
            shallowest = shallowest.min(depth);
            deepest = deepest.max(depth);
            total_len += line.len();
        }
        // A sample may stop a few frames short of its path (self time in a caller).
        assert!(shallowest >= MIN_DEPTH - SELF_TIME_CUT_MAX && deepest <= MAX_DEPTH);
        assert!(deepest > 60, "the tail is reached: deepest {deepest}");
        // The real samples: 817 bytes on average.
        let mean = total_len / samples.len();
        assert!((650..=1_000).contains(&mean), "mean line length {mean}");
    }

    #[test]
    fn walks_cover_much_of_the_frame_pool_and_share_prefixes() {
        let samples = lines(6, 5_000);
        let mut frames = HashSet::new();
        let mut prefixes = HashSet::new();
        for (line, _) in &samples {
            let stack = &line[..line.len() - 2];
            frames.extend(stack.split(|&b| b == b';'));
            // The entry head plus the first few userland frames.
            let cut = stack.iter().enumerate().filter(|(_, &b)| b == b';').nth(8);
            prefixes.insert(&stack[..cut.map_or(stack.len(), |(i, _)| i)]);
        }
        assert!(
            frames.len() > 2_000,
            "only {} distinct frames",
            frames.len()
        );
        assert!(
            prefixes.len() < samples.len() / 4,
            "{} distinct 9-frame prefixes in {} samples",
            prefixes.len(),
            samples.len()
        );
    }

    /// Distinct stacks (by text: two stack numbers may write the same stack, as a sample
    /// in a caller's self time can equal another one's) and how much the hottest take.
    /// The real samples have 0.33 distinct stacks per sample (`publish --stats` compares
    /// all the statistics).
    #[test]
    fn stacks_are_about_as_varied_as_real_ones_and_hot_ones_dominate() {
        let hasher = foldhash::fast::FixedState::with_seed(0);
        let mut stacks = hashbrown::HashMap::<u64, u64>::new();
        let mut samples = 0;
        for (line, produced) in lines(1, 200_000) {
            *stacks
                .entry(hasher.hash_one(&line[..line.len() - 2]))
                .or_default() += u64::from(produced.count);
            samples += u64::from(produced.count);
        }
        let per_sample = stacks.len() as f64 / samples as f64;
        assert!(
            (0.15..=0.35).contains(&per_sample),
            "{} distinct stacks in {samples} samples",
            stacks.len()
        );
        let mut popularity: Vec<u64> = stacks.values().copied().collect();
        popularity.sort_unstable_by(|a, b| b.cmp(a));
        let top10: u64 = popularity[..10].iter().sum();
        assert!(
            top10 * 20 > samples,
            "the 10 hottest stacks have {top10} of {samples} samples"
        );
    }

    #[test]
    fn tally_round_trips_through_json_and_checks_its_total() {
        let mut tally = Tally::new();
        tally.add(EntryPoint::Api, 2);
        tally.add(EntryPoint::RunJobs, 3);
        let json = serde_json::to_string(&tally).expect("serializes");
        assert_eq!(
            json,
            r#"{"all":5,"index":0,"api":2,"load":0,"rest":0,"RunJobs":3}"#
        );
        assert_eq!(serde_json::from_str::<Tally>(&json).ok(), Some(tally));
        assert!(serde_json::from_str::<Tally>(r#"{"all":4,"api":2,"RunJobs":3}"#).is_err());
        assert!(serde_json::from_str::<Tally>(r#"{"all":0,"cli":0}"#).is_err());
    }

    #[test]
    fn cdf_never_picks_zero_weight_outcomes_and_covers_every_draw() {
        let cdf = Cdf::from_weights([1.0, 0.0, 1.0]);
        assert_eq!(cdf.sample(0), 0);
        assert_eq!(cdf.sample(u32::MAX / 2), 0);
        assert_eq!(cdf.sample(u32::MAX / 2 + 1), 2);
        assert_eq!(cdf.sample(u32::MAX), 2);
    }
}
