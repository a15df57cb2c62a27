//! A prefetch with a queryset of its own (Django's `Prefetch(lookup,
//! queryset=..., to_attr=...)`): the related rows it selects (filtered,
//! ordered, sliced per parent) go where the caller asks, never into the
//! relation's cache (which always holds all the related rows).

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use super::path::Rel;
use crate::backend::AnyConnection;
use crate::error::Result;
use crate::meta::Key;
use crate::model::Model;
use crate::query::{AttrLoad, QuerySet};
use crate::relations::fill::distinct_keys;
use crate::relations::links::LinkPairs;
use crate::relations::through::target_filters;
use crate::relations::{ManyToManyRel, ReverseRel};

/// A relation to prefetch with a queryset of the related model: its
/// filters, ordering (the related model's default one unless it orders)
/// and `limit`/`offset`, which apply **per parent** (the three latest
/// choices of each question). Store the rows in a field with
/// [`QuerySet::prefetch_into`], or get them for rows you hold with
/// [`load_for`](Self::load_for). Reverse foreign keys (and reverse
/// one-to-ones) and many-to-many relations; other relations are
/// `OrmError::InvalidQuery` when run.
///
/// Queries: a reverse foreign key costs one query per IN-list chunk of
/// parents (`SELECT ... WHERE fk IN (...)`; when sliced, ranked with
/// `ROW_NUMBER() OVER (PARTITION BY fk ORDER BY ...)` and filtered on the
/// rank); a many-to-many costs two (the links, then the targets with the
/// queryset's filters and ordering, one more per chunk past the IN-list
/// limit), its slice applied per parent in Rust. Plus the queryset's own
/// prefetches.
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
/// #     #[orm(reverse_of = "question")] pub choices: Related<Choice>,
/// #     #[orm(skip)] pub top: Vec<Choice> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # #[orm(ordering = "-votes")]
/// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
/// # fn main() -> orm_core::Result<()> {
/// # let db = Db::connect("sqlite::memory:")?;
/// # let mut conn = db.get()?;
/// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
/// use orm_core::Prefetch;
/// let mut q = Question::default();
/// q.save(&mut conn)?;
/// for votes in [4, 0, 9, 7] {
///     q.choices().create(&mut conn, Choice { votes, ..Default::default() })?;
/// }
/// // The two most voted choices with votes, of each question.
/// let top_two = Prefetch::new(Question::CHOICES, Choice::objects().filter(choice::votes.gt(0)).limit(2));
/// let questions = orm_core::assert_num_queries(&mut conn, 2, |conn| {
///     Question::objects().prefetch_into(top_two.clone(), |q, rows| q.top = rows).load(conn)
/// })?;
/// assert_eq!(questions[0].top.iter().map(|c| c.votes).collect::<Vec<_>>(), [9, 7]);
/// // Or for rows you hold, one list per row:
/// let lists = top_two.load_for(&mut conn, &questions)?;
/// assert_eq!(lists[0].len(), 2);
/// // The relation's own cache is not touched.
/// assert!(!questions[0].choices().is_cached());
/// # Ok(()) }
/// ```
pub struct Prefetch<M: 'static, C: Model> {
    rel: Rel<M, C>,
    query: QuerySet<C>,
}

impl<M, C: Model> Clone for Prefetch<M, C> {
    fn clone(&self) -> Self {
        Prefetch {
            rel: self.rel,
            query: self.query.clone(),
        }
    }
}

impl<M: Model, C: Model + Clone> Prefetch<M, C> {
    /// `rel` (a relation constant: `Question::CHOICES`, `Question::TAGS`)
    /// loaded with `query`. Building it runs nothing.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice>,
    /// #     #[orm(skip)] pub top: Vec<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "-votes")]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
    /// use orm_core::Prefetch;
    /// let best = Prefetch::new(Question::CHOICES, Choice::objects().limit(1));
    /// # let _ = best;
    /// ```
    pub fn new<J>(rel: Rel<M, C, J>, query: QuerySet<C>) -> Self {
        Prefetch {
            rel: rel.erased(),
            query,
        }
    }

