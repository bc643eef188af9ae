//! Choosing the interpreter when pyhost starts, and loading it: its
//! libpython (with global symbols, which extension modules link against at
//! import) and then the compat object built for it (compat_object.rs).
//!
//! One process embeds one interpreter. The choice is, first found:
//! `pyhost --python P` ([`choose`]), PYHOST_PYTHON in the environment, the
//! interpreter the build environment named (PYHOST_PYTHON at `cargo build`).
//! Everything is loaded once, on first use; the CLI loads before running a
//! command, so that a failure is one clear error rather than a panic.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use interpreters::Interpreter;

use super::compat_object;
use super::ffi::Compat;

/// The environment variable that chooses the interpreter at run time, and
/// that passes the choice to pyhost's children of itself.
pub const PYTHON_ENV: &str = "PYHOST_PYTHON";
/// What the build environment chose (see build/interpreter.rs).
const BUILD_DEFAULT: &str = env!("PYHOST_DEFAULT_PYTHON");
const BUILD_DEFAULT_BY: &str = env!("PYHOST_DEFAULT_PYTHON_BY");

/// Who chose the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    /// `pyhost --python P`.
    Flag,
    /// PYHOST_PYTHON when pyhost started.
    Environment,
    /// The build's default.
    Build,
}

impl fmt::Display for ChosenBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChosenBy::Flag => write!(f, "--python"),
            ChosenBy::Environment => write!(f, "{PYTHON_ENV}"),
            ChosenBy::Build if BUILD_DEFAULT_BY.starts_with("PY") => {
                write!(f, "the build's default ({BUILD_DEFAULT_BY} at cargo build)")
            }
            ChosenBy::Build => write!(f, "the build's default"),
        }
    }
}

/// What was asked for: a path, a command, or a version such as `3.12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub requested: String,
    pub by: ChosenBy,
}

impl Choice {
    /// The `--python` value if given, else PYHOST_PYTHON, else the build's default.
    pub fn new(flag: Option<String>) -> Choice {
        if let Some(requested) = flag.filter(|f| !f.trim().is_empty()) {
            return Choice { requested, by: ChosenBy::Flag };
        }
        match std::env::var(PYTHON_ENV) {
            Ok(requested) if !requested.trim().is_empty() => Choice { requested, by: ChosenBy::Environment },
            _ => Choice { requested: BUILD_DEFAULT.to_string(), by: ChosenBy::Build },
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// Not found, not runnable, unsupported, or without headers or a shared
    /// libpython; the message names the package that has what is missing.
    #[error("cannot use the Python interpreter `{requested}` (chosen by {by}): {why}")]
    Interpreter { requested: String, by: ChosenBy, why: String },
    #[error(
        "no C compiler: `{compiler}` cannot be run ({why}). pyhost compiles its small compat layer once per \
         interpreter; install a compiler (`apt-get install gcc`) or name one in CC"
    )]
    NoCompiler { compiler: String, why: String },
    #[error("pyhost's compat layer does not compile against Python {version} ({executable}):\n{output}")]
    CompatBuild { version: String, executable: PathBuf, output: String },
    #[error("cannot keep the compat object for Python {version} under {dir}: {why}")]
    Cache { version: String, dir: PathBuf, why: String },
    #[error("cannot load {path}: {why}")]
    Library { path: PathBuf, why: String },
    #[error("`{chosen}` is this process's interpreter already; one process embeds one, so `{requested}` cannot be")]
    AlreadyChosen { chosen: String, requested: String },
}

/// The interpreter this process runs, and where its pieces came from.
pub struct Loaded {
    pub interpreter: Interpreter,
    pub by: ChosenBy,
    /// The compat object built for it (in the cache folder).
    pub compat_object: PathBuf,
    api: Compat,
    /// Never unloaded: CPython cannot be unloaded from a process.
    _libpython: libloading::os::unix::Library,
}

static CHOICE: OnceLock<Choice> = OnceLock::new();
static CHOSEN: OnceLock<Result<Interpreter, LoadError>> = OnceLock::new();
static LOADED: OnceLock<Result<Loaded, LoadError>> = OnceLock::new();

/// Sets the choice for this process; call before anything uses Python. Once
/// an interpreter is chosen, choosing another is an error.
pub fn choose(choice: Choice) -> Result<(), LoadError> {
    let set = CHOICE.get_or_init(|| choice.clone());
    if *set == choice {
        return Ok(());
    }
    Err(LoadError::AlreadyChosen { chosen: set.requested.clone(), requested: choice.requested })
}

fn choice() -> &'static Choice {
    CHOICE.get_or_init(|| Choice::new(None))
}

/// The chosen interpreter, probed (not loaded): its version, paths and flags.
pub fn chosen() -> Result<&'static Interpreter, LoadError> {
    CHOSEN
        .get_or_init(|| {
            let choice = choice();
            interpreters::find_with(&choice.requested, "pyhost", super::probe_cache::probe).map_err(|why| {
                LoadError::Interpreter {
                    requested: choice.requested.clone(),
                    by: choice.by,
                    why: why.replace('\n', " "),
                }
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Loads the chosen interpreter (once): builds or finds its compat object,
/// then loads libpython and the object.
pub fn load() -> Result<&'static Loaded, LoadError> {
    LOADED.get_or_init(|| load_chosen(chosen()?)).as_ref().map_err(Clone::clone)
}

fn load_chosen(interpreter: &Interpreter) -> Result<Loaded, LoadError> {
    let compat_object = compat_object::build_or_reuse(interpreter)?;
    let library = interpreter.library_file();
    // SAFETY: loading libpython runs only its ELF constructors, which set up
    // static data. RTLD_GLOBAL makes its symbols visible to the compat object
    // and to extension modules, which are not linked against libpython.
    let libpython = unsafe { libloading::os::unix::Library::open(Some(&library), libc::RTLD_NOW | libc::RTLD_GLOBAL) }
        .map_err(|e| LoadError::Library { path: library.clone(), why: e.to_string() })?;
    // SAFETY: the object was compiled from the compat sources embedded in this
    // binary, whose header the bindings were generated from, so every symbol
    // has the type the table gives it; its constructors are the C runtime's.
    let api = unsafe { Compat::new(&compat_object) }
        .map_err(|e| LoadError::Library { path: compat_object.clone(), why: e.to_string() })?;
    Ok(Loaded { interpreter: interpreter.clone(), by: choice().by, compat_object, api, _libpython: libpython })
}

/// The compat functions. The CLI loads before it runs a command and reports
/// a failure; a library user who calls into Python without `load` (or
/// `Python::initialize`, which loads) gets the same message as a panic.
pub(crate) fn api() -> &'static Compat {
    match load() {
        Ok(loaded) => &loaded.api,
        Err(e) => panic!("pyhost cannot load its Python: {e}"),
    }
}

/// What a child process of pyhost itself needs in its environment to run
/// the same interpreter: PYHOST_PYTHON set to the chosen one's real path.
pub fn child_env() -> Option<(&'static str, OsString)> {
    let choice = choice();
    if choice.by == ChosenBy::Build {
        return None;
    }
    let value = match chosen() {
        Ok(interpreter) => interpreter.executable.clone().into_os_string(),
        Err(_) => OsString::from(&choice.requested),
    };
    Some((PYTHON_ENV, value))
}
