//! The [`Model`] trait `#[derive(Model)]` implements, and the writes of
//! one instance (CRUD) built on it.
//!
//! The trait is small on purpose: metadata, the key, row decoding, binding
//! column values, and a visitor over the relation fields. Everything else
//! (querysets, relations, loading) is generic code over it.

use std::any::Any;
use std::cmp::Ordering;
use std::sync::Arc;

use diesel::deserialize;
use diesel::query_builder::AstPass;
use diesel::QueryResult;

use crate::backend::levels::Written;
use crate::backend::row::{FromRawRow, RawRow};
use crate::backend::{written_now, AnyConnection, MultiBackend};
use crate::error::Result;
use crate::meta::{FetchMode, Key, KeyType, ModelMeta};

mod check;
mod crud;
mod unique;
mod write;

pub use check::check_value;
pub(crate) use crud::{insert_chunked, insert_ignoring, update_fields, update_relation_column};
pub use unique::UniqueConflict;

/// A database-backed model, implemented by `#[derive(Model)]`.
///
/// The required items are what the derive generates; the provided methods
/// are the instance's CRUD.
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Author {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(unique, max_length = 100)]
///     pub name: String,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Author>(&mut conn)?;
/// let mut ada = Author { name: "Ada".into(), ..Default::default() };
/// ada.save(&mut conn)?;
/// let again = Author::get(&mut conn, ada.id.unwrap())?;
/// assert_eq!(again.name, "Ada");
/// # Ok(()) }
/// ```
pub trait Model: Sized + Send + Sync + 'static {
    /// The diesel table type (`author::table`): filters are typed on it.
    type Table: diesel::Table + Default + Send + 'static;
    /// The primary-key type (the inner type for an auto-increment `Option<i64>`).
    type Key: KeyType;

    /// The model's metadata.
    fn meta() -> &'static ModelMeta;

    /// The primary-key value; `None` for an auto-increment key not saved yet.
    fn pk(&self) -> Option<Self::Key>;

    /// Sets the key the database assigned (`Some`), or clears an
    /// auto-increment key (`None`; a manual key stays).
    #[doc(hidden)]
    fn set_pk(&mut self, key: Option<Self::Key>);

    /// Builds an instance from the columns of `row` starting at `start`
    /// (in the table's column order); relations are unloaded.
    #[doc(hidden)]
    fn from_row<R: RawRow + ?Sized>(row: &R, start: usize) -> deserialize::Result<Self>;

    /// Binds the value of column `column` (its position in
    /// `meta().columns`) as a parameter.
    #[doc(hidden)]
    fn bind_column<'b>(
        &'b self,
        column: usize,
        out: &mut AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()>;

    /// The relation field at `index` (declaration order), `None` past the
    /// last: the visitor generic code walks them with. (None by default:
    /// a model without relations.)
    #[doc(hidden)]
    fn relation(&self, index: usize) -> Option<RelationRef<'_>> {
        let _ = index;
        None
    }

    /// Makes the relation fields of `rows` (loaded by one query) peers,
    /// field by field: a call of [`link_field`] per relation field,
    /// generated. (Nothing by default: a model without relations.)
    #[doc(hidden)]
    fn link_peers<'r, I>(rows: I)
    where
        I: Iterator<Item = &'r Self> + Clone,
        Self: 'r,
    {
        let _ = rows;
    }

    /// The relation field at `index`, mutably.
    #[doc(hidden)]
    fn relation_mut(&mut self, index: usize) -> Option<&mut dyn RelationField> {
        let _ = index;
        None
    }

    /// Compares two instances by the model's default ordering (equal by
    /// default: an unordered model).
    #[doc(hidden)]
    fn cmp_default(&self, other: &Self) -> Ordering {
        let _ = other;
        Ordering::Equal
    }

    /// Takes the fields of `fresh`, a reload of this row, but those the
    /// model skips (`#[orm(skip)]`, generated when it has some; the whole
    /// of `fresh` by default).
    #[doc(hidden)]
    fn reload_from(&mut self, fresh: Self) {
        *self = fresh;
    }

    /// The plain field stored in column `column`, to assign a parsed value
    /// to (model forms); `None` for a relation column.
    #[doc(hidden)]
    fn field_mut(&mut self, column: usize) -> Option<&mut dyn Any>;

    /// Drops every cached relation of this instance (forward objects,
    /// reverse and many-to-many rows); keys stay. The next access loads
    /// again. `refresh_from_db` does this too.
    fn invalidate_relations(&mut self) {
        let mut index = 0;
        while let Some(field) = self.relation_mut(index) {
            field.invalidate();
            index += 1;
        }
    }

    /// Sets this instance's fetch mode (see [`fetch`](crate::fetch) for the
    /// precedence); objects loaded through it inherit the mode.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # use orm_core::fetch::FetchMode;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
    /// let choice = Choice::default();
    /// choice.set_fetch_mode(FetchMode::Raise);
    /// assert_eq!(choice.fetch_mode(), Some(FetchMode::Raise));
    /// ```
    fn set_fetch_mode(&self, mode: FetchMode) {
        inherit_fetch_mode(self, Some(mode));
    }

    /// This instance's own fetch mode, if set or inherited (models without
    /// relation fields have none).
    fn fetch_mode(&self) -> Option<FetchMode> {
        self.relation(0).and_then(|r| r.field.fetch_mode())
    }

    /// Loads the row with primary key `key`.
    ///
    /// Errors with [`OrmError::NotFound`](crate::OrmError::NotFound) when there is none.
    fn get(conn: &mut AnyConnection, key: Self::Key) -> Result<Self> {
        crud::get(conn, &key)
    }

    /// Inserts the row (no key yet) or writes it (a key: a row that does
    /// not exist yet is inserted).
    ///
    /// An auto-increment key is filled in. Queries: a new row, one (two on
    /// MySQL, which reads `LAST_INSERT_ID()`); a row with a key, one upsert
    /// on the primary key, except on MySQL, whose upsert would fire on any
    /// unique column: an UPDATE, then an INSERT if no row had the key (a
    /// model of its key alone checks the row with a SELECT instead of the
    /// UPDATE).
    fn save(&mut self, conn: &mut AnyConnection) -> Result<()> {
        crud::save(self, conn)?;
        written_in(self, conn);
        Ok(())
    }

    /// Inserts the row; an auto-increment key is filled in. One query (two
    /// on MySQL for an auto-increment key, read with `LAST_INSERT_ID()`).
    fn insert(&mut self, conn: &mut AnyConnection) -> Result<()> {
        crud::insert(self, conn)?;
        written_in(self, conn);
        Ok(())
    }

    /// Deletes the row. An auto-increment key is cleared, so a later
    /// `save` inserts a new row; cached reverse and many-to-many rows are
    /// dropped (the database cascaded or unlinked them), forward objects
    /// stay. Errors with
    /// [`OrmError::Unsaved`](crate::OrmError::Unsaved) when the instance has no key.
    fn delete(&mut self, conn: &mut AnyConnection) -> Result<usize> {
        crud::delete(self, conn)
    }

    /// The unique constraints another row already holds this instance's
    /// values for (Django's `validate_unique`): its `unique` fields and
    /// its `unique_together`. One query per constraint; the row with the
    /// instance's key is the instance itself (a save writes it), a NULL
    /// conflicts with nothing. Model forms report these as errors, where
    /// a save would fail with the database's. (Another request can still
    /// take a value between the check and the write: the constraint
    /// decides.)
    ///
    /// ```
    /// use orm_core::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone, Default)]
    /// pub struct Tag {
    ///     #[orm(primary_key)]
    ///     pub id: Option<i64>,
    ///     #[orm(unique, max_length = 50)]
    ///     pub name: String,
    /// }
    ///
    /// # fn main() -> orm_core::Result<()> {
    /// let db = orm_core::Db::connect("sqlite::memory:")?;
    /// let mut conn = db.get()?;
    /// orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let mut rust = Tag { name: "rust".into(), ..Default::default() };
    /// rust.save(&mut conn)?;
    /// assert!(rust.unique_conflicts(&mut conn)?.is_empty());
    /// let again = Tag { name: "rust".into(), ..Default::default() };
    /// let conflicts = again.unique_conflicts(&mut conn)?;
    /// assert_eq!(conflicts[0].to_string(), "Tag with this name already exists.");
    /// # Ok(()) }
    /// ```
    fn unique_conflicts(&self, conn: &mut AnyConnection) -> Result<Vec<UniqueConflict>> {
        unique::conflicts(self, conn)
    }

    /// Reloads every stored field from the database, dropping cached
    /// relations; `#[orm(skip)]` fields keep their values, and the
    /// instance its fetch mode (as Django keeps attributes that are not
    /// fields).
    fn refresh_from_db(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let key = crud::key_of(self)?;
        let mode = self.fetch_mode();
        let fresh = Self::get(conn, key)?;
        self.reload_from(fresh);
        inherit_fetch_mode(self, mode);
        Ok(())
    }
}

