//! Relation fields and their instance cache slots: forward foreign keys and
//! one-to-one ([`ForeignKey`], [`OneToOne`]), reverse foreign-key managers
//! ([`Related`], [`RelatedManager`]) and many-to-many managers
//! ([`ManyToMany`], [`ManyToManyManager`]).
//!
//! Every cache is bound to the key value it was built from: when the
//! instance's key changes (copy by clearing the key then `save`, a rename of
//! a `to_field` value seen by `refresh_from_db`), the old cache no longer
//! matches and the next access rebuilds it. A cache is never stale.

/// The cache-control methods and the accessors shared by the managers
/// (`$row` is the related model's type parameter, `$item` what the slot
/// holds per row: `$row`, or `Arc<$row>` for rows owners share; each
/// manager holds `owner: &'a O` and `rel`, a descriptor with `slot` and
/// `owner_key`).
macro_rules! manager_cache_control {
    ($row:ident, $item:ty) => {
        /// Whether the rows are cached for the current key.
        pub fn is_cached(&self) -> bool {
            self.owner_key()
                .is_some_and(|k| self.slot().cached(&k).is_some())
        }

        /// Caches `rows` as the related rows (sorted in the related
        /// model's default ordering), bound to the owner's current key; the
        /// next `all` costs no query. Does nothing for an unsaved owner.
        /// Not tied to a transaction: a rollback does not drop it (rows
        /// the manager itself loads or writes are tied to theirs).
        pub fn set_cached(&self, mut rows: Vec<$row>) {
            if let Some(key) = self.owner_key() {
                rows.sort_by(Model::cmp_default);
                let rows = rows.into_iter().map(<$item>::from).collect();
                self.slot().put(
                    key,
                    Arc::new(rows),
                    crate::backend::levels::Written::default(),
                );
            }
        }

        /// Drops the cached rows; the next `all` queries.
        pub fn invalidate(&self) {
            self.slot().clear();
        }

        /// The cached rows for the owner's current key, without querying.
        pub fn cached(&self) -> Option<Arc<Vec<$item>>> {
            self.slot().get(&self.owner_key()?)
        }

        /// The slot's address: the same for every access on one instance.
        #[doc(hidden)]
        pub fn slot_ptr(&self) -> *const () {
            (self.slot() as *const LazySlot<$item>).cast()
        }

        /// The owner's slot.
        #[inline(always)]
        fn slot(&self) -> &'a LazySlot<$item> {
            (self.rel.slot)(self.owner)
        }

        /// What the owner's model declares for the slot (its fetch mode,
        /// the names an N+1 report gives).
        fn declared(&self) -> crate::relations::slot::Declared {
            crate::relations::slot::Declared {
                mode: O::meta().fetch_mode,
                model: O::meta().name,
                field: self.rel.field,
            }
        }

        /// The rows published in the instance for `key`, the owner's
        /// current one (see [`LazySlot`]): no lock, no reference count.
        #[inline(always)]
        fn published(&self, key: Option<&Key>) -> Option<RelatedRows<'a, $item>> {
            self.slot().published(key?).map(RelatedRows::borrowed)
        }

        /// The owner's key its related rows point at (`None`: unsaved).
        #[inline(always)]
        fn owner_key(&self) -> Option<Key> {
            (self.rel.owner_key)(self.owner)
        }

        #[inline(always)]
        fn owner(&self) -> Result<Key> {
            Self::saved(self.owner_key())
        }

        /// The owner's key, `Unsaved` if it has none.
        fn saved(key: Option<Key>) -> Result<Key> {
            key.ok_or_else(|| OrmError::Unsaved {
                model: O::meta().name,
            })
        }
    };
}

mod cell;
mod descriptor;
mod fields;
pub(crate) mod fill;
mod foreign_key;
pub(crate) mod links;
mod many_to_many;
mod reverse;
mod rows;
mod slot;
pub(crate) mod through;

pub use descriptor::{ChildKey, ForeignKeyAccess, ForeignKeyRel, ManyToManyRel, ReverseRel};
pub use fields::{ManyToMany, Related, ReverseOneToOne};
pub use foreign_key::{ForeignKey, OneToOne};
pub use many_to_many::ManyToManyManager;
pub use reverse::{reverse_one, One, RelatedManager};
pub use rows::RelatedRows;
pub use slot::{LazySlot, Slot};
pub use through::{Links, Through, ThroughPair};
