//! Forward relations: [`ForeignKey`] and [`OneToOne`], a key with a cache
//! slot for the loaded target, shared with the instance's peers.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use diesel::query_builder::AstPass;
use diesel::QueryResult;
use foldhash::{HashMap, HashMapExt, HashSet};

use super::cell::{Resolved, ToOneCell};
use super::fill::{load_shared_in, sort_for_lookup};
use super::ForeignKeyRel;
use crate::backend::levels::Written;
use crate::backend::{written_now, AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::fetch::{report_n_plus_one, resolve, Batch, FetchMode, Link, Linked};
use crate::meta::{Key, KeyType, RelationMeta};
use crate::model::{inherit_fetch_mode, Model, RelationField};

/// A forward foreign key to `T`, stored as the value `K` of `T`'s key (or of
/// its `to_field` column), with a cache slot for the loaded `T`.
///
/// Reading the key never queries. The generated accessor
/// (`choice.question(&mut conn)?`) loads the target on first access and
/// returns it by reference afterwards with no query. Assigning an object or
/// a key replaces the slot, so the cache always matches the key.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_core::ForeignKey;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Question {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub text: String,
/// }
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Choice {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(on_delete = "cascade")]
///     pub question: ForeignKey<Question>,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
/// let mut q = Question { text: "Why?".into(), ..Default::default() };
/// q.save(&mut conn)?;
/// let mut c = Choice::default();
/// c.question.set(q); // caches the object too
/// c.save(&mut conn)?;
/// let loaded = Choice::get(&mut conn, c.id.unwrap())?;
/// assert_eq!(loaded.question.key(), Some(&1));
/// assert_eq!(loaded.question(&mut conn)?.text, "Why?"); // one query, then cached
/// # Ok(()) }
/// ```
pub struct ForeignKey<T: Model, K: KeyType = <T as Model>::Key> {
    /// The key when the link's flags say there is one; the default
    /// otherwise (see [`key`](Self::key)).
    key: K,
    /// Where the target is loaded: the entry of its key in the peer batch
    /// of the query that loaded the instance (set when the query links its
    /// rows), or an entry of its own, allocated on first use; and the
    /// instance's fetch mode (its own, not shared with clones).
    link: Target<T, K>,
    _target: PhantomData<fn() -> T>,
}

/// Where a foreign key's target is loaded: a link to its key's entry in a
/// peer batch (the key, for the batch load, and the cell), shared by the
/// instances of one query pointing at the same row.
type Target<T, K> = Link<K, ToOneCell<T, K>>;

/// A [`Link`] flag: the relation has a key (in `ForeignKey::key`).
const HAS_KEY: u8 = 1;
/// A [`Link`] flag: the key is the cached target's primary key, assigned
/// by `ForeignKey::set`, which knows no `to_field`.
const KEY_IS_TARGET_PK: u8 = 2;

/// A cell of its own (a batch of one) holding `cell`. Only a query's
/// batch loads by its entries' keys: this one (the field holds the key)
/// keeps the default.
fn own_entry<T, K: KeyType>(cell: ToOneCell<T, K>) -> (K, ToOneCell<T, K>) {
    (K::default(), cell)
}

/// A one-to-one relation: a foreign key with a unique constraint. Its
/// reverse side is [`ReverseOneToOne`].
pub type OneToOne<T, K = <T as Model>::Key> = ForeignKey<T, K>;

impl<T: Model, K: KeyType> Default for ForeignKey<T, K> {
    fn default() -> Self {
        ForeignKey::from_optional_key(None)
    }
}

/// A clone holds the key and a copy of the loaded target; it is in no
/// peer batch and does not see what the original loads later.
impl<T: Model, K: KeyType> Clone for ForeignKey<T, K> {
    fn clone(&self) -> Self {
        let mut clone = ForeignKey::from_optional_key(self.key().cloned());
        clone.link.set_mode(self.link.mode());
        clone.link.set_flags(self.link.flags());
        if let Some(cell) = self.loaded().filter(|cell| !cell.is_empty()) {
            clone.link.reset(Some(own_entry(cell.duplicate())));
        }
        clone
    }
}

impl<T: Model, K: KeyType> PartialEq for ForeignKey<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T: Model, K: KeyType> fmt::Debug for ForeignKey<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForeignKey")
            .field("to", &T::meta().name)
            .field("key", &self.key())
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

impl<T: Model, K: KeyType> ForeignKey<T, K> {
    /// A relation pointing at `key`, nothing loaded.
    pub fn from_key(key: K) -> Self {
        ForeignKey::from_optional_key(Some(key))
    }

    /// A nullable relation from an optional key (what a row holds).
    pub fn from_optional_key(key: Option<K>) -> Self {
        let mut link = Link::default();
        link.set_flags(if key.is_some() { HAS_KEY } else { 0 });
        ForeignKey {
            key: key.unwrap_or_default(),
            link,
            _target: PhantomData,
        }
    }

    /// Points at `key` with `cell` (a cell of its own, allocated if it
    /// holds something), leaving any peer batch; the fetch mode stays.
    fn reset(&mut self, key: Option<K>, cell: ToOneCell<T, K>) {
        self.link.reset((!cell.is_empty()).then(|| own_entry(cell)));
        self.link.set_flags(if key.is_some() { HAS_KEY } else { 0 });
        self.key = key.unwrap_or_default();
    }

    #[inline]
    fn is_keyed(&self) -> bool {
        self.link.flags() & HAS_KEY != 0
    }

    /// The key value; never queries.
    #[inline]
    pub fn key(&self) -> Option<&K> {
        self.is_keyed().then_some(&self.key)
    }

    /// Points the relation at `key` and drops the cached object.
    pub fn set_key(&mut self, key: Option<K>) {
        self.reset(key, ToOneCell::default());
    }

    /// Points the relation at `key` and caches `target` (generated setters
    /// and forms, which know the value `target` is referenced by).
    #[doc(hidden)]
    pub fn set_resolved(&mut self, key: Option<K>, target: T) {
        self.reset(key, ToOneCell::with(Resolved::Found(Arc::new(target))));
    }

    /// Stores what `select_related` joined for this freshly loaded
    /// relation: the target, or `None` when its key points at no row
    /// (remembered as missing). A null key stays unloaded.
    pub(crate) fn attach_joined(&self, target: Option<Arc<T>>, written: &Written) {
        if self.is_keyed() {
            self.cell().fill(Resolved::of(target), written);
        }
    }

    /// Whether the target is loaded (or known to be missing).
    pub fn is_loaded(&self) -> bool {
        self.loaded().is_some_and(|cell| !cell.is_empty())
    }

    /// The loaded target, without querying. A target loaded inside a
    /// transaction that rolled back since is not returned.
    pub fn cached(&self) -> Option<&T> {
        match self.loaded()?.get() {
            Some(Resolved::Found(t)) => Some(t),
            _ => None,
        }
    }

    /// Drops the cached target; the key stays.
    pub fn invalidate(&mut self) {
        self.link.reset(None);
    }

    /// Binds the key as a parameter (writes of the row).
    #[doc(hidden)]
    pub fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        K::bind(self.key(), out)
    }

    /// The instance's cell: its key's in its query's peer batch, or one
    /// of its own (allocated now if needed).
    fn cell(&self) -> &ToOneCell<T, K> {
        self.link
            .get_or_init(|| own_entry(ToOneCell::default()))
            .cell()
    }

    /// The current cell (the one that replaced it after a rollback, if
    /// any), when the instance has one yet.
    fn loaded(&self) -> Option<&ToOneCell<T, K>> {
        let cell = self.link.get()?.peek()?;
        Some(cell.current())
    }

    /// The key and the cell to load into (prefetching fills it too), for
    /// a relation whose key is set.
    pub(crate) fn to_load(&self) -> Option<(&K, &ToOneCell<T, K>)> {
        let key = self.key()?;
        Some((key, self.cell().current()))
    }

    /// Loads the target if needed and returns it; `None` for a null key.
    /// Used by the generated accessors, which pass the field's metadata.
    ///
    /// A value already loaded never consults the fetch mode. Otherwise,
    /// under `Peers` the target is loaded for every live peer in one query
    /// (per IN-list chunk), under `One` for this instance only, and under
    /// `Raise` the access fails with [`OrmError::FetchBlocked`].
    #[inline]
    pub fn load<F>(
        &self,
        conn: &mut AnyConnection,
        rel: &'static ForeignKeyRel<F, T, K>,
    ) -> Result<Option<&T>> {
        // The fast path: a loaded value never consults the mode; one
        // loaded outside any transaction needs no other check.
        match self
            .link
            .get()
            .and_then(Linked::peek)
            .and_then(ToOneCell::found)
        {
            Some(t) => Ok(Some(t)),
            None => self.load_slow(conn, rel),
        }
    }

    #[cold]
    fn load_slow<F>(
        &self,
        conn: &mut AnyConnection,
        rel: &'static ForeignKeyRel<F, T, K>,
    ) -> Result<Option<&T>> {
        let Some((key, cell)) = self.to_load() else {
            return Ok(None);
        };
        if cell.is_empty() {
            let mode = self.link.mode();
            // After a rollback the batch members' current cells are
            // loaded together.
            let batch = self.link.get().and_then(Linked::batch);
            match (resolve(mode, rel.meta.fetch_mode), batch) {
                (FetchMode::Raise, _) => {
                    return Err(OrmError::FetchBlocked {
                        model: rel.meta.model,
                        field: rel.meta.field,
                    })
                }
                (FetchMode::Peers, Some(batch)) => {
                    batch.with_live(|peers| {
                        let current = peers.map(|(key, cell)| (key, cell.current()));
                        Self::fetch(conn, rel, current, mode)
                    })?;
                }
                (FetchMode::One, Some(_)) => {
                    report_n_plus_one(rel.meta.model, rel.meta.field);
                    Self::fetch(conn, rel, std::iter::once((key, cell)), mode)?;
                }
                _ => Self::fetch(conn, rel, std::iter::once((key, cell)), mode)?,
            }
        }
        match cell.get() {
            Some(Resolved::Found(t)) => Ok(Some(t)),
            _ => Err(missing(rel.meta, &key.to_key())),
        }
    }

    /// One query (per chunk) for the cells (with their keys) whose value
    /// is not loaded yet; each gets its target, peers sharing a parent
    /// share one object, and a key with no row is remembered as missing.
    /// The targets take the instance mode `inherit`. `cells` is walked
    /// twice (the keys, then the fill; once more to count them when
    /// tracing is on), so a batch's cells are not copied into vectors: at
    /// 100,000 peers that was 3 MB of peak memory.
    pub(crate) fn fetch<'c, F>(
        conn: &mut AnyConnection,
        rel: &ForeignKeyRel<F, T, K>,
        cells: impl Iterator<Item = (&'c K, &'c ToOneCell<T, K>)> + Clone,
        inherit: Option<FetchMode>,
    ) -> Result<()>
    where
        T: 'c,
        K: 'c,
    {
        let pending = cells.filter(|(_, c)| c.is_empty());
        let mut seen: HashSet<&K> = HashSet::default();
        let mut keys: Vec<Key> = pending
            .clone()
            .filter(|(k, _)| seen.insert(*k))
            .map(|(k, _)| k.to_key())
            .collect();
        sort_for_lookup(&mut keys);
        if keys.is_empty() {
            return Ok(());
        }
        let _batch = tracing::debug_span!(
            "orm.batch",
            model = rel.meta.target(),
            relation = rel.meta.field,
            rows = pending.clone().count(),
        )
        .entered();
        let written = written_now(conn);
        // Joined by key, so the parents need no ordering.
        let targets = load_shared_in::<T>(conn, rel.meta.target_column(), &keys)?;
        let mut by_key: HashMap<K, Arc<T>> = HashMap::with_capacity(targets.len());
        by_key.extend(targets.into_iter().filter_map(|t| {
            inherit_fetch_mode(&*t, inherit);
            Some(((rel.target_key)(&t)?, t))
        }));
        for (key, cell) in pending {
            let found = by_key.get(key).cloned();
            // A cell emptied between the walks (a rollback on another
            // thread) had its key left out: not known to be missing.
            if found.is_some() || seen.contains(key) {
                cell.fill(Resolved::of(found), &written);
            }
        }
        Ok(())
    }
}

