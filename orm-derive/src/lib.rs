//! `#[derive(Model)]` for orm-core. Use it through `orm_core::prelude::*`.
//!
//! The derive works in the steps of serde_derive: `attr` parses the
//! `#[orm(...)]` attributes into raw, spanned values; `ast` builds the small
//! model of the struct (its fields and their kinds, reading types with
//! `types`); `check` applies the rules across fields; `expand` generates the
//! code. Errors are collected (`ctx`) at every step and reported together,
//! with a fallback (`expand::fallback`) that keeps the model's uses
//! elsewhere from failing too.

mod ast;
mod attr;
mod check;
mod ctx;
mod enums;
mod expand;
#[cfg(test)]
mod tests;
mod types;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `orm_core::Model`; see orm-core's guide for the attributes.
#[proc_macro_derive(Model, attributes(orm))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

/// Derives `orm_core::OrmEnum` for a fieldless enum stored in a column:
/// as text (`#[orm(storage = "text")]`, the default; a variant's text is its
/// name in snake case or its `#[orm(value = "...")]`) or as its integer
/// discriminant (`#[orm(storage = "integer")]`).
#[proc_macro_derive(OrmEnum, attributes(orm))]
pub fn derive_orm_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    enums::derive(&input).into()
}

fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    let mut errors = ctx::Errors::default();
    let mut model = ast::parse(input, &mut errors);
    if let Some(model) = &mut model {
        check::check(model, &mut errors);
    }
    match (errors.into_result(), model) {
        (Ok(()), Some(model)) => expand::expand(&model),
        (Err(errors), model) => {
            // The errors, and a stand-in for the model so that its uses
            // elsewhere do not add errors of their own. A generic struct
            // gets none: it is rejected, and an impl would need its
            // parameters.
            let mut tokens = errors.to_compile_error();
            if input.generics.params.is_empty() {
                tokens.extend(expand::fallback(&input.ident, model.as_ref()));
            }
            tokens
        }
        (Ok(()), None) => unreachable!("an input that is not a model is an error"),
    }
}
