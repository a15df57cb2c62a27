//! Code generation from a validated `ast::Model`: the table and metadata
//! here, the `Model` impl in `model`, relation items in `relations`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use syn::spanned::Spanned;

use crate::ast::{Column, ColumnType, Field, Model, Through};

mod fallback;
mod model;
mod relations;

pub use fallback::fallback;

/// Everything `#[derive(Model)]` emits for a valid model: the table, the
/// through models of its many-to-many fields, its inherent items
/// (accessors, relation constants and descriptors), and, in an anonymous
/// const, its metadata, `impl Model`, `impl Relations` and compile-time
/// checks.
pub fn expand(model: &Model) -> TokenStream {
    let table = table_macro(model);
    let meta = meta(model);
    let model_impl = model::model_impl(model);
    let (inherent, helpers) = relations::inherent(model);
    let checks = relations::checks(model);
    let through = relations::through_models(model);
    let relation_types = relation_type_checks(model);
    quote! {
        #table

        #through

        #inherent

        const _: () = {
            use ::orm_core::__private_v1::diesel;

            #helpers
            #meta
            #model_impl
            #checks
            #relation_types
        };
    }
}

/// Asserts that each relation field's type is orm_core's: the derive knows
/// them by name only, and a type of the user's own named `ForeignKey` must
/// fail here, with a message saying so (`RelationFieldType`'s).
fn relation_type_checks(model: &Model) -> TokenStream {
    let checks: Vec<TokenStream> = model
        .fields
        .iter()
        .filter(|f| f.is_relation())
        .map(|f| {
            let ty = &f.ty;
            quote_spanned!(ty.span()=> is_relation::<#ty>();)
        })
        .collect();
    if checks.is_empty() {
        return quote!();
    }
    quote! {
        const _: fn() = || {
            fn is_relation<T: ::orm_core::__private_v1::RelationFieldType>() {}
            #(#checks)*
        };
    }
}

fn sql_type(column: &Column) -> TokenStream {
    let kind = match &column.sql {
        ColumnType::Plain(kind) => {
            let kind = format_ident!("{}", kind.diesel_type());
            quote!(#kind)
        }
        ColumnType::Key(ty) => key_sql_type(ty),
        ColumnType::Enum(_, false) => quote!(Text),
        ColumnType::Enum(_, true) => quote!(Integer),
    };
    if column.nullable {
        quote!(Nullable<#kind>)
    } else {
        quote!(#kind)
    }
}

/// The SQL type of a relation column, from its key type (`i64` unless the
/// field names another, like `ForeignKey<User, String>`). diesel's `table!`
/// needs a concrete SQL type, so it is read off the key type's syntax; the
/// generated `__rel_<field>` checks that it matches the target's key.
fn key_sql_type(key_ty: &syn::Type) -> TokenStream {
    match crate::types::classify(key_ty) {
        Some((kind, false, _)) => {
            let kind = format_ident!("{}", kind.diesel_type());
            quote!(#kind)
        }
        _ => unreachable!("validated: relation key types are i16, i32, i64, String or Uuid"),
    }
}

fn table_macro(model: &Model) -> TokenStream {
    let columns: Vec<(&Field, &Column)> = model.columns().collect();
    table_of(model, &columns, &model.primary_key().1.rust_name)
}

/// The `diesel::table!` of `columns`, keyed on the column `pk`.
fn table_of(model: &Model, columns: &[(&Field, &Column)], pk: &syn::Ident) -> TokenStream {
    let module = &model.module;
    let table = &model.table;
    let column_defs = columns.iter().map(|(f, c)| {
        let rust_name = &c.rust_name;
        let ty = sql_type(c);
        // diesel puts the doc on the column struct (`missing_docs`).
        let doc = format!("The `{}` column: `{}.{}`.", c.name, model.ident, f.ident);
        let sql_name = (*rust_name != c.name).then(|| {
            let name = &c.name;
            quote!(#[sql_name = #name])
        });
        quote!(#[doc = #doc] #sql_name #rust_name -> #ty,)
    });
    let doc = format!(
        "The diesel table of [`{}`]: filter with its columns, e.g. `{}::{}.eq(..)`.",
        model.ident,
        module,
        columns.get(1).map_or(pk, |(_, c)| &c.rust_name)
    );
    quote! {
        diesel::table! {
            #[doc = #doc]
            #[sql_name = #table]
            #module (#pk) {
                #(#column_defs)*
            }
        }
    }
}

fn meta(model: &Model) -> TokenStream {
    let name = model.ident.to_string();
    let table = &model.table;
    let columns = model.columns().map(|(f, c)| {
        let field = f.ident.to_string();
        let column = &c.name;
        let kind = match &c.sql {
            ColumnType::Plain(kind) => {
                let kind = format_ident!("{}", kind.name());
                quote!(::orm_core::SqlKind::#kind)
            }
            ColumnType::Key(ty) => quote!(<#ty as ::orm_core::KeyType>::KIND),
            ColumnType::Enum(_, false) => quote!(::orm_core::SqlKind::Text),
            ColumnType::Enum(_, true) => quote!(::orm_core::SqlKind::Integer),
        };
        let flags = [
            (c.nullable, "nullable"),
            (c.primary_key, "primary_key"),
            (c.auto_increment, "auto_increment"),
            (c.unique, "unique"),
            (c.index, "index"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| {
            let name = format_ident!("{}", name);
            quote!(.#name())
        });
        let max_length = c.max_length.map(|n| quote!(.max_length(#n)));
        let choices = match &c.sql {
            ColumnType::Enum(ty, false) => Some(quote!(.choices(::orm_core::Choices::Text(<#ty as ::orm_core::OrmEnum>::TEXTS)))),
            ColumnType::Enum(ty, true) => Some(quote!(.choices(::orm_core::Choices::Integer(<#ty as ::orm_core::OrmEnum>::INTS)))),
            _ => None,
        };
        let decimal = c.decimal.map(|(p, s)| quote!(.decimal(#p, #s)));
        let generated = c.generated.map(|v| {
            let v = format_ident!("{}", v);
            quote!(.generated(::orm_core::UuidVersion::#v))
        });
        let references = c.relation.as_ref().map(|r| {
            let target = &r.target;
            let column = option_str(r.to_field.as_deref());
            let on_delete = format_ident!("{}", r.on_delete);
            quote!(.references(::orm_core::References {
                model: <#target as ::orm_core::Model>::meta,
                column: #column,
                on_delete: ::orm_core::OnDelete::#on_delete,
            }))
        });
        let default = c.default.as_ref().map(|d| quote!(.default(#d)));
        let renamed_from = c.renamed_from.as_ref().map(|old| quote!(.renamed_from(#old)));
        quote! {
            ::orm_core::ColumnMeta::new(#field, #column, #kind) #(#flags)* #max_length #decimal #generated #choices #references #default #renamed_from
        }
    });
    let ordering = model.ordering.iter().map(|o| {
        let column = &column_of(model, &o.field).name;
        let descending = o.descending;
        quote!(::orm_core::OrderTerm { column: #column, descending: #descending })
    });
    let unique_together = model
        .unique_together
        .iter()
        .map(|f| &column_of(model, f).name);
    let fetch_mode = fetch_mode_tokens(model.fetch_mode);
    let renamed_from = option_str(model.renamed_from.as_deref());
    let through = model.many_to_many().filter_map(|(f, m)| match &m.through {
        Through::Auto { .. } => {
            let ty = relations::through_ident(model, &f.ident);
            Some(quote!(<#ty as ::orm_core::Model>::meta))
        }
        Through::Model { .. } => None,
    });
    quote! {
        static META: ::orm_core::ModelMeta = ::orm_core::ModelMeta {
            name: #name,
            table: #table,
            columns: &[#(#columns),*],
            ordering: &[#(#ordering),*],
            unique_together: &[#(#unique_together),*],
            fetch_mode: #fetch_mode,
            through: &[#(#through),*],
            renamed_from: #renamed_from,
        };
    }
}

fn fetch_mode_tokens(mode: Option<&str>) -> TokenStream {
    match mode {
        Some(m) => {
            let variant = format_ident!("{}", m);
            quote!(::core::option::Option::Some(::orm_core::fetch::FetchMode::#variant))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn column_of<'a>(model: &'a Model, field: &str) -> &'a Column {
    model
        .columns()
        .find(|(f, _)| f.ident == field)
        .map(|(_, c)| c)
        .expect("validated: ordering names a stored field")
}

/// `module::column` for a column.
fn col(model: &Model, column: &Column) -> TokenStream {
    let module = &model.module;
    let name = &column.rust_name;
    quote!(#module::#name)
}

/// The value expression a column is written from, borrowing `source`.
/// The marker fn every column field gets, returning `Unique` when the field
/// can be joined on as a key (the primary key, or a unique key column) and
/// `NotUnique` otherwise: `to_field` relations and reverse one-to-ones check
/// the field they point at with `assert_unique`.
pub(crate) fn unique_marker(field: &syn::Ident) -> syn::Ident {
    format_ident!("__orm_unique_{}", field, span = field.span())
}

/// `assert_unique(<Model>::__orm_unique_field)`, spanned on `field` (the
/// attribute's literal), so a field that is not a unique key is an error there.
pub(crate) fn unique_check(model: &TokenStream, field: &syn::Ident) -> TokenStream {
    let marker = unique_marker(field);
    quote_spanned! {field.span()=>
        ::orm_core::__private_v1::assert_unique(<<#model as ::orm_core::__private_v1::ModelHelpers>::Helpers>::#marker);
    }
}
