//! Build script: choose the interpreter, compile compat/ against it, generate
//! bindings, link libpython. The knobs and the probe are in the `interpreters`
//! crate (crates/interpreters), shared with the binary.

mod compat;
mod interpreter;

fn main() {
    let py = match interpreters::discover() {
        Ok(py) => py,
        Err(message) => {
            eprintln!("error: {message}");
            // Rerun when the user fixes the knob, not only when sources change.
            for knob in interpreters::KNOBS {
                println!("cargo:rerun-if-env-changed={knob}");
            }
            std::process::exit(1);
        }
    };
    if std::env::var_os("PYHOST_PRINT_CONFIG").is_some_and(|v| v == "1") {
        interpreter::print_config(&py);
    }
    interpreter::emit_rerun(&py);
    interpreter::emit_cfgs(&py);
    interpreter::emit_env(&py);
    compat::compile(&py);
    compat::generate_bindings();
    interpreter::emit_link(&py);
    println!("cargo:rerun-if-changed=build");
}
