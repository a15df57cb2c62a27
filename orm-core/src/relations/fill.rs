//! The batch loads behind managers, peers and prefetching: rows by key
//! (chunked below the bind limit), and filling each owner's slot with its
//! share.

use std::borrow::Borrow;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::descriptor::ChildKey;
use super::slot::Slot;
use super::through::{target_filters, Links};
use crate::backend::levels::Written;
use crate::backend::row::load;
use crate::backend::{written_now, AnyConnection};
use crate::error::Result;
use crate::meta::{FetchMode, Key, KeyColumn, KeyType};
use crate::model::{inherit_fetch_mode, Model};
use crate::query::QuerySet;
use crate::sql;

/// The rows of `M` whose `column` is one of `keys`, in `M`'s default
/// ordering within each IN-list chunk: one query per chunk, so the rows
/// of each key come from one query, in the database's order.
pub(crate) fn load_in<M: Model>(
    conn: &mut AnyConnection,
    column: &'static str,
    keys: &[Key],
) -> Result<Vec<M>> {
    let query = QuerySet::<M>::new();
    in_chunks(conn, keys, |conn, chunk| {
        query.clone().filter_keys(column, chunk).load(conn)
    })
}

/// The rows of `M` whose `column` is one of `keys`, unordered, each
/// decoded into the `Arc` its peers will share (to-one targets).
pub(crate) fn load_shared_in<M: Model>(
    conn: &mut AnyConnection,
    column: &'static str,
    keys: &[Key],
) -> Result<Vec<Arc<M>>> {
    let unordered = QuerySet::<M>::new().unordered();
    in_chunks(conn, keys, |conn, chunk| {
        unordered
            .clone()
            .filter_keys(column, chunk)
            .load_shared(conn)
    })
}

/// What `load` returns for each chunk of `keys` below the backend's bind
/// limit (one query each), concatenated.
fn in_chunks<R>(
    conn: &mut AnyConnection,
    keys: &[Key],
    mut load: impl FnMut(&mut AnyConnection, &[Key]) -> Result<Vec<R>>,
) -> Result<Vec<R>> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(conn.backend().max_in_list()) {
        let loaded = load(conn, chunk)?;
        // The first chunk's rows are the result (no copy of every row).
        if rows.is_empty() {
            rows = loaded;
        } else {
            rows.extend(loaded);
        }
    }
    Ok(rows)
}

/// One query (per chunk) for the children of every owner in `slots`,
/// grouped into each slot; the children take the instance mode `mode`.
pub(crate) fn fill_reverse<C: Model>(
    conn: &mut AnyConnection,
    fk: &dyn ChildKey<C>,
    slots: &[(&Slot<C>, Key)],
    mode: Option<FetchMode>,
    batch: bool,
) -> Result<Vec<Arc<Vec<C>>>> {
    let keys = distinct_keys(slots.iter().map(|(_, k)| k));
    let written = written_now(conn);
    let _batch = tracing::debug_span!(
        "orm.batch",
        model = C::meta().name,
        relation = fk.meta().field,
        rows = slots.len(),
    )
    .entered();
    let children = load_in::<C>(conn, fk.meta().column, &keys)?;
    children.iter().for_each(|c| inherit_fetch_mode(c, mode));
    Ok(fill_slots_with(
        slots,
        children,
        |c| fk.key(c),
        batch,
        &written,
    ))
}