/// A relation field of an instance, as the model's visitor hands it out.
#[doc(hidden)]
pub struct RelationRef<'a> {
    /// The field.
    pub field: &'a dyn RelationField,
    /// For a foreign key or one-to-one: the position of its column.
    pub column: Option<usize>,
    /// For a many-to-many: the link table and the side it reads.
    pub links: Option<&'a dyn LinkSide>,
}

impl<'a> RelationRef<'a> {
    /// A foreign key or one-to-one stored in column `column`.
    pub fn to_one(field: &'a dyn RelationField, column: usize) -> Self {
        RelationRef {
            field,
            column: Some(column),
            links: None,
        }
    }

    /// A reverse foreign key or one-to-one.
    pub fn to_many(field: &'a dyn RelationField) -> Self {
        RelationRef {
            field,
            column: None,
            links: None,
        }
    }

    /// A many-to-many field reading `links`.
    pub fn many_to_many(field: &'a dyn RelationField, links: &'a dyn LinkSide) -> Self {
        RelationRef {
            field,
            column: None,
            links: Some(links),
        }
    }
}

/// The link table a many-to-many field reads, and its side: a write on
/// the other side of the relation finds the field by it, to drop what
/// the field caches.
#[doc(hidden)]
pub trait LinkSide: Sync {
    /// The link table.
    fn link_table(&self) -> &'static str;
    /// Its column holding the owner's key.
    fn owner_column(&self) -> &'static str;
    /// Its column holding the target's key.
    fn target_link_column(&self) -> &'static str;
}

