//! `prefetch_related`: each hop of a path loaded for all the rows at once,
//! and what each kind of relation loads.

use std::sync::Arc;

use foldhash::{HashSet, HashSetExt};

use super::path::{Next, Path, RelationKind, Writable};
use crate::backend::levels::Written;
use crate::backend::AnyConnection;
use crate::error::Result;
use crate::meta::{Key, KeyType, RelationMeta};
use crate::model::Model;
use crate::query::{EagerLoad, QuerySet};
use crate::relations::fill::{fill_many_to_many, fill_reverse};
use crate::relations::{
    ForeignKey, ForeignKeyRel, ManyToManyManager, ManyToManyRel, ReverseRel, Slot,
};
use crate::sql::Lookup;

impl<M: Model> QuerySet<M> {
    /// Loads relations of any kind along `path` with the rows: a reverse
    /// foreign key costs one query, a many-to-many two (links, targets),
    /// nested paths (`Question::CHOICES.then(Choice::QUESTION)`) one hop
    /// after another. The related rows are cached in each instance's slot.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// Question::default().save(&mut conn)?;
    /// // One query for the questions, one for all their choices.
    /// let questions = orm_core::assert_num_queries(&mut conn, 2, |conn| {
    ///     Question::objects().prefetch_related(Question::CHOICES).load(conn)
    /// })?;
    /// assert!(orm_core::assert_num_queries(&mut conn, 0, |c| questions[0].choices().all(c))?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn prefetch_related(mut self, path: impl Into<Path<M>>) -> Self {
        self.eager.push(Arc::new(path.into()));
        self
    }
}

impl<M> EagerLoad<M> for Path<M> {
    fn load(&self, conn: &mut AnyConnection, rows: &[&M]) -> Result<()> {
        self.run(conn, rows)
    }
}

/// The instance mode of the first row: what the loaded objects inherit.
fn mode_of<F: Model>(rows: &[&F]) -> Option<crate::meta::FetchMode> {
    rows.first().and_then(|r| r.fetch_mode())
}

impl<F: Model, T: Model, K: KeyType> RelationKind<F, T> for ForeignKeyRel<F, T, K> {
    fn field(&self) -> &'static str {
        self.meta.field
    }

    fn lookup(&self) -> Lookup {
        Lookup {
            column: self.meta.column,
            table: (self.meta.target_meta)().table,
            select: self.meta.target_column(),
            join: None,
        }
    }

    /// Loads the targets not loaded yet (one query per IN-list chunk);
    /// rows sharing a target share one object.
    fn prefetch(&self, conn: &mut AnyConnection, rows: &[&F], next: Next<'_, T>) -> Result<()> {
        let cells = rows.iter().filter_map(|r| (self.field)(r).to_load());
        ForeignKey::<T, K>::fetch(conn, self, cells, mode_of(rows))?;
        let mut seen = HashSet::new();
        let targets: Vec<&T> = rows
            .iter()
            .filter_map(|r| (self.field)(r).cached())
            .filter(|t| seen.insert(*t as *const T))
            .collect();
        next(conn, &targets)
    }

    fn join(&self) -> Option<(&'static RelationMeta, bool)> {
        Some((self.meta, false))
    }

    fn attach_target(&self, parent: &F, target: Option<Arc<T>>, written: &Written) {
        (self.field)(parent).attach_joined(target, written);
    }

    fn writable(&self) -> Writable {
        Writable::One {
            required: !self.meta.nullable,
        }
    }

    fn assign(&self, from: &mut F, to: T) {
        ForeignKeyRel::assign(self, from, to);
    }

    fn unassign(&self, from: &mut F) {
        (self.field_mut)(from).set_key(None);
    }
}

