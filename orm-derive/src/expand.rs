//! Code generation from a validated `ast::Model`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{
    snake_case, Column, ColumnType, Field, FieldKind, ManyToManyField, Model, SqlKind, Through,
};

pub fn expand(model: &Model) -> TokenStream {
    let table = table_macro(model);
    let meta = meta(model);
    let model_impl = model_impl(model);
    let accessors = accessors(model);
    let through = through_models(model);
    quote! {
        #table

        #through

        #accessors

        const _: () = {
            use ::orm_core::__private::diesel;
            use diesel::prelude::*;

            #meta
            #model_impl
        };
    }
}

fn sql_type(column: &Column) -> TokenStream {
    let kind = match &column.sql {
        ColumnType::Plain(kind) => {
            let kind = format_ident!("{}", kind.name());
            quote!(#kind)
        }
        ColumnType::Key(ty) => key_sql_type(ty),
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
    match crate::ast::classify(key_ty) {
        Some((kind, false, _)) => {
            let kind = format_ident!("{}", kind.name());
            quote!(#kind)
        }
        _ => unreachable!("validated: relation key types are i16, i32, i64 or String"),
    }
}

fn table_macro(model: &Model) -> TokenStream {
    let module = &model.module;
    let table = &model.table;
    let pk = &model.primary_key().1.rust_name;
    let columns = model.columns().map(|(_, c)| {
        let rust_name = &c.rust_name;
        let ty = sql_type(c);
        let sql_name = (*rust_name != c.name).then(|| {
            let name = &c.name;
            quote!(#[sql_name = #name])
        });
        quote!(#sql_name #rust_name -> #ty,)
    });
    let doc = format!(
        "The diesel table of [`{}`]: filter with its columns, e.g. `{}::{}.eq(..)`.",
        model.ident,
        module,
        model.columns().nth(1).map_or(pk, |(_, c)| &c.rust_name)
    );
    quote! {
        diesel::table! {
            #[doc = #doc]
            #[sql_name = #table]
            #module (#pk) {
                #(#columns)*
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
        };
        let references = match &c.relation {
            None => quote!(::core::option::Option::None),
            Some(r) => {
                let target = &r.target;
                let column = option_str(r.to_field.as_deref());
                let on_delete = format_ident!("{}", r.on_delete);
                quote!(::core::option::Option::Some(::orm_core::References {
                    model: <#target as ::orm_core::Model>::meta,
                    column: #column,
                    on_delete: ::orm_core::OnDelete::#on_delete,
                }))
            }
        };
        let (nullable, primary_key, auto_increment, unique, index) = (
            c.nullable,
            c.primary_key,
            c.auto_increment,
            c.unique,
            c.index,
        );
        let max_length = match c.max_length {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::orm_core::ColumnMeta {
                field: #field,
                name: #column,
                kind: #kind,
                nullable: #nullable,
                primary_key: #primary_key,
                auto_increment: #auto_increment,
                unique: #unique,
                index: #index,
                max_length: #max_length,
                references: #references,
            }
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
    let through = model.many_to_many().filter_map(|(f, m)| match &m.through {
        Through::Auto { .. } => {
            let ty = through_ident(model, &f.ident);
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
        };
    }
}

fn fetch_mode_tokens(mode: Option<&str>) -> TokenStream {
    match mode {
        Some(m) => {
            let variant = format_ident!("{}", m);
            quote!(::core::option::Option::Some(::orm_core::peers::FetchMode::#variant))
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
fn write_value(model: &Model, field: &Field, column: &Column, source: &TokenStream) -> TokenStream {
    let ident = &field.ident;
    let c = col(model, column);
    match (&column.relation, column.nullable) {
        (None, _) => quote!(#c.eq(&#source.#ident)),
        (Some(_), true) => quote!(#c.eq(#source.#ident.key())),
        (Some(_), false) => {
            let model_name = model.ident.to_string();
            let field_name = ident.to_string();
            quote!(#c.eq(#source.#ident.key().ok_or_else(|| ::orm_core::OrmError::RelationUnset {
                model: #model_name,
                field: #field_name,
            })?))
        }
    }
}

/// Columns usable as relation keys: (field, column, Rust key type, read
/// expression giving `Option<Key>` from `self`).
fn key_columns(model: &Model) -> Vec<(&Field, &Column, TokenStream, TokenStream)> {
    model
        .columns()
        .filter_map(|(f, c)| {
            let ident = &f.ident;
            let to_key = quote!(::orm_core::KeyType::to_key);
            if let Some(r) = &c.relation {
                let key_ty = &r.key_ty;
                return Some((
                    f,
                    c,
                    quote!(#key_ty),
                    quote!(self.#ident.key().map(#to_key)),
                ));
            }
            let ColumnType::Plain(kind) = c.sql else {
                return None;
            };
            if !(kind.is_integer() || kind == SqlKind::Text) {
                return None;
            }
            let ty = &c.value_ty;
            if c.auto_increment {
                Some((f, c, quote!(#ty), quote!(self.#ident.as_ref().map(#to_key))))
            } else if c.nullable {
                None
            } else {
                Some((
                    f,
                    c,
                    quote!(#ty),
                    quote!(::core::option::Option::Some(#to_key(&self.#ident))),
                ))
            }
        })
        .collect()
}

fn relation_plumbing(model: &Model) -> TokenStream {
    let keys = key_columns(model);
    let in_arms = keys.iter().map(|(_, c, ty, _)| {
        let name = &c.name;
        let column = col(model, c);
        quote! {
            #name => {
                let values = keys
                    .iter()
                    .map(<#ty as ::orm_core::KeyType>::from_key)
                    .collect::<::core::option::Option<::std::vec::Vec<#ty>>>()?;
                ::core::option::Option::Some(::std::boxed::Box::new(#column.eq_any(values).nullable()))
            }
        }
    });
    let read_arms = keys.iter().map(|(_, c, _, read)| {
        let name = &c.name;
        quote!(#name => #read,)
    });
    let relations: Vec<_> = model.relations().collect();
    let changeset_arms = relations.iter().map(|(_, c, r)| {
        let name = &c.name;
        let column = col(model, c);
        let key_ty = &r.key_ty;
        let value = quote! {
            match value {
                ::core::option::Option::Some(k) => ::core::option::Option::Some(<#key_ty as ::orm_core::KeyType>::from_key(&k)?),
                ::core::option::Option::None => ::core::option::Option::None,
            }
        };
        if c.nullable {
            quote!(#name => ::core::option::Option::Some(::orm_core::queryset::BoxedChangeset::new(#column.eq(#value))),)
        } else {
            quote!(#name => ::core::option::Option::Some(::orm_core::queryset::BoxedChangeset::new(#column.eq((#value)?))),)
        }
    });
    let set_key_arms = relations.iter().map(|(f, c, r)| {
        let name = &c.name;
        let ident = &f.ident;
        let key_ty = &r.key_ty;
        quote!(#name => self.#ident.set_key(key.and_then(|k| <#key_ty as ::orm_core::KeyType>::from_key(&k))),)
    });
    let relation_fields: Vec<&syn::Ident> = model
        .fields
        .iter()
        .filter(|f| match &f.kind {
            FieldKind::Column(c) => c.relation.is_some(),
            FieldKind::Skip => false,
            _ => true,
        })
        .map(|f| &f.ident)
        .collect();
    let first_relation = relation_fields.first().into_iter();
    // Plain fields a form edits: not the auto key, not binary data.
    let editable: Vec<(&Field, &Column)> = model
        .columns()
        .filter(|(_, c)| c.relation.is_none() && !c.auto_increment)
        .filter(|(_, c)| !matches!(c.sql, ColumnType::Plain(SqlKind::Binary)))
        .collect();
    let form_fields = editable.iter().map(|(f, c)| {
        let name = f.ident.to_string();
        let required = !c.nullable && !matches!(c.sql, ColumnType::Plain(SqlKind::Bool));
        quote!(::orm_core::forms::FormField { name: #name, required: #required })
    });
    let form_assign = editable.iter().map(|(f, c)| {
        let name = f.ident.to_string();
        let ident = &f.ident;
        let max_length = match c.max_length {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #name => ::core::option::Option::Some(
                ::orm_core::forms::FormValue::parse_form(raw, #max_length).map(|value| self.#ident = value),
            ),
        }
    });
    let form_relations = model
        .relations()
        .map(|(f, _, _)| &f.ident)
        .chain(model.many_to_many().map(|(f, _)| &f.ident))
        .map(|ident| format_ident!("{}", ident.to_string().to_uppercase()));
    let cmp_terms = model.ordering.iter().map(|o| {
        let (field, column) = model
            .columns()
            .find(|(f, _)| f.ident == o.field)
            .expect("validated: ordering names a stored field");
        let ident = &field.ident;
        let (a, b) = if column.relation.is_some() {
            (quote!(&a.#ident.key()), quote!(&b.#ident.key()))
        } else {
            (quote!(&a.#ident), quote!(&b.#ident))
        };
        let cmp = quote!(::core::cmp::PartialOrd::partial_cmp(#a, #b).unwrap_or(::core::cmp::Ordering::Equal));
        if o.descending {
            quote!(.then_with(|| #cmp.reverse()))
        } else {
            quote!(.then_with(|| #cmp))
        }
    });
    quote! {
        fn __in_predicate(column: &str, keys: &[::orm_core::Key]) -> ::core::option::Option<::orm_core::Predicate<Self>> {
            match column {
                #(#in_arms)*
                _ => ::core::option::Option::None,
            }
        }

        fn __set_changeset(
            column: &str,
            value: ::core::option::Option<::orm_core::Key>,
        ) -> ::core::option::Option<::orm_core::queryset::BoxedChangeset<Self>> {
            let _ = &value;
            match column {
                #(#changeset_arms)*
                _ => ::core::option::Option::None,
            }
        }

        fn __column_key(&self, column: &str) -> ::core::option::Option<::orm_core::Key> {
            match column {
                #(#read_arms)*
                _ => ::core::option::Option::None,
            }
        }

        fn __set_relation_key(&mut self, column: &str, key: ::core::option::Option<::orm_core::Key>) {
            let _ = &key;
            match column {
                #(#set_key_arms)*
                _ => {}
            }
        }

        fn __set_fetch_mode(&self, mode: ::core::option::Option<::orm_core::peers::FetchMode>) {
            let _ = mode;
            #(self.#relation_fields.set_fetch_mode(mode);)*
        }

        fn __fetch_mode(&self) -> ::core::option::Option<::orm_core::peers::FetchMode> {
            #(return self.#first_relation.fetch_mode();)*
            #[allow(unreachable_code)]
            ::core::option::Option::None
        }

        fn __invalidate_relations(&mut self) {
            #(self.#relation_fields.invalidate();)*
        }

        fn __form_fields() -> &'static [::orm_core::forms::FormField] {
            &[#(#form_fields),*]
        }

        fn __form_assign(&mut self, field: &str, raw: &str) -> ::core::option::Option<::core::result::Result<(), ::std::string::String>> {
            let _ = raw;
            match field {
                #(#form_assign)*
                _ => ::core::option::Option::None,
            }
        }

        fn __form_relations() -> ::std::vec::Vec<::std::boxed::Box<dyn ::orm_core::forms::Chooser<Self>>> {
            ::std::vec![#(::orm_core::forms::__relation(Self::#form_relations)),*]
        }

        fn __cmp_default(a: &Self, b: &Self) -> ::core::cmp::Ordering {
            let _ = (a, b);
            ::core::cmp::Ordering::Equal #(#cmp_terms)*
        }
    }
}

/// The marker fn every column field gets, returning `Unique` when the field
/// can be joined on as a key (the primary key, or a unique key column) and
/// `NotUnique` otherwise: `to_field` relations and reverse one-to-ones check
/// the field they point at with `assert_unique`.
fn unique_marker(field: &syn::Ident) -> syn::Ident {
    format_ident!("__orm_unique_{}", field, span = field.span())
}

/// `assert_unique(<Model>::__orm_unique_field)`, spanned on `field` (the
/// attribute's literal), so a field that is not a unique key is an error there.
fn unique_check(model: &TokenStream, field: &syn::Ident) -> TokenStream {
    let marker = unique_marker(field);
    quote_spanned! {field.span()=>
        ::orm_core::__private::assert_unique(<#model>::#marker);
    }
}

/// Inherent methods: relation accessors and their typed metadata.
fn accessors(model: &Model) -> TokenStream {
    let ident = &model.ident;
    let model_name = ident.to_string();
    let keys: Vec<&syn::Ident> = key_columns(model)
        .into_iter()
        .filter(|(_, c, _, _)| c.unique || c.primary_key)
        .map(|(f, _, _, _)| &f.ident)
        .collect();
    let unique_markers = model.columns().map(|(f, _)| {
        let marker = unique_marker(&f.ident);
        let kind = if keys.contains(&&f.ident) {
            quote!(Unique)
        } else {
            quote!(NotUnique)
        };
        quote! {
            #[doc(hidden)]
            pub fn #marker() -> ::orm_core::__private::#kind {
                ::orm_core::__private::#kind
            }
        }
    });
    let forward = model.relations().map(|(f, c, r)| {
        let field = &f.ident;
        let field_name = field.to_string();
        let column = &c.name;
        let target = &r.target;
        let rel_fn = format_ident!("__rel_{}", field);
        let to_field = option_str(r.to_field.as_deref());
        let nullable = c.nullable;
        let fetch_mode = fetch_mode_tokens(r.fetch_mode.or(model.fetch_mode));
        let doc = format!(
            "The `{field_name}` relation: loaded on first access (one query), then returned from the instance's cache with no query."
        );
        let accessor = if nullable {
            quote! {
                #[doc = #doc]
                #[inline]
                pub fn #field(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<::core::option::Option<&#target>> {
                    self.#field.load(conn, Self::#rel_fn().meta())
                }
            }
        } else {
            quote! {
                #[doc = #doc]
                #[inline]
                pub fn #field(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<&#target> {
                    self.#field.load(conn, Self::#rel_fn().meta())?.ok_or_else(|| ::orm_core::OrmError::RelationUnset {
                        model: #model_name,
                        field: #field_name,
                    })
                }
            }
        };
        // Without `to_field`, the stored key must be the target's key type.
        // With `to_field`, that field must exist on the target.
        // That field must also be unique (a marker the target's derive
        // generates for its unique fields), or joins would repeat rows.
        let key_check = match (&r.to_field, r.to_field_span) {
            (Some(name), Some(span)) => {
                let field = syn::Ident::new(name, span);
                let unique = unique_check(&quote!(#target), &field);
                quote_spanned! {span=>
                    fn has_field(target: &#target) -> &dyn ::core::any::Any {
                        &target.#field
                    }
                    let _ = has_field;
                    #unique
                }
            }
            _ => {
                let key_ty = &r.key_ty;
                quote_spanned! {key_ty.span()=>
                    fn key_matches<T: ::orm_core::Model<Key = #key_ty>>() {}
                    key_matches::<#target>();
                }
            }
        };
        quote! {
            #[doc(hidden)]
            #[inline]
            pub fn #rel_fn() -> ::orm_core::TypedRelation<#ident, #target> {
                #key_check
                static META: ::orm_core::RelationMeta = ::orm_core::RelationMeta {
                    model: #model_name,
                    field: #field_name,
                    column: #column,
                    target_meta: <#target as ::orm_core::Model>::meta,
                    to_field: #to_field,
                    nullable: #nullable,
                    fetch_mode: #fetch_mode,
                };
                ::orm_core::TypedRelation::new(&META)
            }

            #accessor
        }
    });
    let reverse = model.reverses().map(|(f, r)| {
        let field = &f.ident;
        let child = &r.child;
        let rel_fn = format_ident!("__rel_{}", r.fk_field);
        let doc = format!(
            "The `{field}` manager: its rows are cached in this instance, bound to the key they were loaded for."
        );
        quote! {
            #[doc = #doc]
            #[inline]
            pub fn #field(&self) -> ::orm_core::RelatedManager<'_, #child> {
                let rel: ::orm_core::TypedRelation<#child, #ident> = <#child>::#rel_fn();
                let owner = rel.key_of_target(self);
                ::orm_core::RelatedManager::new(owner, <Self as ::orm_core::Model>::meta(), rel.meta(), &self.#field)
            }
        }
    });
    let m2m = model
        .many_to_many()
        .map(|(f, m)| many_to_many_accessor(model, f, m));
    let reverse_m2m = model.reverse_many_to_many().map(|(f, r)| {
        let field = &f.ident;
        let owner = &r.child;
        let m2m_fn = format_ident!("__m2m_{}", r.fk_field);
        let doc = format!("The `{field}` many-to-many manager (the reverse side), cached in this instance.");
        quote! {
            #[doc = #doc]
            #[inline]
            pub fn #field(&self) -> ::orm_core::ManyToManyManager<'_, #owner, impl ::orm_core::Model + ::core::default::Default> {
                let (owner_rel, target_rel) = <#owner>::#m2m_fn();
                let _: ::orm_core::TypedRelation<_, #ident> = target_rel;
                let key = target_rel.key_of_target(self);
                ::orm_core::ManyToManyManager::from_typed(key, <Self as ::orm_core::Model>::meta(), target_rel, owner_rel, &self.#field)
            }
        }
    });
    let reverse_one = model.reverse_one_to_one().map(|(f, r)| {
        let field = &f.ident;
        let field_name = field.to_string();
        let child = &r.child;
        let rel_fn = format_ident!("__rel_{}", r.fk_field);
        let doc = format!(
            "The `{field}` one-to-one (the reverse side): loaded on first access, then cached in this instance, a missing row as `None`."
        );
        let unique = unique_check(&quote!(#child), &r.fk_field);
        quote! {
            #[doc = #doc]
            #[inline]
            pub fn #field(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<::core::option::Option<::orm_core::One<#child>>> {
                #unique
                let rel: ::orm_core::TypedRelation<#child, #ident> = <#child>::#rel_fn();
                let owner = rel.key_of_target(self);
                ::orm_core::relations::reverse_one(conn, owner, <Self as ::orm_core::Model>::meta(), #field_name, rel.meta(), &self.#field)
            }
        }
    });
    let items: Vec<TokenStream> = unique_markers
        .chain(forward)
        .chain(reverse)
        .chain(reverse_one)
        .chain(m2m)
        .chain(reverse_m2m)
        .chain(path_consts(model))
        .collect();
    if items.is_empty() {
        return quote!();
    }
    quote! {
        impl #ident {
            #(#items)*
        }
    }
}

/// An eager-loading path constant per relation field: `Choice::QUESTION`.
fn path_consts(model: &Model) -> Vec<TokenStream> {
    let ident = &model.ident;
    let konst = |f: &Field| {
        format_ident!(
            "{}",
            f.ident.to_string().to_uppercase(),
            span = f.ident.span()
        )
    };
    let doc = |f: &Field| format!("The `{}` relation, for `prefetch_related` paths.", f.ident);
    let to_one_doc = |f: &Field| {
        format!(
            "The `{}` relation, for `select_related` (a join) and `prefetch_related` paths.",
            f.ident
        )
    };
    let mut items = Vec::new();
    for (f, c, r) in model.relations() {
        let (name, doc, field, target) = (konst(f), to_one_doc(f), &f.ident, &r.target);
        let field_name = field.to_string();
        let rel_fn = format_ident!("__rel_{}", field);
        let required = !c.nullable;
        items.push(quote! {
            #[doc = #doc]
            pub const #name: ::orm_core::ToOneRel<#ident, #target> = ::orm_core::Rel::to_one(
                #field_name,
                |conn, rows, next| {
                    ::orm_core::relations::prefetch_forward(conn, rows, |m: &#ident| &m.#field, #ident::#rel_fn().meta(), next)
                },
                ::orm_core::relations::RelForm::One {
                    required: #required,
                    assign: |m: &mut #ident, target: #target| m.#field.set_for(target, #ident::#rel_fn().meta()),
                },
                ::orm_core::joins::ToOne::new(
                    || #ident::#rel_fn().meta(),
                    |m: &#ident, target| m.#field.__attach_joined(target),
                ),
            );
        });
    }
    for (f, r) in model.reverse_one_to_one() {
        let (name, doc, field, child) = (konst(f), to_one_doc(f), &f.ident, &r.child);
        let field_name = field.to_string();
        let rel_fn = format_ident!("__rel_{}", r.fk_field);
        items.push(quote! {
            #[doc = #doc]
            pub const #name: ::orm_core::ToOneRel<#ident, #child> = ::orm_core::Rel::to_one(
                #field_name,
                |conn, rows, next| {
                    let rel: ::orm_core::TypedRelation<#child, #ident> = <#child>::#rel_fn();
                    ::orm_core::relations::prefetch_reverse(conn, rows, |m: &#ident| &m.#field, rel.meta(), next)
                },
                ::orm_core::relations::RelForm::None,
                ::orm_core::joins::ToOne::reverse(
                    || <#child>::#rel_fn().meta(),
                    |m: &#ident, row| m.#field.__attach_joined(<#child>::#rel_fn().key_of_target(m), row),
                ),
            );
        });
    }
    for (f, r) in model.reverses() {
        let (name, doc, field, child) = (konst(f), doc(f), &f.ident, &r.child);
        let field_name = field.to_string();
        let rel_fn = format_ident!("__rel_{}", r.fk_field);
        items.push(quote! {
            #[doc = #doc]
            pub const #name: ::orm_core::Rel<#ident, #child> = ::orm_core::Rel::new(
                #field_name,
                |conn, rows, next| {
                    let rel: ::orm_core::TypedRelation<#child, #ident> = <#child>::#rel_fn();
                    ::orm_core::relations::prefetch_reverse(conn, rows, |m: &#ident| &m.#field, rel.meta(), next)
                },
                ::orm_core::relations::RelForm::None,
            );
        });
    }
    for (f, m) in model.many_to_many() {
        let (name, doc, field, target) = (konst(f), doc(f), &f.ident, &m.target);
        let field_name = field.to_string();
        let m2m_fn = format_ident!("__m2m_{}", field);
        items.push(quote! {
            #[doc = #doc]
            pub const #name: ::orm_core::Rel<#ident, #target> = ::orm_core::Rel::new(
                #field_name,
                |conn, rows, next| {
                    let (owner_rel, target_rel) = #ident::#m2m_fn();
                    ::orm_core::relations::prefetch_many_to_many(conn, rows, |m: &#ident| &m.#field, owner_rel, target_rel, next)
                },
                ::orm_core::relations::RelForm::Many {
                    set: |m: &#ident, conn, targets| m.#field().set(conn, targets),
                    fresh: |m: &#ident| m.#field().set_cached(::std::vec::Vec::new()),
                },
            );
        });
    }
    for (f, r) in model.reverse_many_to_many() {
        let (name, doc, field, owner) = (konst(f), doc(f), &f.ident, &r.child);
        let field_name = field.to_string();
        let m2m_fn = format_ident!("__m2m_{}", r.fk_field);
        items.push(quote! {
            #[doc = #doc]
            pub const #name: ::orm_core::Rel<#ident, #owner> = ::orm_core::Rel::new(
                #field_name,
                |conn, rows, next| {
                    let (owner_rel, target_rel) = <#owner>::#m2m_fn();
                    ::orm_core::relations::prefetch_many_to_many(conn, rows, |m: &#ident| &m.#field, target_rel, owner_rel, next)
                },
                ::orm_core::relations::RelForm::None,
            );
        });
    }
    items
}

/// `UserGroups` for `User.groups`.
fn through_ident(model: &Model, field: &syn::Ident) -> syn::Ident {
    let camel: String = field
        .to_string()
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    format_ident!("{}{}", model.ident, camel, span = field.span())
}

/// The names of the through model's two foreign keys: (to owner, to target).
fn through_fields(model: &Model, m: &ManyToManyField) -> (syn::Ident, syn::Ident) {
    if let Through::Model {
        fields: Some((a, b)),
        ..
    } = &m.through
    {
        return (a.clone(), b.clone());
    }
    let owner = snake_case(&model.ident.to_string());
    let target = match &m.target {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| snake_case(&s.ident.to_string())),
        _ => None,
    }
    .unwrap_or_else(|| "target".into());
    if owner == target {
        (
            format_ident!("from_{}", owner),
            format_ident!("to_{}", target),
        )
    } else {
        (format_ident!("{}", owner), format_ident!("{}", target))
    }
}

/// The generated through model of an auto many-to-many.
pub fn through_models(model: &Model) -> TokenStream {
    let items = model.many_to_many().filter_map(|(f, m)| {
        let Through::Auto { table } = &m.through else {
            return None;
        };
        let name = through_ident(model, &f.ident);
        let table = if table.is_empty() {
            format!("{}_{}", model.table, f.ident)
        } else {
            table.clone()
        };
        let owner = &model.ident;
        let owner_key = &model.primary_key().1.value_ty;
        let target = &m.target;
        let target_key = &m.key_ty;
        let (owner_field, target_field) = through_fields(model, m);
        let unique = format!("{owner_field}, {target_field}");
        let doc = format!("The through table of `{owner}.{}` (`{table}`), generated by the derive.", f.ident);
        Some(quote! {
            #[doc = #doc]
            #[derive(::orm_core::Model, ::core::fmt::Debug, ::core::clone::Clone, ::core::default::Default, ::core::cmp::PartialEq)]
            #[orm(table = #table, unique_together = #unique)]
            pub struct #name {
                /// The link's own key.
                #[orm(primary_key)]
                pub id: ::core::option::Option<i64>,
                /// The owner side.
                #[orm(on_delete = "cascade", index)]
                pub #owner_field: ::orm_core::ForeignKey<#owner, #owner_key>,
                /// The target side.
                #[orm(on_delete = "cascade", index)]
                pub #target_field: ::orm_core::ForeignKey<#target, #target_key>,
            }
        })
    });
    quote!(#(#items)*)
}

fn many_to_many_accessor(model: &Model, field: &Field, m: &ManyToManyField) -> TokenStream {
    let ident = &model.ident;
    let name = &field.ident;
    let target = &m.target;
    let through = match &m.through {
        Through::Auto { .. } => {
            let t = through_ident(model, name);
            quote!(#t)
        }
        Through::Model { ty, .. } => quote!(#ty),
    };
    let (owner_field, target_field) = through_fields(model, m);
    let owner_rel = format_ident!("__rel_{}", owner_field);
    let target_rel = format_ident!("__rel_{}", target_field);
    let m2m_fn = format_ident!("__m2m_{}", name);
    let doc = format!("The `{name}` many-to-many manager: its rows are cached in this instance, bound to its key.");
    quote! {
        #[doc(hidden)]
        #[inline]
        pub fn #m2m_fn() -> (::orm_core::TypedRelation<#through, #ident>, ::orm_core::TypedRelation<#through, #target>) {
            (<#through>::#owner_rel(), <#through>::#target_rel())
        }

        #[doc = #doc]
        #[inline]
        pub fn #name(&self) -> ::orm_core::ManyToManyManager<'_, #target, #through> {
            let (owner_rel, target_rel) = Self::#m2m_fn();
            let key = owner_rel.key_of_target(self);
            ::orm_core::ManyToManyManager::from_typed(key, <Self as ::orm_core::Model>::meta(), owner_rel, target_rel, &self.#name)
        }
    }
}

fn model_impl(model: &Model) -> TokenStream {
    let ident = &model.ident;
    let module = &model.module;
    let (pk_field, pk) = model.primary_key();
    let pk_ident = &pk_field.ident;
    let pk_ty = &pk.value_ty;
    let pk_col = col(model, pk);
    let model_name = ident.to_string();

    let pk_value = if pk.auto_increment {
        quote!(::core::clone::Clone::clone(&self.#pk_ident))
    } else {
        quote!(::core::option::Option::Some(::core::clone::Clone::clone(&self.#pk_ident)))
    };
    let clear_pk = if pk.auto_increment {
        quote!(self.#pk_ident = ::core::option::Option::None;)
    } else {
        quote!()
    };

    // Row decoding: each column read at its position in table order.
    let mut position = 0usize;
    let build_fields: Vec<TokenStream> = model
        .fields
        .iter()
        .map(|f| {
            let ident = &f.ident;
            let FieldKind::Column(c) = &f.kind else {
                return quote!(#ident: ::core::default::Default::default());
            };
            let column = col(model, c);
            let index = proc_macro2::Literal::usize_unsuffixed(position);
            position += 1;
            let value = quote! {
                ::orm_core::row::read::<diesel::dsl::SqlTypeOf<#column>, _>(row, start + #index)?
            };
            if c.relation.is_some() {
                if c.nullable {
                    quote!(#ident: ::orm_core::ForeignKey::from_optional_key(#value))
                } else {
                    quote!(#ident: ::orm_core::ForeignKey::from_key(#value))
                }
            } else if c.auto_increment {
                quote!(#ident: ::core::option::Option::Some(#value))
            } else {
                quote!(#ident: #value)
            }
        })
        .collect();

    // NULLs sort as the smallest value on every backend (as `Option` does
    // in Rust), so cached rows sorted in Rust match the database's order.
    let order_terms: Vec<TokenStream> = model
        .ordering
        .iter()
        .flat_map(|o| {
            let column = column_of(model, &o.field);
            let c = col(model, column);
            let nulls = column.nullable.then(|| {
                if o.descending {
                    quote!(#c.is_null().asc())
                } else {
                    quote!(#c.is_null().desc())
                }
            });
            let term = if o.descending {
                quote!(#c.desc())
            } else {
                quote!(#c.asc())
            };
            nulls.into_iter().chain([term])
        })
        .collect();
    let default_ordering = if order_terms.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(::std::boxed::Box::new((#(#order_terms,)*))))
    };

    let self_tokens = quote!(self);
    let row_tokens = quote!(row);
    let non_pk: Vec<_> = model.columns().filter(|(_, c)| !c.primary_key).collect();
    let insert_values = non_pk
        .iter()
        .map(|(f, c)| write_value(model, f, c, &self_tokens));
    let insert_all_values: Vec<_> = model
        .columns()
        .map(|(f, c)| {
            if c.auto_increment {
                let ident = &f.ident;
                quote!(#pk_col.eq(self.#ident.clone().ok_or(::orm_core::OrmError::Unsaved { model: #model_name })?))
            } else {
                write_value(model, f, c, &self_tokens)
            }
        })
        .collect();
    let batch_new_values = non_pk
        .iter()
        .map(|(f, c)| write_value(model, f, c, &row_tokens));
    let batch_keyed_values: Vec<_> = model
        .columns()
        .map(|(f, c)| {
            if c.auto_increment {
                let ident = &f.ident;
                quote!(#pk_col.eq(row.#ident.clone().unwrap_or_default()))
            } else {
                write_value(model, f, c, &row_tokens)
            }
        })
        .collect();
    let update_values: Vec<_> = non_pk
        .iter()
        .map(|(f, c)| write_value(model, f, c, &self_tokens))
        .collect();

    // A model with nothing but its auto key inserts DEFAULT VALUES.
    let insert_values: Vec<TokenStream> = insert_values.collect();
    let new_row_statement = if insert_values.is_empty() {
        quote!(diesel::insert_into(#module::table).default_values())
    } else {
        quote!(diesel::insert_into(#module::table).values((#(#insert_values,)*)))
    };
    let insert = if pk.auto_increment {
        quote! {
            let ::core::option::Option::Some(_) = self.#pk_ident else {
                let statement = #new_row_statement;
                let id: i64 = ::orm_core::__per_backend!(conn, c =>
                    returning: RunQueryDsl::get_result::<#pk_ty>(statement.returning(#pk_col), c).map(i64::from)?,
                    mysql: {
                        RunQueryDsl::execute(statement, c)?;
                        ::orm_core::__private::mysql_last_insert_id(c)?
                    },
                );
                self.#pk_ident = ::core::option::Option::Some(::orm_core::__private::key_from_i64(#model_name, id)?);
                return ::core::result::Result::Ok(());
            };
            RunQueryDsl::execute(diesel::insert_into(#module::table).values((#(#insert_all_values,)*)), conn)?;
            ::core::result::Result::Ok(())
        }
    } else {
        quote! {
            RunQueryDsl::execute(diesel::insert_into(#module::table).values((#(#insert_all_values,)*)), conn)?;
            ::core::result::Result::Ok(())
        }
    };

    let insert_all = if pk.auto_increment && insert_values.is_empty() {
        quote! {
            rows.iter_mut().try_for_each(|row| row.__insert(conn))
        }
    } else if pk.auto_increment {
        quote! {
            let (new_rows, keyed_rows): (::std::vec::Vec<usize>, ::std::vec::Vec<usize>) =
                (0..rows.len()).partition(|&i| rows[i].#pk_ident.is_none());
            if !keyed_rows.is_empty() {
                let mut values = ::std::vec::Vec::with_capacity(keyed_rows.len());
                for &i in &keyed_rows {
                    let row = &rows[i];
                    values.push((#(#batch_keyed_values,)*));
                }
                let statement = diesel::insert_into(#module::table).values(values);
                ::orm_core::__each_backend!(&mut *conn, c => RunQueryDsl::execute(statement, c)?);
            }
            if new_rows.is_empty() {
                return ::core::result::Result::Ok(());
            }
            let ids: ::std::vec::Vec<i64> = {
                let mut values = ::std::vec::Vec::with_capacity(new_rows.len());
                for &i in &new_rows {
                    let row = &rows[i];
                    values.push((#(#batch_new_values,)*));
                }
                let statement = diesel::insert_into(#module::table).values(values);
                ::orm_core::__per_backend!(conn, c =>
                    returning: RunQueryDsl::get_results::<#pk_ty>(statement.returning(#pk_col), c)?
                        .into_iter().map(i64::from).collect(),
                    mysql: {
                        // One multi-row INSERT gets consecutive keys (InnoDB's
                        // default auto-increment lock mode 1), starting at LAST_INSERT_ID().
                        let inserted = RunQueryDsl::execute(statement, c)?;
                        let first = ::orm_core::__private::mysql_last_insert_id(c)?;
                        (first..first + inserted as i64).collect()
                    },
                )
            };
            for (&i, id) in new_rows.iter().zip(ids) {
                rows[i].#pk_ident = ::core::option::Option::Some(::orm_core::__private::key_from_i64(#model_name, id)?);
            }
            ::core::result::Result::Ok(())
        }
    } else {
        quote! {
            let mut values = ::std::vec::Vec::with_capacity(rows.len());
            for row in rows.iter() {
                values.push((#(#batch_keyed_values,)*));
            }
            let statement = diesel::insert_into(#module::table).values(values);
            ::orm_core::__each_backend!(conn, c => RunQueryDsl::execute(statement, c)?);
            ::core::result::Result::Ok(())
        }
    };

    let update = if update_values.is_empty() {
        quote! {
            let key = <Self as ::orm_core::Model>::pk(self).ok_or(::orm_core::OrmError::Unsaved { model: #model_name })?;
            let found: ::std::vec::Vec<#pk_ty> = RunQueryDsl::load(#module::table.filter(#pk_col.eq(key)).select(#pk_col), conn)?;
            ::core::result::Result::Ok(found.len())
        }
    } else {
        quote! {
            let key = <Self as ::orm_core::Model>::pk(self).ok_or(::orm_core::OrmError::Unsaved { model: #model_name })?;
            ::core::result::Result::Ok(RunQueryDsl::execute(
                diesel::update(#module::table.filter(#pk_col.eq(key))).set((#(#update_values,)*)),
                conn,
            )?)
        }
    };

    let plumbing = relation_plumbing(model);
    let forward_peers = model.relations().map(|(f, _, _)| {
        let field = &f.ident;
        quote!(::orm_core::ForeignKey::link_peers(rows.clone().map(|r| &r.#field));)
    });
    // To-many fields: each slot is bound to its owner's key column.
    let owner_column = |field: &syn::Ident, key_column: TokenStream| {
        quote! {
            let column = #key_column;
            ::orm_core::relations::link_slot_peers(rows.clone().map(|r| {
                (&r.#field, <Self as ::orm_core::Model>::__column_key(r, column))
            }));
        }
    };
    let reverse_peers = model
        .reverses()
        .chain(model.reverse_one_to_one())
        .map(|(f, r)| {
            let child = &r.child;
            let rel_fn = format_ident!("__rel_{}", r.fk_field);
            owner_column(&f.ident, quote!(<#child>::#rel_fn().meta().target_column()))
        });
    let m2m_peers = model.many_to_many().map(|(f, _)| {
        let m2m_fn = format_ident!("__m2m_{}", f.ident);
        owner_column(&f.ident, quote!(Self::#m2m_fn().0.meta().target_column()))
    });
    let reverse_m2m_peers = model.reverse_many_to_many().map(|(f, r)| {
        let owner = &r.child;
        let m2m_fn = format_ident!("__m2m_{}", r.fk_field);
        owner_column(
            &f.ident,
            quote!(<#owner>::#m2m_fn().1.meta().target_column()),
        )
    });
    let link_peers: Vec<TokenStream> = forward_peers
        .chain(reverse_peers)
        .chain(m2m_peers)
        .chain(reverse_m2m_peers)
        .collect();
    quote! {
        impl ::orm_core::Model for #ident {
            type Table = #module::table;
            type Key = #pk_ty;
            type Query = diesel::dsl::IntoBoxed<'static, #module::table, ::orm_core::MultiBackend>;

            #[inline]
            fn meta() -> &'static ::orm_core::ModelMeta {
                &META
            }

            #[inline]
            fn pk(&self) -> ::core::option::Option<#pk_ty> {
                #pk_value
            }

            fn __all() -> Self::Query {
                QueryDsl::into_boxed(#module::table)
            }

            fn __filter(query: Self::Query, predicate: ::orm_core::Predicate<Self>) -> Self::Query {
                QueryDsl::filter(query, predicate)
            }

            fn __filter_pk(query: Self::Query, key: &#pk_ty) -> Self::Query {
                QueryDsl::filter(query, #pk_col.eq(::core::clone::Clone::clone(key)))
            }

            fn __order_default(query: Self::Query) -> Self::Query {
                #(let query = query.then_order_by(#order_terms);)*
                query
            }

            fn __default_ordering() -> ::core::option::Option<::std::boxed::Box<dyn diesel::query_builder::QueryFragment<::orm_core::MultiBackend> + ::core::marker::Send>> {
                #default_ordering
            }

            fn __order_pk(query: Self::Query) -> Self::Query {
                query.then_order_by(#pk_col.asc())
            }

            fn __slice(
                query: Self::Query,
                limit: ::core::option::Option<i64>,
                offset: ::core::option::Option<i64>,
            ) -> Self::Query {
                let query = match limit {
                    ::core::option::Option::Some(n) => QueryDsl::limit(query, n),
                    ::core::option::Option::None => query,
                };
                match offset {
                    ::core::option::Option::Some(n) => QueryDsl::offset(query, n),
                    ::core::option::Option::None => query,
                }
            }

            fn __load(query: Self::Query, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<::std::vec::Vec<Self>> {
                let rows: ::std::vec::Vec<Self> = ::orm_core::queryset::load_rows(query, conn)?;
                <Self as ::orm_core::Model>::__link_peers(rows.iter());
                ::core::result::Result::Ok(rows)
            }

            fn __from_row(row: &dyn ::orm_core::row::RawRow, start: usize) -> diesel::deserialize::Result<Self> {
                ::core::result::Result::Ok(#ident { #(#build_fields,)* })
            }

            fn __link_peers<'a>(rows: impl ::core::iter::Iterator<Item = &'a Self> + ::core::clone::Clone) {
                let _ = &rows;
                #(#link_peers)*
            }

            fn __count(query: Self::Query, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<i64> {
                ::core::result::Result::Ok(RunQueryDsl::get_result(QueryDsl::count(query), conn)?)
            }

            fn __exists(query: Self::Query, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<bool> {
                let found: ::std::vec::Vec<#pk_ty> = RunQueryDsl::load(QueryDsl::select(QueryDsl::limit(query, 1), #pk_col), conn)?;
                ::core::result::Result::Ok(!found.is_empty())
            }

            fn __insert(&mut self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<()> {
                #insert
            }

            fn __insert_all(rows: &mut [Self], conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<()> {
                #insert_all
            }

            fn __update(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<usize> {
                #update
            }

            fn __delete_where(
                predicates: ::std::vec::Vec<::orm_core::Predicate<Self>>,
                conn: &mut ::orm_core::AnyConnection,
            ) -> ::orm_core::Result<usize> {
                let statement = predicates
                    .into_iter()
                    .fold(diesel::delete(#module::table).into_boxed(), |s, p| s.filter(p));
                ::core::result::Result::Ok(RunQueryDsl::execute(statement, conn)?)
            }

            fn __update_where(
                predicate: ::core::option::Option<::orm_core::Predicate<Self>>,
                changeset: ::orm_core::queryset::BoxedChangeset<Self>,
                conn: &mut ::orm_core::AnyConnection,
            ) -> ::orm_core::Result<usize> {
                let statement = diesel::update(#module::table);
                let updated = match predicate {
                    ::core::option::Option::Some(p) => RunQueryDsl::execute(statement.filter(p).set(changeset), conn)?,
                    ::core::option::Option::None => RunQueryDsl::execute(statement.set(changeset), conn)?,
                };
                ::core::result::Result::Ok(updated)
            }

            fn __delete_pk(key: &#pk_ty, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<usize> {
                ::core::result::Result::Ok(RunQueryDsl::execute(
                    diesel::delete(#module::table.filter(#pk_col.eq(::core::clone::Clone::clone(key)))),
                    conn,
                )?)
            }

            fn __clear_pk(&mut self) {
                #clear_pk
            }

            #plumbing
        }
    }
}
