//! Build script: generate the Rust bindings from compat's own header, embed
//! compat's C sources (the binary compiles them per interpreter at run time,
//! see src/python/compat_object.rs), and record the default interpreter.
//! The knobs and the probe are in the `interpreters` crate
//! (crates/interpreters), shared with the binary.

mod compat;
mod interpreter;

fn main() {
    interpreter::emit_default();
    compat::generate_bindings();
    compat::embed_sources();
    println!("cargo:rerun-if-changed=build");
}
