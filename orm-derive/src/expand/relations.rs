//! Relation items: the typed descriptors (hidden constants), the public
//! relation constants (`Choice::QUESTION`), the accessors
//! (`choice.question(conn)`, `question.choices()`), the through models of
//! many-to-many fields, and the compile-time checks of relations.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{fetch_mode_tokens, option_str, unique_check, unique_marker};
use crate::ast::{
    field_ident, snake_case, Column, ColumnType, Field, ManyToManyField, Model, Relation, Reverse,
    Through,
};

/// `__REL_QUESTION` for the field `question`: its hidden descriptor.
pub fn descriptor_ident(field: &syn::Ident) -> syn::Ident {
    let name = field.to_string();
    format_ident!(
        "__REL_{}",
        name.trim_start_matches("r#").to_uppercase(),
        span = field.span()
    )
}

/// `QUESTION` for the field `question`: its public relation constant.
fn const_ident(field: &syn::Ident) -> syn::Ident {
    let name = field.to_string();
    format_ident!(
        "{}",
        name.trim_start_matches("r#").to_uppercase(),
        span = field.span()
    )
}

/// `__THROUGH_TAGS` (and `__BACK_THROUGH_TAGS`) for the many-to-many
/// `tags`. The sides differ in their prefix, so no field's name makes one
/// side's constant another's (a suffix would: `tags_reverse`).
fn through_const(field: &syn::Ident, reverse: bool) -> syn::Ident {
    hidden_const(
        if reverse {
            "__BACK_THROUGH"
        } else {
            "__THROUGH"
        },
        field,
    )
}

/// `__KEY_TAGS` (and `__BACK_KEY_TAGS`) for the many-to-many `tags`: the
/// key of an owner (of a target) its links point at.
fn owner_key_const(field: &syn::Ident, reverse: bool) -> syn::Ident {
    hidden_const(if reverse { "__BACK_KEY" } else { "__KEY" }, field)
}

fn hidden_const(prefix: &str, field: &syn::Ident) -> syn::Ident {
    let name = field.to_string().trim_start_matches("r#").to_uppercase();
    format_ident!("{}_{}", prefix, name, span = field.span())
}

/// Whether a column can be joined on as a key: the primary key, or a
/// unique non-null integer or text column (or a one-to-one).
fn is_unique_key(column: &Column) -> bool {
    if column.relation.is_some() {
        return column.unique;
    }
    let keyable = matches!(column.sql, ColumnType::Plain(kind) if kind.is_key());
    keyable && (column.optional_key() || !column.nullable) && (column.unique || column.primary_key)
}

/// The inherent impl: unique markers, descriptors, relation constants and
/// accessors.
/// A model's relation items: what users call (accessors, setters,
/// relation constants) and what only generated code reaches (typed
/// descriptors, through pairs, unique-key markers), which lives on a hidden
/// helpers type so it takes no name in the model's namespace.
pub struct Items {
    pub public: TokenStream,
    pub hidden: TokenStream,
}

