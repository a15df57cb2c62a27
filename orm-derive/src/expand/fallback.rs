//! What the derive emits next to its errors, so that uses of the model
//! elsewhere in the crate do not fail too and bury the real problem: the
//! diesel table of the columns that could be read (best effort) and
//! `orm_core::__fallback_model!`, a `Model` impl whose bodies never run.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use super::table_of;
use crate::ast::{Column, Field, Model};
use crate::check::{clashes_with_table, MAX_COLUMNS};
use crate::types::classify;

/// The fallback for the input named `ident`; `model` is what could be
/// parsed of it (`None` when it is not a struct with named fields).
pub fn fallback(ident: &Ident, model: Option<&Model>) -> TokenStream {
    let Some(model) = model else {
        return quote!(::orm_core::__fallback_model!(#ident););
    };
    // The columns diesel accepts: the first of each Rust and SQL name, up to
    // diesel's limit. Fields that did not parse are not columns at all.
    let module = model.module.to_string();
    let mut columns: Vec<(&Field, &Column)> = Vec::new();
    for (field, column) in model.columns() {
        if columns.len() == MAX_COLUMNS {
            break;
        }
        // Nor a column named like the table module or its own items.
        if !clashes_with_table(column, &model.module)
            && !columns
                .iter()
                .any(|(_, c)| c.rust_name == column.rust_name || c.name == column.name)
        {
            columns.push((field, column));
        }
    }
    let primary_key = columns.iter().map(|(_, c)| *c).find(|c| c.primary_key);
    // The key type, when the key field has one a key can be (the derive may
    // have rejected it); `i64` otherwise.
    let key = primary_key
        .filter(|c| {
            !c.nullable && matches!(classify(&c.value_ty), Some((kind, false, _)) if kind.is_key())
        })
        .map(|c| &c.value_ty);
    let key = match key {
        Some(ty) => quote!(#ty),
        None => quote!(i64),
    };
    let module_is_ident = syn::parse_str::<Ident>(&module).is_ok();
    let Some(first) = columns.first().filter(|_| module_is_ident) else {
        return quote!(::orm_core::__fallback_model!(#ident, key = #key););
    };
    // Without a primary key, the table is keyed on its first column.
    let table_key = &primary_key.unwrap_or(first.1).rust_name;
    let table = table_of(model, &columns, table_key);
    let module = &model.module;
    quote! {
        #table

        ::orm_core::__fallback_model!(#ident, key = #key, table = #module::table);
    }
}
