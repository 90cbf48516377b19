//! The rubric (`rubric.toml`): which side the submissions play (a server, a client, or both), what a
//! submission is, how it is built and run, against which reference, in which scenarios, under
//! which limits, and what each documented step is worth and each failure costs. The book's
//! reference page (`lessons/reference/grade.md`) shows it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::check::Side;
use crate::sequence::{Part, ACTIVE_OPEN, PASSIVE_OPEN};

/// A rubric as read, with the folder it was read from (its commands' `{rubric}`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    pub title: String,
    /// The side the submissions play; the reference plays the other one.
    #[serde(default = "server")]
    pub role: Role,
    /// Seconds a scenario's run may take before all its processes are ended (a server that
    /// has not listened by then never sees its client).
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Seconds the build step may take (a cold Go build compiles the standard library).
    #[serde(default = "default_build_timeout")]
    pub build_timeout: f64,
    pub reference: Reference,
    #[serde(default)]
    pub limits: Limits,
    #[serde(rename = "language")]
    pub languages: Vec<Language>,
    #[serde(rename = "scenario")]
    pub scenarios: Vec<Scenario>,
    #[serde(rename = "item")]
    pub items: Vec<Item>,
    #[serde(default, rename = "deduction")]
    pub deductions: Vec<Deduction>,
    /// Ports something else already listens on inside each submission's network (a server
    /// that hard-codes one of them meets `EADDRINUSE`, as on a shared machine).
    #[serde(default)]
    pub occupied_ports: Vec<u16>,
    #[serde(skip)]
    pub dir: PathBuf,
    /// The rubric's text, for the cache key.
    #[serde(skip)]
    pub text: String,
}

/// The instructor's programs: the side the submissions do not play talks to each submission;
/// both, run together, give the traces the submissions' traces are compared with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// `{port}`: the server's port; `{rubric}`: the rubric's folder.
    pub client: String,
    /// `{clients}`: how many clients the scenario runs.
    pub server: String,
}

/// Bounds on each submission's processes, together (they run as one user of their own).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// CPU seconds per process (RLIMIT_CPU).
    pub cpu_seconds: u64,
    /// Address space per process, MiB (RLIMIT_AS). The JVM reserves much more than it uses.
    pub memory_mb: u64,
    /// Processes and threads of the submission's user at once (RLIMIT_NPROC).
    pub processes: u64,
    /// Bytes of output kept; the rest is counted, not kept.
    pub output_kb: u64,
    /// Size of any one file written, MiB (RLIMIT_FSIZE).
    pub file_mb: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { cpu_seconds: 10, memory_mb: 1024, processes: 64, output_kb: 64, file_mb: 16 }
    }
}

/// How to build and run one language's submissions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    pub name: String,
    /// A file whose presence in a submission says it is in this language.
    pub file: String,
    /// Run in the submission's folder, in its sandbox, before the scenarios.
    pub build: Option<String>,
    /// The submission's program, with the placeholders of the reference's program of its side
    /// (a server's `{clients}`, a client's `{port}`); its server when it plays both sides.
    pub run: String,
    /// Its client, when it plays both sides (`role = "both"`), and only then.
    pub client: Option<String>,
    /// Overrides [`Limits::memory_mb`] for this language (the JVM, Go's toolchain).
    pub memory_mb: Option<u64>,
}

/// One run of the submission against the reference's other side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default = "one")]
    pub clients: u32,
    /// The clients run at the same time (else one after another).
    #[serde(default)]
    pub concurrent: bool,
    /// Another client than the reference's for this scenario (one that resets the
    /// connection, say), with the same placeholders.
    pub client: Option<String>,
    /// Another server than the reference's for this scenario (one that closes first, say),
    /// with the same placeholders.
    pub server: Option<String>,
    /// No server at all: the client (of a rubric whose submissions play the client) connects to
    /// a port nobody listens on, and must fail cleanly: say so and exit with a status other
    /// than 0.
    #[serde(default)]
    pub refused: bool,
}

/// Points for one documented step of one socket's part, met in every scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub name: String,
    /// `listening` or `accepted` (the server's sockets), or `client`: a part of a side the
    /// submissions play.
    pub part: Part,
    /// The step's id in its documented sequence (the server's `create`, `bind`, `listen`,
    /// `accept`, `exchange`, `close`; the client's `create`, `address`, `connect`,
    /// `exchange`, `close`).
    pub step: String,
    pub points: f64,
}

impl Item {
    /// The documented step's title (`Listen`), as the check names it.
    pub fn step_title(&self) -> &'static str {
        let sequence = if self.part == Part::Client { &ACTIVE_OPEN } else { &PASSIVE_OPEN };
        sequence.steps.iter().find(|s| s.id == self.step).map_or("?", |s| s.title)
    }
}

/// The side(s) a class's submissions play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Client,
    /// A server and its client, both the submission's.
    Both,
}

impl Role {
    /// Whether the submissions play `side` (else the reference does).
    pub fn plays(self, side: Side) -> bool {
        matches!((self, side), (Role::Both, _) | (Role::Server, Side::Server) | (Role::Client, Side::Client))
    }

