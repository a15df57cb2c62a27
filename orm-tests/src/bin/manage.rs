//! The polls app's command line (Django's `manage.py`):
//! `cargo run -p orm-tests --bin manage -- --help`.

fn main() -> std::process::ExitCode {
    orm_migrations::manage::main(orm_tests::polls::models())
}