/// `<Model as ModelHelpers>::Helpers`: the hidden helpers type of `ty`.
fn helpers(ty: &impl ToTokens) -> TokenStream {
    quote!(<#ty as ::orm_core::__private_v1::ModelHelpers>::Helpers)
}

/// The model's inherent impl (`objects()`, accessors, setters, relation
/// constants) and, for the anonymous const, its helpers type.
pub fn inherent(model: &Model) -> (TokenStream, TokenStream) {
    let ident = &model.ident;
    let h = helpers(ident);
    let unique_markers = model.columns().map(|(f, c)| {
        let marker = unique_marker(&f.ident);
        let kind = if is_unique_key(c) {
            quote!(Unique)
        } else {
            quote!(NotUnique)
        };
        quote! {
            pub fn #marker() -> ::orm_core::__private_v1::#kind {
                ::orm_core::__private_v1::#kind
            }
        }
    });
    let mut items: Vec<Items> = model
        .relations()
        .map(|(f, c, r)| forward_items(model, f, c, r))
        .collect();
    items.extend(model.reverses().map(|(f, r)| {
        let (field, child) = (&f.ident, &r.child);
        let konst = descriptor_ident(field);
        let public = const_ident(field);
        let doc = format!("The `{field}` manager: its rows are cached in this instance, bound to the key they were loaded for.");
        let const_doc = format!("The `{field}` relation, for `prefetch_related` paths.");
        Items {
            hidden: reverse_descriptor(model, f, r),
            public: quote! {
                #[doc = #const_doc]
                pub const #public: ::orm_core::Rel<#ident, #child> = ::orm_core::Rel::new(&<#h>::#konst);

                #[doc = #doc]
                #[inline]
                pub fn #field(&self) -> ::orm_core::RelatedManager<'_, #ident, #child> {
                    ::orm_core::RelatedManager::new(self, &<#h>::#konst)
                }
            },
        }
    }));
    items.extend(model.reverse_one_to_one().map(|(f, r)| {
        let (field, child) = (&f.ident, &r.child);
        let konst = descriptor_ident(field);
        let public = const_ident(field);
        let name = field.to_string();
        let doc = format!(
            "The `{field}` one-to-one (the reverse side): loaded on first access, then cached in this instance, a missing row as `None`."
        );
        let const_doc = format!("The `{field}` relation, for `select_related` (a join) and `prefetch_related` paths.");
        let unique = unique_check(&quote!(#child), &r.fk_field);
        Items {
            hidden: reverse_descriptor(model, f, r),
            public: quote! {
                #[doc = #const_doc]
                pub const #public: ::orm_core::ToOneRel<#ident, #child> = ::orm_core::Rel::to_one(&<#h>::#konst);

                #[doc = #doc]
                #[inline]
                pub fn #field(
                    &self,
                    conn: &mut ::orm_core::AnyConnection,
                ) -> ::orm_core::Result<::core::option::Option<::orm_core::One<#child>>> {
                    #unique
                    ::orm_core::__private_v1::reverse_one(conn, self, #name, &<#h>::#konst)
                }
            },
        }
    }));
    items.extend(
        model
            .many_to_many()
            .map(|(f, m)| many_to_many_items(model, f, m)),
    );
    items.extend(model.reverse_many_to_many().map(|(f, r)| {
        let (field, owner) = (&f.ident, &r.child);
        let konst = descriptor_ident(field);
        let public = const_ident(field);
        let through = through_const(&r.fk_field, true);
        let owner_key = owner_key_const(&r.fk_field, true);
        let owner_helpers = helpers(owner);
        let name = field.to_string();
        let doc = format!("The `{field}` many-to-many manager (the reverse side), cached in this instance.");
        let const_doc = format!("The `{field}` relation, for `prefetch_related` paths.");
        Items {
            hidden: quote! {
                pub const #konst: ::orm_core::__private_v1::ManyToManyRel<#ident, #owner> = ::orm_core::__private_v1::ManyToManyRel {
                    field: #name,
                    forward: false,
                    through: &<#owner_helpers>::#through,
                    owner_key: <#owner_helpers>::#owner_key,
                    slot: |m| m.#field.__slot(),
                };
            },
            public: quote! {
                #[doc = #const_doc]
                pub const #public: ::orm_core::Rel<#ident, #owner> = ::orm_core::Rel::new(&<#h>::#konst);

                #[doc = #doc]
                #[inline]
                pub fn #field(&self) -> ::orm_core::ManyToManyManager<'_, #ident, #owner> {
                    ::orm_core::ManyToManyManager::new(self, &<#h>::#konst)
                }
            },
        }
    }));
    let public = items.iter().map(|i| &i.public);
    let hidden = items.iter().map(|i| &i.hidden);
    let helpers_ident = format_ident!("__{}Helpers", ident);
    let inherent = quote! {
        #[automatically_derived]
        #[allow(non_snake_case)]
        impl #ident {
            /// A queryset over all rows, in the model's default ordering.
            #[inline]
            pub fn objects() -> ::orm_core::QuerySet<Self> {
                ::orm_core::QuerySet::new()
            }

            #(#public)*
        }
    };
    let helpers = quote! {
        /// What generated code reaches of this model: typed relation
        /// descriptors and unique-key markers.
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        pub struct #helpers_ident;

        #[automatically_derived]
        impl ::orm_core::__private_v1::ModelHelpers for #ident {
            type Helpers = #helpers_ident;
        }

        #[automatically_derived]
        #[allow(non_snake_case, clippy::declare_interior_mutable_const)]
        impl #helpers_ident {
            #(#unique_markers)*
            #(#hidden)*
        }
    };
    (inherent, helpers)
}

/// The hidden descriptor of a reverse side (of a foreign key or of a
/// one-to-one): the child's foreign key and this model's slot.
fn reverse_descriptor(model: &Model, f: &Field, r: &Reverse) -> TokenStream {
    let (ident, field, child) = (&model.ident, &f.ident, &r.child);
    let konst = descriptor_ident(field);
    let fk = descriptor_ident(&r.fk_field);
    let name = field.to_string();
    let child_helpers = helpers(child);
    quote! {
        pub const #konst: ::orm_core::__private_v1::ReverseRel<#ident, #child> = ::orm_core::__private_v1::ReverseRel {
            field: #name,
            owner_key: |o| <#child_helpers>::#fk.owner_key_of(o),
            fk: &<#child_helpers>::#fk,
            slot: |m| m.#field.__slot(),
        };
    }
}