/// Two queries (links, then targets) for the many-to-many of every owner
/// in `slots`, grouped into each slot in the target's default ordering:
/// each target decoded once into an `Arc` its owners share. Past one IN
/// list of targets, one query per chunk of owners through the link table
/// instead, so each owner's targets come from one query, in the
/// database's order (its collation, which Rust's order of text is not).
pub(crate) fn fill_many_to_many<T: Model>(
    conn: &mut AnyConnection,
    through: &dyn Links<T>,
    slots: &[(&Slot<Arc<T>>, Key)],
    mode: Option<FetchMode>,
    batch: bool,
) -> Result<Vec<Arc<Vec<Arc<T>>>>> {
    let keys = distinct_keys(slots.iter().map(|(_, k)| k));
    let written = written_now(conn);
    let _batch = tracing::debug_span!(
        "orm.batch",
        model = T::meta().name,
        relation = through.name(),
        rows = slots.len(),
    )
    .entered();
    let links = through.links(conn, &keys)?;
    let target_keys = links.distinct_targets();
    let groups = Groups::of(slots);
    // Each owner group's targets, by index into `targets` (a chunk's rows
    // after the chunks before it).
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    let mut targets: Vec<Arc<T>> = Vec::new();
    let max_in_list = conn.backend().max_in_list();
    let chunks = target_filters(through, &keys, &target_keys, max_in_list);
    let whole = chunks.len() == 1;
    for (filter, owners) in chunks {
        let loaded = QuerySet::<T>::new().with_filter(filter).load_shared(conn)?;
        let base = targets.len();
        let wanted = |owner: &Key| whole || owners.binary_search(owner).is_ok();
        let loaded_keys = loaded.iter().map(|t| through.target_key(t));
        links.place(loaded_keys, wanted, |owner, at| {
            if let Some(group) = groups.get(owner) {
                members[group].push(base + at);
            }
        });
        targets.extend(loaded);
    }
    targets.iter().for_each(|t| inherit_fetch_mode(&**t, mode));
    // Shared in the database's order, each target once (a through model
    // without a unique pair may link it twice), each group allocated once.
    let rows = members.into_iter().map(|mut at| {
        at.sort_unstable();
        at.dedup();
        at.into_iter().map(|i| Arc::clone(&targets[i])).collect()
    });
    Ok(groups.fill(slots, rows, batch, &written))
}

/// The keys, each once, sorted (see [`sort_for_lookup`]).
pub(crate) fn distinct_keys<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Vec<Key> {
    let mut seen = HashSet::new();
    let mut keys: Vec<Key> = keys
        .into_iter()
        .filter(|k| seen.insert(*k))
        .cloned()
        .collect();
    sort_for_lookup(&mut keys);
    keys
}

/// Sorts the distinct keys of a batch load: each chunk's keys then form
/// one range of the index, walked in order, and PostgreSQL finds its
/// `= ANY` array sorted already (it sorts one itself before an index
/// scan: measured at 0.15-0.25 ms for 1,000 shuffled keys, against about
/// 20 µs to sort them here).
pub(crate) fn sort_for_lookup(keys: &mut [Key]) {
    keys.sort_unstable();
}

/// Groups `children` by owner key (keeping their order) and puts each
/// slot's group into it; slots with the same key share one group, and
/// children of no slot are dropped. Returns the groups, in the order of
/// `slots`. With `only_empty` (peer batches), a slot filled meanwhile (a
/// write on another thread) keeps its rows.
fn fill_slots_with<C>(
    slots: &[(&Slot<C>, Key)],
    children: Vec<C>,
    key: impl Fn(&C) -> Option<Key>,
    only_empty: bool,
    written: &Written,
) -> Vec<Arc<Vec<C>>> {
    let groups = Groups::of(slots);
    // Each child's group, then each group's size: every child is moved
    // once, into a vector of the exact size.
    let mut sizes = vec![0usize; groups.len()];
    let group_of: Vec<Option<usize>> = children
        .iter()
        .map(|child| {
            let group = groups.get(&key(child)?)?;
            sizes[group] += 1;
            Some(group)
        })
        .collect();
    let mut rows: Vec<Vec<C>> = sizes.into_iter().map(Vec::with_capacity).collect();
    for (child, group) in children.into_iter().zip(group_of) {
        if let Some(group) = group {
            rows[group].push(child);
        }
    }
    groups.fill(slots, rows, only_empty, written)
}

/// The distinct owner keys of some slots: each gets a group.
struct Groups<'k> {
    index: HashMap<&'k Key, usize>,
    /// Slot i's group.
    group_of: Vec<usize>,
}