impl<O: Model, C: Model> RelationKind<O, C> for ReverseRel<O, C> {
    fn field(&self) -> &'static str {
        self.field
    }

    fn lookup(&self) -> Lookup {
        let fk = self.fk.meta();
        Lookup {
            column: fk.target_column(),
            table: C::meta().table,
            select: fk.column,
            join: None,
        }
    }

    /// One query (per chunk) for all the children, grouped into each
    /// row's slot; what a slot caches already (a join attached it) stays.
    fn prefetch(&self, conn: &mut AnyConnection, rows: &[&O], next: Next<'_, C>) -> Result<()> {
        let slots = rows
            .iter()
            .filter_map(|r| Some((&**(self.slot)(r), self.owner_key(r)?)));
        let filled = fill_missing(slots, |pending| {
            fill_reverse(conn, self.fk, pending, mode_of(rows), false)
        })?;
        let all: Vec<&C> = filled.iter().flat_map(|rows| rows.iter()).collect();
        next(conn, &all)
    }

    fn join(&self) -> Option<(&'static RelationMeta, bool)> {
        Some((self.fk.meta(), true))
    }

    fn load_query(
        &self,
        conn: &mut AnyConnection,
        rows: &[&O],
        query: &QuerySet<C>,
    ) -> Result<Vec<Vec<C>>>
    where
        C: Model + Clone,
    {
        super::prefetch_query::reverse(self, conn, rows, query)
    }

    fn attach_row(&self, parent: &O, row: Option<C>, written: &Written) -> Option<Arc<Vec<C>>> {
        let owner = self.owner_key(parent)?;
        let rows = Arc::new(row.into_iter().collect::<Vec<C>>());
        (self.slot)(parent).put(owner, Arc::clone(&rows), written.clone());
        Some(rows)
    }
}

impl<O: Model, T: Model + Clone> RelationKind<O, T> for ManyToManyRel<O, T> {
    fn field(&self) -> &'static str {
        self.field
    }

    fn lookup(&self) -> Lookup {
        self.through.lookup()
    }

    /// One query for the links, one for the targets, grouped into each
    /// row's slot in the target's ordering; what a slot caches already
    /// stays (with what was prefetched through its rows).
    fn prefetch(&self, conn: &mut AnyConnection, rows: &[&O], next: Next<'_, T>) -> Result<()> {
        let slots = rows
            .iter()
            .filter_map(|r| Some((&**(self.slot)(r), self.owner_key(r)?)));
        let filled = fill_missing(slots, |pending| {
            fill_many_to_many(conn, self.through, pending, mode_of(rows), false)
        })?;
        // Each target once: owners share it.
        let mut seen = HashSet::new();
        let all: Vec<&T> = filled
            .iter()
            .flat_map(|rows| rows.iter())
            .filter(|t| seen.insert(Arc::as_ptr(t)))
            .map(|t| &**t)
            .collect();
        next(conn, &all)
    }

    fn load_query(
        &self,
        conn: &mut AnyConnection,
        rows: &[&O],
        query: &QuerySet<T>,
    ) -> Result<Vec<Vec<T>>>
    where
        T: Model + Clone,
    {
        super::prefetch_query::many_to_many(self, conn, rows, query)
    }

    fn writable(&self) -> Writable {
        if self.forward {
            Writable::Many
        } else {
            Writable::No
        }
    }

    fn set(&self, from: &O, conn: &mut AnyConnection, to: &[T]) -> Result<()> {
        ManyToManyManager::new(from, self).set(conn, to)
    }

    fn link_new(&self, from: &O, conn: &mut AnyConnection, to: &[T]) -> Result<()> {
        let manager = ManyToManyManager::new(from, self);
        manager.cache_none(conn);
        manager.add(conn, to)
    }
}

/// The rows of each slot (with its owner key): what a slot caches for
/// its key already (a join attached it, or an earlier path of the same
/// prefetch filled it) stays; `fill` loads the others, in one batch.
fn fill_missing<'s, C: 's>(
    slots: impl Iterator<Item = (&'s Slot<C>, Key)>,
    fill: impl FnOnce(&[(&'s Slot<C>, Key)]) -> Result<Vec<Arc<Vec<C>>>>,
) -> Result<Vec<Arc<Vec<C>>>> {
    let mut cached = Vec::new();
    let mut pending = Vec::new();
    for (slot, key) in slots {
        match slot.get(&key) {
            Some(rows) => cached.push(rows),
            None => pending.push((slot, key)),
        }
    }
    let mut filled = if pending.is_empty() {
        Vec::new()
    } else {
        fill(&pending)?
    };
    filled.extend(cached);
    Ok(filled)
}
