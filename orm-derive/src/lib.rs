//! `#[derive(Model)]` for orm-core. Use it through `orm_core::prelude::*`.
//!
//! The derive parses the struct and its `#[orm(...)]` attributes (`attr`)
//! into a small model (`ast`), validates it collecting every error, and
//! generates code from it (`expand`).

mod ast;
mod attr;
mod ctx;
mod expand;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `orm_core::Model`; see orm-core's guide for the attributes.
#[proc_macro_derive(Model, attributes(orm))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    match ast::parse(input) {
        Ok(model) => expand::expand(&model),
        Err(errors) => errors.to_compile_error(),
    }
}
