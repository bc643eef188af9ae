fn main() {
    std::process::exit(pyhost::cli::main());
}
