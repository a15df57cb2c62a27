//! `select_related`: to-one relations loaded with their rows in one query,
//! through `LEFT OUTER JOIN`s, along typed paths of any depth.
//!
//! A path is a tree of hops (`Choice::QUESTION.then(Question::AUTHOR)`);
//! each hop joins the target table under its own alias, so a table may
//! appear more than once (a self-referencing key, two keys to one model).
//! Decoding a row builds the root instance, then each hop's target. A
//! foreign key or one-to-one target is built once per distinct key: rows
//! sharing a parent share one object, and a key whose row is gone is
//! remembered as missing. A reverse one-to-one (`User::PROFILE`) joins the
//! other way and fills the instance's slot with its row, or `None`. The
//! targets of one query are peers: their own relations load for all of
//! them at once.
//!
//! ```
//! use orm_core::prelude::*;
//!
//! #[derive(Model, Debug, Clone, Default)]
//! pub struct Author {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     pub name: String,
//! }
//!
//! #[derive(Model, Debug, Clone, Default)]
//! pub struct Question {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     pub author: ForeignKey<Author>,
//! }
//!
//! #[derive(Model, Debug, Clone, Default)]
//! pub struct Choice {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     pub question: ForeignKey<Question>,
//! }
//!
//! # fn main() -> orm_core::Result<()> {
//! let db = Db::connect("sqlite::memory:")?;
//! let mut conn = db.get()?;
//! orm_core::schema::create_tables(&mut conn, &[Author::meta(), Question::meta(), Choice::meta()])?;
//! let mut ada = Author { name: "Ada".into(), ..Default::default() };
//! ada.save(&mut conn)?;
//! let mut q = Question::default();
//! q.author.set(ada);
//! q.save(&mut conn)?;
//! let mut c = Choice::default();
//! c.question.set(q);
//! c.save(&mut conn)?;
//!
//! let (choices, log) = orm_core::capture_queries(&mut conn, |conn| {
//!     Choice::objects().select_related(Choice::QUESTION.then(Question::AUTHOR)).load(conn)
//! });
//! let choices = choices?;
//! assert_eq!(log.count(), 1); // one SELECT with two joins
//! assert!(log.queries()[0].contains("LEFT OUTER JOIN"));
//! orm_core::assert_num_queries(&mut conn, 0, |conn| {
//!     assert_eq!(choices[0].question(conn)?.author(conn)?.name, "Ada");
//!     Ok::<_, orm_core::OrmError>(())
//! })?;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use super::path::{Path, Rel, RelationKind, ToOneRel};
use crate::backend::levels::Written;
use crate::backend::row::{load_into, AsDyn, RawRow, RowSink};
use crate::backend::{written_now, AnyConnection};
use crate::error::Result;
use crate::meta::{FetchMode, KeyType};
use crate::model::{inherit_fetch_mode, Model};
use crate::query::{JoinLoad, QuerySet, SelectParts};
use crate::sql::Join;

/// A `select_related` path: to-one relations only, so the whole path
/// loads with its rows in one query. Built from a to-one relation
/// constant, or a chain of them: `Choice::QUESTION.then(Question::AUTHOR)`.
/// It is also a [`Path`], so `prefetch_related` takes it too (one query
/// per hop).
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Question { #[orm(primary_key)] pub id: Option<i64> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
/// use orm_core::JoinPath;
/// let path: JoinPath<Choice> = Choice::QUESTION.into();
/// let _ = Choice::objects().select_related(path);
/// ```
pub struct JoinPath<M> {
    node: Arc<dyn JoinNode<M>>,
    prefetch: Path<M>,
}

impl<M> Clone for JoinPath<M> {
    fn clone(&self) -> Self {
        JoinPath {
            node: Arc::clone(&self.node),
            prefetch: self.prefetch.clone(),
        }
    }
}

impl<M> fmt::Debug for JoinPath<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinPath").field(&self.node.paths()).finish()
    }
}

