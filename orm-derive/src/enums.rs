//! `#[derive(OrmEnum)]`: a fieldless enum stored in a column, as text or
//! as its integer discriminant (the model's field chooses). The derive
//! emits the variant table (`OrmEnum`) and one call of orm-core's
//! `orm_enum_impls!`, which implements `FromSql`, `ToSql` and
//! `AsExpression` through orm-core's generic code.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident};

use crate::ast::{nonempty, snake_case};
use crate::attr;
use crate::ctx::Errors;

const VARIANT_KEYS: &[&str] = &["value"];

pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let variants = parse(input, &mut errors);
    match (errors.into_result(), variants) {
        (Ok(()), Some(variants)) => expand(&input.ident, &variants),
        (Err(e), _) => {
            let mut tokens = e.to_compile_error();
            tokens.extend(fallback(input));
            tokens
        }
        (Ok(()), None) => unreachable!("an enum that is not derived is an error"),
    }
}

/// The impls of a derived enum: its variants, each with its text.
fn expand(ident: &Ident, variants: &[(&Ident, String)]) -> TokenStream {
    let name = ident.to_string();
    let (idents, texts): (Vec<_>, Vec<_>) = variants.iter().cloned().unzip();
    quote! {
        #[automatically_derived]
        impl ::orm_core::OrmEnum for #ident {
            const NAME: &'static str = #name;
            const VARIANTS: &'static [Self] = &[#(#ident::#idents),*];
            const TEXTS: &'static [&'static str] = &[#(#texts),*];
            const INTS: &'static [i32] = &[#(#ident::#idents as i32),*];
            const INTS_FIT: bool = ::orm_core::__private_v1::fit_i32(&[#(#ident::#idents as i128),*]);
        }

        ::orm_core::__private_v1::orm_enum_impls!(#ident);
    }
}

/// After an error, the impls of an enum without variants (when the input is
/// a non-generic enum), so a model using it reports nothing more.
fn fallback(input: &DeriveInput) -> Option<TokenStream> {
    (matches!(input.data, Data::Enum(_)) && input.generics.params.is_empty())
        .then(|| expand(&input.ident, &[]))
}

fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<Vec<(&'a Ident, String)>> {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        errors.push(
            ident.span(),
            "#[derive(OrmEnum)] works on enums whose variants have no fields, like `enum Status { Draft, Published }`",
        );
        return None;
    };
    if let Some(param) = input.generics.params.first() {
        errors.push_spanned(param, "#[derive(OrmEnum)] does not support generic enums");
    }
    // No key is accepted on the enum: how it is stored is the field's
    // `#[orm(choices)]` / `#[orm(choices = "integer")]`.
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("orm")) {
        errors.push_spanned(
            attr,
            "#[orm(...)] on an OrmEnum takes no key: the model's field chooses how it is stored, \
             #[orm(choices)] (text) or #[orm(choices = \"integer\")]; a variant takes #[orm(value = \"...\")]",
        );
    }
    if data.variants.is_empty() {
        errors.push(
            ident.span(),
            "an enum without variants has no value to store",
        );
    }
    let mut variants: Vec<(&Ident, String)> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            errors.push_spanned(
                &variant.fields,
                format!(
                    "`{}` has fields; an OrmEnum stores fieldless variants only",
                    variant.ident
                ),
            );
        }
        let mut value = snake_case(&variant.ident.to_string());
        for entry in attr::parse(
            &variant.attrs,
            VARIANT_KEYS,
            "a variant",
            (&[], "the enum"),
            errors,
        ) {
            if let Some(s) = nonempty(&entry, errors) {
                value = s.value;
            }
        }
        if variants.iter().any(|(_, v)| *v == value) {
            errors.push(
                variant.ident.span(),
                format!("two variants are stored as \"{value}\"; give one another #[orm(value = \"...\")]"),
            );
        }
        variants.push((&variant.ident, value));
    }
    Some(variants)
}