    /// The side the check holds against its sequence (`None`: both).
    pub fn checked(self) -> Option<Side> {
        match self {
            Role::Server => Some(Side::Server),
            Role::Client => Some(Side::Client),
            Role::Both => None,
        }
    }
}

/// Points taken off, once, when something happened in any scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deduction {
    pub name: String,
    pub when: Failure,
    pub points: f64,
}

/// What a deduction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The build step failed.
    BuildFailed,
    /// A run outlived the rubric's timeout and was ended.
    Timeout,
    /// The submission's program ended with a status other than 0, or by a signal (in a
    /// refused scenario: by a signal).
    Crashed,
    /// The reference client did not end with status 0 (a wrong echo, a reset, no answer).
    ClientFailed,
    /// The reference server did not end with status 0 (the client never connected, spoke
    /// wrongly, or left it waiting).
    ServerFailed,
    /// In a refused scenario, the client did not report the refused connection: it exited
    /// with status 0, was killed by a signal, or was still running at the timeout.
    RefusalIgnored,
    /// The server never listened, so the client never ran.
    NeverListened,
    /// More output than the limit.
    OutputFlood,
    /// The normalized trace differs from the reference's.
    SnapshotDiffers,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::BuildFailed => "build-failed",
            Failure::Timeout => "timeout",
            Failure::Crashed => "crashed",
            Failure::ClientFailed => "client-failed",
            Failure::ServerFailed => "server-failed",
            Failure::RefusalIgnored => "refusal-ignored",
            Failure::NeverListened => "never-listened",
            Failure::OutputFlood => "output-flood",
            Failure::SnapshotDiffers => "snapshot-differs",
        })
    }
}

/// Which failures happened.
pub type Failures = BTreeSet<Failure>;

fn default_timeout() -> f64 {
    20.0
}

fn default_build_timeout() -> f64 {
    120.0
}

fn one() -> u32 {
    1
}

fn server() -> Role {
    Role::Server
}

/// A rubric that cannot be used: where, and why.
#[derive(Debug)]
pub struct RubricError {
    pub path: PathBuf,
    pub detail: String,
}

impl fmt::Display for RubricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the rubric {}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for RubricError {}

impl Rubric {
    /// The commands the reference's user runs, placeholders still in them: the reference's,
    /// and the scenarios' own.
    pub fn reference_commands(&self) -> impl Iterator<Item = &str> {
        let reference = [self.reference.client.as_str(), self.reference.server.as_str()];
        let scenarios = self.scenarios.iter().flat_map(|s| [s.client.as_deref(), s.server.as_deref()]).flatten();
        reference.into_iter().chain(scenarios)
    }

    /// The commands a submission's user runs: each language's build, run and client.
    pub fn submission_commands(&self) -> impl Iterator<Item = &str> {
        self.languages.iter().flat_map(|l| [l.build.as_deref(), Some(l.run.as_str()), l.client.as_deref()]).flatten()
    }

    /// Parses a rubric's text; `dir` is its folder. Every item must name a step its part has.
    pub fn parse(text: &str, dir: &Path) -> Result<Rubric, String> {
        let mut rubric: Rubric = toml::from_str(text).map_err(|e| e.to_string())?;
        rubric.dir = dir.to_path_buf();
        rubric.text = text.to_string();
        for item in &rubric.items {
            let (sequence, side) = match item.part {
                Part::Listening | Part::Accepted => (&PASSIVE_OPEN, Side::Server),
                Part::Client => (&ACTIVE_OPEN, Side::Client),
                Part::Bound => return Err(format!("item {:?}: only TCP is graded (part listening, accepted or client)", item.name)),
            };
            if !rubric.role.plays(side) {
                return Err(format!("item {:?}: part {} is the {side}'s, and the reference plays the {side} (see role)", item.name, item.part.label()));
            }
            if !sequence.steps.iter().any(|s| s.id == item.step) {
                let ids: Vec<&str> = sequence.steps.iter().map(|s| s.id).collect();
                return Err(format!("item {:?}: {} has no step {:?} (its steps: {})", item.name, sequence.title, item.step, ids.join(", ")));
            }
        }
        let bad_time = |t: f64| !(t > 0.0 && t <= 3600.0);
        if bad_time(rubric.timeout) || bad_time(rubric.build_timeout) {
            return Err("timeout and build_timeout are seconds, more than 0 and at most 3600".to_string());
        }
        if rubric.languages.is_empty() || rubric.scenarios.is_empty() || rubric.items.is_empty() {
            return Err("a rubric needs at least one [[language]], one [[scenario]] and one [[item]]".to_string());
        }
        if rubric.scenarios.iter().any(|s| s.clients == 0 || s.clients > 64) {
            return Err("a scenario runs 1 to 64 clients".to_string());
        }
        if let Some(s) = rubric.scenarios.iter().find(|s| s.refused && !rubric.role.plays(Side::Client)) {
            return Err(format!("scenario {:?}: refused = true grades clients (role = \"client\" or \"both\"): a server has no part in it", s.name));
        }
        if let Some(l) = rubric.languages.iter().find(|l| l.client.is_some() != (rubric.role == Role::Both)) {
            return Err(format!("language {:?}: a client of its own (client = …) goes with role = \"both\", and only with it", l.name));
        }
        Ok(rubric)
    }