impl<From: Model, To: Model> std::convert::From<ToOneRel<From, To>> for JoinPath<From> {
    fn from(rel: ToOneRel<From, To>) -> Self {
        JoinPath {
            node: Arc::new(Node {
                field: rel.field(),
                kind: rel.kind(),
                children: Vec::new(),
            }),
            prefetch: rel.into(),
        }
    }
}

impl<M> std::convert::From<JoinPath<M>> for Path<M> {
    fn from(path: JoinPath<M>) -> Self {
        path.prefetch
    }
}

/// What can follow a to-one relation in a path: another to-one relation
/// or a `select_related` path (the result stays joinable), or any other
/// relation or path (the result is a `prefetch_related` [`Path`]).
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Author { #[orm(primary_key)] pub id: Option<i64> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub author: ForeignKey<Author>,
/// #     #[orm(reverse_of = "question")] pub choices: Related<Choice> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
/// use orm_core::{JoinPath, Path};
/// // Forward, then forward: still one joined query.
/// let joined: JoinPath<Choice> = Choice::QUESTION.then(Question::AUTHOR);
/// // Forward, then a reverse foreign key: a prefetch path.
/// let prefetched: Path<Choice> = Choice::QUESTION.then(Question::CHOICES);
/// # let _ = (joined, prefetched);
/// ```
pub trait Then<To> {
    /// The path `head.then(self)` makes.
    type Out<From: Model>;
    /// Prepends `head` to this path.
    fn after<From: Model>(self, head: ToOneRel<From, To>) -> Self::Out<From>;
}

impl<To: Model, Next: Model> Then<To> for ToOneRel<To, Next> {
    type Out<From: Model> = JoinPath<From>;

    fn after<From: Model>(self, head: ToOneRel<From, To>) -> JoinPath<From> {
        JoinPath::from(self).after(head)
    }
}

impl<To: Model> Then<To> for JoinPath<To> {
    type Out<From: Model> = JoinPath<From>;

    fn after<From: Model>(self, head: ToOneRel<From, To>) -> JoinPath<From> {
        JoinPath {
            node: Arc::new(Node {
                field: head.field(),
                kind: head.kind(),
                children: vec![self.node],
            }),
            prefetch: head.chain(self.prefetch),
        }
    }
}

impl<To: Model, Next: Model> Then<To> for Rel<To, Next> {
    type Out<From: Model> = Path<From>;

    fn after<From: Model>(self, head: ToOneRel<From, To>) -> Path<From> {
        head.chain(self.into())
    }
}

impl<To: Model> Then<To> for Path<To> {
    type Out<From: Model> = Path<From>;

    fn after<From: Model>(self, head: ToOneRel<From, To>) -> Path<From> {
        head.chain(self)
    }
}

/// Paths `select_related` accepts: to-one relations (foreign keys,
/// one-to-ones, reverse one-to-ones) and chains of them.
/// Anything else is a compile error pointing at `prefetch_related`.
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Question { #[orm(primary_key)] pub id: Option<i64> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
/// use orm_core::SelectPath;
/// let path = Choice::QUESTION.into_join_path();
/// # let _ = path;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a to-one relation path",
    label = "`select_related` joins foreign keys and one-to-ones (either side) only",
    note = "load reverse foreign keys and many-to-many relations with `prefetch_related`"
)]
pub trait SelectPath<M> {
    /// The path as a [`JoinPath`].
    fn into_join_path(self) -> JoinPath<M>;
}

impl<M> SelectPath<M> for JoinPath<M> {
    fn into_join_path(self) -> JoinPath<M> {
        self
    }
}

impl<From: Model, To: Model> SelectPath<From> for ToOneRel<From, To> {
    fn into_join_path(self) -> JoinPath<From> {
        self.into()
    }
}

