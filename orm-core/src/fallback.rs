//! Support for `#[derive(Model)]`; not API: what the derive emits when it
//! rejects its input, and the marker it checks relation field types with.
//!
//! A derive that reports errors and emits nothing makes every use of the
//! model elsewhere in the crate an error too (`Question::objects()`,
//! `question::text`), burying the real problem. So next to its errors the
//! derive emits the diesel table of the columns it could read and
//! [`__fallback_model!`](crate::__fallback_model): an `impl Model` of the
//! required items, whose bodies never run (the crate does not compile
//! anyway, because of the errors).

use crate::{ForeignKey, KeyType, ManyToMany, Model, Related, ReverseOneToOne};

/// `impl Model for $model` with bodies that never run, plus `objects()`,
/// for a model whose derive failed. `key` is the primary-key type when the
/// derive could read it (`i64` otherwise); `table` its diesel table when
/// it could emit one.
#[doc(hidden)]
#[macro_export]
macro_rules! __fallback_model {
    ($model:ident) => {
        $crate::__fallback_model!($model, key = i64);
    };
    ($model:ident, key = $key:ty) => {
        $crate::__fallback_model!($model, key = $key, table = $crate::__private_v1::no_table::table);
    };
    ($model:ident, key = $key:ty, table = $table:ty) => {
        #[automatically_derived]
        impl $model {
            /// A queryset over all rows (the derive failed: never runs).
            pub fn objects() -> $crate::QuerySet<Self> {
                $crate::QuerySet::new()
            }
        }

        #[automatically_derived]
        impl $crate::Model for $model {
            type Table = $table;
            type Key = $key;

            fn meta() -> &'static $crate::ModelMeta {
                $crate::__fallback_model!(@never)
            }
            fn pk(&self) -> ::core::option::Option<Self::Key> {
                $crate::__fallback_model!(@never)
            }
            fn set_pk(&mut self, _: ::core::option::Option<Self::Key>) {
                $crate::__fallback_model!(@never)
            }
            fn from_row<R: $crate::__private_v1::RawRow + ?Sized>(
                _: &R,
                _: usize,
            ) -> $crate::__private_v1::diesel::deserialize::Result<Self> {
                $crate::__fallback_model!(@never)
            }
            fn bind_column<'b>(
                &'b self,
                _: usize,
                _: &mut $crate::__private_v1::diesel::query_builder::AstPass<'_, 'b, $crate::MultiBackend>,
            ) -> $crate::__private_v1::diesel::QueryResult<()> {
                $crate::__fallback_model!(@never)
            }
            fn field_mut(&mut self, _: usize) -> ::core::option::Option<&mut dyn ::core::any::Any> {
                $crate::__fallback_model!(@never)
            }
        }

        #[automatically_derived]
        impl $crate::Relations for $model {}
    };
    (@never) => {
        ::core::panic!("#[derive(Model)] failed on this model; its fallback impl never runs")
    };
}

/// The diesel table of a fallback model the derive could not emit one for.
pub mod no_table {
    diesel::table! {
        /// No table: the derive failed.
        __orm_no_table (id) {
            /// No column.
            id -> BigInt,
        }
    }
}

/// The relation field types: `ForeignKey`, `OneToOne`, `ManyToMany`,
/// `Related`, `ReverseOneToOne`. The derive recognises relation fields by
/// their type's name and asserts `FieldType: RelationFieldType` for each
/// one: a type of the user's own named `ForeignKey` fails here.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not one of orm_core's relation types",
    label = "this field's type is named like a relation, but it is not orm_core's",
    note = "relation fields are `orm_core::ForeignKey<T>`, `OneToOne<T>`, `ManyToMany<T>`, `Related<T>` or `ReverseOneToOne<T>` (from `orm_core::prelude`); rename your own type, or mark the field #[orm(skip)]"
)]
pub trait RelationFieldType: sealed::Sealed {}

impl<T: Model, K: KeyType> RelationFieldType for ForeignKey<T, K> {}
impl<T: Model, K: KeyType> RelationFieldType for ManyToMany<T, K> {}
impl<C: Model> RelationFieldType for Related<C> {}
impl<C: Model> RelationFieldType for ReverseOneToOne<C> {}

mod sealed {
    use crate::{ForeignKey, KeyType, ManyToMany, Model, Related, ReverseOneToOne};

    pub trait Sealed {}

    impl<T: Model, K: KeyType> Sealed for ForeignKey<T, K> {}
    impl<T: Model, K: KeyType> Sealed for ManyToMany<T, K> {}
    impl<C: Model> Sealed for Related<C> {}
    impl<C: Model> Sealed for ReverseOneToOne<C> {}
}

/// Links a model to the hidden type its derive generates (inside a
/// `const _`, so it takes no name in the user's module), whose associated
/// items other models' generated code reaches: typed relation descriptors
/// and the `__orm_unique_<field>` markers
/// [`assert_unique`](crate::__private_v1::assert_unique) checks.
pub trait ModelHelpers {
    /// The generated helpers type.
    type Helpers;
}
