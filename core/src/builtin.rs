//! The traits that built-in (in-process, Rust) plugins implement.
//!
//! They live in `kat-core` so that the runners can execute plugins without
//! depending on the `kat-plugins` crate: the `kat` binary hands the runners
//! a registry of `Box<dyn Boefje>` / `Box<dyn Normalizer>`.
//!
//! A boefje takes one input object and its job environment (the settings,
//! already checked against its `schema.json`) and returns raw files, each
//! tagged with mime types. A normalizer turns one raw file into objects; it
//! does no I/O, so it runs offline (`kat normalize`) as well as in a runner.
//! A rule (OpenKAT's "bit") draws conclusions, such as findings, from one
//! saved object; it does no I/O either.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use crate::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use crate::secret::Secret;
use crate::{CoreError, Ooi, Reference};

/// One raw output file of a boefje run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    /// A name for the file within the run, e.g. `nmap.xml`.
    pub name: String,
    /// Its mime types, e.g. `boefje/nmap`.
    pub mime_types: Vec<String>,
    /// The bytes themselves.
    pub content: Vec<u8>,
}

/// Why a boefje run failed; the runner stores the message as an `error/boefje` raw file.
#[derive(Debug, thiserror::Error)]
pub enum BoefjeError {
    /// The input object is not one this boefje consumes.
    #[error("boefje cannot run on {0}")]
    WrongInput(String),
    /// A setting has a value the boefje cannot use.
    #[error("setting {key} is invalid: {reason}")]
    Setting {
        /// The setting's name (never its value).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The scan itself failed (network down, timeout of the whole run, ...).
    #[error("scan failed: {0}")]
    Scan(String),
}

/// The job environment a boefje receives: setting name to value.
pub type JobEnv = BTreeMap<String, Secret<String>>;

/// The future a boefje run returns.
pub type BoefjeRun<'a> = Pin<Box<dyn Future<Output = Result<Vec<RawFile>, BoefjeError>> + Send + 'a>>;

/// A scanning plugin written in Rust, run in process.
pub trait Boefje: Send + Sync {
    /// The plugin's `boefje.json`.
    fn manifest(&self) -> BoefjeManifest;
    /// The plugin's `schema.json`, if it takes settings.
    fn schema(&self) -> Option<SettingsSchema>;
    /// Scan `input` with the settings in `env`.
    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a>;
}

/// Why a raw file could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The raw file is not in the format the normalizer reads.
    #[error("cannot parse raw file: {0}")]
    Parse(String),
    /// The raw file parsed but describes an object the model refuses.
    #[error("invalid object in raw file: {0}")]
    Object(#[from] CoreError),
}

impl NormalizeError {
    /// A parse error with this message.
    pub fn parse(message: String) -> Self {
        NormalizeError::Parse(message)
    }
}

/// A parsing plugin: raw bytes plus the input object in, objects out.
pub trait Normalizer: Send + Sync {
    /// The plugin's `normalizer.json`.
    fn manifest(&self) -> NormalizerManifest;
    /// Parse `raw`, produced by a boefje run on `input`, into objects.
    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError>;
}

/// A rule over saved objects (OpenKAT's "bits"): after each saved observation the normalizer runner evaluates
/// it on every object of a type it consumes and saves what it concludes as an observation of its own (method
/// `rule/<id>`, source the object), replacing its earlier conclusion, so a finding goes when the rule stops
/// holding or its object goes.
pub trait Rule: Send + Sync {
    /// The rule's id, e.g. `port-classification-ip` (OpenKAT's bit id where it has one).
    fn id(&self) -> &'static str;
    /// The object types it is evaluated on.
    fn consumes(&self) -> &'static [&'static str];
    /// The other objects it reads (OpenKAT's bit parameters): each path leads from the consumed object to
    /// objects that [`Rule::evaluate`] gets as `parameters`. When an object at a path's end changes, the rule
    /// is evaluated again on the consumed objects the path leads back to.
    fn parameters(&self) -> &'static [&'static [Step]] {
        &[]
    }
    /// What holds for `object` now, given the objects its [`Rule::parameters`] paths reach (all paths' ends,
    /// in path order): conclusions such as findings with their finding types (empty when nothing holds).
    fn evaluate(&self, object: &Ooi, parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError>;
}

/// One step of a rule's parameter path, from the objects reached so far to the next ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// To the object this reference field of the current object names.
    Field(&'static str),
    /// To the objects of `object_type` whose reference field `field` names the current object.
    ReferencedBy {
        /// The type of the referring objects.
        object_type: &'static str,
        /// Their field that holds the reference.
        field: &'static str,
    },
}