    /// The related rows of each of `parents`, in order (an empty list for
    /// an unsaved parent): see [`Prefetch`] for the queries. They take the
    /// parents' fetch mode unless the queryset sets one.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice>,
    /// #     #[orm(skip)] pub top: Vec<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "-votes")]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// # let mut q = Question::default();
    /// # q.save(&mut conn)?;
    /// # q.choices().create(&mut conn, Choice { votes: 3, ..Default::default() })?;
    /// let questions = Question::objects().load(&mut conn)?;
    /// let best = orm_core::Prefetch::new(Question::CHOICES, Choice::objects().limit(1));
    /// let lists = best.load_for(&mut conn, &questions)?; // one list per question
    /// assert_eq!(lists[0][0].votes, 3);
    /// # Ok(()) }
    /// ```
    pub fn load_for(&self, conn: &mut AnyConnection, parents: &[M]) -> Result<Vec<Vec<C>>> {
        let refs: Vec<&M> = parents.iter().collect();
        // The rows take the parents' instance mode, as prefetch_related's.
        let mode = parents.first().and_then(|p| p.fetch_mode());
        let query = self.query.clone().inherit_fetch_mode(mode);
        self.rel.kind().load_query(conn, &refs, &query)
    }
}

impl<M: Model> QuerySet<M> {
    /// Loads `prefetch` for the rows this queryset loads (`load`, `first`,
    /// `get`, each chunk of `iter`) and hands each row its related rows
    /// with `to_attr` (`|q, rows| q.top_choices = rows`: a field marked
    /// `#[orm(skip)]`, or anything else). See [`Prefetch`].
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice>,
    /// #     #[orm(skip)] pub top: Vec<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "-votes")]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
    /// let best = orm_core::Prefetch::new(Question::CHOICES, Choice::objects().limit(1));
    /// let questions = Question::objects().prefetch_into(best, |q, rows| q.top = rows);
    /// # let _ = questions;
    /// ```
    pub fn prefetch_into<C: Model + Clone>(
        mut self,
        prefetch: Prefetch<M, C>,
        to_attr: impl Fn(&mut M, Vec<C>) + Send + Sync + 'static,
    ) -> Self {
        self.into.push(Arc::new(IntoAttr { prefetch, to_attr }));
        self
    }
}

struct IntoAttr<M: 'static, C: Model, F> {
    prefetch: Prefetch<M, C>,
    to_attr: F,
}

impl<M: Model, C: Model + Clone, F> AttrLoad<M> for IntoAttr<M, C, F>
where
    F: Fn(&mut M, Vec<C>) + Send + Sync,
{
    fn load(&self, conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
        let lists = self.prefetch.load_for(conn, rows)?;
        for (row, list) in rows.iter_mut().zip(lists) {
            (self.to_attr)(row, list);
        }
        Ok(())
    }
}

/// A reverse foreign key: the children of the parents' keys, one query
/// per IN-list chunk, sliced per parent by the database.
pub(crate) fn reverse<O: Model, C: Model + Clone>(
    rel: &ReverseRel<O, C>,
    conn: &mut AnyConnection,
    rows: &[&O],
    query: &QuerySet<C>,
) -> Result<Vec<Vec<C>>> {
    query.per_parent_check()?;
    let owners: Vec<Option<Key>> = rows.iter().map(|r| rel.owner_key(r)).collect();
    let keys = distinct_keys(owners.iter().flatten());
    let column = rel.fk.meta().column;
    let mut children = Vec::new();
    for chunk in keys.chunks(conn.backend().max_in_list()) {
        children.extend(query.load_per_parent(conn, column, chunk)?);
    }
    let by_owner = children
        .into_iter()
        .filter_map(|c| Some((rel.fk.key(&c)?, c)));
    Ok(peers(hand_out(&owners, group(by_owner))))
}

