//! `tallyboard`: run, observe and verify a remote election or caucus.

fn main() -> std::process::ExitCode {
    tallyboard::run()
}
