//! The host's side of python/pyhost.py: installing it in an interpreter, and
//! the calls the host makes into it. The package is compiled into the binary
//! and created from source in each interpreter, so an installed pyhost needs
//! no files beside it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::python::{Gil, Obj, OwnedObj, Pair, Result, end_forked_child, in_forked_child};

pub const SOURCE: &str = include_str!("../../python/pyhost.py");
const SPAWN_MAIN: &str = include_str!("../../python/spawn_main.py");

/// What a process multiprocessing spawns from a module needs on disk: the
/// child is a plain Python that runs `__main__`'s file first (see
/// python/spawn_main.py). A private folder, removed when this drops.
pub struct SpawnSupport {
    _dir: tempfile::TempDir,
    main: PathBuf,
}

impl SpawnSupport {
    pub fn write() -> std::io::Result<SpawnSupport> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("pyhost-spawn-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let main = dir.path().join("pyhost_spawn_main.py");
        std::fs::write(dir.path().join("pyhost.py"), SOURCE)?;
        std::fs::write(&main, SPAWN_MAIN)?;
        Ok(SpawnSupport { _dir: dir, main })
    }

    pub fn main_file(&self) -> &Path {
        &self.main
    }
}

/// Creates sys.modules['pyhost'] from the code marshalled in
/// __pyhost_marshal__ or else from the source bound to __pyhost_source__,
/// unless this interpreter has it already (the main one hosts several modules).
pub(crate) const INSTALL: &str = "\
import sys
if 'pyhost' not in sys.modules:
    _pyhost_module = type(sys)('pyhost')
    _pyhost_module.__file__ = '<pyhost>/pyhost.py'
    sys.modules['pyhost'] = _pyhost_module
    try:
        if globals().get('__pyhost_marshal__') is not None:
            import marshal
            _pyhost_code = marshal.loads(__pyhost_marshal__)
        else:
            _pyhost_code = compile(__pyhost_source__, '<pyhost>/pyhost.py', 'exec')
        exec(_pyhost_code, _pyhost_module.__dict__)
        del _pyhost_code
    except BaseException:
        del sys.modules['pyhost']
        raise
    finally:
        del _pyhost_module
globals().pop('__pyhost_source__', None)
globals().pop('__pyhost_marshal__', None)
";

/// pyhost.py compiled once per process, marshalled: compiling its source
/// took about a fifth of the time of making an interpreter, in every one
/// (README, "Where the time of a start goes"), and reading the code back
/// from bytes takes a fraction of that. Bytes cross interpreters; the code
/// objects made from them do not, and need not.
static MARSHALLED: OnceLock<Vec<u8>> = OnceLock::new();

/// Binds what INSTALL reads: the marshalled code once some interpreter has
/// compiled it, else the source, which this interpreter compiles and
/// marshals for the next ones.
fn bind_code(gil: &Gil<'_>) -> Result<()> {
    if let Some(code) = MARSHALLED.get() {
        return gil.set_global("__pyhost_marshal__", gil.bytes(code)?);
    }
    gil.set_global("__pyhost_source__", gil.str(SOURCE)?)?;
    let code = gil.eval(COMPILE)?;
    let _ = MARSHALLED.set(code.to_bytes()?);
    gil.set_global("__pyhost_marshal__", code)
}

const COMPILE: &str = "__import__('marshal').dumps(compile(__pyhost_source__, '<pyhost>/pyhost.py', 'exec'))";

/// Every call from the host into a module goes through here. In a process
/// forked from the host, the module's code returning is the end of the child.
fn call<'g>(gil: &'g Gil<'_>, function: &str, args: Vec<Obj<'g>>) -> Result<Obj<'g>> {
    let outcome = gil.import("pyhost").and_then(|pyhost| pyhost.call_method(function, args));
    if in_forked_child() {
        end_forked_child(gil, &outcome);
    }
    outcome
}