/// A many-to-many: the links, then the targets with the queryset's
/// filters and ordering, its slice applied per parent. The targets are
/// one query by key; past one IN list of targets, one query per chunk of
/// owners through the link table, so that each owner's targets come
/// from one query, in the queryset's order (which may be an opaque
/// `order_by`, so chunks could not be merged in Rust).
pub(crate) fn many_to_many<O: Model, T: Model + Clone>(
    rel: &ManyToManyRel<O, T>,
    conn: &mut AnyConnection,
    rows: &[&O],
    query: &QuerySet<T>,
) -> Result<Vec<Vec<T>>> {
    query.per_parent_check()?;
    let owners: Vec<Option<Key>> = rows.iter().map(|r| rel.owner_key(r)).collect();
    let keys = distinct_keys(owners.iter().flatten());
    let links = rel.through.links(conn, &keys)?;
    let targets = links.distinct_targets();
    let (query, offset, limit) = query.clone().take_slice();
    let slice = PerOwner {
        skip: usize::try_from(offset).unwrap_or(0),
        take: limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(0)),
    };
    let max_in_list = conn.backend().max_in_list();
    let chunks = target_filters(rel.through, &keys, &targets, max_in_list);
    let whole = chunks.len() == 1;
    let mut grouped: HashMap<Key, Vec<T>> = HashMap::with_capacity(keys.len());
    for (filter, owners) in chunks {
        let loaded = query.clone().with_filter(filter).load(conn)?;
        let wanted = |owner: &Key| whole || owners.binary_search(owner).is_ok();
        slice.share_out(rel, &links, wanted, &loaded, &mut grouped);
    }
    Ok(peers(hand_out(&owners, grouped)))
}

/// A many-to-many prefetch's slice, applied to each owner's targets.
struct PerOwner {
    skip: usize,
    take: usize,
}

impl PerOwner {
    /// Puts into `grouped` the targets of each owner `wanted` accepts:
    /// the rows of `loaded` it links to, each once, in `loaded`'s order,
    /// sliced.
    fn share_out<O: Model, T: Model + Clone>(
        &self,
        rel: &ManyToManyRel<O, T>,
        links: &LinkPairs,
        wanted: impl Fn(&Key) -> bool,
        loaded: &[T],
        grouped: &mut HashMap<Key, Vec<T>>,
    ) {
        let mut per_owner: HashMap<Key, Vec<usize>> = HashMap::new();
        let keys = loaded.iter().map(|t| rel.through.target_key(t));
        links.place(keys, wanted, |owner, at| {
            per_owner.entry(owner.clone()).or_default().push(at);
        });
        for (owner, mut indices) in per_owner {
            indices.sort_unstable();
            indices.dedup();
            let rows = indices.into_iter().skip(self.skip).take(self.take);
            grouped.insert(owner, rows.map(|i| loaded[i].clone()).collect());
        }
    }
}

/// Makes the copies among `lists` (a target shared by owners, an owner
/// held twice) peers of each other: a copy belongs to no batch, and they
/// all come from one query. Rows moved from the load keep its batch.
fn peers<T: Model>(lists: Vec<Vec<T>>) -> Vec<Vec<T>> {
    T::link_peers(lists.iter().flatten());
    lists
}

/// The rows of each owner key, in the order given.
fn group<C>(rows: impl Iterator<Item = (Key, C)>) -> HashMap<Key, Vec<C>> {
    let mut groups: HashMap<Key, Vec<C>> = HashMap::new();
    for (key, row) in rows {
        groups.entry(key).or_default().push(row);
    }
    groups
}

/// One list per owner, in order: the last owner with a key takes its
/// group, earlier ones with the same key (two instances of one row) get
/// a copy.
fn hand_out<C: Clone>(owners: &[Option<Key>], mut groups: HashMap<Key, Vec<C>>) -> Vec<Vec<C>> {
    let mut last: HashMap<&Key, usize> = HashMap::with_capacity(owners.len());
    for (i, owner) in owners.iter().enumerate() {
        if let Some(key) = owner {
            last.insert(key, i);
        }
    }
    owners
        .iter()
        .enumerate()
        .map(|(i, owner)| match owner {
            Some(key) if last.get(key) == Some(&i) => groups.remove(key).unwrap_or_default(),
            Some(key) => groups.get(key).cloned().unwrap_or_default(),
            None => Vec::new(),
        })
        .collect()
}
