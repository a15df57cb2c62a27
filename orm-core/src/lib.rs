//! A Django-style ORM on diesel.
//!
//! Plain structs with `#[derive(Model)]` get a diesel table module, typed
//! CRUD and querysets; one [`Db`] handle covers SQLite, PostgreSQL and
//! MySQL/MariaDB, chosen at run time from a URL.
//!
//! ```
//! use orm_core::prelude::*;
//!
//! #[derive(Model, Debug, Clone, Default)]
//! #[orm(ordering = "-votes")]
//! pub struct Choice {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     #[orm(max_length = 200)]
//!     pub text: String,
//!     pub votes: i32,
//! }
//!
//! # fn main() -> orm_core::Result<()> {
//! let db = Db::connect("sqlite::memory:")?;
//! let mut conn = db.get()?;
//! orm_core::schema::create_table::<Choice>(&mut conn)?;
//! let mut yes = Choice { text: "yes".into(), votes: 2, ..Default::default() };
//! yes.save(&mut conn)?;
//! let top = Choice::objects().filter(choice::votes.ge(1)).first(&mut conn)?;
//! assert_eq!(top.map(|c| c.text), Some("yes".to_string()));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// `fetch::shares` and `fetch::once_arc` are the only modules allowed
// `unsafe` code.
#![deny(unsafe_code)]

// Layers, each using only the ones above it in this list.
mod backend;
mod error;
mod fallback;
pub mod fetch;
mod loading;
mod meta;
mod model;
mod query;
mod registry;
mod relations;
pub mod schema;
mod sql;
mod testing;
mod types;

pub use backend::{
    atomic, on_commit, write_transaction, AnyConnection, BackendKind, Conn, DatabaseUrl, Db,
    DbBuilder, MultiBackend,
};
pub use error::{OrmError, Result};
pub use loading::{
    JoinPath, Path, Prefetch, Rel, RelationVisitor, Relations, SelectPath, Then, ToOne, ToOneRel,
    Writable,
};
pub use meta::{
    Choices, ColumnDefault, ColumnMeta, Key, KeyType, ModelMeta, OnDelete, OrderTerm, References,
    RelationMeta, SqlKind, UuidVersion,
};
pub use model::{check_value, Model, UniqueConflict};
pub use orm_derive::{Model, OrmEnum};
pub use query::{QuerySet, Rows, Values};
pub use registry::Models;
pub use relations::{
    ForeignKey, ManyToMany, ManyToManyManager, One, OneToOne, Related, RelatedManager, RelatedRows,
    ReverseOneToOne,
};
pub use sql::RowLock;
pub use testing::{
    assert_num_queries, capture_queries, is_transaction_control, CapturedQueries, QueryLog,
};
pub use types::enums::{OrmEnum, UnknownEnumValue};
#[cfg(feature = "serde_json")]
pub use types::Json;

/// What generated code uses; not API. The version in the name is bumped
/// when it changes incompatibly, so an orm-derive that does not match
/// orm-core fails at the first use instead of in a confusing way.
#[doc(hidden)]
pub mod __private_v1 {
    pub use chrono;
    pub use diesel;

    pub use crate::__orm_enum_impls as orm_enum_impls;
    pub use crate::backend::checked;
    pub use crate::backend::levels::Written;
    pub use crate::backend::row::{read, read_native, RawRow};
    pub use crate::fallback::{no_table, ModelHelpers, RelationFieldType};
    pub use crate::loading::RelationKind;
    pub use crate::meta::{read_key, read_required_key};
    pub use crate::model::{link_field, LinkSide, RelationField, RelationRef};
    pub use crate::relations::{
        reverse_one, ChildKey, ForeignKeyAccess, ForeignKeyRel, Links, ManyToManyRel, ReverseRel,
        Slot, Through, ThroughPair,
    };
    pub use crate::sql::Lookup;
    #[cfg(feature = "bigdecimal")]
    pub use crate::types::decimal::DecimalColumn;
    pub use crate::types::enum_impls::{Bind, BindNullable};
    pub use crate::types::enums::{
        fit_i32, int_from_sql, int_to_sql, int_to_sql_on, text_from_sql, text_to_sql,
        text_to_sql_on, ChoiceColumn,
    };

    /// A field that can be joined on as a key: the primary key, or a
    /// non-null integer or text field marked `#[orm(unique)]`.
    pub struct Unique;
    /// Any other field.
    pub struct NotUnique;

    /// Implemented by [`Unique`] only.
    #[diagnostic::on_unimplemented(
        message = "this relation needs a unique key field on the other model",
        label = "not unique (or not a non-null integer or text field)",
        note = "a `to_field` must name the primary key or a non-null integer or text field marked `#[orm(unique)]`; a `ReverseOneToOne` must reverse a `OneToOne`"
    )]
    pub trait UniqueKey {}

    impl UniqueKey for Unique {}

    /// Compiles only when `marker` (a generated `__orm_unique_<field>`)
    /// says the field is a unique key.
    pub fn assert_unique<U: UniqueKey>(marker: fn() -> U) {
        let _ = marker;
    }

    /// Implemented by a type for itself (and its `Option`): a `to_field`'s
    /// type must be the foreign key's key type.
    #[diagnostic::on_unimplemented(
        message = "the `to_field` is a `{Self}`, but the foreign key's key type is `{K}`",
        label = "not the key type",
        note = "name the key type in the field: `ForeignKey<Target, {Self}>`"
    )]
    pub trait SameKey<K> {}

    impl<K> SameKey<K> for K {}

    /// A nullable field: refused by the uniqueness check instead, with
    /// what to do.
    impl<K> SameKey<K> for Option<K> {}

    /// Compiles only when the field `field` reads is of the key type `K`.
    pub fn assert_key_type<T, K, F: SameKey<K>>(field: fn(&T) -> &F) {
        let _ = field;
    }

    /// A field of a model's default `ordering`: rows a write leaves in a
    /// relation cache are sorted in Rust (`#[orm(choices)]` enums sort by
    /// what they store instead, through [`ChoiceColumn`]).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be in the model's `ordering`: it is not `PartialOrd`",
        label = "ordered by a field that is not `PartialOrd`",
        note = "rows a write leaves in a relation cache are sorted in Rust as the database sorts them; order by other fields, or implement `PartialOrd` for the type"
    )]
    pub trait OrderingField {
        /// `partial_cmp`, with incomparable values (NaN) equal.
        fn cmp_field(&self, other: &Self) -> std::cmp::Ordering;
    }

    impl<T: PartialOrd> OrderingField for T {
        fn cmp_field(&self, other: &Self) -> std::cmp::Ordering {
            self.partial_cmp(other).unwrap_or(std::cmp::Ordering::Equal)
        }
    }
}

/// `use orm_core::prelude::*;` brings the derive, the traits whose methods
/// models use, and diesel's query-building prelude.
///
/// ```
/// use orm_core::prelude::*;
/// let _ = Db::connect("sqlite::memory:");
/// ```
pub mod prelude {
    pub use crate::{
        Conn, Db, ForeignKey, ManyToMany, Model, OneToOne, OrmEnum, OrmError, QuerySet, Related,
        Relations, ReverseOneToOne, RowLock,
    };
    pub use diesel::prelude::{
        BoolExpressionMethods, Connection, ExpressionMethods, NullableExpressionMethods,
        TextExpressionMethods,
    };
}
