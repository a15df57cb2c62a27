//! Streaming a queryset in chunks, one query per chunk.

use super::keyset::{After, Term};
use super::QuerySet;
use crate::backend::AnyConnection;
use crate::error::Result;
use crate::model::Model;

/// The rows of a queryset, streamed in chunks: see [`QuerySet::iter`].
pub struct Rows<'c, M: Model> {
    query: QuerySet<M>,
    conn: &'c mut AnyConnection,
    chunk_size: i64,
    next_offset: i64,
    remaining: Option<i64>,
    /// The ordering chunks continue from (keyset pagination), if any.
    keyset: Option<Vec<Term>>,
    /// The last row read, held back until the next chunk is read after it.
    last: Option<M>,
    buffer: std::vec::IntoIter<M>,
    done: bool,
}

impl<'c, M: Model> Rows<'c, M> {
    pub(super) fn new(
        query: QuerySet<M>,
        conn: &'c mut AnyConnection,
        chunk_size: usize,
        offset: Option<i64>,
        limit: Option<i64>,
    ) -> Self {
        let keyset = query.keyset(conn.backend());
        Rows {
            query,
            conn,
            chunk_size: i64::try_from(chunk_size).unwrap_or(i64::MAX).max(1),
            next_offset: offset.unwrap_or(0),
            remaining: limit,
            keyset,
            last: None,
            buffer: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The next chunk, after the held-back row (which comes first).
    fn next_chunk(&mut self) -> Result<Vec<M>> {
        let size = self
            .remaining
            .map_or(self.chunk_size, |r| r.min(self.chunk_size));
        let mut previous = self.last.take();
        let mut rows = match (&self.keyset, &mut previous) {
            (Some(terms), Some(row)) => {
                let after = After::new(row, terms);
                self.query.chunk(self.conn, size, 0, Some(&after))?
            }
            _ => self.query.chunk(self.conn, size, self.next_offset, None)?,
        };
        let n = rows.len() as i64;
        self.next_offset += n;
        self.remaining = self.remaining.map(|r| r - n);
        if n < size || self.remaining == Some(0) {
            self.done = true;
        }
        if self.keyset.is_some() && !self.done {
            self.last = rows.pop();
        }
        Ok(previous.into_iter().chain(rows).collect())
    }
}

impl<M: Model> Iterator for Rows<'_, M> {
    type Item = Result<M>;

    fn next(&mut self) -> Option<Result<M>> {
        loop {
            if let Some(row) = self.buffer.next() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            match self.next_chunk() {
                Ok(rows) => self.buffer = rows.into_iter(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
