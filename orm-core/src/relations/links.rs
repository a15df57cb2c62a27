//! The links of a many-to-many: the `(owner, target)` key pairs of its
//! through rows, read with one query per IN-list chunk of owners.

use diesel::query_builder::{AstPass, QueryFragment};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::fill::distinct_keys;
use crate::backend::row::{load, load_into, FromRawRow, RawRow, RowSink};
use crate::backend::{untyped_query, AnyConnection, Dialect};
use crate::error::Result;
use crate::meta::{Key, SqlKind};
use crate::model::Model;
use crate::sql::{self, Fragment};

/// The `(owner, target)` key pairs of some links, in the order the
/// database returned them.
///
/// Integer keys on both sides (the common case) are kept as integers:
/// read straight from each row and never built into a [`Key`].
#[doc(hidden)]
#[derive(Debug, PartialEq)]
pub enum LinkPairs {
    /// Both columns are integers.
    Ints(Vec<(i64, i64)>),
    /// Any other keys (text, UUID).
    Keys(Vec<(Key, Key)>),
}

impl LinkPairs {
    /// Calls `f` with each pair, in order.
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Key, &Key)) {
        match self {
            LinkPairs::Ints(pairs) => pairs
                .iter()
                .for_each(|&(owner, target)| f(&Key::Int(owner), &Key::Int(target))),
            LinkPairs::Keys(pairs) => pairs.iter().for_each(|(owner, target)| f(owner, target)),
        }
    }

    /// Calls `found(owner, at)` for each link of an owner `wanted` accepts
    /// to one of `targets` (their keys, in the order loaded), `at` being
    /// that target's index (its first, if loaded twice).
    pub(crate) fn place(
        &self,
        targets: impl ExactSizeIterator<Item = Option<Key>>,
        wanted: impl Fn(&Key) -> bool,
        mut found: impl FnMut(&Key, usize),
    ) {
        let mut position: HashMap<Key, usize> = HashMap::with_capacity(targets.len());
        for (at, key) in targets.enumerate() {
            if let Some(key) = key {
                position.entry(key).or_insert(at);
            }
        }
        self.for_each(|owner, target| {
            if let Some(&at) = position.get(target).filter(|_| wanted(owner)) {
                found(owner, at);
            }
        });
    }

    /// The target keys, each once, sorted as [`distinct_keys`] sorts them.
    pub(crate) fn distinct_targets(&self) -> Vec<Key> {
        match self {
            LinkPairs::Ints(pairs) => {
                let mut seen = HashSet::with_capacity(pairs.len());
                let mut targets: Vec<i64> = pairs
                    .iter()
                    .filter(|(_, target)| seen.insert(*target))
                    .map(|&(_, target)| target)
                    .collect();
                targets.sort_unstable();
                targets.into_iter().map(Key::Int).collect()
            }
            LinkPairs::Keys(pairs) => distinct_keys(pairs.iter().map(|(_, target)| target)),
        }
    }

    /// The target keys of every pair, in order.
    pub(crate) fn into_targets(self) -> Vec<Key> {
        match self {
            LinkPairs::Ints(pairs) => pairs.into_iter().map(|(_, t)| Key::Int(t)).collect(),
            LinkPairs::Keys(pairs) => pairs.into_iter().map(|(_, t)| t).collect(),
        }
    }
}

/// `SELECT table.owner, table.target FROM table WHERE owner IN (…)`.
struct LinkQuery {
    table: &'static str,
    columns: [&'static str; 2],
    filter: [Fragment; 1],
}

impl<DB: Dialect> QueryFragment<DB> for LinkQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT ");
        sql::push_column(&mut out, self.table, self.columns[0])?;
        out.push_sql(", ");
        sql::push_column(&mut out, self.table, self.columns[1])?;
        out.push_sql(" FROM ");
        out.push_identifier(self.table)?;
        sql::push_where(&mut out, &self.filter)
    }
}

// Typed unless its key list is (uuid keys).
untyped_query!(impl[] LinkQuery; typed by |q| sql::all_portable(&q.filter));