/// The joins of a queryset: one tree per distinct first hop.
pub(crate) struct Joins<M>(Vec<Arc<dyn JoinNode<M>>>);

impl<M> Clone for Joins<M> {
    fn clone(&self) -> Self {
        Joins(self.0.clone())
    }
}

/// The joined paths, dotted: `["question", "question.author"]`.
impl<M> fmt::Debug for Joins<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().flat_map(|n| n.paths()))
            .finish()
    }
}

impl<M> Default for Joins<M> {
    fn default() -> Self {
        Joins(Vec::new())
    }
}

impl<M> Joins<M> {
    fn add_node(&mut self, new: Arc<dyn JoinNode<M>>) {
        match self.0.iter_mut().find(|n| n.field() == new.field()) {
            Some(node) => match node.merge(&*new) {
                Some(merged) => *node = merged,
                None => self.0.push(new),
            },
            None => self.0.push(new),
        }
    }
}

impl<M: Model> Joins<M> {
    /// Adds `path`, merged with a tree that starts with the same field
    /// (`QUESTION` and `QUESTION.then(AUTHOR)` join `question` once).
    pub(crate) fn add(&mut self, path: JoinPath<M>) {
        self.add_node(path.node);
    }
}

impl<M: Model> JoinLoad<M> for Joins<M> {
    /// Runs `SELECT … FROM root LEFT OUTER JOIN … WHERE … ORDER BY … LIMIT …`
    /// and builds the rows with their joined relations cached.
    fn load(
        &self,
        conn: &mut AnyConnection,
        parts: SelectParts<'_>,
        mode: Option<FetchMode>,
    ) -> Result<Vec<M>> {
        let root = M::meta();
        let mut plan = Plan {
            joins: Vec::new(),
            width: root.columns.len(),
            written: written_now(conn),
        };
        let hops: Vec<Box<dyn HopLoad<M>>> = self
            .0
            .iter()
            .map(|n| n.plan(root.table, &mut plan))
            .collect();
        let select = parts.select(root, &plan.joins);
        let sink = JoinedRows {
            hops,
            rows: Vec::new(),
        };
        let JoinedRows { hops, rows } = load_into(conn, select, sink)?;
        M::link_peers(rows.iter());
        hops.into_iter().for_each(|hop| hop.finish(mode));
        Ok(rows)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<M: Model> QuerySet<M> {
    /// Loads to-one relations (foreign keys, one-to-ones, reverse
    /// one-to-ones) along `path` in the same query as the rows, with
    /// `LEFT OUTER JOIN`s, so the accessors cost no query afterwards.
    /// `Choice::QUESTION.then(Question::AUTHOR)` follows a chain of any
    /// depth; several paths share their common hops. Reverse foreign keys
    /// and many-to-many relations do not compile here: use
    /// [`prefetch_related`](Self::prefetch_related).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// let mut q = Question { text: "Why?".into(), ..Default::default() };
    /// q.save(&mut conn)?;
    /// Choice::objects().bulk_create(&mut conn, &mut [
    ///     Choice { question: ForeignKey::from_key(q.id.unwrap()), ..Default::default() },
    ///     Choice { question: ForeignKey::from_key(q.id.unwrap()), ..Default::default() },
    /// ])?;
    /// let choices = orm_core::assert_num_queries(&mut conn, 1, |conn| {
    ///     Choice::objects().select_related(Choice::QUESTION).load(conn)
    /// })?;
    /// orm_core::assert_num_queries(&mut conn, 0, |conn| {
    ///     assert_eq!(choices[1].question(conn)?.text, "Why?");
    ///     Ok::<_, orm_core::OrmError>(())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn select_related(mut self, path: impl SelectPath<M>) -> Self {
        let mut joins = self
            .joins
            .as_ref()
            .and_then(|j| j.as_any().downcast_ref::<Joins<M>>())
            .cloned()
            .unwrap_or_default();
        joins.add(path.into_join_path());
        self.joins = Some(Arc::new(joins));
        self
    }
}

/// Builds each row's instance and its joined relations.
struct JoinedRows<M> {
    hops: Vec<Box<dyn HopLoad<M>>>,
    rows: Vec<M>,
}

/// The root model decodes from the row type itself; each hop (its target
/// type erased) reads the row as `dyn RawRow`.
impl<M: Model> RowSink for JoinedRows<M> {
    #[inline]
    fn row<R: RawRow + ?Sized>(&mut self, row: &R) -> diesel::deserialize::Result<()> {
        let instance = M::from_row(row, 0)?;
        for hop in &mut self.hops {
            hop.attach(&instance, &AsDyn(row))?;
        }
        self.rows.push(instance);
        Ok(())
    }
}

/// One hop of a join tree, its target type erased.
trait JoinNode<P>: Send + Sync {
    fn field(&self) -> &'static str;
    /// This hop and every path below it, dotted.
    fn paths(&self) -> Vec<String>;
    fn as_any(&self) -> &dyn Any;
    /// The union of this tree and `other` (which starts with the same
    /// field), or `None` if they cannot be merged.
    fn merge(&self, other: &dyn JoinNode<P>) -> Option<Arc<dyn JoinNode<P>>>;
    /// Adds this hop's join (then its children's) to `plan` and returns
    /// the per-query loader. `parent` is the table or alias joined from.
    fn plan(&self, parent: &str, plan: &mut Plan) -> Box<dyn HopLoad<P>>;
}

struct Node<From: 'static, To: Model> {
    field: &'static str,
    kind: &'static dyn RelationKind<From, To>,
    children: Vec<Arc<dyn JoinNode<To>>>,
}

