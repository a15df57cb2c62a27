//! The to-many relation fields: [`Related`] (the reverse side of a foreign
//! key), [`ReverseOneToOne`] and [`ManyToMany`]. Each is a lazily
//! allocated [`Slot`] caching the related rows.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, PoisonError};

use super::many_to_many::forget_other_side;
use super::slot::{LazySlot, Slot};
use crate::backend::levels::Written;
use crate::fetch::FetchMode;
use crate::meta::{Key, KeyType};
use crate::model::{LinkSide, Model, RelationField};

/// The reverse side of a foreign key (`question.choices()`): a field whose
/// slot caches the related rows.
///
/// Declare it on the target with the name of the foreign key it reverses:
/// `#[orm(reverse_of = "question")] pub choices: Related<Choice>`.
pub struct Related<C: Model> {
    slot: LazySlot<C>,
    _marker: PhantomData<fn() -> C>,
}

/// The reverse side of a one-to-one (`user.profile(&mut conn)?`), cached in
/// the instance; a missing row is cached as `None`.
pub struct ReverseOneToOne<C: Model> {
    slot: LazySlot<C>,
    _marker: PhantomData<fn() -> C>,
}

/// A many-to-many relation (`user.groups()`), its slot caching the related
/// rows as `Arc<T>`: the owners one load filled share each target they
/// link to. The through table is generated (`#[orm(through_table = "...")]`
/// names it) or a model of yours (`#[orm(through = "Membership")]`). The
/// other side declares `#[orm(reverse_of = "groups")] pub users: ManyToMany<User>`.
///
/// `K` is the target's key type (`i64` unless named, like
/// `ManyToMany<Group, String>`); a generated through table stores it.
pub struct ManyToMany<T: Model, K: KeyType = i64> {
    slot: LazySlot<Arc<T>>,
    _marker: PhantomData<fn() -> K>,
}

/// What a to-many field's cache holds per related row (`$item`: the row,
/// or an `Arc` of it that owners share).
macro_rules! slot_field {
    ($ty:ident < $param:ident $(, $extra:ident)? >, $item:ty) => {
        impl<$param: Model $(, $extra: KeyType)?> Default for $ty<$param $(, $extra)?> {
            fn default() -> Self {
                $ty {
                    slot: LazySlot::default(),
                    _marker: PhantomData,
                }
            }
        }

        /// Cloning an instance shares the cached rows; they stay bound to
        /// the key they were loaded for.
        impl<$param: Model $(, $extra: KeyType)?> Clone for $ty<$param $(, $extra)?> {
            fn clone(&self) -> Self {
                $ty {
                    slot: self.slot.cloned(),
                    _marker: PhantomData,
                }
            }
        }

        /// Relation slots never take part in equality.
        impl<$param: Model $(, $extra: KeyType)?> PartialEq for $ty<$param $(, $extra)?> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }

        impl<$param: Model $(, $extra: KeyType)?> fmt::Debug for $ty<$param $(, $extra)?> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let cached = self.slot.peek().and_then(|slot| {
                    let cache = slot.cache.lock().unwrap_or_else(PoisonError::into_inner);
                    cache.as_ref().map(|b| b.rows.len())
                });
                f.debug_struct(stringify!($ty))
                    .field("to", &$param::meta().name)
                    .field("cached", &cached)
                    .finish()
            }
        }

        impl<$param: Model $(, $extra: KeyType)?> $ty<$param $(, $extra)?> {
            /// The slot (allocated on first use).
            #[doc(hidden)]
            pub fn __slot(&self) -> &LazySlot<$item> {
                &self.slot
            }
        }

        impl<$param: Model $(, $extra: KeyType)?> RelationField for $ty<$param $(, $extra)?> {
            fn fetch_mode(&self) -> Option<FetchMode> {
                self.slot.mode()
            }

            fn set_fetch_mode(&self, mode: Option<FetchMode>) {
                self.slot.set_mode(mode);
            }

            fn invalidate(&mut self) {
                $ty::invalidate(self);
                self.slot.unpublish();
            }

            fn forget(&self) {
                $ty::invalidate(self);
            }

            fn forget_linked(&self, side: &dyn LinkSide) {
                // Taken out of the lock first: forgetting locks other slots.
                if let Some(rows) = self.slot.peek().and_then(Slot::any_rows) {
                    forget_other_side::<$param>(side, rows.iter().map(Borrow::borrow));
                }
            }

            fn link_peers<'a>(group: impl Iterator<Item = (&'a Self, Option<Key>)>)
            where
                Self: 'a,
            {
                LazySlot::link(group.map(|(field, owner)| (&field.slot, owner)));
            }
        }

        impl<$param: Model $(, $extra: KeyType)?> $ty<$param $(, $extra)?> {
            /// Whether rows are cached for the owner key `key`.
            pub fn is_cached_for(&self, key: &Key) -> bool {
                self.slot.peek().is_some_and(|slot| slot.get(key).is_some())
            }

            /// Drops the cached rows.
            pub fn invalidate(&self) {
                if let Some(slot) = self.slot.peek() {
                    slot.clear();
                }
            }

            /// Caches `rows` for the owner key `key` (prefetching and cache control).
            pub fn set_cached(&self, key: Key, mut rows: Vec<$param>) {
                rows.sort_by(Model::cmp_default);
                let rows = rows.into_iter().map(<$item>::from).collect();
                self.slot.put(key, Arc::new(rows), Written::default());
            }

            /// The cached rows for `key`, without querying.
            pub fn cached(&self, key: &Key) -> Option<Arc<Vec<$item>>> {
                self.slot.get(key)
            }
        }
    };
}

slot_field!(Related<C>, C);
slot_field!(ReverseOneToOne<C>, C);
slot_field!(ManyToMany<T, K>, Arc<T>);