/// A foreign key or one-to-one: its descriptor, constant, accessor and
/// setter.
fn forward_items(model: &Model, f: &Field, c: &Column, r: &Relation) -> Items {
    let ident = &model.ident;
    let h = helpers(ident);
    let model_name = ident.to_string();
    let field = &f.ident;
    let field_name = field.to_string();
    let column = &c.name;
    let (target, key_ty) = (&r.target, &r.key_ty);
    let konst = descriptor_ident(field);
    let public = const_ident(field);
    let setter = format_ident!("set_{}", field.to_string().trim_start_matches("r#"));
    let to_field = option_str(r.to_field.as_deref());
    let nullable = c.nullable;
    let fetch_mode = fetch_mode_tokens(r.fetch_mode.or(model.fetch_mode));
    // The value a target is referenced by: its key, or its `to_field`
    // (converted, so a mismatch is reported once, by the checks).
    let target_key = match (&r.to_field, r.to_field_span) {
        (Some(name), Some(span)) => {
            let to = field_ident(name, span);
            quote_spanned! {span=>
                |t| ::orm_core::KeyType::from_key(&::orm_core::KeyType::to_key(&t.#to))
            }
        }
        // Without `to_field` the key type is the target's (checked below).
        _ => quote!(<#target as ::orm_core::Model>::pk),
    };
    let doc = format!(
        "The `{field_name}` relation: loaded on first access (one query), then returned from the instance's cache with no query."
    );
    let const_doc = format!(
        "The `{field_name}` relation, for `select_related` (a join) and `prefetch_related` paths."
    );
    let setter_doc = format!(
        "Points `{field_name}` at `target` (through the value it is referenced by) and caches it: the next access costs no query."
    );
    let accessor = if nullable {
        quote! {
            pub fn #field(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<::core::option::Option<&#target>> {
                self.#field.load(conn, &<#h>::#konst)
            }
        }
    } else {
        quote! {
            pub fn #field(&self, conn: &mut ::orm_core::AnyConnection) -> ::orm_core::Result<&#target> {
                self.#field.load(conn, &<#h>::#konst)?.ok_or_else(|| ::orm_core::OrmError::RelationUnset {
                    model: #model_name,
                    field: #field_name,
                })
            }
        }
    };
    let hidden = quote! {
        pub const #konst: ::orm_core::__private_v1::ForeignKeyRel<#ident, #target, #key_ty> = ::orm_core::__private_v1::ForeignKeyRel {
            meta: &::orm_core::RelationMeta {
                model: #model_name,
                field: #field_name,
                column: #column,
                target_meta: <#target as ::orm_core::Model>::meta,
                to_field: #to_field,
                nullable: #nullable,
                fetch_mode: #fetch_mode,
            },
            field: |m| &m.#field,
            field_mut: |m| &mut m.#field,
            target_key: #target_key,
        };
    };
    let public = quote! {
        #[doc = #const_doc]
        pub const #public: ::orm_core::ToOneRel<#ident, #target> = ::orm_core::Rel::to_one(&<#h>::#konst);

        #[doc = #doc]
        #[inline]
        #accessor

        #[doc = #setter_doc]
        pub fn #setter(&mut self, target: #target) {
            <#h>::#konst.assign(self, target);
        }
    };
    Items { public, hidden }
}

fn many_to_many_items(model: &Model, f: &Field, m: &ManyToManyField) -> Items {
    let ident = &model.ident;
    let h = helpers(ident);
    let th = helpers(&through_ty(model, f, m));
    let field = &f.ident;
    let target = &m.target;
    let through = through_ty(model, f, m);
    let (owner_field, target_field) = through_fields(model, m);
    let (owner_rel, target_rel) = (
        descriptor_ident(&owner_field),
        descriptor_ident(&target_field),
    );
    let (pair, reverse_pair) = (through_const(field, false), through_const(field, true));
    let (owner_key, target_key) = (owner_key_const(field, false), owner_key_const(field, true));
    let konst = descriptor_ident(field);
    let public = const_ident(field);
    let name = field.to_string();
    let doc = format!("The `{field}` many-to-many manager: its rows are cached in this instance, bound to its key.");
    let const_doc = format!("The `{field}` relation, for `prefetch_related` paths.");
    let hidden = quote! {
        pub const #pair: ::orm_core::__private_v1::ThroughPair<#through, #ident, #target> = ::orm_core::__private_v1::ThroughPair {
            owner: &<#th>::#owner_rel,
            target: &<#th>::#target_rel,
        };

        pub const #reverse_pair: ::orm_core::__private_v1::ThroughPair<#through, #target, #ident> = ::orm_core::__private_v1::ThroughPair {
            owner: &<#th>::#target_rel,
            target: &<#th>::#owner_rel,
        };

        /// The key of an owner its links point at.
        pub const #owner_key: fn(&#ident) -> ::core::option::Option<::orm_core::Key> =
            |o| <#th>::#owner_rel.owner_key_of(o);

        /// The key of a target its links point at (the other side's owner key).
        pub const #target_key: fn(&#target) -> ::core::option::Option<::orm_core::Key> =
            |t| <#th>::#target_rel.owner_key_of(t);

        pub const #konst: ::orm_core::__private_v1::ManyToManyRel<#ident, #target> = ::orm_core::__private_v1::ManyToManyRel {
            field: #name,
            forward: true,
            through: &Self::#pair,
            owner_key: Self::#owner_key,
            slot: |m| m.#field.__slot(),
        };
    };
    let public = quote! {
        #[doc = #const_doc]
        pub const #public: ::orm_core::Rel<#ident, #target> = ::orm_core::Rel::new(&<#h>::#konst);

        #[doc = #doc]
        #[inline]
        pub fn #field(&self) -> ::orm_core::ManyToManyManager<'_, #ident, #target> {
            ::orm_core::ManyToManyManager::new(self, &<#h>::#konst)
        }
    };
    Items { public, hidden }
}