impl<From: Model, To: Model> JoinNode<From> for Node<From, To> {
    fn field(&self) -> &'static str {
        self.field
    }

    fn paths(&self) -> Vec<String> {
        let below = self.children.iter().flat_map(|c| c.paths());
        std::iter::once(self.field.to_string())
            .chain(below.map(|p| format!("{}.{p}", self.field)))
            .collect()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn merge(&self, other: &dyn JoinNode<From>) -> Option<Arc<dyn JoinNode<From>>> {
        let other = other.as_any().downcast_ref::<Self>()?;
        let mut children = Joins(self.children.clone());
        for child in &other.children {
            children.add_node(Arc::clone(child));
        }
        Some(Arc::new(Node {
            field: self.field,
            kind: self.kind,
            children: children.0,
        }))
    }

    fn plan(&self, parent: &str, plan: &mut Plan) -> Box<dyn HopLoad<From>> {
        // Only to-one relations reach a join (`ToOneRel`): they have one.
        let Some((rel, reverse)) = self.kind.join() else {
            return Box::new(NoHop);
        };
        let target = To::meta();
        let alias = format!("__orm_j{}", plan.joins.len() + 1);
        let offset = plan.width;
        plan.width += target.columns.len();
        // Forward: target.key = parent.fk; reverse: target.fk = parent.key.
        let (on, parent_column) = if reverse {
            (rel.column, rel.target_column())
        } else {
            (rel.target_column(), rel.column)
        };
        plan.joins.push(Join {
            table: target.table,
            alias: alias.clone(),
            on,
            parent: parent.to_string(),
            parent_column,
            columns: target.columns,
        });
        let key_index = offset + target.primary_key_index();
        let children = self.children.iter().map(|c| c.plan(&alias, plan)).collect();
        if !reverse {
            Box::new(HopState::<From, To> {
                kind: self.kind,
                offset,
                key_index,
                written: plan.written.clone(),
                seen: HashMap::new(),
                targets: Vec::new(),
                children,
            })
        } else {
            Box::new(ReverseHopState::<From, To> {
                kind: self.kind,
                offset,
                key_index,
                written: plan.written.clone(),
                groups: Vec::new(),
                children,
            })
        }
    }
}