/// What generic code does with a relation field, whatever its kind.
#[doc(hidden)]
pub trait RelationField: Send + Sync {
    /// The instance-level fetch mode stored in the field.
    fn fetch_mode(&self) -> Option<FetchMode>;
    /// Stores the instance-level fetch mode in the field.
    fn set_fetch_mode(&self, mode: Option<FetchMode>);
    /// Drops what the field caches; a key stays.
    fn invalidate(&mut self);
    /// For a to-many field: drops its cached rows through a shared
    /// reference (a write on the other side of a many-to-many changed
    /// them).
    fn forget(&self) {}
    /// For a many-to-many field reading the link table `side`: drops what
    /// the rows it caches hold of their other side (the owner's links are
    /// going: it is deleted).
    fn forget_linked(&self, side: &dyn LinkSide) {
        let _ = side;
    }
    /// For a to-one field: whether its key is set.
    fn has_key(&self) -> bool {
        true
    }
    /// For a to-one field: whether its key was taken from the target's
    /// primary key (`ForeignKey::set`), which is wrong for a `to_field`
    /// relation.
    fn key_is_target_pk(&self) -> bool {
        false
    }
    /// For a to-one field: the target model's name when it holds a
    /// target with no key (assigned before it was saved).
    fn unsaved_target(&self) -> Option<&'static str> {
        None
    }
    /// Makes `group` (this field of the instances one query loaded, each
    /// with the owner key a to-many field is bound to) one peer batch.
    fn link_peers<'a>(group: impl Iterator<Item = (&'a Self, Option<Key>)>)
    where
        Self: Sized + 'a;
    /// The owner was written inside the transaction levels `written`:
    /// what the field caches now is tied to them (a rollback drops it).
    fn written_in(&mut self, written: &Written) {
        let _ = written;
    }
}

/// Ties what `instance`'s relation fields cache to the transaction `conn`
/// is in, after a write of `instance` (nothing outside a transaction).
pub(crate) fn written_in<M: Model>(instance: &mut M, conn: &mut AnyConnection) {
    let written = written_now(conn);
    if written.is_empty() {
        return;
    }
    let mut index = 0;
    while let Some(field) = instance.relation_mut(index) {
        field.written_in(&written);
        index += 1;
    }
}

/// Gives `instance` (and its relation fields) the instance mode `mode`;
/// `None` (nothing to inherit) leaves it as it is.
pub(crate) fn inherit_fetch_mode<M: Model>(instance: &M, mode: Option<FetchMode>) {
    if mode.is_none() {
        return;
    }
    let mut index = 0;
    while let Some(r) = instance.relation(index) {
        r.field.set_fetch_mode(mode);
        index += 1;
    }
}

/// Makes one relation field of the instances one query loaded (each with
/// the owner key a to-many field is bound to) one peer batch: what
/// [`Model::link_peers`] calls for each relation field.
#[doc(hidden)]
#[inline]
pub fn link_field<'a, F: RelationField + 'a>(group: impl Iterator<Item = (&'a F, Option<Key>)>) {
    F::link_peers(group);
}

impl<M: Model> FromRawRow for M {
    #[inline]
    fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self> {
        M::from_row(row, 0)
    }
}

/// A row decoded straight into a shared allocation: what a batch load of
/// to-one targets keeps (its peers share each target), without a vector
/// of the rows beside their `Arc`s.
impl<M: Model> FromRawRow for Arc<M> {
    #[inline]
    fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self> {
        M::from_row(row, 0).map(Arc::new)
    }
}