/// Setting a target object directly, for relations through the target's
/// key (`ForeignKey<T>`). A relation through a `to_field` stores that
/// field's value: set it with the generated setter (`note.set_owner(user)`),
/// which knows the field. (Where the `to_field` has the key's type, `set`
/// compiles there too; writing the instance then fails with
/// `OrmError::InvalidQuery` naming the setter, nothing written.)
impl<T: Model> ForeignKey<T, T::Key> {
    /// Points the relation at `target` (by its key) and caches it: the
    /// next access costs no query. `target` must be saved.
    pub fn set(&mut self, target: T) {
        self.set_arc(Arc::new(target));
    }

    /// Like [`set`](Self::set), sharing an already shared object.
    pub fn set_arc(&mut self, target: Arc<T>) {
        self.reset(target.pk(), ToOneCell::with(Resolved::Found(target)));
        self.link.set_flags(self.link.flags() | KEY_IS_TARGET_PK);
    }
}

impl<T: Model, K: KeyType> RelationField for ForeignKey<T, K> {
    fn fetch_mode(&self) -> Option<FetchMode> {
        self.link.mode()
    }

    fn set_fetch_mode(&self, mode: Option<FetchMode>) {
        self.link.set_mode(mode);
    }

    fn invalidate(&mut self) {
        ForeignKey::invalidate(self);
    }

