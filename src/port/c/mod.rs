//! The C side of `pyhost port check`: legacy Python C-API use in C and C++
//! sources, by the rules of port/rules/c.toml.
//!
//! A token scanner, not a compiler front end: lex.rs splits the source
//! into code tokens and preprocessor directives (comments and string
//! literals are never names), cond.rs evaluates the `#if` conditions that
//! are about the Python version for each version, and scan.rs matches the
//! table's names and the few constructs that need code (an `init<name>`
//! function, an assignment to Py_TYPE(), a tp_compare slot, `#` formats).
//! Each finding carries the versions its line is compiled for, so code in
//! a `#if PY_MAJOR_VERSION >= 3` branch never breaks 2.7 and the other way round.

pub mod cond;
pub mod fix;
pub mod lex;
pub mod scan;

pub use scan::{CFinding, CScan, scan_file, scan_source};

/// The file name endings the C side reads.
pub const EXTENSIONS: &[&str] = &["c", "h", "cc", "cpp", "cxx", "hpp"];

/// Whether `path` names a C or C++ source the C side reads.
pub fn is_c_source(path: &std::path::Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fix_tests;