impl<'k> Groups<'k> {
    fn of<C>(slots: &'k [(&Slot<C>, Key)]) -> Self {
        let mut index: HashMap<&Key, usize> = HashMap::with_capacity(slots.len());
        let group_of = slots
            .iter()
            .map(|(_, key)| {
                let next = index.len();
                *index.entry(key).or_insert(next)
            })
            .collect();
        Groups { index, group_of }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn get(&self, key: &Key) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Puts each group's `rows` (in group order) into its slots; returns
    /// each slot's rows.
    fn fill<C>(
        self,
        slots: &[(&Slot<C>, Key)],
        rows: impl IntoIterator<Item = Vec<C>>,
        only_empty: bool,
        written: &Written,
    ) -> Vec<Arc<Vec<C>>> {
        let rows: Vec<Arc<Vec<C>>> = rows.into_iter().map(Arc::new).collect();
        slots
            .iter()
            .zip(self.group_of)
            .map(|((slot, key), group)| {
                let rows = Arc::clone(&rows[group]);
                if only_empty {
                    slot.put_if_absent(key.clone(), Arc::clone(&rows), written);
                } else {
                    slot.put(key.clone(), Arc::clone(&rows), written.clone());
                }
                rows
            })
            .collect()
    }
}

/// Whether Rust's order of `M`'s default ordering may differ from the
/// database's: a text column in it, on a backend whose collation is not
/// byte order (PostgreSQL and MySQL sort `"B"` and `"a"` by locale; SQLite's
/// default `BINARY` collation sorts as Rust does).
fn collation_sensitive<M: Model>(backend: crate::backend::BackendKind) -> bool {
    let meta = M::meta();
    backend != crate::backend::BackendKind::Sqlite
        && meta.ordering.iter().any(|term| {
            meta.column(term.column)
                .is_some_and(|c| c.kind == crate::meta::SqlKind::Text)
        })
}

/// Keeps the rows a write left in `slot` (bound to `key`) in the order a
/// fresh query would return them: they were sorted in Rust, which is the
/// database's order unless a text column's collation differs; then one
/// query reads their keys in the database's order. The next read stays
/// free of queries. The write it follows is done: if that query fails, the
/// cache is dropped instead (the next read queries).
pub(crate) fn keep_database_order<M: Model, C: Borrow<M> + Clone>(
    conn: &mut AnyConnection,
    slot: &Slot<C>,
    key: &Key,
) {
    if reorder::<M, C>(conn, slot, key).is_err() {
        slot.clear();
    }
}

fn reorder<M: Model, C: Borrow<M> + Clone>(
    conn: &mut AnyConnection,
    slot: &Slot<C>,
    key: &Key,
) -> Result<()> {
    if !collation_sensitive::<M>(conn.backend()) {
        return Ok(());
    }
    let Some(rows) = slot.get(key) else {
        return Ok(());
    };
    let keys: Vec<Key> = rows
        .iter()
        .filter_map(|r| r.borrow().pk().map(|k| k.to_key()))
        .collect();
    if keys.len() < 2 {
        return Ok(());
    }
    let meta = M::meta();
    let mut ordered: Vec<Key> = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(conn.backend().max_in_list()) {
        let filters = [sql::key_in(meta.table, meta.primary_key().name, chunk)];
        let select = sql::Select::new(meta, &[], &filters, sql::Order::Default);
        let keys = load::<KeyColumn<M::Key>, _>(conn, sql::Keys(select))?;
        ordered.extend(
            keys.into_iter()
                .filter_map(|KeyColumn(key)| Some(key?.to_key())),
        );
    }
    if ordered.len() > conn.backend().max_in_list() {
        // Chunks are each in order, not merged: keep Rust's order.
        return Ok(());
    }
    let position: HashMap<Key, usize> = ordered
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    slot.edit(key, &written_now(conn), |rows| {
        rows.sort_by_key(|r| {
            r.borrow()
                .pk()
                .and_then(|k| position.get(&k.to_key()).copied())
                .unwrap_or(usize::MAX)
        })
    });
    Ok(())
}
