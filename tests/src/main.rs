//! The `tallyboard` command, built in this package for its end-to-end tests.

fn main() -> std::process::ExitCode {
    tallyboard::run()
}