    fn has_key(&self) -> bool {
        self.is_keyed()
    }

    fn key_is_target_pk(&self) -> bool {
        self.link.flags() & KEY_IS_TARGET_PK != 0
    }

    fn unsaved_target(&self) -> Option<&'static str> {
        // Only an assigned object leaves a cell beside no key.
        (!self.is_keyed() && self.is_loaded()).then(|| T::meta().name)
    }

    /// The owner was saved inside a transaction: a target cached now
    /// (set before the save, perhaps a row inserted in that transaction)
    /// is not trusted after a rollback of it.
    fn written_in(&mut self, written: &Written) {
        if let Some(tied) = self.loaded().and_then(|cell| cell.written_in(written)) {
            let key = self.is_keyed().then(|| std::mem::take(&mut self.key));
            self.reset(key, tied);
        }
    }

    /// One batch for the fields of `group` with a key (a null key never
    /// loads anything) and no cell yet (a join attaches its target first:
    /// such a relation is loaded already).
    fn link_peers<'a>(group: impl Iterator<Item = (&'a Self, Option<Key>)>)
    where
        Self: 'a,
    {
        let fields = group.filter_map(|(field, _)| {
            let key = field.key().filter(|_| field.link.get().is_none())?;
            Some((field, key.clone()))
        });
        Batch::link_shared(fields, |field, holder| field.link.set(holder));
    }
}

