//! Code generation from a validated `ast::Model`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast::{Column, Field, FieldKind, Model};

pub fn expand(model: &Model) -> TokenStream {
    let table = table_macro(model);
    let meta = meta(model);
    let model_impl = model_impl(model);
    quote! {
        #table

        const _: () = {
            use ::orm_core::__private::diesel;
            use diesel::prelude::*;

            #meta
            #model_impl
        };
    }
}

fn sql_type(column: &Column) -> TokenStream {
    let kind = format_ident!("{}", column.sql.name());
    if column.nullable {
        quote!(Nullable<#kind>)
    } else {
        quote!(#kind)
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
        let kind = format_ident!("{}", c.sql.name());
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
                kind: ::orm_core::SqlKind::#kind,
                nullable: #nullable,
                primary_key: #primary_key,
                auto_increment: #auto_increment,
                unique: #unique,
                index: #index,
                max_length: #max_length,
                references: ::core::option::Option::None,
            }
        }
    });
    let ordering = model.ordering.iter().map(|o| {
        let column = &column_of(model, &o.field).name;
        let descending = o.descending;
        quote!(::orm_core::OrderTerm { column: #column, descending: #descending })
    });
    quote! {
        static META: ::orm_core::ModelMeta = ::orm_core::ModelMeta {
            name: #name,
            table: #table,
            columns: &[#(#columns),*],
            ordering: &[#(#ordering),*],
        };
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
    quote!(#c.eq(&#source.#ident))
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

    // Row mapping: the tuple of column values in table order.
    let row_types = model.columns().map(|(_, c)| &c.value_ty);
    let row_names: Vec<_> = model
        .columns()
        .map(|(f, _)| format_ident!("__{}", f.ident))
        .collect();
    let build_fields = model.fields.iter().map(|f| {
        let ident = &f.ident;
        match &f.kind {
            FieldKind::Skip => quote!(#ident: ::core::default::Default::default()),
            FieldKind::Column(c) => {
                let var = format_ident!("__{}", f.ident);
                if c.auto_increment {
                    quote!(#ident: ::core::option::Option::Some(#var))
                } else {
                    quote!(#ident: #var)
                }
            }
        }
    });

    let order_default = model.ordering.iter().map(|o| {
        let c = col(model, column_of(model, &o.field));
        if o.descending {
            quote!(let query = query.then_order_by(#c.desc());)
        } else {
            quote!(let query = query.then_order_by(#c.asc());)
        }
    });

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

    let insert = if pk.auto_increment {
        quote! {
            let ::core::option::Option::Some(_) = self.#pk_ident else {
                let statement = diesel::insert_into(#module::table).values((#(#insert_values,)*));
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

    let insert_all = if pk.auto_increment {
        quote! {
            let (new_rows, keyed_rows): (::std::vec::Vec<usize>, ::std::vec::Vec<usize>) =
                (0..rows.len()).partition(|&i| rows[i].#pk_ident.is_none());
            if !keyed_rows.is_empty() {
                let values: ::std::vec::Vec<_> = keyed_rows.iter().map(|&i| { let row = &rows[i]; (#(#batch_keyed_values,)*) }).collect();
                let statement = diesel::insert_into(#module::table).values(values);
                ::orm_core::__each_backend!(&mut *conn, c => RunQueryDsl::execute(statement, c)?);
            }
            if new_rows.is_empty() {
                return ::core::result::Result::Ok(());
            }
            let ids: ::std::vec::Vec<i64> = {
                let values: ::std::vec::Vec<_> = new_rows.iter().map(|&i| { let row = &rows[i]; (#(#batch_new_values,)*) }).collect();
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
            let values: ::std::vec::Vec<_> = rows.iter().map(|row| (#(#batch_keyed_values,)*)).collect();
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

    quote! {
        impl ::orm_core::Model for #ident {
            type Table = #module::table;
            type Key = #pk_ty;
            type Query = diesel::dsl::IntoBoxed<'static, #module::table, ::orm_core::MultiBackend>;

            fn meta() -> &'static ::orm_core::ModelMeta {
                &META
            }

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
                #(#order_default)*
                query
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
                let rows: ::std::vec::Vec<(#(#row_types,)*)> = RunQueryDsl::load(query, conn)?;
                ::core::result::Result::Ok(
                    rows.into_iter()
                        .map(|(#(#row_names,)*)| #ident { #(#build_fields,)* })
                        .collect(),
                )
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
        }
    }
}