/// The `(owner, target)` key pairs of the links (rows of `Th`) whose
/// `owner` column holds one of `keys`: one query per IN-list chunk,
/// selecting the two key columns only, unordered. What a many-to-many
/// needs of its through rows, without building them. Pairs with a NULL
/// key are skipped.
pub(crate) fn load_links<Th: Model>(
    conn: &mut AnyConnection,
    owner: &'static str,
    target: &'static str,
    keys: &[Key],
) -> Result<LinkPairs> {
    let meta = Th::meta();
    let kind = |name| meta.column(name).map(|c| c.kind);
    let (Some(owner_kind), Some(target_kind)) = (kind(owner), kind(target)) else {
        return Ok(LinkPairs::Keys(Vec::new()));
    };
    let int = |kind| matches!(kind, SqlKind::SmallInt | SqlKind::Integer | SqlKind::BigInt);
    let ints = int(owner_kind) && int(target_kind);
    let mut links = if ints {
        LinkPairs::Ints(Vec::new())
    } else {
        LinkPairs::Keys(Vec::new())
    };
    for chunk in keys.chunks(conn.backend().max_in_list()) {
        let query = LinkQuery {
            table: meta.table,
            columns: [owner, target],
            filter: [sql::key_in(meta.table, owner, chunk)],
        };
        match &mut links {
            LinkPairs::Ints(pairs) => {
                let rows: Vec<IntPair> = load(conn, query)?;
                pairs.extend(rows.into_iter().filter_map(|IntPair(pair)| pair));
            }
            LinkPairs::Keys(pairs) => {
                // The sink appends to the pairs of the chunks before (no
                // copy).
                let sink = KeyPairs {
                    kinds: (owner_kind, target_kind),
                    pairs: std::mem::take(pairs),
                };
                *pairs = load_into(conn, query, sink)?.pairs;
            }
        }
    }
    Ok(links)
}

/// A link row of two integer keys (`None` if either is NULL).
struct IntPair(Option<(i64, i64)>);

impl FromRawRow for IntPair {
    #[inline]
    fn build<R: RawRow + ?Sized>(row: &R) -> diesel::deserialize::Result<Self> {
        Ok(IntPair(row.int(0)?.zip(row.int(1)?)))
    }
}

/// The `(owner, target)` pairs of link rows whose keys are not both
/// integers, each read by its column's kind.
struct KeyPairs {
    kinds: (SqlKind, SqlKind),
    pairs: Vec<(Key, Key)>,
}

impl RowSink for KeyPairs {
    #[inline]
    fn row<R: RawRow + ?Sized>(&mut self, row: &R) -> diesel::deserialize::Result<()> {
        let owner = Key::read(row, 0, self.kinds.0)?;
        let target = Key::read(row, 1, self.kinds.1)?;
        self.pairs.extend(owner.zip(target));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::LinkPairs;
    use crate::meta::Key;

    #[test]
    fn pairs_give_their_distinct_targets_sorted_whatever_the_key_kind() {
        let ints = LinkPairs::Ints(vec![(1, 30), (1, 10), (2, 30), (3, 20)]);
        let text = |s: &str| Key::Text(s.into());
        let keys = LinkPairs::Keys(vec![
            (text("a"), text("z")),
            (text("b"), text("y")),
            (text("b"), text("z")),
        ]);
        assert_eq!(
            ints.distinct_targets(),
            [Key::Int(10), Key::Int(20), Key::Int(30)]
        );
        assert_eq!(keys.distinct_targets(), [text("y"), text("z")]);
        let mut seen = Vec::new();
        ints.for_each(|owner, target| seen.push((owner.clone(), target.clone())));
        assert_eq!(seen[1], (Key::Int(1), Key::Int(10)));
        assert_eq!(seen.len(), 4);
        assert_eq!(ints.into_targets().len(), 4, "every pair's target");
        assert_eq!(keys.into_targets(), [text("z"), text("y"), text("z")]);
    }
}
