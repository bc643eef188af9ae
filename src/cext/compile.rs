//! gcc, with the warnings that hide a Python 2 call made errors.

use std::ffi::OsString;

use super::{BuildFailure, BuildSpec, FIRST_LINES, Stage, Target, ToolError};
use crate::child::{ChildError, ChildSpec};

/// Warnings that are errors here: each is how GCC 12 lets a call to an API
/// Python 3 removed through (an implicit declaration returning int, then
/// that int used as a pointer).
pub const WERROR: [&str; 3] =
    ["-Werror=implicit-function-declaration", "-Werror=int-conversion", "-Werror=incompatible-pointer-types"];

/// The compiler for users' C files: $PYHOST_BUILD_CC, else $CC (a command,
/// possibly with arguments), else gcc. PYHOST_BUILD_CC leaves the compiler
/// of pyhost's own compat layer (CC) alone.
pub fn compiler() -> Vec<OsString> {
    for key in ["PYHOST_BUILD_CC", "CC"] {
        if let Ok(cc) = std::env::var(key)
            && !cc.trim().is_empty()
        {
            return cc.split_whitespace().map(OsString::from).collect();
        }
    }
    vec!["gcc".into()]
}

/// The command line after the compiler itself.
pub fn arguments(spec: &BuildSpec, target: &Target) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-shared", "-fPIC", "-O1", "-fdiagnostics-color=never"].map(OsString::from).to_vec();
    args.extend(WERROR.map(OsString::from));
    args.extend(spec.defines.iter().map(|d| OsString::from(format!("-D{d}"))));
    for dir in spec.include_dirs.iter().chain([&target.include_dir]) {
        let mut flag = OsString::from("-I");
        flag.push(dir);
        args.push(flag);
    }
    args.push("-o".into());
    args.push(spec.output.into());
    args.extend(spec.sources.iter().map(OsString::from));
    args
}

/// Compiles and links; Ok(Err(..)) with the compiler's first errors when it fails.
pub fn compile(spec: &BuildSpec, target: &Target) -> Result<Result<(), BuildFailure>, ToolError> {
    let command = compiler();
    let program = command[0].to_string_lossy().into_owned();
    let child = ChildSpec::new(&command[0], spec.timeout)
        .args(command[1..].iter().cloned())
        .args(arguments(spec, target))
        // ASCII quotes and English messages, whatever the user's locale.
        .env("LC_ALL", "C");
    let finished = match child.run(b"") {
        Ok(finished) => finished,
        Err(ChildError::Spawn { source, .. }) => return Err(ToolError::NoCompiler { program, source }),
        Err(ChildError::TimedOut { after, .. }) => {
            let line = format!("{program} did not finish within {:.0} s", after.as_secs_f64());
            return Ok(Err(BuildFailure { stage: Stage::Compile, lines: vec![line] }));
        }
        Err(other) => return Ok(Err(BuildFailure { stage: Stage::Compile, lines: vec![other.to_string()] })),
    };
    if finished.status.success() {
        return Ok(Ok(()));
    }
    Ok(Err(BuildFailure { stage: Stage::Compile, lines: first_errors(&finished.stderr) }))
}

/// The compiler's first error lines; the last lines when none says "error".
pub fn first_errors(stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<String> =
        lines.iter().filter(|l| l.contains("error:")).take(FIRST_LINES).map(|l| l.trim_end().to_string()).collect();
    if !errors.is_empty() {
        return errors;
    }
    lines[lines.len().saturating_sub(FIRST_LINES)..].iter().map(|l| l.trim_end().to_string()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_are_picked_before_notes_and_context() {
        let stderr = "x.c: In function 'f':\nx.c:3:12: error: implicit declaration of function 'PyString_FromString' [-Werror=implicit-function-declaration]\n    3 |     return PyString_FromString(\"a\");\n      |            ^~~~\nx.c:3:12: note: something\ncc1: some warnings being treated as errors\n";
        let errors = super::first_errors(stderr);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("'PyString_FromString'"));
        assert_eq!(super::first_errors("ld: cannot find crt1.o\ncollect2: ld returned 1 exit status\n").len(), 2);
    }
}