/// The through model of a many-to-many: generated, or the user's.
fn through_ty(model: &Model, f: &Field, m: &ManyToManyField) -> TokenStream {
    match &m.through {
        Through::Auto { .. } => {
            let t = through_ident(model, &f.ident);
            quote!(#t)
        }
        Through::Model { ty, .. } => quote!(#ty),
    }
}

/// `impl Relations` (the writable relations, for model forms) and the
/// compile-time checks of the forward relations: without `to_field` the
/// stored key must be the target's key type; with one, that field must
/// exist on the target and be unique (or joins would repeat rows).
pub fn checks(model: &Model) -> TokenStream {
    let ident = &model.ident;
    let visits: Vec<TokenStream> = model
        .relations()
        .map(|(f, _, _)| {
            let public = const_ident(&f.ident);
            quote!(visitor.visit(#ident::#public.erased());)
        })
        .chain(model.many_to_many().map(|(f, _)| {
            let public = const_ident(&f.ident);
            quote!(visitor.visit(#ident::#public);)
        }))
        .collect();
    let key_checks: Vec<TokenStream> = model
        .relations()
        .map(|(_, _, r)| {
            let target = &r.target;
            match (&r.to_field, r.to_field_span) {
                (Some(name), Some(span)) => {
                    let field = field_ident(name, span);
                    let unique = unique_check(&quote!(#target), &field);
                    let key_ty = &r.key_ty;
                    quote_spanned! {span=>
                        #unique
                        ::orm_core::__private_v1::assert_key_type::<#target, #key_ty, _>(|t| &t.#field);
                    }
                }
                _ => {
                    let key_ty = &r.key_ty;
                    quote_spanned! {key_ty.span()=>
                        fn key_matches<T: ::orm_core::Model<Key = #key_ty>>() {}
                        key_matches::<#target>();
                    }
                }
            }
        })
        .collect();
    let visit = (!visits.is_empty()).then(|| {
        quote! {
            fn visit_relations<V: ::orm_core::RelationVisitor<Self>>(visitor: &mut V) {
                #(#visits)*
            }
        }
    });
    let checks = (!key_checks.is_empty()).then(|| {
        quote! {
            #[allow(dead_code)]
            fn __orm_checks() {
                #({ #key_checks })*
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl ::orm_core::Relations for #ident {
            #visit
        }

        #checks
    }
}

/// `UserGroups` for `User.groups`.
pub fn through_ident(model: &Model, field: &syn::Ident) -> syn::Ident {
    let camel: String = field
        .to_string()
        .trim_start_matches("r#")
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
        // `Match` and `Type` make the fields `r#match` and `r#type`.
        let span = proc_macro2::Span::call_site();
        (field_ident(&owner, span), field_ident(&target, span))
    }
}

/// The generated through model of an auto many-to-many.
pub fn through_models(model: &Model) -> TokenStream {
    let items = model.many_to_many().filter_map(|(f, m)| {
        let Through::Auto { table, renamed_from } = &m.through else {
            return None;
        };
        let name = through_ident(model, &f.ident);
        let auto_table = |field: &str| format!("{}_{}", model.table, field.trim_start_matches("r#"));
        let table = if table.is_empty() {
            auto_table(&f.ident.to_string())
        } else {
            table.clone()
        };
        // A renamed field's through table is renamed from the old one's.
        let renamed = renamed_from.as_deref().map(|old| {
            let old = auto_table(old);
            quote!(, renamed_from = #old)
        });
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
            #[orm(table = #table, unique_together = #unique #renamed)]
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
