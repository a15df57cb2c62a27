//! [`RelatedRows`]: the rows a to-many manager's `all()` returns.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The related rows `all()` returns (`question.choices().all(&mut conn)?`),
/// in the related model's default ordering. Dereferences to a slice.
///
/// A cached read borrows the rows published in the instance: no lock, no
/// reference count, about the cost of a field read. Rows that cannot be
/// published (loaded inside a transaction, or read after a write of the
/// cache) come as a shared handle instead. Either way
/// [`into_arc`](Self::into_arc) gives a handle that outlives the instance.
///
/// A reverse foreign key's rows are the children (`C = Choice`); a
/// many-to-many's are shared among the owners linked to them
/// (`C = Arc<Tag>`: fields read through the `Arc`, identity with
/// `Arc::ptr_eq`).
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
/// #     #[orm(reverse_of = "question")] pub choices: Related<Choice> }
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
/// let mut q = Question::default();
/// q.save(&mut conn)?;
/// let mut c = Choice::default();
/// c.question.set(q.clone());
/// c.save(&mut conn)?;
///
/// let choices = q.choices().all(&mut conn)?; // one query
/// assert_eq!(choices.len(), 1);
/// assert_eq!(choices[0].id, c.id);
/// let again = q.choices().all(&mut conn)?; // none: the same rows
/// assert!(std::ptr::eq(&choices[0], &again[0]));
/// let kept: std::sync::Arc<Vec<Choice>> = again.into_arc();
/// # let _ = kept;
/// # Ok(()) }
/// ```
pub struct RelatedRows<'a, C>(Source<'a, C>);

enum Source<'a, C> {
    /// The rows published in the instance.
    Borrowed(&'a Arc<Vec<C>>),
    /// A handle on the slot's rows.
    Shared(Arc<Vec<C>>),
}

impl<'a, C> RelatedRows<'a, C> {
    pub(crate) fn borrowed(rows: &'a Arc<Vec<C>>) -> Self {
        RelatedRows(Source::Borrowed(rows))
    }

    pub(crate) fn shared(rows: Arc<Vec<C>>) -> Self {
        RelatedRows(Source::Shared(rows))
    }

    /// The shared handle on the rows (the same allocation every cached
    /// read of one instance returns, until the cache is written).
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
    /// # let mut q = Question::default();
    /// # q.save(&mut conn)?;
    /// let first = q.choices().all(&mut conn)?;
    /// let again = q.choices().all(&mut conn)?;
    /// assert!(std::sync::Arc::ptr_eq(first.as_arc(), again.as_arc()));
    /// # Ok(()) }
    /// ```
    pub fn as_arc(&self) -> &Arc<Vec<C>> {
        match &self.0 {
            Source::Borrowed(rows) => rows,
            Source::Shared(rows) => rows,
        }
    }

    /// A handle on the rows that outlives the instance.
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
    /// let mut q = Question::default();
    /// q.save(&mut conn)?;
    /// let rows = q.choices().all(&mut conn)?.into_arc();
    /// drop(q);
    /// assert!(rows.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn into_arc(self) -> Arc<Vec<C>> {
        match self.0 {
            Source::Borrowed(rows) => Arc::clone(rows),
            Source::Shared(rows) => rows,
        }
    }
}

impl<C> Deref for RelatedRows<'_, C> {
    type Target = [C];

    #[inline]
    fn deref(&self) -> &[C] {
        match &self.0 {
            Source::Borrowed(rows) => rows,
            Source::Shared(rows) => rows,
        }
    }
}

impl<C> AsRef<[C]> for RelatedRows<'_, C> {
    fn as_ref(&self) -> &[C] {
        self
    }
}

impl<'r, C> IntoIterator for &'r RelatedRows<'_, C> {
    type Item = &'r C;
    type IntoIter = std::slice::Iter<'r, C>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<C> Clone for RelatedRows<'_, C> {
    fn clone(&self) -> Self {
        match &self.0 {
            Source::Borrowed(rows) => RelatedRows(Source::Borrowed(rows)),
            Source::Shared(rows) => RelatedRows(Source::Shared(Arc::clone(rows))),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for RelatedRows<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<C: PartialEq> PartialEq for RelatedRows<'_, C> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<C: PartialEq> PartialEq<[C]> for RelatedRows<'_, C> {
    fn eq(&self, other: &[C]) -> bool {
        **self == *other
    }
}

impl<C: PartialEq> PartialEq<Vec<C>> for RelatedRows<'_, C> {
    fn eq(&self, other: &Vec<C>) -> bool {
        **self == **other
    }
}
