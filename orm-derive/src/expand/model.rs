//! `impl Model`: the key, row decoding, column binding, the relation
//! visitor, the default ordering in Rust, and the plain fields forms write.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{quote, quote_spanned};

use super::col;
use crate::ast::{Column, ColumnType, Field, FieldKind, Model};
use crate::types::SqlKind;

/// The checked SQL type a float, date, time, datetime or text column is bound
/// with (orm-core's `backend::checked`): it rejects values the backend
/// would change or refuse, naming the field.
fn checked_type(c: &Column) -> Option<TokenStream> {
    let checked = quote!(::orm_core::__private_v1::checked);
    let ty = match c.sql {
        ColumnType::Plain(SqlKind::Float) => quote!(#checked::Float),
        ColumnType::Plain(SqlKind::Double) => quote!(#checked::Double),
        ColumnType::Plain(SqlKind::Date) => quote!(#checked::Date),
        ColumnType::Plain(SqlKind::Timestamp) => quote!(#checked::Timestamp),
        ColumnType::Plain(SqlKind::Time) => quote!(#checked::Time),
        ColumnType::Plain(SqlKind::Text) => {
            let max = c.max_length.unwrap_or(0);
            let keyed = c.primary_key || c.unique || c.index;
            quote!(#checked::Text<#max, #keyed>)
        }
        _ => return None,
    };
    Some(if c.nullable {
        quote!(diesel::sql_types::Nullable<#ty>)
    } else {
        ty
    })
}

pub fn model_impl(model: &Model) -> TokenStream {
    let ident = &model.ident;
    let module = &model.module;
    let (pk_field, pk) = model.primary_key();
    let pk_ident = &pk_field.ident;
    let pk_ty = &pk.value_ty;

    let pk_value = if pk.optional_key() {
        quote!(::core::clone::Clone::clone(&self.#pk_ident))
    } else {
        quote!(::core::option::Option::Some(::core::clone::Clone::clone(&self.#pk_ident)))
    };
    let set_pk = if pk.optional_key() {
        quote!(self.#pk_ident = key;)
    } else {
        quote! {
            if let ::core::option::Option::Some(key) = key {
                self.#pk_ident = key;
            }
        }
    };
    let from_row = from_row(model);
    let bind_arms = model.columns().enumerate().map(|(i, (f, c))| {
        let index = Literal::usize_unsuffixed(i);
        let field = &f.ident;
        let column = col(model, c);
        let bind = if let ColumnType::Enum(_, integer) = &c.sql {
            quote!(::orm_core::__private_v1::ChoiceColumn::bind(&self.#field, #integer, out))
        } else if c.relation.is_some() {
            quote!(self.#field.bind(out))
        } else if c.optional_key() {
            quote!(out.push_bind_param::<diesel::sql_types::Nullable<diesel::dsl::SqlTypeOf<#column>>, _>(&self.#field))
        } else if let Some(checked) = checked_type(c) {
            quote!(out.push_bind_param::<#checked, _>(&self.#field))
        } else {
            quote!(out.push_bind_param::<diesel::dsl::SqlTypeOf<#column>, _>(&self.#field))
        };
        quote!(#index => #bind,)
    });
    let relations = relation_arms(model);
    let relation_mut_arms: Vec<TokenStream> = relation_fields(model)
        .into_iter()
        .enumerate()
        .map(|(i, field)| {
            let index = Literal::usize_unsuffixed(i);
            quote!(#index => ::core::option::Option::Some(&mut self.#field),)
        })
        .collect();
    let links = link_calls(model);
    let visitor = (!relations.is_empty()).then(|| quote! {
        fn link_peers<'r, I>(rows: I)
        where
            I: ::core::iter::Iterator<Item = &'r Self> + ::core::clone::Clone,
            Self: 'r,
        {
            #(#links)*
        }

        fn relation(&self, index: usize) -> ::core::option::Option<::orm_core::__private_v1::RelationRef<'_>> {
            match index {
                #(#relations)*
                _ => ::core::option::Option::None,
            }
        }

        fn relation_mut(
            &mut self,
            index: usize,
        ) -> ::core::option::Option<&mut dyn ::orm_core::__private_v1::RelationField> {
            match index {
                #(#relation_mut_arms)*
                _ => ::core::option::Option::None,
            }
        }
    });
    let cmp_terms: Vec<TokenStream> = model.ordering.iter().map(|o| {
        let (field, column) = model
            .columns()
            .find(|(f, _)| f.ident == o.field)
            .expect("validated: ordering names a stored field");
        let ident = &field.ident;
        // Rows sorted in Rust must come out as the database sorts them: an
        // enum by what it stores, anything else by `PartialOrd` (an error
        // spanned on the `ordering` when the type has none).
        let cmp = match (&column.sql, &column.relation) {
            (ColumnType::Enum(_, integer), _) => quote! {
                ::orm_core::__private_v1::ChoiceColumn::cmp_stored(&self.#ident, &other.#ident, #integer)
            },
            (_, Some(_)) => quote! {
                ::orm_core::__private_v1::OrderingField::cmp_field(&self.#ident.key(), &other.#ident.key())
            },
            (_, None) => {
                let mut spanned = ident.clone();
                spanned.set_span(o.span);
                quote_spanned! {o.span=>
                    ::orm_core::__private_v1::OrderingField::cmp_field(&self.#spanned, &other.#spanned)
                }
            }
        };
        if o.descending {
            quote!(.then_with(|| #cmp.reverse()))
        } else {
            quote!(.then_with(|| #cmp))
        }
    }).collect();
    let cmp_default = (!cmp_terms.is_empty()).then(|| {
        quote! {
            fn cmp_default(&self, other: &Self) -> ::core::cmp::Ordering {
                ::core::cmp::Ordering::Equal #(#cmp_terms)*
            }
        }
    });
    let reload_from = reload_from(model);
    let field_arms = model
        .columns()
        .enumerate()
        .filter(|(_, (_, c))| c.relation.is_none())
        .map(|(i, (f, _))| {
            let index = Literal::usize_unsuffixed(i);
            let field = &f.ident;
            quote!(#index => ::core::option::Option::Some(&mut self.#field),)
        });
    quote! {
        #[automatically_derived]
        impl ::orm_core::Model for #ident {
            type Table = #module::table;
            type Key = #pk_ty;

            #[inline]
            fn meta() -> &'static ::orm_core::ModelMeta {
                &META
            }

            #[inline]
            fn pk(&self) -> ::core::option::Option<#pk_ty> {
                #pk_value
            }

            fn set_pk(&mut self, key: ::core::option::Option<#pk_ty>) {
                #set_pk
            }

            fn from_row<R: ::orm_core::__private_v1::RawRow + ?Sized>(
                row: &R,
                start: usize,
            ) -> diesel::deserialize::Result<Self> {
                #from_row
            }

            fn bind_column<'b>(
                &'b self,
                column: usize,
                out: &mut diesel::query_builder::AstPass<'_, 'b, ::orm_core::MultiBackend>,
            ) -> diesel::QueryResult<()> {
                match column {
                    #(#bind_arms)*
                    _ => ::core::result::Result::Err(diesel::result::Error::QueryBuilderError(
                        ::core::convert::From::from("no such column"),
                    )),
                }
            }

            #visitor

            #cmp_default

            #reload_from

            fn field_mut(&mut self, column: usize) -> ::core::option::Option<&mut dyn ::core::any::Any> {
                match column {
                    #(#field_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// For a model with `#[orm(skip)]` fields: a reload takes every other
/// field of the fresh row, and skipped ones keep their values (the
/// default replaces the whole instance).
fn reload_from(model: &Model) -> Option<TokenStream> {
    let skipped = |f: &&Field| matches!(f.kind, FieldKind::Skip);
    model.fields.iter().any(|f| skipped(&f)).then(|| {
        let taken: Vec<&Ident> = model
            .fields
            .iter()
            .filter(|f| !skipped(f))
            .map(|f| &f.ident)
            .collect();
        quote! {
            fn reload_from(&mut self, mut fresh: Self) {
                #(::core::mem::swap(&mut self.#taken, &mut fresh.#taken);)*
            }
        }
    })
}

/// The struct built from a row: each column read at its position in
/// table order; relations unloaded; skipped fields defaulted.
fn from_row(model: &Model) -> TokenStream {
    let ident = &model.ident;
    let mut position = 0usize;
    let fields = model.fields.iter().map(|f| {
        let field = &f.ident;
        let FieldKind::Column(c) = &f.kind else {
            return quote!(#field: ::core::default::Default::default());
        };
        let column = col(model, c);
        let index = Literal::usize_unsuffixed(position);
        position += 1;
        // A type every backend decodes natively skips `MultiBackend`'s
        // out-of-line dispatch.
        let read = match &c.sql {
            ColumnType::Plain(kind) if kind.is_native() => quote!(read_native),
            _ => quote!(read),
        };
        let value = quote! {
            ::orm_core::__private_v1::#read::<diesel::dsl::SqlTypeOf<#column>, _, _>(row, start + #index)?
        };
        if let ColumnType::Enum(_, integer) = &c.sql {
            return quote! {
                #field: ::orm_core::__private_v1::ChoiceColumn::read(row, start + #index, #integer)?
            };
        }
        // Keys (integers above all) are read by the row's own backend.
        let at = quote!((row, start + #index)?);
        let key = quote!(::orm_core::__private_v1::read_key #at);
        let required_key = quote!(::orm_core::__private_v1::read_required_key #at);
        if c.relation.is_some() {
            if c.nullable {
                quote!(#field: ::orm_core::ForeignKey::from_optional_key(#key))
            } else {
                quote!(#field: ::orm_core::ForeignKey::from_key(#required_key))
            }
        } else if c.optional_key() {
            quote!(#field: ::core::option::Option::Some(#required_key))
        } else if c.primary_key {
            quote!(#field: #required_key)
        } else if let Some((_, places)) = c.decimal {
            quote!(#field: ::orm_core::__private_v1::DecimalColumn::to_places(#value, #places))
        } else {
            quote!(#field: #value)
        }
    });
    let fields: Vec<TokenStream> = fields.collect();
    quote!(::core::result::Result::Ok(#ident { #(#fields,)* }))
}

/// The relation fields, in declaration order (the visitor's indexes).
fn relation_fields(model: &Model) -> Vec<&syn::Ident> {
    model
        .fields
        .iter()
        .filter(|f| f.is_relation())
        .map(|f| &f.ident)
        .collect()
}

/// What links a relation field of the instances one query loaded (`rows`)
/// as peers: `link_field` over the field of each row, with the owner key
/// a to-many field is bound to.
fn link_calls(model: &Model) -> Vec<TokenStream> {
    let mut calls = Vec::new();
    for f in &model.fields {
        let field = &f.ident;
        let konst = super::relations::descriptor_ident(field);
        let owner = match &f.kind {
            FieldKind::Column(c) if c.relation.is_some() => quote!(::core::option::Option::None),
            FieldKind::Reverse(_)
            | FieldKind::ReverseOneToOne(_)
            | FieldKind::ManyToMany(_)
            | FieldKind::ReverseManyToMany(_) => {
                quote!(<<Self as ::orm_core::__private_v1::ModelHelpers>::Helpers>::#konst.owner_key(m))
            }
            _ => continue,
        };
        calls.push(quote! {
            ::orm_core::__private_v1::link_field(
                ::core::clone::Clone::clone(&rows).map(|m| (&m.#field, #owner)),
            );
        });
    }
    calls
}

/// `index => RelationRef` for each relation field: a to-one field with
/// its column position, a many-to-many one with its links, a reverse one
/// with neither.
fn relation_arms(model: &Model) -> Vec<TokenStream> {
    let columns: Vec<&syn::Ident> = model.columns().map(|(f, _)| &f.ident).collect();
    let mut index = 0usize;
    let mut arms = Vec::new();
    for f in &model.fields {
        let field = &f.ident;
        let value = match &f.kind {
            FieldKind::Column(c) if c.relation.is_some() => {
                let position = columns
                    .iter()
                    .position(|c| *c == field)
                    .expect("a relation column is a column");
                let position = Literal::usize_unsuffixed(position);
                quote!(::orm_core::__private_v1::RelationRef::to_one(&self.#field, #position))
            }
            FieldKind::Reverse(_) | FieldKind::ReverseOneToOne(_) => {
                quote!(::orm_core::__private_v1::RelationRef::to_many(&self.#field))
            }
            FieldKind::ManyToMany(_) | FieldKind::ReverseManyToMany(_) => {
                let konst = super::relations::descriptor_ident(field);
                quote!(::orm_core::__private_v1::RelationRef::many_to_many(
                    &self.#field,
                    <<Self as ::orm_core::__private_v1::ModelHelpers>::Helpers>::#konst.through,
                ))
            }
            _ => continue,
        };
        let at = Literal::usize_unsuffixed(index);
        index += 1;
        arms.push(quote!(#at => ::core::option::Option::Some(#value),));
    }
    arms
}