    /// The most points a submission can get.
    pub fn max_points(&self) -> f64 {
        self.items.iter().map(|i| i.points).sum()
    }

    /// The language of a submission holding `files` (names relative to its folder).
    pub fn language_of(&self, files: &[PathBuf]) -> Option<&Language> {
        self.languages.iter().find(|l| files.iter().any(|f| f == Path::new(&l.file)))
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    fn template() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/grade/rubric.toml")).expect("the template's rubric")
    }

    #[test]
    fn the_template_parses__its_points_add_up() {
        let rubric = Rubric::parse(&template(), Path::new("/r")).expect("a rubric");
        assert_eq!(rubric.max_points(), 10.0);
        assert_eq!(rubric.items[2].step_title(), "Wait for clients (passive open)");
        assert_eq!(rubric.language_of(&[PathBuf::from("Server.java")]).map(|l| l.name.as_str()), Some("java"));
        assert!(rubric.language_of(&[PathBuf::from("notes.txt")]).is_none());
    }

    #[test]
    fn a_step_its_part_does_not_have__is_refused_with_the_steps_it_has() {
        let text = template().replace("step = \"listen\"", "step = \"listens\"");
        let err = Rubric::parse(&text, Path::new("/r")).expect_err("no such step");
        assert!(err.contains("no step \"listens\"") && err.contains("create, bind, listen"), "{err}");
    }

    fn client_template() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/grade/clients/rubric.toml")).expect("the client template's rubric")
    }

    #[test]
    fn the_client_template_parses__its_role_is_client__one_scenario_refused() {
        let rubric = Rubric::parse(&client_template(), Path::new("/r")).expect("a rubric");
        assert_eq!(rubric.role, Role::Client);
        assert_eq!(rubric.max_points(), 10.0);
        assert_eq!(rubric.items[2].step_title(), "Connect (active open): the handshake runs inside connect()");
        assert_eq!(rubric.scenarios.iter().filter(|s| s.refused).count(), 1);
        assert!(rubric.scenarios[1].server.as_deref().is_some_and(|s| s.contains("closes_first.py")));
        assert_eq!(Rubric::parse(&template(), Path::new("/r")).expect("a rubric").role, Role::Server, "server is the default");
    }

    #[test]
    fn an_item_of_the_other_side__or_a_refused_server_scenario__is_refused() {
        let err = Rubric::parse(&client_template().replace("role = \"client\"", ""), Path::new("/r")).expect_err("client items, server role");
        assert!(err.contains("part client is the client's, and the reference plays the client"), "{err}");
        let err = Rubric::parse(&template().replace("part = \"accepted\"", "part = \"client\""), Path::new("/r")).expect_err("a client item");
        assert!(err.contains("part client is the client's"), "{err}");
        let refused = template().replace("name = \"echo\"\nclients = 1", "name = \"echo\"\nclients = 1\nrefused = true");
        let err = Rubric::parse(&refused, Path::new("/r")).expect_err("refused grades clients");
        assert!(err.contains("refused = true grades clients"), "{err}");
        let err = Rubric::parse(&client_template().replace("role = \"client\"", "role = \"peer\""), Path::new("/r")).expect_err("no such role");
        assert!(err.contains("peer"), "{err}");
    }

    #[test]
    fn both_sides__play_each_side__a_language_client_goes_with_them_only() {
        assert!(Role::Both.plays(Side::Server) && Role::Both.plays(Side::Client) && Role::Both.checked().is_none());
        assert!(Role::Client.plays(Side::Client) && !Role::Client.plays(Side::Server));
        let both = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/grade/both/rubric.toml")).expect("the both rubric");
        let rubric = Rubric::parse(&both, Path::new("/r")).expect("a rubric");
        assert_eq!((rubric.role, rubric.max_points()), (Role::Both, 10.0));
        let err = Rubric::parse(&both.replace("client = \"./client {port}\"", ""), Path::new("/r")).expect_err("no client");
        assert!(err.contains("language \"c\": a client of its own"), "{err}");
        let err =
            Rubric::parse(&template().replace("run = \"./server {clients}\"", "run = \"./server\"\nclient = \"./c\""), Path::new("/r")).expect_err("a client");
        assert!(err.contains("goes with role = \"both\""), "{err}");
    }

    #[test]
    fn an_unknown_key__or_failure__is_refused() {
        assert!(Rubric::parse(&template().replace("timeout = 5", "timeout = 5\ntimout = 3"), Path::new("/r")).is_err());
        assert!(Rubric::parse(&template().replace("when = \"timeout\"", "when = \"late\""), Path::new("/r")).is_err());
        assert!(Rubric::parse(&template().replace("timeout = 5", "timeout = 0"), Path::new("/r")).is_err());
    }
}
