//! `#[derive(Model)]` rejects bad input with a precise error: each file in
//! `tests/ui/` must fail to compile with exactly the `.stderr` beside it.
//!
//! After a deliberate change to a message, regenerate the expected output
//! with `TRYBUILD=overwrite cargo test -p orm-core --all-features --test
//! compile_fail` and review the diff.

#[test]
fn derive_rejects_bad_input() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