/// The joins of one query, in column order.
struct Plan {
    joins: Vec<Join>,
    /// Columns selected so far (the root's, then each join's).
    width: usize,
    /// The transaction levels the query runs in (the caches it fills).
    written: Written,
}

/// Decodes one hop's target from each row, once per distinct key.
trait HopLoad<P> {
    fn attach(&mut self, parent: &P, row: &dyn RawRow) -> diesel::deserialize::Result<()>;
    /// Links the loaded targets as peers and gives them the fetch mode.
    fn finish(self: Box<Self>, mode: Option<FetchMode>);
}

/// A hop that joins nothing (a relation with no join data).
struct NoHop;

impl<P> HopLoad<P> for NoHop {
    fn attach(&mut self, _: &P, _: &dyn RawRow) -> diesel::deserialize::Result<()> {
        Ok(())
    }

    fn finish(self: Box<Self>, _: Option<FetchMode>) {}
}

struct HopState<From: 'static, To: Model> {
    kind: &'static dyn RelationKind<From, To>,
    offset: usize,
    key_index: usize,
    written: Written,
    seen: HashMap<To::Key, usize>,
    targets: Vec<Arc<To>>,
    children: Vec<Box<dyn HopLoad<To>>>,
}

impl<From, To: Model> HopLoad<From> for HopState<From, To> {
    fn attach(&mut self, parent: &From, row: &dyn RawRow) -> diesel::deserialize::Result<()> {
        // A joined row always has its key: NULL means no row matched.
        let Some(key) = To::Key::read(row, self.key_index)? else {
            self.kind.attach_target(parent, None, &self.written);
            return Ok(());
        };
        let target = match self.seen.get(&key) {
            Some(&i) => Arc::clone(&self.targets[i]),
            None => {
                let target = To::from_row(row, self.offset)?;
                for child in &mut self.children {
                    child.attach(&target, row)?;
                }
                let target = Arc::new(target);
                self.seen.insert(key, self.targets.len());
                self.targets.push(Arc::clone(&target));
                target
            }
        };
        self.kind.attach_target(parent, Some(target), &self.written);
        Ok(())
    }

    fn finish(self: Box<Self>, mode: Option<FetchMode>) {
        To::link_peers(self.targets.iter().map(|t| &**t));
        if mode.is_some() {
            self.targets
                .iter()
                .for_each(|t| inherit_fetch_mode(&**t, mode));
        }
        self.children.into_iter().for_each(|c| c.finish(mode));
    }
}

/// Decodes a reverse one-to-one's row into its parent's slot: one per
/// parent (the foreign key is unique), so nothing to share.
struct ReverseHopState<From: 'static, To: Model> {
    kind: &'static dyn RelationKind<From, To>,
    offset: usize,
    key_index: usize,
    written: Written,
    /// The slots' rows, for peer linking.
    groups: Vec<Arc<Vec<To>>>,
    children: Vec<Box<dyn HopLoad<To>>>,
}

impl<From, To: Model> HopLoad<From> for ReverseHopState<From, To> {
    fn attach(&mut self, parent: &From, row: &dyn RawRow) -> diesel::deserialize::Result<()> {
        let target = match To::Key::read(row, self.key_index)? {
            None => None,
            Some(_) => {
                let target = To::from_row(row, self.offset)?;
                for child in &mut self.children {
                    child.attach(&target, row)?;
                }
                Some(target)
            }
        };
        self.groups
            .extend(self.kind.attach_row(parent, target, &self.written));
        Ok(())
    }

    fn finish(self: Box<Self>, mode: Option<FetchMode>) {
        let targets = self.groups.iter().flat_map(|g| g.iter());
        To::link_peers(targets.clone());
        if mode.is_some() {
            targets.for_each(|t| inherit_fetch_mode(t, mode));
        }
        self.children.into_iter().for_each(|c| c.finish(mode));
    }
}