fn missing(rel: &RelationMeta, key: &Key) -> OrmError {
    OrmError::RelatedMissing {
        model: rel.model,
        field: rel.field,
        target: rel.target(),
        key: key.to_string(),
    }
}

/// With the `serde` feature, a foreign key serializes as its key (or
/// `null`) and deserializes from one, nothing loaded. To-many and reverse
/// fields do not implement `Serialize`: mark them `#[serde(skip)]`.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
/// pub struct Question {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub text: String,
///     #[serde(skip)]
///     #[orm(reverse_of = "question")]
///     pub choices: Related<Choice>,
/// }
///
/// #[derive(Model, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
/// pub struct Choice {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub question: ForeignKey<Question>,
/// }
///
/// let choice = Choice { id: Some(3), question: ForeignKey::from_key(7) };
/// # let _ = &choice;
/// # }
/// ```
#[cfg(feature = "serde")]
mod serde_impls {
    use super::{ForeignKey, KeyType, Model};

    impl<T: Model, K: KeyType + serde::Serialize> serde::Serialize for ForeignKey<T, K> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.key().serialize(serializer)
        }
    }

    impl<'de, T: Model, K: KeyType + serde::Deserialize<'de>> serde::Deserialize<'de>
        for ForeignKey<T, K>
    {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            Option::<K>::deserialize(deserializer).map(ForeignKey::from_optional_key)
        }
    }
}
