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

pub mod connection;
pub mod error;
pub mod forms;
pub mod instrument;
pub mod joins;
pub mod model;
pub mod peers;
pub mod queryset;
pub mod relations;
#[doc(hidden)]
pub mod row;
pub mod schema;

pub use connection::{AnyConnection, BackendKind, Conn, DatabaseUrl, Db, DbBuilder, MultiBackend};
pub use error::{OrmError, Result};
pub use instrument::{assert_num_queries, capture_queries, CapturedQueries, QueryLog};
pub use joins::{JoinPath, ToOneRel};
pub use model::{
    ColumnMeta, Key, KeyType, Model, ModelMeta, OnDelete, OrderTerm, Predicate, References, SqlKind,
};
pub use orm_derive::Model;
pub use queryset::{QuerySet, Rows};
pub use relations::{
    ForeignKey, ManyToMany, ManyToManyManager, One, OneToOne, Path, Rel, Related, RelatedManager,
    RelationMeta, ReverseOneToOne, TypedRelation,
};

/// Re-exports for generated code; not API.
#[doc(hidden)]
pub mod __private {
    pub use chrono;
    pub use diesel;

    use crate::error::{OrmError, Result};

    /// Converts a database-assigned key to the model's key type.
    pub fn key_from_i64<K: TryFrom<i64>>(model: &'static str, id: i64) -> Result<K> {
        K::try_from(id).map_err(|_| OrmError::Value {
            model,
            field: "primary key",
            reason: format!(
                "the database assigned key {id}, which does not fit the key type; widen it to i64"
            ),
        })
    }

    #[cfg(feature = "mysql")]
    pub use crate::connection::mysql_last_insert_id;

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
        Conn, Db, ForeignKey, ManyToMany, Model, OneToOne, OrmError, QuerySet, Related,
        ReverseOneToOne,
    };
    pub use diesel::prelude::{
        BoolExpressionMethods, Connection, ExpressionMethods, NullableExpressionMethods,
        TextExpressionMethods,
    };
}