/// Makes an interpreter ready to host: the pyhost package, site folders
/// (.pth files processed), guards against os._exit/sys.exit, output capture.
/// `module` is None for the main interpreter, which may host several.
pub fn bootstrap(gil: &Gil<'_>, module: Option<&str>, site_dirs: &[PathBuf]) -> Result<()> {
    bind_code(gil)?;
    gil.run(INSTALL)?;
    let name = match module {
        Some(name) => gil.str(name)?,
        None => gil.none(),
    };
    let dirs = site_dirs.iter().map(|d| gil.path(d)).collect::<Result<Vec<_>>>()?;
    call(gil, "_host_bootstrap", vec![name, gil.tuple(dirs)?])?;
    Ok(())
}

/// What the host learns from a module's class when it is loaded.
#[derive(Debug, Clone)]
pub struct Meta {
    pub notify_types: Vec<String>,
    pub serves: bool,
    pub self_test: bool,
}

/// Imports module.py and makes the instance (its __init__ runs here).
pub fn load(gil: &Gil<'_>, name: &str, path: &Path, options: &serde_json::Value) -> Result<(OwnedObj, Meta)> {
    let args = vec![gil.str(name)?, gil.path(path)?, gil.str(&options.to_string())?];
    let pair = call(gil, "_host_load", args)?;
    let instance = pair.item(0)?.into_owned();
    let meta = pair.item(1)?;
    let notify_types = meta.item(0)?.items()?.iter().map(|t| t.to_text()).collect::<Result<Vec<_>>>()?;
    let meta = Meta { notify_types, serves: meta.item(1)?.is_true()?, self_test: meta.item(2)?.is_true()? };
    Ok((instance, meta))
}

pub fn serve(gil: &Gil<'_>, instance: &OwnedObj) -> Result<()> {
    call(gil, "_host_serve", vec![instance.bind(gil)?]).map(drop)
}

/// notify() for each pair `next` gives (event, JSON payload), in one call
/// into Python under the GIL already held: the module is marked current
/// once, and each event is taken only when Python asks for it.
pub fn notify_batch(gil: &Gil<'_>, instance: &OwnedObj, next: &mut dyn FnMut() -> Option<Pair>) -> Result<()> {
    gil.with_puller(next, |puller| call(gil, "_host_notify_batch", vec![instance.bind(gil)?, puller]).map(drop))
}

/// Sets the instance's `stopping` event, which serve() and notify() may be
/// waiting on, without calling into the module's own code.
pub fn set_stopping(gil: &Gil<'_>, instance: &OwnedObj) -> Result<()> {
    instance.bind(gil)?.getattr("stopping")?.call_method0("set").map(drop)
}

pub fn shutdown(gil: &Gil<'_>, instance: &OwnedObj) -> Result<()> {
    call(gil, "_host_shutdown", vec![instance.bind(gil)?]).map(drop)
}

/// Runs self_test(); false when the module defines none.
pub fn self_test(gil: &Gil<'_>, instance: &OwnedObj) -> Result<bool> {
    call(gil, "_host_self_test", vec![instance.bind(gil)?])?.is_true()
}

/// `{"result": ...}` as JSON text.
pub fn remote(gil: &Gil<'_>, instance: &OwnedObj, method: &str, args_json: &str) -> Result<String> {
    call(gil, "_host_remote", vec![instance.bind(gil)?, gil.str(method)?, gil.str(args_json)?])?.to_text()
}

/// Live threads module `name` started in this interpreter: (name, daemon).
pub fn threads(gil: &Gil<'_>, name: &str) -> Result<Vec<(String, bool)>> {
    call(gil, "_host_threads", vec![gil.str(name)?])?
        .items()?
        .iter()
        .map(|pair| Ok((pair.item(0)?.display(), pair.item(1)?.is_true()?)))
        .collect()
}

/// What importing one module.py brought in.
pub struct Probed {
    /// The extension modules.
    pub extensions: Vec<String>,
    /// The files of every module (module.py among them).
    pub files: Vec<PathBuf>,
}

/// Imports module.py only, and lists what it brought in.
pub fn probe(gil: &Gil<'_>, name: &str, path: &Path) -> Result<Probed> {
    let found = call(gil, "_host_probe", vec![gil.str(name)?, gil.path(path)?])?;
    Ok(Probed {
        extensions: found.item(0)?.items()?.iter().map(|n| n.to_text()).collect::<Result<_>>()?,
        files: found.item(1)?.items()?.iter().map(|f| f.to_path()).collect::<Result<_>>()?,
    })
}
