//! The `actorc` binary: parses arguments and hands over to [`actorc::cli`].

fn main() {
    std::process::exit(actorc::cli::main());
}
