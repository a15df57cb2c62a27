//! `#[derive(OrmEnum)]`: a fieldless enum stored in a column, as text or
//! as its integer discriminant (the model's field chooses). The derive
//! emits the variant table (`OrmEnum`) and one call of orm-core's
//! `orm_enum_impls!`, which implements `FromSql`, `ToSql` and
//! `AsExpression` through orm-core's generic code.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::ast::{nonempty, snake_case};
use crate::attr;
use crate::ctx::Errors;

const VARIANT_KEYS: &[&str] = &["value"];

pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let expanded = parse(input, &mut errors);
    match (errors.into_result(), expanded) {
        (Ok(()), Some(tokens)) => tokens,
        (Err(e), _) => e.to_compile_error(),
        (Ok(()), None) => unreachable!("an enum that is not derived is an error"),
    }
}

fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<TokenStream> {
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
    let mut variants = Vec::new();
    let mut values: Vec<String> = Vec::new();
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
        if values.contains(&value) {
            errors.push(
                variant.ident.span(),
                format!("two variants are stored as \"{value}\"; give one another #[orm(value = \"...\")]"),
            );
        }
        values.push(value);
        variants.push(&variant.ident);
    }
    let name = ident.to_string();
    Some(quote! {
        #[automatically_derived]
        impl ::orm_core::OrmEnum for #ident {
            const NAME: &'static str = #name;
            const VARIANTS: &'static [Self] = &[#(#ident::#variants),*];
            const TEXTS: &'static [&'static str] = &[#(#values),*];
            const INTS: &'static [i32] = &[#(#ident::#variants as i32),*];
        }

        ::orm_core::__private_v1::orm_enum_impls!(#ident);
    })
}
